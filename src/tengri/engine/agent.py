"""The memory agent: opens and closes strategy executions and learns a confidence for each strategy.

Confidence (DESIGN.md, Memory agent)::

    C_final = clamp((C_base · w_context + C_similarity · w_pattern) · decay, 0, 1)

- ``C_base``: posterior mean of success under a Beta(1, 1) prior, ``(1 + s) / (2 + n)``, over the
  strategy's outcomes in the same context (thermal zone, profit zone); under
  ``min_context_samples`` outcomes in that context, over all of the strategy's outcomes;
- ``C_similarity``: success rate of the strategy's past executions weighted by the Jaccard
  similarity of their trigger sets with the query's, ``Σ J·success / Σ J`` (0.5 when none overlap);
- ``w_pattern = n_similar / (n_similar + k)``, ``w_context = 1 − w_pattern``, ``n_similar`` the
  number of past executions with a trigger in common;
- ``decay = exp(−Δt / τ)``, ``Δt`` the age of the strategy's newest outcome (1 with none).

Evidence lives in the store's executions table; the agent keeps running aggregates in memory,
rebuilt from the store when it starts, so a restart loses nothing and a query costs no I/O.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tengri.config import AgentConfig
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.store.memory_map import MemoryMap
from tengri.engine.store.records import ExecutionRecord
from tengri.errors import ConflictError, ForeignExecutionError, InvalidInputError

if TYPE_CHECKING:
    from tengri.engine.thermal.manager import ThermalZoneManager

__all__ = ["ConfidenceExplanation", "ExecutionOutcome", "MemoryAgent"]

_ANY = "*"


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """What closing an execution produced."""

    execution_id: str
    strategy_id: str
    profit: float
    success: bool
    exit_price: float
    execution_time: float
    status: str
    reason: str = "closed"
    hash_triggers: tuple[str, ...] = ()
    entry_price: float = 0.0
    size: float = 0.0
    direction: int = 1
    opened_at: float = 0.0
    closed_at: float = 0.0
    costs: float = 0.0
    confidence: float | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = {name: getattr(self, name) for name in self.__slots__}
        data["hash_triggers"] = list(self.hash_triggers)
        data["context"] = dict(self.context)
        return data


@dataclass(frozen=True, slots=True)
class ConfidenceExplanation:
    """Every term of C_final for one query."""

    strategy_id: str
    confidence: float
    c_base: float
    c_similarity: float
    w_context: float
    w_pattern: float
    decay: float
    n_context: int
    n_total: int
    n_similar: int
    context_used: str
    age_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class _Counts:
    n: int = 0
    s: int = 0

    def add(self, success: bool) -> None:
        self.n += 1
        self.s += int(success)


@dataclass(slots=True)
class _StrategyEvidence:
    by_context: dict[tuple[str, str], _Counts] = field(default_factory=dict)
    total: _Counts = field(default_factory=_Counts)
    by_triggers: dict[frozenset[str], _Counts] = field(default_factory=dict)
    profit_sum: float = 0.0
    newest: float | None = None


def _context_key(context: Mapping[str, Any] | None, fields: tuple[str, ...]) -> tuple[str, str]:
    context = context or {}
    thermal = (
        context.get("thermal_state", context.get("thermal_zone", _ANY)) if "thermal_state" in fields else _ANY
    )
    profit = context.get("profit_zone", _ANY) if "profit_zone" in fields else _ANY
    return str(thermal), str(profit)


class MemoryAgent:
    """Learns from strategy executions; several agents may share one store.

    Parameters
    ----------
    agent_id
        This agent's name; executions are tagged with it.
    store
        The memory map; default a private in-memory store (nothing persists).
    thermal_manager
        Supplies the default context (its zone, and its profit coprocessor's zone).
    clock
        Source of time (default the wall clock).
    config
        Confidence settings (default :class:`tengri.config.AgentConfig`).
    """

    def __init__(
        self,
        agent_id: str,
        store: MemoryMap | None = None,
        thermal_manager: ThermalZoneManager | None = None,
        clock: Clock | None = None,
        config: AgentConfig | None = None,
    ) -> None:
        if not isinstance(agent_id, str) or not agent_id or len(agent_id) > 128:
            raise InvalidInputError("agent_id must be a non-empty string of at most 128 characters")
        self.agent_id = agent_id
        self.clock: Clock = clock or (store.clock if store is not None else SystemClock())
        self.store = store if store is not None else MemoryMap.in_memory(clock=self.clock)
        self.thermal_manager = thermal_manager
        self.config = config or AgentConfig()
        self._lock = threading.RLock()
        self._evidence: dict[str, _StrategyEvidence] = {}
        self._open: dict[str, ExecutionRecord] = {}  # this agent's open executions, as stored
        self._sequence = 0
        self.refresh()

    # -- evidence -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the in-memory evidence from the store (after a restart, or another writer)."""
        rows = self.store.executions(agent_id=self.agent_id)
        with self._lock:
            self._evidence = {}
            self._open = {row.execution_id: row for row in rows if row.status == "open"}
            self._sequence = len(rows)
            for row in rows:
                if row.status != "open" and row.success is not None:
                    self._learn(row)

    def _learn(self, row: ExecutionRecord) -> None:
        ev = self._evidence.setdefault(row.strategy_id, _StrategyEvidence())
        success = bool(row.success)
        ev.total.add(success)
        ev.by_context.setdefault(_context_key(row.context, self.config.context_fields), _Counts()).add(
            success
        )
        ev.by_triggers.setdefault(frozenset(row.hash_triggers), _Counts()).add(success)
        ev.profit_sum += row.profit or 0.0
        closed = row.closed_at if row.closed_at is not None else row.opened_at
        ev.newest = closed if ev.newest is None else max(ev.newest, closed)

    def current_context(self) -> dict[str, str]:
        """The context of a decision now: the thermal zone and the profit zone."""
        thermal = self.thermal_manager
        if thermal is None:
            return {"thermal_state": _ANY, "profit_zone": _ANY}
        profit = getattr(thermal, "profit_coprocessor", None)
        vector = getattr(profit, "last_vector", None)
        zone_state = getattr(vector, "zone_state", None)
        return {
            "thermal_state": thermal.zone,
            "profit_zone": str(getattr(zone_state, "value", _ANY)),
        }

    # -- executions ---------------------------------------------------------------------------
    def _new_execution_id(self, strategy_id: str, now: float) -> str:
        self._sequence += 1
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d_%H%M%S")
        return f"{strategy_id}_{stamp}_{self._sequence:06d}"

    def start_strategy(
        self,
        strategy_id: str,
        hash_triggers: Iterable[str],
        entry_price: float,
        initial_confidence: float | None = None,
        direction: int = 1,
        context: Mapping[str, Any] | None = None,
        *,
        size: float = 1.0,
        costs: float = 0.0,
        opened_at: float | None = None,
        execution_id: str | None = None,
    ) -> str:
        """Open an execution and return its id (durable when this returns).

        ``costs`` are the entry's costs (commission), charged against the profit at completion;
        ``opened_at`` defaults to the clock's now.

        Raises
        ------
        InvalidInputError
            If the price or size is not finite and positive, the confidence is outside [0, 1],
            the direction is not ±1, or the strategy id is empty.
        """
        triggers = tuple(str(t) for t in hash_triggers)
        if not isinstance(strategy_id, str) or not strategy_id or len(strategy_id) > 128:
            raise InvalidInputError("strategy_id must be a non-empty string of at most 128 characters")
        if not math.isfinite(entry_price) or entry_price <= 0:
            raise InvalidInputError(f"entry_price must be finite and positive, got {entry_price!r}")
        if not math.isfinite(size) or size <= 0:
            raise InvalidInputError(f"size must be finite and positive, got {size!r}")
        if not math.isfinite(costs) or costs < 0:
            raise InvalidInputError(f"costs must be finite and non-negative, got {costs!r}")
        if initial_confidence is not None and not (0.0 <= initial_confidence <= 1.0):
            raise InvalidInputError(f"initial_confidence must be in [0, 1], got {initial_confidence!r}")
        if direction not in (1, -1):
            raise InvalidInputError(f"direction must be +1 or -1, got {direction!r}")
        ctx = dict(context) if context is not None else self.current_context()
        with self._lock:
            now = self.clock.now() if opened_at is None else float(opened_at)
            for _ in range(1000):
                new_id = execution_id or self._new_execution_id(strategy_id, now)
                record = ExecutionRecord(
                    execution_id=new_id,
                    agent_id=self.agent_id,
                    strategy_id=strategy_id,
                    direction=direction,
                    entry_price=float(entry_price),
                    opened_at=now,
                    hash_triggers=triggers,
                    size=float(size),
                    costs=float(costs),
                    confidence=initial_confidence,
                    context=ctx,
                )
                try:
                    self.store.insert_execution(record)
                except ConflictError:
                    if execution_id is not None:
                        raise
                    continue  # another writer took this sequence number: take the next
                self._open[new_id] = record
                return new_id
        raise ConflictError("could not allocate an execution id")  # pragma: no cover

    def complete_strategy(
        self,
        execution_id: str,
        exit_price: float,
        execution_time: float | None = None,
        *,
        costs: float = 0.0,
        status: str = "closed",
        closed_at: float | None = None,
        reason: str | None = None,
    ) -> ExecutionOutcome:
        """Close an execution; profit is ``direction·(exit − entry)·size − costs``.

        ``costs`` are the exit's costs, added to the entry's; ``closed_at`` defaults to the
        clock's now; ``reason`` (holding, opposite, stop_loss, …) is reported in the outcome.

        Raises
        ------
        ExecutionNotFoundError
            If the id is unknown.
        ForeignExecutionError
            If the execution belongs to another agent.
        ExecutionAlreadyCompletedError
            If it was completed before.
        InvalidInputError
            If the exit price is not finite and positive, or costs or time are invalid.
        """
        if not math.isfinite(exit_price) or exit_price <= 0:
            raise InvalidInputError(f"exit_price must be finite and positive, got {exit_price!r}")
        if not math.isfinite(costs) or costs < 0:
            raise InvalidInputError(f"costs must be finite and non-negative, got {costs!r}")
        if execution_time is not None and (not math.isfinite(execution_time) or execution_time < 0):
            raise InvalidInputError(f"execution_time must be finite and non-negative, got {execution_time!r}")
        # An execution this agent opened needs no read; the conditional close below still refuses
        # one that another process completed meanwhile.
        with self._lock:
            opened = self._open.get(execution_id)
        if opened is None:
            opened = self.store.get_execution(execution_id)
        if opened.agent_id != self.agent_id:
            raise ForeignExecutionError(f"execution {execution_id!r} belongs to agent {opened.agent_id!r}")
        profit = opened.direction * (exit_price - opened.entry_price) * opened.size - (opened.costs + costs)
        now = self.clock.now() if closed_at is None else float(closed_at)
        closed = self.store.close_execution(
            execution_id,
            exit_price=float(exit_price),
            profit=profit,
            costs=opened.costs + costs,
            closed_at=now,
            status="expired" if status == "expired" else "closed",
        )
        with self._lock:
            self._open.pop(execution_id, None)
            self._learn(closed)
        elapsed = execution_time if execution_time is not None else max(0.0, now - opened.opened_at)
        return ExecutionOutcome(
            execution_id=execution_id,
            strategy_id=closed.strategy_id,
            profit=profit,
            success=bool(closed.success),
            exit_price=float(exit_price),
            execution_time=elapsed,
            status=closed.status,
            reason=reason or closed.status,
            hash_triggers=closed.hash_triggers,
            entry_price=closed.entry_price,
            size=closed.size,
            direction=closed.direction,
            opened_at=closed.opened_at,
            closed_at=now,
            costs=closed.costs,
            confidence=closed.confidence,
            context=dict(closed.context),
        )

    # -- confidence ---------------------------------------------------------------------------
    def explain_confidence(
        self,
        strategy_id: str,
        hash_triggers: Iterable[str] = (),
        current_context: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> ConfidenceExplanation:
        """Return C_final with each of its terms (see the module docstring); ``now`` ages the evidence."""
        cfg = self.config
        query = frozenset(str(t) for t in hash_triggers)
        key = _context_key(
            current_context if current_context is not None else self.current_context(), cfg.context_fields
        )
        with self._lock:
            ev = self._evidence.get(strategy_id, _StrategyEvidence())
            in_context = ev.by_context.get(key, _Counts())
            base_counts, used = (
                (in_context, "context")
                if in_context.n >= cfg.min_context_samples
                else (
                    ev.total,
                    "all",
                )
            )
            c_base = (1.0 + base_counts.s) / (2.0 + base_counts.n)
            weighted_s = weighted_n = 0.0
            n_similar = 0
            for triggers, counts in ev.by_triggers.items():
                union = len(triggers | query)
                jaccard = len(triggers & query) / union if union else 0.0
                if jaccard > 0.0:
                    weighted_s += jaccard * counts.s
                    weighted_n += jaccard * counts.n
                    n_similar += counts.n
            newest = ev.newest
        c_similarity = weighted_s / weighted_n if weighted_n > 0 else 0.5
        w_pattern = n_similar / (n_similar + cfg.similarity_k)
        w_context = 1.0 - w_pattern
        now = self.clock.now() if now is None else now
        age = None if newest is None else max(0.0, now - newest)
        decay = 1.0 if age is None else math.exp(-age / cfg.decay_tau)
        confidence = min(1.0, max(0.0, (c_base * w_context + c_similarity * w_pattern) * decay))
        return ConfidenceExplanation(
            strategy_id=strategy_id,
            confidence=confidence,
            c_base=c_base,
            c_similarity=c_similarity,
            w_context=w_context,
            w_pattern=w_pattern,
            decay=decay,
            n_context=in_context.n,
            n_total=ev.total.n,
            n_similar=n_similar,
            context_used=used,
            age_seconds=age,
        )

    def get_confidence_coefficient(
        self,
        strategy_id: str,
        hash_triggers: Iterable[str] = (),
        current_context: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> float:
        """Return C_final for a strategy, its triggers and a context (default: now's)."""
        return self.explain_confidence(strategy_id, hash_triggers, current_context, now).confidence

    def statistics(self) -> dict[str, Any]:
        """Per strategy: outcomes, successes, success rate, total and average profit; and totals."""
        with self._lock:
            strategies = {
                sid: {
                    "executions": ev.total.n,
                    "successes": ev.total.s,
                    "success_rate": ev.total.s / ev.total.n if ev.total.n else None,
                    "total_profit": ev.profit_sum,
                    "average_profit": ev.profit_sum / ev.total.n if ev.total.n else None,
                }
                for sid, ev in sorted(self._evidence.items())
            }
            n = sum(ev.total.n for ev in self._evidence.values())
            s = sum(ev.total.s for ev in self._evidence.values())
            profit = sum(ev.profit_sum for ev in self._evidence.values())
        return {
            "agent_id": self.agent_id,
            "completed": n,
            "successes": s,
            "success_rate": s / n if n else None,
            "total_profit": profit,
            "average_profit": profit / n if n else None,
            "open": len(self.store.open_executions(self.agent_id)),
            "strategies": strategies,
        }
