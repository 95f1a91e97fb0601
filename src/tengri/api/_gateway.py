"""The engine as the REST gateway sees it: one method per endpoint, the agent rule, JSON-ready results.

The rule for agents: ``POST /agent/<id>/strategy/start`` creates an agent on first use (that is
how agents come to exist over REST); every other agent endpoint answers 404 ``agent_not_found``
for an id that has never been created and has no executions in the store. The gateway holds at
most ``api.max_agents`` agents; past that, a new one is refused (409 ``agent_limit_reached``).

Live timestamps (ticks, profit points) may be at most ``api.max_clock_skew_seconds`` ahead of the
server clock (409 ``timestamp_ahead``): one far-future time would otherwise make every later
tick "out of order" for good. An operator resets a symbol's last time with
:meth:`EngineGateway.reset_symbol_time`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tengri import __version__
from tengri.api._models import (
    BurstEndRequest,
    BurstStartRequest,
    ConfidenceQuery,
    HashByPrices,
    HashProcessRequest,
    ProfitUpdateRequest,
    StrategyCompleteRequest,
    StrategyStartRequest,
    TickRequest,
    TriggerRegisterRequest,
)
from tengri.engine import CursorState, MemoryAgent, SystemOrchestrator
from tengri.engine.tick_input import live_timestamp
from tengri.errors import AgentLimitError, ConflictError, TriggerNotFoundError, UnknownAgentError

__all__ = ["EngineGateway"]


class EngineGateway:
    """Calls into one :class:`SystemOrchestrator` for the views; thread-safe and stateless per request.

    A request that writes holds the orchestrator's lock (:attr:`SystemOrchestrator.lock`), so that
    it never waits for a tick's transaction while holding a component's lock the tick needs.
    """

    def __init__(
        self, orchestrator: SystemOrchestrator, *, max_agents: int = 1000, max_clock_skew: float = 300.0
    ) -> None:
        self.orchestrator = orchestrator
        # A live run's state (feed, orders, broker; tengri.services.live.LiveStatus.to_dict), if any.
        self.live: Callable[[], Mapping[str, Any]] | None = None
        self.max_agents = max_agents
        self.max_clock_skew = max_clock_skew
        self._agents_lock = threading.Lock()

    # -- agents -------------------------------------------------------------------------------
    def _agent(self, agent_id: str, *, create: bool) -> MemoryAgent:
        orch = self.orchestrator
        with self._agents_lock:
            agent = orch.agents.get(agent_id)
            if agent is not None:
                return agent
            if not create and not orch.store.executions(agent_id=agent_id, limit=1):
                raise UnknownAgentError(f"unknown agent {agent_id!r}")
            if len(orch.agents) >= self.max_agents:
                raise AgentLimitError(
                    f"the gateway holds {len(orch.agents)} agents, its limit (api.max_agents); "
                    f"agent {agent_id!r} is not created"
                )
            return orch.get_agent(agent_id)

    def start_strategy(self, agent_id: str, body: StrategyStartRequest) -> dict[str, Any]:
        """Open an execution for ``agent_id`` (created on first use)."""
        agent = self._agent(agent_id, create=True)
        with self.orchestrator.lock:
            execution_id = agent.start_strategy(
                body.strategy_id,
                body.hash_triggers,
                body.entry_price,
                body.initial_confidence,
                direction=body.direction,
                context=None if body.context is None else body.context.model_dump(exclude_none=True),
            )
        return {
            "execution_id": execution_id,
            "agent_id": agent_id,
            "strategy_id": body.strategy_id,
            "entry_price": body.entry_price,
            "direction": body.direction,
            "hash_triggers": list(body.hash_triggers),
        }

    def complete_strategy(self, agent_id: str, body: StrategyCompleteRequest) -> dict[str, Any]:
        """Close an execution of ``agent_id``; a position of the paper desk closes through the desk."""
        agent = self._agent(agent_id, create=False)
        orch = self.orchestrator
        with orch.lock:
            if agent is orch.agent and body.execution_id in orch.desk.positions:
                return orch.complete_strategy(body.execution_id, body.exit_price)
            return agent.complete_strategy(body.execution_id, body.exit_price, body.execution_time).to_dict()

    def confidence(self, agent_id: str, query: ConfidenceQuery) -> dict[str, Any]:
        """Return C_final and its terms for a strategy, its triggers and a context (default now's)."""
        agent = self._agent(agent_id, create=False)
        context = None
        if query.thermal_state is not None or query.profit_zone is not None:
            context = {**agent.current_context()}
            if query.thermal_state is not None:
                context["thermal_state"] = query.thermal_state
            if query.profit_zone is not None:
                context["profit_zone"] = query.profit_zone
        terms = agent.explain_confidence(query.strategy_id, query.hash_triggers, context)
        return {"agent_id": agent_id, "hash_triggers": list(query.hash_triggers), **terms.to_dict()}

    # -- profit and thermal -------------------------------------------------------------------
    def profit_status(self) -> dict[str, Any]:
        """The profit trajectory's state."""
        return self.orchestrator.profit_coprocessor.status()

    def profit_update(self, body: ProfitUpdateRequest) -> dict[str, Any]:
        """Add a cumulative profit point; return the new vector.

        Without a timestamp the point is taken now, or just after the last point when the clock
        has not moved past it; a timestamp at or before the last point conflicts (409).
        """
        with self.orchestrator.lock:
            return self._profit_update(body)

    def _profit_update(self, body: ProfitUpdateRequest) -> dict[str, Any]:
        coprocessor = self.orchestrator.profit_coprocessor
        last = coprocessor.last_vector.timestamp
        now = self.orchestrator.clock.now()
        seconds = live_timestamp(body.timestamp, now, self.max_clock_skew)
        if body.timestamp is None and last is not None and seconds <= last:
            seconds = math.nextafter(last, math.inf)
        if last is not None and seconds <= last:
            raise ConflictError(f"timestamp {seconds!r} is not after the last profit point's {last!r}")
        return coprocessor.update(body.profit, seconds).to_dict()

    def thermal_status(self) -> dict[str, Any]:
        """Zone, temperatures, budget."""
        return self.orchestrator.thermal_manager.status()

    def burst_start(self, body: BurstStartRequest) -> dict[str, Any]:
        """Start a burst or raise :class:`BurstRefusedError` (409)."""
        with self.orchestrator.lock:
            burst = self.orchestrator.thermal_manager.start_burst(body.duration, label=body.label)
        return {**burst.to_dict(), "max_seconds": burst.max_seconds}

    def burst_end(self, body: BurstEndRequest) -> dict[str, Any]:
        """End the running burst; ``duration`` is charged when given."""
        with self.orchestrator.lock:
            return self.orchestrator.thermal_manager.end_burst(body.burst_id, body.duration).to_dict()

    # -- triggers -----------------------------------------------------------------------------
    def register_trigger(self, body: TriggerRegisterRequest) -> dict[str, Any]:
        """Register a trigger; an id that is taken is a conflict (409)."""
        engine = self.orchestrator.hash_trigger_engine
        trigger_id = body.trigger_id or f"T{body.pattern & body.mask:04X}_{body.mask:04X}_{body.strategy_id}"
        with self.orchestrator.lock:
            try:
                engine.get(trigger_id)
            except TriggerNotFoundError:
                pass
            else:
                raise ConflictError(f"trigger id {trigger_id!r} is already registered")
            trigger = engine.register(
                pattern=body.pattern,
                mask=body.mask,
                strategy_id=body.strategy_id,
                direction=body.direction,
                trigger_id=trigger_id,
            )
        return trigger.to_dict()

    def process_hash(self, body: HashProcessRequest) -> dict[str, Any]:
        """Feed a hash (or the hash of a price path) to the trigger engine; return what fired."""
        engine = self.orchestrator.hash_trigger_engine
        request = body.root
        if isinstance(request, HashByPrices):
            hash_value, cursor = engine.encode(request.prices, request.timestamp)
        else:
            state = request.cursor_state
            hash_value = request.hash_value
            cursor = CursorState(
                triplet=state.triplet,
                delta_idx=state.delta_idx,
                braid_angle=state.braid_angle,
                timestamp=state.timestamp,
            )
        with self.orchestrator.lock:
            fired = engine.process_hash(hash_value, cursor)
        return {
            "hash_value": hash_value,
            "hash_hex": f"0x{hash_value:04X}",
            "fired_triggers": fired,
            "cursor_state": cursor.to_dict(),
        }

    def active_triggers(self) -> dict[str, Any]:
        """The triggers that can fire now."""
        triggers = [t.to_dict() for t in self.orchestrator.hash_trigger_engine.active()]
        return {"count": len(triggers), "triggers": triggers}

    # -- ticks and state ----------------------------------------------------------------------
    def tick(self, body: TickRequest) -> dict[str, Any]:
        """Process one tick through the pipeline; a tick older than its symbol's last conflicts (409).

        A live run's engine (``tengri live --serve``) takes its bars from its feed only: a posted
        tick would open positions that no broker order follows and no feed watch checked (409).
        """
        if self.live is not None:
            raise ConflictError(
                "this engine is a live run's: it takes bars from its feed (tengri live --feed), "
                "and its orders go to its broker; post ticks to an engine of `tengri serve`"
            )
        timestamp = None
        if body.timestamp is not None:
            timestamp = live_timestamp(body.timestamp, self.orchestrator.clock.now(), self.max_clock_skew)
        # A tick older than its symbol's last raises OutOfOrderError, whose status is 409.
        return self.orchestrator.process_tick(
            body.price,
            timestamp=timestamp,
            volume=body.volume,
            symbol=body.symbol,
            open=body.open,
            high=body.high,
            low=body.low,
        )

    def reset_symbol_time(self, symbol: str) -> dict[str, Any]:
        """Forget ``symbol``'s last tick time, so that its next tick may carry any time."""
        with self.orchestrator.lock:
            previous = self.orchestrator.reset_symbol_time(symbol)
        return {"symbol": symbol, "previous_timestamp": previous}

    def health(self, *, detailed: bool = True) -> dict[str, Any]:
        """System health: the status, and (``detailed``) degraded components, zones and counts.

        Summarised, so its size does not grow with the number of agents.
        """
        orch = self.orchestrator
        if not detailed:
            return {"status": orch.health.status}
        return {
            "status": orch.health.status,
            "degraded": orch.health.reasons(),
            "thermal_zone": orch.thermal_manager.zone,
            "profit_zone": orch.profit_coprocessor.last_vector.zone_state.value,
            "open_executions": len(orch.desk.positions),
            "agents": len(orch.agents),
            "version": __version__,
        }

    def statistics(self) -> dict[str, Any]:
        """The seed's performance metrics."""
        return self.orchestrator.get_statistics()

    def overview(self, *, executions: int = 15, points: int = 200, agents_shown: int = 25) -> dict[str, Any]:
        """Everything the status page shows: health, thermal, budget, profit, agents, executions.

        The first ``agents_shown`` agents (by id) are listed; the rest are counted.
        """
        orch = self.orchestrator
        agents = []
        held = dict(orch.agents)
        for agent_id in sorted(held)[:agents_shown]:
            agent = held[agent_id]
            stats = agent.statistics()
            strategies = [
                {**values, "strategy_id": sid, "confidence": agent.get_confidence_coefficient(sid)}
                for sid, values in stats["strategies"].items()
            ]
            agents.append({"agent_id": agent_id, "open": stats["open"], "strategies": strategies})
        return {
            "health": self.health(),
            "thermal": orch.thermal_manager.status(),
            "profit": orch.profit_coprocessor.status(),
            "profit_window": orch.profit_coprocessor.window()[-points:],
            "agents": agents,
            "agents_hidden": max(0, len(held) - agents_shown),
            "executions": [
                {
                    "execution_id": e.execution_id,
                    "agent_id": e.agent_id,
                    "strategy_id": e.strategy_id,
                    "status": e.status,
                    "entry_price": e.entry_price,
                    "exit_price": e.exit_price,
                    "profit": e.profit,
                    "opened_at": e.opened_at,
                }
                for e in reversed(orch.store.executions(limit=executions))
            ],
            "live": dict(self.live()) if self.live is not None else None,
        }
