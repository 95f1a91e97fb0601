"""The application factory: blueprints per area, the guard, JSON error handlers, security headers."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from tengri import __version__
from tengri.api._edge import Edge
from tengri.api._gateway import EngineGateway
from tengri.api._guard import FailureLimiter, Guard
from tengri.api._metrics import ApiMetrics
from tengri.api._views import (
    agent_blueprint,
    hash_blueprint,
    health_blueprint,
    profit_blueprint,
    thermal_blueprint,
    ticks_blueprint,
)
from tengri.config import TengriConfig
from tengri.engine import SystemOrchestrator
from tengri.errors import PayloadTooLargeError, RateLimitedError, TengriError
from tengri.services.serve import reads_protected, resolve_token

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _StrictJSONProvider(DefaultJSONProvider):
    """Always valid JSON: a NaN or infinity from the engine becomes null (and is logged), never ``NaN``."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        try:
            return json.dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            log.warning("non-finite number in a response; sent as null")
            return json.dumps(_finite(obj), allow_nan=False, **kwargs)


_HTTP_CODES = {
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

# The status page is self-contained (inline style and SVG, no script): nothing else may load.
_HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def create_app(
    config: TengriConfig | None = None,
    orchestrator: SystemOrchestrator | None = None,
    *,
    bind_host: str | None = None,
    auth_clock: Callable[[], float] = time.monotonic,
    live: Callable[[], Mapping[str, Any]] | None = None,
) -> Flask:
    """Build the REST gateway around ``orchestrator`` (default: a new one from ``config``).

    The orchestrator is not started here: :func:`tengri.services.serve.serve` starts and shuts
    it down, and the first tick starts it otherwise. ``app.extensions["tengri"]`` holds the
    orchestrator, the gateway and the metrics.

    Parameters
    ----------
    bind_host
        The address the server listens on (default ``api.host``): a ``Host`` header naming it is
        accepted, besides the loopback names and ``api.allowed_hosts``.
    auth_clock
        Monotonic seconds for the failed-authentication window (a fake in tests).
    live
        A live run's state (``tengri live --serve``): the status page and ``/metrics`` show its
        feed's lag and last bar, orders in flight and broker errors.

    Raises
    ------
    ConfigError
        If the configured token is empty.
    """
    cfg = config or (orchestrator.config if orchestrator is not None else TengriConfig.load())
    orch = orchestrator or SystemOrchestrator(cfg)
    token = resolve_token(cfg)
    guard = Guard(
        token=token,
        protect_reads=reads_protected(cfg),
        bind_host=bind_host if bind_host is not None else cfg.api.host,
        allowed_hosts=cfg.api.allowed_hosts,
        allowed_origins=cfg.api.allowed_origins,
        limiter=FailureLimiter(cfg.api.auth_failures_per_minute, clock=auth_clock),
    )

    app = Flask("tengri.api")
    app.json = _StrictJSONProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=cfg.api.max_content_length,
        DEBUG=False,
        TESTING=False,
        PROPAGATE_EXCEPTIONS=False,
    )
    edge = Edge(guard=guard, title="Tengri REST gateway", version=__version__)
    gateway = EngineGateway(
        orch, max_agents=cfg.api.max_agents, max_clock_skew=cfg.api.max_clock_skew_seconds
    )
    gateway.live = live
    metrics = ApiMetrics(orch, live)
    app.extensions["tengri"] = {"orchestrator": orch, "gateway": gateway, "metrics": metrics, "edge": edge}

    app.register_blueprint(health_blueprint(edge, gateway, metrics))
    app.register_blueprint(profit_blueprint(edge, gateway))
    app.register_blueprint(thermal_blueprint(edge, gateway))
    app.register_blueprint(agent_blueprint(edge, gateway))
    app.register_blueprint(hash_blueprint(edge, gateway))
    app.register_blueprint(ticks_blueprint(edge, gateway, metrics))

    def answer(code: str, message: str, status: int) -> Response:
        metrics.errors.labels(endpoint=request.endpoint or "unmatched", code=code).inc()
        if status < 500:  # a 5xx is logged where it is raised, with its traceback where unexpected
            log.info("%s %s -> %d %s: %s", request.method, request.path, status, code, message)
        response = jsonify({"error": {"code": code, "message": message}})
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="tengri"'
        return response

    @app.errorhandler(TengriError)
    def tengri_error(exc: TengriError) -> ResponseReturnValue:
        if exc.http_status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.path, exc.message)
        response = answer(exc.code, exc.message, exc.http_status)
        if isinstance(exc, RateLimitedError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            response.headers.update(_HTML_HEADERS)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if status == 413:
            error: TengriError = PayloadTooLargeError(
                f"request body is larger than {cfg.api.max_content_length} bytes"
            )
            return answer(error.code, error.message, status)
        code = _HTTP_CODES.get(status, (exc.name or "error").lower().replace(" ", "_"))
        response = answer(code, exc.description or exc.name, status)
        if status == 405 and exc.response is None:
            allowed = exc.get_response().headers.get("Allow")
            if allowed:
                response.headers["Allow"] = allowed
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return answer("internal_error", f"internal error ({type(exc).__name__}); see the server log", 500)

    return app
