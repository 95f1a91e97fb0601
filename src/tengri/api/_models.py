"""The REST gateway's request and response models; the OpenAPI document is generated from them.

Request models are strict (no string-to-number coercion in JSON bodies), forbid unknown fields
and reject NaN and infinite numbers. Query models are lax, because a query string is all text.
Response models document what the views return; they allow extra fields, so the engine may add
some without breaking clients.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, RootModel, Tag
from pydantic_core import PydanticCustomError

__all__ = [
    "ActiveTriggers",
    "BurstEndRequest",
    "BurstEnded",
    "BurstStartRequest",
    "BurstStarted",
    "ConfidenceQuery",
    "ConfidenceResponse",
    "CursorStateModel",
    "ErrorBody",
    "ErrorDetail",
    "ExecutionContext",
    "HashByPrices",
    "HashByValue",
    "HashProcessRequest",
    "HashProcessed",
    "HealthResponse",
    "ProfitStatus",
    "ProfitUpdateRequest",
    "StatisticsResponse",
    "StrategyCompleteRequest",
    "StrategyCompleted",
    "StrategyStartRequest",
    "StrategyStarted",
    "SymbolTimeReset",
    "SymbolTimeResetRequest",
    "ThermalStatus",
    "TickRequest",
    "TickResult",
    "TriggerModel",
    "TriggerRegisterRequest",
]

IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.:@-]+$"
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)]
# Bounded away from 0 and infinity: subnormal prices underflow the engine's σ·p (a division by 0).
PositivePrice = Annotated[float, Field(ge=1e-9, le=1e12, description="A price in [1e-9, 1e12].")]
# The range of ISO 8601 date-times (years 1 to 9999), so numbers and date-times cover the same span.
_EPOCH_START = -62_135_596_800.0
_EPOCH_END = 253_402_300_800.0

Timestamp = Annotated[
    Annotated[float, Field(ge=_EPOCH_START, lt=_EPOCH_END)] | dt.datetime,
    Field(description="Seconds since the epoch, or an ISO 8601 date-time (UTC when naive)."),
]
Seconds = Annotated[float, Field(ge=_EPOCH_START, lt=_EPOCH_END, description="Seconds since the epoch.")]
Profit = Annotated[float, Field(ge=-1e12, le=1e12, description="Cumulative realised profit.")]


def _integral(value: Any) -> Any:
    """Accept 3.0 for 3, as JSON Schema's ``integer`` does; a float with a fraction is a wrong type."""
    if isinstance(value, bool):
        # JSON's true is not the integer 1 (Literal[1, -1] would take it otherwise).
        raise PydanticCustomError("int_type", "Input should be a valid integer, got a boolean")
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise PydanticCustomError("int_from_float", "Input should be a valid integer, got a fraction")
    return value


Integral = BeforeValidator(_integral)
Direction = Annotated[Literal[1, -1], Integral, Field(description="+1 long, -1 short.")]


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- errors -------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    """A machine-readable code and a message for people."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


# -- requests -----------------------------------------------------------------------------------
class ProfitUpdateRequest(_Request):
    """The seed's ``{"profit": 150.75, "timestamp": "2024-01-01T12:00:00Z"}``."""

    profit: Profit
    timestamp: Timestamp | None = Field(None, description="Default: now; must increase.")


class BurstStartRequest(_Request):
    """Optional body of ``POST /thermal/burst/start``."""

    duration: float | None = Field(
        None, ge=1, le=86_400, description="Requested seconds, at least 1 (capped by the budget)."
    )
    label: str = Field("api", min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)


class BurstEndRequest(_Request):
    """The seed's ``{"duration": 30.5}``, or the id of the burst to end."""

    duration: float | None = Field(None, ge=0, le=86_400, description="Seconds to charge.")
    burst_id: str | None = Field(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)


class ExecutionContext(_Request):
    """The context a decision is taken in; the agent's confidence is split by it."""

    thermal_state: Identifier | None = None
    profit_zone: Identifier | None = None


class StrategyStartRequest(_Request):
    """Open a strategy execution (the seed's body, plus ``direction`` and ``context``)."""

    strategy_id: Identifier
    hash_triggers: list[Identifier] = Field(default_factory=list, max_length=64)
    entry_price: PositivePrice
    initial_confidence: float | None = Field(None, ge=0, le=1)
    direction: Direction = 1
    context: ExecutionContext | None = Field(None, description="Default: the current zones.")


class StrategyCompleteRequest(_Request):
    """Close an execution (the seed's body)."""

    execution_id: str = Field(min_length=1, max_length=256, pattern=IDENTIFIER_PATTERN)
    exit_price: PositivePrice
    execution_time: float | None = Field(None, ge=0, description="Seconds; default from the clock.")


class ConfidenceQuery(_Query):
    """``?strategy_id=…&hash_triggers=T1&hash_triggers=T2`` (a list repeats its parameter)."""

    strategy_id: Identifier
    hash_triggers: list[Identifier] = Field(default_factory=list, max_length=64)
    thermal_state: Identifier | None = None
    profit_zone: Identifier | None = None


class TriggerRegisterRequest(_Request):
    """Register a hash trigger: ``hash & mask == pattern & mask`` fires it."""

    pattern: Annotated[int, Integral] = Field(ge=0, le=0xFFFF)
    mask: Annotated[int, Integral] = Field(0xFFFF, ge=1, le=0xFFFF)
    strategy_id: Identifier
    direction: Direction = 1
    trigger_id: Identifier | None = None


class CursorStateModel(_Request):
    """The cursor state that goes with a hash (see :class:`tengri.engine.CursorState`)."""

    triplet: tuple[PositivePrice, PositivePrice, PositivePrice]
    delta_idx: Annotated[Literal[0, 1], Integral] = 0
    braid_angle: float = Field(0.0, ge=-90, le=90)
    timestamp: Seconds = 0.0


class HashByValue(_Request):
    """A hash computed elsewhere, with its cursor state."""

    hash_value: Annotated[int, Integral] = Field(ge=0, le=0xFFFF)
    cursor_state: CursorStateModel


class HashByPrices(_Request):
    """A price path (at least 9 prices) for the engine to hash."""

    prices: list[PositivePrice] = Field(min_length=9, max_length=1024)
    timestamp: Seconds = 0.0


def _hash_request_kind(value: Any) -> str:
    return "prices" if isinstance(value, dict) and "prices" in value else "value"


class HashProcessRequest(
    RootModel[
        Annotated[
            Annotated[HashByValue, Tag("value")] | Annotated[HashByPrices, Tag("prices")],
            Discriminator(_hash_request_kind),
        ]
    ]
):
    """Either a hash value with its cursor state, or prices to hash (a body with ``prices``)."""


class TickRequest(_Request):
    """One market tick."""

    price: PositivePrice
    timestamp: Timestamp | None = Field(None, description="Default: now; must not go backwards.")
    volume: float | None = Field(None, ge=0)
    symbol: str | None = Field(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)
    open: PositivePrice | None = None
    high: PositivePrice | None = None
    low: PositivePrice | None = None


class SymbolTimeResetRequest(_Request):
    """The symbol whose last tick time to forget (after a wrong timestamp got in)."""

    symbol: str = Field("default", min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)


# -- responses ----------------------------------------------------------------------------------
class HealthResponse(_Response):
    """System health; without the token (reads protected) only ``status``."""

    status: Literal["healthy", "degraded"]
    degraded: dict[str, str] = Field(default_factory=dict)
    thermal_zone: str = ""
    profit_zone: str = ""
    open_executions: int = 0
    agents: int = Field(0, description="How many agents the gateway holds.")
    version: str = ""


class SymbolTimeReset(_Response):
    """A symbol whose last tick time was forgotten."""

    symbol: str
    previous_timestamp: float | None


class ProfitStatus(_Response):
    """The profit trajectory's zone and vector."""

    zone_state: str
    vector_strength: float
    slope: float
    n_points: int
    timestamp: float | None


class ThermalStatus(_Response):
    """Thermal zone, temperatures and the burst budget."""

    zone: str
    max_temperature: float
    temperatures: list[dict[str, Any]]
    budget: dict[str, Any]


class BurstStarted(_Response):
    """A granted burst."""

    burst_id: str
    started_at: float
    deadline: float
    max_seconds: float


class BurstEnded(_Response):
    """An ended burst and its charge."""

    burst_id: str
    length_s: float
    cooldown_until: float


class StrategyStarted(_Response):
    """An opened execution."""

    execution_id: str
    agent_id: str
    strategy_id: str


class StrategyCompleted(_Response):
    """A closed execution's outcome."""

    execution_id: str
    strategy_id: str
    profit: float
    success: bool
    exit_price: float
    execution_time: float
    status: str


class ConfidenceResponse(_Response):
    """C_final with its terms."""

    agent_id: str
    strategy_id: str
    confidence: float = Field(ge=0, le=1)
    hash_triggers: list[str]


class TriggerModel(_Response):
    """A registered trigger."""

    trigger_id: str
    pattern: int
    mask: int
    strategy_id: str
    direction: int
    state: str


class HashProcessed(_Response):
    """What processing a hash fired."""

    hash_value: int
    hash_hex: str
    fired_triggers: list[str]
    cursor_state: dict[str, Any]


class ActiveTriggers(_Response):
    """The triggers that can fire now."""

    count: int
    triggers: list[TriggerModel]


class TickResult(_Response):
    """What one tick did (see :meth:`SystemOrchestrator.process_tick`)."""

    tick: int
    symbol: str
    price: float
    hash: int | None
    fired_triggers: list[str]
    profit_zone: str
    thermal_zone: str
    latency_ms: float


class StatisticsResponse(_Response):
    """The seed's performance metrics and the system state."""

    system_state: dict[str, Any]
    ticks_processed: int
    executions: dict[str, Any]
