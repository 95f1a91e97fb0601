"""Checkpoints and crash recovery of the system orchestrator (docs/reliability.md).

A tick's writes commit together (one unit of work of the store), and a checkpoint of the learnt
state (encoders, pattern statistics, pending decisions, and what the store held then) is written
every ``checkpoint_interval`` ticks. After a kill between two checkpoints the store holds executions,
trigger states and profit points newer than the checkpoint. :meth:`CheckpointRecovery._restore`
restores the engine *as of the checkpoint* and enters recovery: the caller re-feeds the ticks since
``tick_index`` (a replay does; the engine is deterministic), and every opening, close and profit
point that reproduces a stored one is adopted instead of written again. Recovery ends at the first
tick after the newest stored event; whatever re-processing did not reproduce (live ticks are not
re-fed) is then adopted as stored. Nothing confirmed is ever rewritten or dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from typing import TYPE_CHECKING, Any

from tengri.engine.account import Account
from tengri.engine.agent import MemoryAgent
from tengri.engine.desk import Decision, ExecutionDesk, OpenPosition
from tengri.engine.duties import Health
from tengri.engine.margin import MarginCall
from tengri.engine.profit import ProfitTrajectoryCoprocessor
from tengri.engine.store import ExecutionRecord, MemoryMap
from tengri.engine.symbols import SymbolPatterns
from tengri.errors import TengriError

if TYPE_CHECKING:
    from tengri.config import TengriConfig

__all__ = ["CheckpointRecovery"]

log = logging.getLogger(__name__)

_STATE_NAMESPACE = "orchestrator"


def _record_dict(record: ExecutionRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["hash_triggers"] = list(record.hash_triggers)
    return data


def _record_from_dict(data: dict[str, Any]) -> ExecutionRecord:
    return ExecutionRecord(**{**data, "hash_triggers": tuple(data["hash_triggers"])})


class CheckpointRecovery:
    """The orchestrator's checkpoint, restore and recovery (mixed into :class:`SystemOrchestrator`)."""

    config: TengriConfig
    store: MemoryMap
    agent: MemoryAgent
    desk: ExecutionDesk
    health: Health
    profit_coprocessor: ProfitTrajectoryCoprocessor
    _lock: threading.RLock
    _index: int
    _ticks_processed: int
    entries: dict[str, int]
    patterns: SymbolPatterns
    account: Account[OpenPosition]
    _last_time: dict[str, float]
    margin_call: MarginCall | None
    # The time of the newest stored event past the checkpoint (None: not recovering), and the
    # stored profit points past it, by time.
    _recovery_until: float | None
    _recovery_points: dict[float, float]
    # Whether a unit of work was lost and memory must be brought in line with the store first.
    _needs_adoption: bool

    def _state_key(self) -> str:
        return f"{self.agent.agent_id}:state"

    def checkpoint(self) -> None:
        """Write the engine's learnt state (encoders, pattern statistics, pending decisions)."""
        # One unit of work: on SQLite one commit for the pattern statistics and the state. Where
        # each write commits alone (PostgreSQL), the statistics' log keeps the last committed
        # state with the statistics it names (HashTriggerEngine.save_stats).
        with self._lock, self.store.unit_of_work():
            self.patterns.flush()
            self.patterns.primary.save_stats()
            state = {
                "index": self._index,
                **self.patterns.snapshot(),  # encoders, and the triggers of every symbol but the first
                "last_time": self._last_time,
                "last_price": self.account.marks,
                "bars": self.account.bars,
                "triggers": self.patterns.primary.snapshot(),
                "pending": [d.to_dict() for d in self.desk.pending],
                "ticks_processed": self._ticks_processed,
                "entries": self.entries,
                "margin_call": None if self.margin_call is None else self.margin_call.to_dict(),
                "sizer": self.desk.sizer.snapshot(),
                "risk": self.desk.risk.snapshot(),
                # What the store held at this checkpoint, so that a restart after a crash can tell
                # the rows written since (see the module docstring).
                "recovery": {
                    "sequence": self.agent.sequence,
                    "open": [_record_dict(r) for r in self.agent.open_records()],
                    "positions": [p.to_dict() for p in self.desk.positions.values()],
                    "realised": self.desk.realised,
                    "realised_by_symbol": self.account.realised_by_symbol,
                    "closed": self.desk.closed_count,
                    "profit_time": self.profit_coprocessor.newest_time,
                },
            }
            self.store.set(_STATE_NAMESPACE, self._state_key(), state)

    def _checkpoint_safely(self) -> None:
        try:
            self.checkpoint()
        except TengriError as exc:
            self.health.fail("checkpoint", exc.message)
        else:
            self.health.ok("checkpoint")

    def _restore(self) -> bool:
        """Restore the engine from its checkpoint; return whether there was one.

        Without one (a new engine, perhaps on a store other writers filled) the desk takes the
        store's executions as they are.
        """
        state = self.store.get(_STATE_NAMESPACE, self._state_key())
        pending: list[Decision] = []
        if state:
            self._index = int(state["index"])
            self.patterns.restore(state)
            self._last_time = {s: float(t) for s, t in state["last_time"].items()}
            self.account.marks = {s: float(p) for s, p in state["last_price"].items()}
            self.account.bars = {s: int(n) for s, n in state.get("bars", {}).items()}
            self.patterns.primary.restore(state["triggers"])
            pending = [Decision.from_dict(d) for d in state["pending"]]
            self._ticks_processed = int(state.get("ticks_processed", 0))
            self.entries.update({k: int(v) for k, v in state.get("entries", {}).items()})
            call = state.get("margin_call")
            self.margin_call = None if call is None else MarginCall.from_dict(call)
            self.desk.sizer.restore(state.get("sizer", {}))
            self.desk.risk.restore(state.get("risk", {}))
            if "recovery" in state:
                self._restore_as_of_checkpoint(state["recovery"], pending)
                return True
        closed = [e for e in self.store.executions(agent_id=self.agent.agent_id) if e.status != "open"]
        self.desk.restore(sum(e.profit or 0.0 for e in closed), len(closed), pending, by_symbol=closed)
        return bool(state)

    def _restore_as_of_checkpoint(self, recovery: dict[str, Any], pending: list[Decision]) -> None:
        """Restore agent, desk and profit window as the checkpoint saw them; note newer stored events."""
        newer = self.agent.restore(
            int(recovery["sequence"]), [_record_from_dict(r) for r in recovery["open"]]
        )
        self.desk.restore(
            float(recovery["realised"]),
            int(recovery["closed"]),
            pending,
            [OpenPosition.from_dict(p) for p in recovery["positions"]],
            recovery.get("realised_by_symbol"),
        )
        profit_time = recovery["profit_time"]
        stream = self.profit_coprocessor.stream
        window = (
            []
            if profit_time is None
            else self.store.profit_points(stream, self.profit_coprocessor.window_size, until=profit_time)
        )
        later = self.store.profit_points(stream, since=profit_time)
        self.profit_coprocessor.reload(window)
        self._recovery_points = dict(later)
        times = [t for t, _ in later]
        for row in newer:
            times.append(row.opened_at)
            if row.closed_at is not None:
                times.append(row.closed_at)
        self._recovery_until = max(times) if times else None
        if self._recovery_until is not None:
            log.warning(
                "store %s holds %d execution(s) and %d profit point(s) newer than the checkpoint at tick %d: "
                "recovering (re-processed ticks adopt them)",
                self.store.url,
                len(newer),
                len(later),
                self._index,
            )

    def _finish_recovery(self) -> None:
        """End crash recovery: adopt, as stored, every newer event re-processing did not reproduce."""
        self._recovery_until = None
        rows = self.agent.finish_recovery()
        closed = self.desk.adopt(rows)
        for row in closed:
            for trigger_id in row.hash_triggers:
                try:
                    self.patterns.record_outcome(
                        str(row.context.get("symbol", "")), trigger_id, bool(row.success)
                    )
                except TengriError as exc:
                    self.health.fail("triggers", exc.message)
        points, self._recovery_points = sorted(self._recovery_points.items()), {}
        coprocessor = self.profit_coprocessor
        window = coprocessor.window()
        newest = window[-1][0] if window else None
        kept = [(t, v) for t, v in points if newest is None or t > newest]
        if kept:
            coprocessor.reload(window + kept)  # reload keeps the newest window_size points
            log.warning("adopted %d stored profit point(s) that re-processing did not reproduce", len(kept))
        if closed and self.config.engine.enable_profit_tracking:
            last = coprocessor.window()
            closed_at = max(r.closed_at or r.opened_at for r in closed)
            if (not last or last[-1][1] != self.desk.realised) and (not last or closed_at > last[-1][0]):
                try:
                    coprocessor.update(self.desk.realised, timestamp=closed_at)
                except TengriError as exc:
                    self.health.fail("profit", exc.message)

    def _adopt_store(self) -> None:
        """After a lost unit of work: make executions, desk and profit window what the store holds.

        The store holds every write that was confirmed; the lost tick's were not. Its market state
        (encoders, pattern statistics) stays as processed. Trigger evidence may still count an
        outcome whose close was lost: counts are derived data and written on flush, not per
        outcome (see :meth:`HashTriggerEngine.flush`).
        """
        self.agent.refresh()
        rows = self.store.executions(agent_id=self.agent.agent_id)
        closed = [r for r in rows if r.status != "open"]
        self.desk.restore(
            sum(r.profit or 0.0 for r in closed), len(closed), self.desk.pending, by_symbol=closed
        )
        coprocessor = self.profit_coprocessor
        coprocessor.reload(self.store.profit_points(coprocessor.stream, coprocessor.window_size))
        self._recovery_until, self._recovery_points = None, {}
        self._needs_adoption = False
        log.warning(
            "memory brought in line with store %s: %d open, %d closed execution(s)",
            self.store.url,
            len(rows) - len(closed),
            len(closed),
        )

    def _update_profit(self, t: float) -> None:
        """Add the realised profit at ``t`` to the trajectory (adopting the stored point in recovery)."""
        coprocessor = self.profit_coprocessor
        newest = coprocessor.newest_time
        if newest is not None and t <= newest:
            # Closes on two symbols' ticks of one timestamp (a portfolio): the later point goes
            # one representable instant after the earlier, as the coprocessor does for its clock.
            t = math.nextafter(newest, math.inf)
        stored = self._recovery_points.pop(t, None) if self._recovery_points else None
        if stored is None:
            coprocessor.update(self.desk.realised, timestamp=t)
            return
        if stored != self.desk.realised:
            log.warning("re-processing diverged: profit point at %s differs; keeping the stored one", t)
        # A point re-processing reproduced: already stored, so it goes into the window only.
        coprocessor.update(stored, timestamp=t, persist=False)
