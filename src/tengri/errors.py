"""The one error hierarchy of Tengri: every failure a user can cause has a named class here.

Each error carries a stable machine-readable ``code`` (used by the REST API's
``{"error": {"code", "message"}}`` body and by the CLI's exit messages) and the
HTTP status that fits it, so that the edges never have to guess.
"""

from __future__ import annotations

__all__ = [
    "AgentLimitError",
    "AuthenticationError",
    "BrokerError",
    "BurstRefusedError",
    "ConfigError",
    "ConflictError",
    "DataValidationError",
    "ExecutionAlreadyCompletedError",
    "ExecutionNotFoundError",
    "ForbiddenError",
    "ForeignExecutionError",
    "InvalidInputError",
    "MalformedRequestError",
    "ModelError",
    "NotFoundError",
    "OutOfOrderError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "StoreError",
    "TengriError",
    "TimestampAheadError",
    "TriggerNotFoundError",
    "UnitOfWorkLostError",
    "UnknownAgentError",
    "UnsupportedMediaTypeError",
]


class TengriError(Exception):
    """Base class of every error Tengri raises on purpose."""

    code: str = "tengri_error"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, dict[str, str]]:
        """Return the JSON error body ``{"error": {"code", "message"}}``."""
        return {"error": {"code": self.code, "message": self.message}}


class ConfigError(TengriError):
    """A configuration value, file or environment variable is invalid; the message names the key."""

    code = "config_error"
    http_status = 422


class DataValidationError(TengriError):
    """Market data failed validation; the message names the file, the row and the rule."""

    code = "data_validation_error"
    http_status = 422

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


class InvalidInputError(TengriError):
    """A well-formed input has an invalid value (NaN price, time going backwards, unknown symbol)."""

    code = "invalid_input"
    http_status = 422


class OutOfOrderError(InvalidInputError):
    """A timestamp does not move forward (a tick or profit point older than the last one).

    Answered with 409: the input is valid in itself and conflicts with the state it meets.
    """

    code = "out_of_order"
    http_status = 409


class NotFoundError(TengriError):
    """Something addressed by id does not exist."""

    code = "not_found"
    http_status = 404


class ExecutionNotFoundError(NotFoundError):
    """A strategy execution id is unknown (or belongs to another agent)."""

    code = "execution_not_found"


class ForeignExecutionError(ExecutionNotFoundError):
    """A strategy execution exists but belongs to another agent."""

    code = "execution_foreign"


class UnknownAgentError(NotFoundError):
    """An agent id is unknown."""

    code = "agent_not_found"


class TriggerNotFoundError(NotFoundError):
    """A hash trigger id is unknown."""

    code = "trigger_not_found"


class ConflictError(TengriError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class ExecutionAlreadyCompletedError(ConflictError):
    """A strategy execution was completed before; completing it again is an error, never a no-op."""

    code = "execution_already_completed"


class BurstRefusedError(ConflictError):
    """The thermal manager refused a processing burst; ``reason`` says why."""

    code = "burst_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreError(TengriError):
    """The memory map could not read or write; the write did not happen."""

    code = "store_error"
    http_status = 503


class UnitOfWorkLostError(StoreError):
    """The database rolled back a whole unit of work (a full disk, an I/O error, a failed commit).

    None of the unit's writes happened; whoever made them must bring its memory back in line
    with the store.
    """

    code = "unit_of_work_lost"


class ModelError(TengriError):
    """A model could not be built, loaded, trained or run."""

    code = "model_error"
    http_status = 500


class MalformedRequestError(TengriError):
    """A request is not well-formed: JSON that does not parse, a missing field, a wrong type."""

    code = "malformed_request"
    http_status = 400


class AuthenticationError(TengriError):
    """A mutating request lacks the configured bearer token, or carries a wrong one."""

    code = "unauthorized"
    http_status = 401


class PayloadTooLargeError(TengriError):
    """A request body is larger than ``api.max_content_length``."""

    code = "payload_too_large"
    http_status = 413


class TimestampAheadError(OutOfOrderError):
    """A live timestamp is further ahead of the server clock than ``api.max_clock_skew_seconds``.

    A conflict with the server's state (its clock), like a timestamp going backwards: the same
    request is accepted once the clock has caught up.
    """

    code = "timestamp_ahead"
    http_status = 409


class AgentLimitError(ConflictError):
    """Creating an agent would pass ``api.max_agents``."""

    code = "agent_limit_reached"


class ForbiddenError(TengriError):
    """A request comes from a foreign origin or names a host that is not allowed."""

    code = "forbidden"
    http_status = 403


class UnsupportedMediaTypeError(TengriError):
    """A write whose body is not declared ``Content-Type: application/json``."""

    code = "unsupported_media_type"
    http_status = 415


class RateLimitedError(TengriError):
    """Too many failed authentication attempts from one client address; retry after a while."""

    code = "too_many_auth_failures"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BrokerError(TengriError):
    """A broker refused or failed an order or a query (rejected order, exchange down, bad keys).

    The message never contains an API key or secret.
    """

    code = "broker_error"
    http_status = 502
