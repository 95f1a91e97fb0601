"""One blueprint per area (health, profit, thermal, agent, hash, ticks): parse, call the gateway, format.

Each view is declared with :meth:`Edge.endpoint`, which parses its body or query string into
the request model, checks the bearer token on mutating routes, and documents the route in the
OpenAPI document. Errors are raised as :class:`tengri.errors.TengriError` and answered by the
app's error handlers.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST

from tengri.api import _models as m
from tengri.api._edge import Edge, refuse_unknown_query
from tengri.api._gateway import EngineGateway
from tengri.api._metrics import ApiMetrics
from tengri.api._status_page import render_status_page
from tengri.errors import InvalidInputError

__all__ = [
    "agent_blueprint",
    "hash_blueprint",
    "health_blueprint",
    "profit_blueprint",
    "thermal_blueprint",
    "ticks_blueprint",
]

_AGENT_ID = re.compile(m.IDENTIFIER_PATTERN)


def _agent_id(value: str) -> str:
    if len(value) > 128 or not _AGENT_ID.match(value):
        raise InvalidInputError("agent_id must be 1-128 characters of letters, digits and _ . : @ -")
    return value


def health_blueprint(edge: Edge, gateway: EngineGateway, metrics: ApiMetrics) -> Blueprint:
    """``/health``, ``/statistics``, ``/metrics``, ``/openapi.json`` and the status page ``/``."""
    bp = Blueprint("health", __name__)

    @bp.get("/health")
    @edge.endpoint(response=m.HealthResponse, tag="health", public=True)
    def health(authorised: bool) -> ResponseReturnValue:
        """System health check (only the status without the token when reads are protected)."""
        return jsonify(gateway.health(detailed=authorised))

    @bp.get("/statistics")
    @edge.endpoint(response=m.StatisticsResponse, tag="health")
    def statistics() -> ResponseReturnValue:
        """Performance metrics and system state."""
        return jsonify(gateway.statistics())

    @bp.get("/metrics")
    @edge.endpoint(response=None, tag="health", media_type="text/plain")
    def metrics_text() -> ResponseReturnValue:
        """Prometheus metrics (text exposition format)."""
        return Response(metrics.render(), mimetype=CONTENT_TYPE_LATEST)

    @bp.get("/")
    @edge.endpoint(response=None, tag="health", media_type="text/html")
    def status_page() -> ResponseReturnValue:
        """Status page (HTML, refreshes itself)."""
        return Response(render_status_page(gateway.overview()), mimetype="text/html")

    @bp.get("/openapi.json")
    def openapi() -> ResponseReturnValue:
        """The OpenAPI 3 document, generated from the request and response models."""
        edge.guard.check_host()
        refuse_unknown_query(())
        if edge.needs_token(mutating=False):
            edge.guard.authorise()
        return jsonify(edge.document())

    return bp


def profit_blueprint(edge: Edge, gateway: EngineGateway) -> Blueprint:
    """``/profit/status`` and ``/profit/update``."""
    bp = Blueprint("profit", __name__, url_prefix="/profit")

    @bp.get("/status")
    @edge.endpoint(response=m.ProfitStatus, tag="profit")
    def profit_status() -> ResponseReturnValue:
        """Profit trajectory status."""
        return jsonify(gateway.profit_status())

    @bp.post("/update")
    @edge.endpoint(
        response=m.ProfitStatus, body=m.ProfitUpdateRequest, errors=(409,), tag="profit", mutating=True
    )
    def profit_update(body: m.ProfitUpdateRequest) -> ResponseReturnValue:
        """Update the profit trajectory with a cumulative profit point."""
        return jsonify(gateway.profit_update(body))

    return bp


def thermal_blueprint(edge: Edge, gateway: EngineGateway) -> Blueprint:
    """``/thermal/status``, ``/thermal/burst/start`` and ``/thermal/burst/end``."""
    bp = Blueprint("thermal", __name__, url_prefix="/thermal")

    @bp.get("/status")
    @edge.endpoint(response=m.ThermalStatus, tag="thermal")
    def thermal_status() -> ResponseReturnValue:
        """Thermal zone status."""
        return jsonify(gateway.thermal_status())

    @bp.post("/burst/start")
    @edge.endpoint(
        response=m.BurstStarted, body=m.BurstStartRequest, errors=(409,), tag="thermal", mutating=True
    )
    def burst_start(body: m.BurstStartRequest) -> ResponseReturnValue:
        """Start a processing burst (409 ``burst_refused`` when the thermal manager says no)."""
        return jsonify(gateway.burst_start(body))

    @bp.post("/burst/end")
    @edge.endpoint(
        response=m.BurstEnded, body=m.BurstEndRequest, errors=(404, 409), tag="thermal", mutating=True
    )
    def burst_end(body: m.BurstEndRequest) -> ResponseReturnValue:
        """End the running burst."""
        return jsonify(gateway.burst_end(body))

    return bp


def agent_blueprint(edge: Edge, gateway: EngineGateway) -> Blueprint:
    """``/agent/<agent_id>/strategy/start``, ``…/strategy/complete`` and ``…/confidence``."""
    bp = Blueprint("agent", __name__, url_prefix="/agent/<agent_id>")
    edge.path_parameter(
        "agent_id", {"type": "string", "minLength": 1, "maxLength": 128, "pattern": m.IDENTIFIER_PATTERN}
    )

    @bp.post("/strategy/start")
    @edge.endpoint(
        response=m.StrategyStarted,
        body=m.StrategyStartRequest,
        errors=(409,),
        tag="agent",
        mutating=True,
        status=201,
    )
    def strategy_start(agent_id: str, body: m.StrategyStartRequest) -> ResponseReturnValue:
        """Start a strategy execution (creates the agent on first use)."""
        return jsonify(gateway.start_strategy(_agent_id(agent_id), body)), 201

    @bp.post("/strategy/complete")
    @edge.endpoint(
        response=m.StrategyCompleted,
        body=m.StrategyCompleteRequest,
        errors=(404, 409),
        tag="agent",
        mutating=True,
    )
    def strategy_complete(agent_id: str, body: m.StrategyCompleteRequest) -> ResponseReturnValue:
        """Complete a strategy execution (409 when it was completed before)."""
        return jsonify(gateway.complete_strategy(_agent_id(agent_id), body))

    @bp.get("/confidence")
    @edge.endpoint(response=m.ConfidenceResponse, query=m.ConfidenceQuery, errors=(404,), tag="agent")
    def confidence(agent_id: str, query: m.ConfidenceQuery) -> ResponseReturnValue:
        """Confidence coefficient of a strategy and its triggers."""
        return jsonify(gateway.confidence(_agent_id(agent_id), query))

    return bp


def hash_blueprint(edge: Edge, gateway: EngineGateway) -> Blueprint:
    """``/hash/register``, ``/hash/process`` and ``/hash/active``."""
    bp = Blueprint("hash", __name__, url_prefix="/hash")

    @bp.post("/register")
    @edge.endpoint(
        response=m.TriggerModel,
        body=m.TriggerRegisterRequest,
        errors=(409,),
        tag="hash",
        mutating=True,
        status=201,
    )
    def hash_register(body: m.TriggerRegisterRequest) -> ResponseReturnValue:
        """Register a hash trigger (409 when the id is taken)."""
        return jsonify(gateway.register_trigger(body)), 201

    @bp.post("/process")
    @edge.endpoint(response=m.HashProcessed, body=m.HashProcessRequest, tag="hash", mutating=True)
    def hash_process(body: m.HashProcessRequest) -> ResponseReturnValue:
        """Process a hash value (with its cursor state) or a price path."""
        return jsonify(gateway.process_hash(body))

    @bp.get("/active")
    @edge.endpoint(response=m.ActiveTriggers, tag="hash")
    def hash_active() -> ResponseReturnValue:
        """Active triggers."""
        return jsonify(gateway.active_triggers())

    return bp


def ticks_blueprint(edge: Edge, gateway: EngineGateway, metrics: ApiMetrics) -> Blueprint:
    """``POST /tick``."""
    bp = Blueprint("ticks", __name__)

    @bp.post("/tick")
    @edge.endpoint(response=m.TickResult, body=m.TickRequest, errors=(409,), tag="ticks", mutating=True)
    def tick(body: m.TickRequest) -> ResponseReturnValue:
        """Process one market tick through the whole pipeline.

        409 ``out_of_order`` when the timestamp goes back before the symbol's last, 409
        ``timestamp_ahead`` when it is more than ``api.max_clock_skew_seconds`` ahead of the clock.
        """
        result = gateway.tick(body)
        metrics.tick_latency.observe(result["latency_ms"] / 1000.0)
        return jsonify(result)

    @bp.post("/tick/reset-time")
    @edge.endpoint(response=m.SymbolTimeReset, body=m.SymbolTimeResetRequest, tag="ticks", mutating=True)
    def tick_reset_time(body: m.SymbolTimeResetRequest) -> ResponseReturnValue:
        """Forget a symbol's last tick time, so that its next tick may carry any time (operators)."""
        return jsonify(gateway.reset_symbol_time(body.symbol))

    return bp
