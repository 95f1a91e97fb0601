"""The memory agent: opens and closes strategy executions and learns a confidence for each strategy.

What it has learnt, and the C_final formula, are :mod:`tengri.engine.confidence`'s. Evidence lives
in the store's executions table; the agent keeps running aggregates in memory, rebuilt from the
store when it starts, so a restart loses nothing and a query costs no I/O.

Crash recovery (docs/reliability.md): after a kill between two checkpoints of the orchestrator, the
store holds executions newer than the checkpoint. :meth:`MemoryAgent.restore` rebuilds the
evidence as of the checkpoint and keeps those newer rows aside; while the engine re-processes the
ticks since the checkpoint, an opening or a close that reproduces a stored row is *adopted*
(nothing is written twice), and :meth:`MemoryAgent.finish_recovery` folds in whatever the
re-processing did not reproduce, exactly as stored. A confirmed execution is never rewritten.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tengri.config import AgentConfig
from tengri.engine import _kernel
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.confidence import ANY, ConfidenceExplanation, EvidenceBook
from tengri.engine.store.memory_map import MemoryMap
from tengri.engine.store.records import ExecutionRecord, ExecutionStatus
from tengri.errors import ConflictError, ForeignExecutionError, InvalidInputError

if TYPE_CHECKING:
    from tengri.engine.thermal.manager import ThermalZoneManager

__all__ = ["ConfidenceExplanation", "ExecutionOutcome", "MemoryAgent", "execution_sequence"]

log = logging.getLogger(__name__)


def execution_sequence(execution_id: str) -> int | None:
    """The sequence number of an id the agent allocated (``<strategy>_<stamp>_<seq>``), else None."""
    head, _, tail = execution_id.rpartition("_")
    return int(tail) if head and tail.isdigit() else None


def _same_opening(stored: ExecutionRecord, new: ExecutionRecord) -> bool:
    """Whether ``stored`` is the row that inserting ``new`` would have written (costs change at close)."""
    return (
        stored.agent_id == new.agent_id
        and stored.strategy_id == new.strategy_id
        and stored.direction == new.direction
        and stored.entry_price == new.entry_price
        and stored.opened_at == new.opened_at
        and stored.hash_triggers == new.hash_triggers
        and stored.size == new.size
        and (stored.status != "open" or stored.costs == new.costs)
        and stored.confidence == new.confidence
        and stored.context == new.context
    )


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


def _event_time(row: ExecutionRecord) -> tuple[float, str]:
    return (row.closed_at if row.closed_at is not None else row.opened_at, row.execution_id)


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
        self._book = EvidenceBook(self.config)  # what the outcomes taught, and C_final
        self._open: dict[str, ExecutionRecord] = {}  # this agent's open executions, as stored
        # Rows newer than the orchestrator's checkpoint, not yet reproduced (see the module docstring).
        self._recovery: dict[str, ExecutionRecord] = {}
        self._sequence = 0
        self._stamp: tuple[float, str] = (math.nan, "")  # the last execution id's second, formatted
        self.refresh()

    # -- evidence -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the in-memory evidence from the store (after a restart, or another writer)."""
        rows = self.store.executions(agent_id=self.agent_id)
        with self._lock:
            self._book.clear()
            self._recovery = {}
            self._open = {row.execution_id: row for row in rows if row.status == "open"}
            # Past the highest sequence in use, not the row count: cleanup may have removed rows.
            self._sequence = max([len(rows), *(execution_sequence(r.execution_id) or 0 for r in rows)])
            for row in rows:
                if row.status != "open" and row.success is not None:
                    self._learn(row)

    @property
    def sequence(self) -> int:
        """The sequence number of the last execution id this agent allocated."""
        with self._lock:
            return self._sequence

    @property
    def recovering(self) -> bool:
        """Whether rows newer than the restored checkpoint still wait to be reproduced."""
        with self._lock:
            return bool(self._recovery)

    def open_records(self) -> list[ExecutionRecord]:
        """This agent's open executions as it opened them (for a checkpoint)."""
        with self._lock:
            return list(self._open.values())

    def restore(self, sequence: int, open_records: Sequence[ExecutionRecord]) -> list[ExecutionRecord]:
        """Rebuild the agent as of a checkpoint; return the stored rows newer than it.

        ``sequence`` and ``open_records`` are :attr:`sequence` and :meth:`open_records` when the
        checkpoint was written. A row is newer than the checkpoint when its id's sequence is
        higher (opened since), or when it was open then and is closed now (closed since). Those
        rows are not learnt from: the re-processed ticks reproduce and adopt them (see
        :meth:`start_strategy` and :meth:`complete_strategy`), and :meth:`finish_recovery` folds
        in the rest.
        """
        rows = self.store.executions(agent_id=self.agent_id)
        opened_then = {r.execution_id: r for r in open_records}
        with self._lock:
            self._book.clear()
            self._open = dict(opened_then)
            self._recovery = {}
            self._sequence = int(sequence)
            for row in rows:
                execution_id = row.execution_id
                if execution_id in opened_then:
                    if row.status != "open":
                        self._recovery[execution_id] = row
                    continue
                number = execution_sequence(execution_id)
                if number is not None and number > sequence:
                    self._recovery[execution_id] = row
                elif row.status == "open":
                    self._open[execution_id] = row
                elif row.success is not None:
                    self._learn(row)
            return sorted(self._recovery.values(), key=_event_time)

    def finish_recovery(self) -> list[ExecutionRecord]:
        """End recovery: adopt every row not reproduced, as stored; return them, oldest event first.

        An open row joins the open executions, a closed one is learnt from; the caller (the
        orchestrator's desk) brings its positions and realised profit in line.
        """
        with self._lock:
            rows = sorted(self._recovery.values(), key=_event_time)
            self._recovery = {}
            for row in rows:
                if row.status == "open":
                    self._open[row.execution_id] = row
                else:
                    self._open.pop(row.execution_id, None)
                    if row.success is not None:
                        self._learn(row)
                number = execution_sequence(row.execution_id)
                if number is not None:
                    self._sequence = max(self._sequence, number)
        if rows:
            log.warning(
                "agent %s: %d stored execution event(s) newer than the checkpoint were not reproduced "
                "by re-processing; adopted as stored: %s",
                self.agent_id,
                len(rows),
                ", ".join(r.execution_id for r in rows[:10]),
            )
        return rows

    def _learn(self, row: ExecutionRecord) -> None:
        self._book.learn(row)

    def current_context(self) -> dict[str, str]:
        """The context of a decision now: the thermal zone and the profit zone."""
        thermal = self.thermal_manager
        if thermal is None:
            return {"thermal_state": ANY, "profit_zone": ANY}
        profit = getattr(thermal, "profit_coprocessor", None)
        vector = getattr(profit, "last_vector", None)
        zone_state = getattr(vector, "zone_state", None)
        return {
            "thermal_state": thermal.zone,
            "profit_zone": str(getattr(zone_state, "value", ANY)),
        }

    # -- executions ---------------------------------------------------------------------------
    def _new_execution_id(self, strategy_id: str, now: float) -> str:
        self._sequence += 1
        second = math.floor(now)
        if second != self._stamp[0]:  # executions often open within the same second (or bar)
            iso = _kernel.iso_seconds(float(second))  # "2024-01-02T03:04:05Z" from 1970 on, compiled
            stamp = (
                f"{iso[0:4]}{iso[5:7]}{iso[8:10]}_{iso[11:13]}{iso[14:16]}{iso[17:19]}"
                if iso is not None
                else time.strftime("%Y%m%d_%H%M%S", time.gmtime(second))
            )
            self._stamp = (second, stamp)
        return f"{strategy_id}_{self._stamp[1]}_{self._sequence:06d}"

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
                record = ExecutionRecord.of(
                    {
                        "execution_id": new_id,
                        "agent_id": self.agent_id,
                        "strategy_id": strategy_id,
                        "direction": direction,
                        "entry_price": float(entry_price),
                        "opened_at": now,
                        "hash_triggers": triggers,
                        "size": float(size),
                        "costs": float(costs),
                        "confidence": initial_confidence,
                        "context": ctx,
                        "status": "open",
                        "exit_price": None,
                        "profit": None,
                        "success": None,
                        "closed_at": None,
                    }
                )
                stored = self._recovery.get(new_id)
                if stored is not None:
                    if _same_opening(stored, record):
                        # Re-processing after a crash reproduced a confirmed opening: adopt it.
                        self._open[new_id] = record
                        if stored.status == "open":
                            del self._recovery[new_id]
                        return new_id
                    log.warning("re-processing diverged: %s differs from the stored execution", new_id)
                    if execution_id is not None:
                        raise ConflictError(f"execution {new_id!r} already exists")
                    continue
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
        final_status: ExecutionStatus = "expired" if status == "expired" else "closed"
        with self._lock:
            stored = self._recovery.get(execution_id)
            if stored is not None and stored.status != "open":
                del self._recovery[execution_id]
        if stored is not None and stored.status != "open":
            # Re-processing after a crash reached a confirmed close: the stored row is the outcome.
            if (stored.exit_price, stored.profit, stored.costs, stored.closed_at, stored.status) != (
                float(exit_price),
                profit,
                opened.costs + costs,
                now,
                final_status,
            ):
                log.warning("re-processing diverged: close of %s differs; stored one kept", execution_id)
            closed = stored
            profit = stored.profit if stored.profit is not None else profit
            exit_price = stored.exit_price if stored.exit_price is not None else exit_price
            now = stored.closed_at if stored.closed_at is not None else now
        else:
            closed = self.store.close_execution(
                execution_id,
                exit_price=float(exit_price),
                profit=profit,
                costs=opened.costs + costs,
                closed_at=now,
                status=final_status,
                opened=opened,
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
        """Return C_final and its terms (:mod:`tengri.engine.confidence`); ``now`` ages the evidence."""
        context, at = self._query_at(current_context, now)
        with self._lock:
            return self._book.explain(strategy_id, hash_triggers, context, at)

    def get_confidence_coefficient(
        self,
        strategy_id: str,
        hash_triggers: Iterable[str] = (),
        current_context: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> float:
        """Return C_final for a strategy, its triggers and a context (default: now's)."""
        return self.confidence(strategy_id, hash_triggers, current_context, now)[0]

    def confidence(
        self,
        strategy_id: str,
        hash_triggers: Iterable[str] = (),
        current_context: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> tuple[float, int]:
        """C_final and the strategy's completed outcomes: :meth:`explain_confidence`'s two an entry reads."""
        context, at = self._query_at(current_context, now)
        with self._lock:
            return self._book.confidence(strategy_id, hash_triggers, context, at)

    def _query_at(
        self, context: Mapping[str, Any] | None, now: float | None
    ) -> tuple[Mapping[str, Any], float]:
        """A confidence query's context and time: now's where not given."""
        return (
            context if context is not None else self.current_context(),
            self.clock.now() if now is None else now,
        )

    def statistics(self) -> dict[str, Any]:
        """Per strategy: outcomes, successes, success rate, total and average profit; and totals."""
        with self._lock:
            strategies, n, s, profit = self._book.statistics()
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
