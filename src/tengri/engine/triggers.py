"""Hash triggers: registration, matching, pattern mapping, auto-registration, dormancy and collapse.

A trigger ``(trigger_id, pattern, mask, strategy_id, direction, state)`` fires on hash ``h`` when
``h & mask == pattern & mask`` and it is active or on probation (DESIGN.md, Triggers).

Life cycle, driven by the outcomes of the executions a trigger opened (:meth:`record_outcome`):

- *dormant*: with at least ``dormant_min_samples`` outcomes since its last change of state, a
  trigger whose confidence (posterior mean of success, Beta(1, 1) prior) is under
  ``dormant_threshold`` sleeps for ``dormant_ticks`` ticks, then wakes on *probation*; after
  ``dormant_min_samples`` outcomes on probation it returns to *active* if its confidence over them
  reaches the threshold, else it sleeps again;
- *collapsed*: with at least ``collapse_min_samples`` outcomes in all, a trigger whose one-sided
  95% upper bound of the success rate (Beta posterior) is below 0.5 is retired for good; it stays
  in the store for audit.

Pattern mapping keeps, per full 16-bit code and per masked code, the count, mean and variance of
the next log return (Welford). With auto-registration, a masked code seen at least
``auto_register_min_count`` times whose mean next move has ``|t| > auto_register_t_stat`` becomes
a trigger with the sign of that mean as its direction.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tengri.config import TriggerConfig
from tengri.engine import _kernel
from tengri.engine.pattern_hash import CursorState, encode
from tengri.engine.pattern_stats import PatternStats, PatternTable
from tengri.engine.store.records import TriggerRecord
from tengri.errors import InvalidInputError, StoreError, TriggerNotFoundError

if TYPE_CHECKING:
    from tengri.engine.store.memory_map import MemoryMap

__all__ = ["HashTriggerEngine", "PatternStats", "Trigger", "TriggerState"]


class TriggerState(StrEnum):
    """Where a trigger is in its life cycle."""

    ACTIVE = "active"
    PROBATION = "probation"
    DORMANT = "dormant"
    COLLAPSED = "collapsed"


# The states in which a trigger fires on its pattern.
_FIRING = (TriggerState.ACTIVE, TriggerState.PROBATION)


@dataclass(slots=True)
class Trigger:
    """A registered hash trigger and its evidence."""

    trigger_id: str
    pattern: int
    mask: int
    strategy_id: str
    direction: int = 1
    state: TriggerState = TriggerState.ACTIVE
    source: str = "manual"
    successes: int = 0
    failures: int = 0
    epoch_successes: int = 0
    epoch_failures: int = 0
    sleep_until_tick: int | None = None
    fired: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, hash_value: int) -> bool:
        """Whether the trigger's pattern matches ``hash_value`` under its mask."""
        return (hash_value & self.mask) == (self.pattern & self.mask)

    @property
    def outcomes(self) -> int:
        """Number of recorded outcomes."""
        return self.successes + self.failures

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        # Field by field, not ``asdict``: a checkpoint writes every trigger, and asdict deep-copies.
        data = {name: getattr(self, name) for name in _TRIGGER_FIELDS}
        data["state"] = self.state.value
        data["extra"] = copy.deepcopy(self.extra) if self.extra else {}  # most have none
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trigger:
        """Rebuild a trigger from :meth:`to_dict` output."""
        return cls(**{**data, "state": TriggerState(data["state"])})

    _EVIDENCE = ("source", "successes", "failures", "epoch_successes", "epoch_failures", "fired", "extra")

    def to_record(self) -> TriggerRecord:
        """Return the store's row for this trigger (its evidence goes into ``stats``)."""
        return TriggerRecord(
            trigger_id=self.trigger_id,
            pattern=self.pattern,
            mask=self.mask,
            strategy_id=self.strategy_id,
            direction=self.direction,
            state=self.state.value,
            state_until=None if self.sleep_until_tick is None else float(self.sleep_until_tick),
            stats={name: getattr(self, name) for name in self._EVIDENCE},
        )

    @classmethod
    def from_record(cls, record: TriggerRecord) -> Trigger:
        """Rebuild a trigger from the store's row."""
        return cls(
            trigger_id=record.trigger_id,
            pattern=record.pattern,
            mask=record.mask,
            strategy_id=record.strategy_id,
            direction=record.direction,
            state=TriggerState(record.state),
            sleep_until_tick=None if record.state_until is None else int(record.state_until),
            **{name: record.stats[name] for name in cls._EVIDENCE if name in record.stats},
        )


_TRIGGER_FIELDS = tuple(f.name for f in fields(Trigger))


def _confidence(successes: int, failures: int) -> float:
    return (1.0 + successes) / (2.0 + successes + failures)


def _upper_bound(successes: int, failures: int, level: float = 0.95) -> float:
    # Imported here: SciPy's special functions cost a fifth of a second at start-up, and a
    # process that never records an outcome (a CLI command, a restarted replay) need not pay it.
    from scipy.special import betaincinv

    return float(betaincinv(1.0 + successes, 1.0 + failures, level))


class HashTriggerEngine(_kernel.TriggerCore):
    """Registers triggers, matches hashes against them and learns which codes precede moves.

    Parameters
    ----------
    config
        Thresholds; defaults to :class:`tengri.config.TriggerConfig`'s.
    store
        The memory map that keeps every trigger's last state; without one the engine keeps its
        state in memory only.
    auto_register
        Whether codes with a significant next move become triggers.
    namespace
        The engine's own name when several engines share one store (each orchestrator process
        its agent id): its auto-registered triggers are ``AUTO_<code>_<mask>@<namespace>``, and it
        loads only its own auto-registered triggers from the store, besides every manual one.
    """

    _code_stats: PatternTable  # the compiled core's attributes, with this module's table class
    _masked_stats: PatternTable

    def __init__(
        self,
        config: TriggerConfig | None = None,
        store: MemoryMap | None = None,
        *,
        auto_register: bool = True,
        namespace: str | None = None,
    ) -> None:
        self.config = config or TriggerConfig()
        # What each tick's learning reads of the config (frozen): the mask, the moves a masked
        # code needs before its t statistic counts, the t statistic that makes it a trigger.
        self._configure(
            self.config.auto_register_mask,
            self.config.auto_register_min_count,
            self.config.auto_register_t_stat,
            _FIRING,
        )
        self.store = store
        self.auto_register = auto_register
        self._suffix = "" if namespace is None else f"@{namespace}"
        self._lock = threading.RLock()
        self._triggers: dict[str, Trigger] = {}
        self._by_mask: dict[int, dict[int, list[Trigger]]] = {}
        self._code_stats = PatternTable()
        self._masked_stats = PatternTable()
        # The statistics in the store (see save_stats): the log's rows up to _stats_seq, the newest
        # whole table at _stats_base (None: none yet), the bytes of changes written since it, and
        # the whole table the last snapshot starts from (None: no snapshot yet).
        self._stats_seq = -1
        self._stats_base: int | None = None
        self._stats_changes = 0
        self._snapshot_base: int | None = None
        self._stats_oldest = 0  # the oldest row of the log that may still be in the store
        self._slots_left = False  # whether the two slots of a checkpoint before the log remain
        self._pending: tuple[int, float] | None = None  # (hash, price) awaiting its next move
        self._sleepers: dict[str, Trigger] = {}
        self._auto_ids: dict[int, str] = {}  # masked code -> its auto trigger's id (formatted once)
        # Triggers whose evidence counts changed since they were last written (see flush).
        self._unsaved: dict[str, Trigger] = {}
        self.ticks = 0
        if store is not None:
            for record in store.triggers():
                if record.stats.get("source") == "auto" and not self._owns(record.trigger_id):
                    continue  # another engine's on a shared store
                self._index(Trigger.from_record(record))

    def _owns(self, trigger_id: str) -> bool:
        _, at, owner = trigger_id.rpartition("@")
        return f"@{owner}" == self._suffix if at else not self._suffix

    # -- registration -------------------------------------------------------------------------
    def _index(self, trigger: Trigger) -> None:
        self._triggers[trigger.trigger_id] = trigger
        if trigger.state is TriggerState.DORMANT:
            self._sleepers[trigger.trigger_id] = trigger
        bucket = self._by_mask.setdefault(trigger.mask, {})
        bucket.setdefault(trigger.pattern & trigger.mask, []).append(trigger)

    def _persist(self, trigger: Trigger) -> None:
        if self.store is not None:
            self.store.upsert_trigger(trigger.to_record())
            self._unsaved.pop(trigger.trigger_id, None)

    def flush(self) -> int:
        """Write the triggers whose evidence counts changed since their last write; return how many.

        A change of state (registration, dormancy, probation, collapse) is written at once; the
        counts of an outcome that changes no state wait for this call, which the orchestrator
        makes at every checkpoint, on a duty every ``system_monitoring_interval`` seconds and at
        shutdown. They are derived data: after a crash, re-processing (or adopting) the stored
        executions counts them again.

        Raises
        ------
        StoreError
            If the write fails; the triggers stay unsaved for the next call.
        """
        with self._lock:
            if self.store is None or not self._unsaved:
                return 0
            unsaved = list(self._unsaved.values())
            self.store.upsert_triggers([t.to_record() for t in unsaved])
            self._unsaved.clear()
            return len(unsaved)

    def register(
        self,
        trigger: Trigger | None = None,
        *,
        pattern: int | None = None,
        mask: int = 0xFFFF,
        strategy_id: str | None = None,
        direction: int = 1,
        trigger_id: str | None = None,
        source: str = "manual",
    ) -> Trigger:
        """Register a trigger (a :class:`Trigger`, or its fields as keywords) and return it.

        Raises
        ------
        InvalidInputError
            If the pattern or mask is outside 16 bits, the mask is 0, the direction is not ±1,
            the strategy id is empty, or the id is taken.
        """
        if trigger is None:
            if pattern is None or strategy_id is None:
                raise InvalidInputError("register needs a pattern and a strategy_id")
            trigger = Trigger(
                trigger_id=trigger_id or f"T{pattern & mask:04X}_{mask:04X}_{strategy_id}",
                pattern=pattern,
                mask=mask,
                strategy_id=strategy_id,
                direction=direction,
                source=source,
            )
        if not (0 <= trigger.pattern <= 0xFFFF) or not (1 <= trigger.mask <= 0xFFFF):
            raise InvalidInputError("pattern must be in [0, 0xFFFF] and mask in [1, 0xFFFF]")
        if trigger.direction not in (1, -1):
            raise InvalidInputError(f"direction must be +1 or -1, got {trigger.direction!r}")
        if not trigger.strategy_id or not trigger.trigger_id:
            raise InvalidInputError("strategy_id and trigger_id must be non-empty")
        with self._lock:
            if trigger.trigger_id in self._triggers:
                raise InvalidInputError(f"trigger id {trigger.trigger_id!r} is already registered")
            self._persist(trigger)
            self._index(trigger)
        return trigger

    def get(self, trigger_id: str) -> Trigger:
        """Return the trigger with this id, or raise :class:`TriggerNotFoundError`."""
        try:
            return self._triggers[trigger_id]
        except KeyError:
            raise TriggerNotFoundError(f"unknown trigger {trigger_id!r}") from None

    def triggers(self) -> list[Trigger]:
        """Every trigger, retired ones included."""
        return list(self._triggers.values())

    def active(self) -> list[Trigger]:
        """Triggers that can fire now (active or on probation)."""
        return [
            t for t in self._triggers.values() if t.state in (TriggerState.ACTIVE, TriggerState.PROBATION)
        ]

    # -- hashing and matching -----------------------------------------------------------------
    def encode(self, prices: Sequence[float], timestamp: float = 0.0) -> tuple[int, CursorState]:
        """Return the pattern hash and cursor state of ``prices`` (see :mod:`pattern_hash`)."""
        return encode(prices, timestamp, self.config.ewma_span)

    # process_hash(hash_value, cursor_state) -> list[str], each tick's call, is the compiled
    # core's (TriggerCore): learn the previous code's next move, wake sleepers, fire matches.

    def fired_triggers(self, ids: Iterable[str]) -> list[Trigger]:
        """Return the trigger objects for ids returned by :meth:`process_hash`."""
        return [self._triggers[i] for i in ids]

    def _auto_register(self, code: int) -> None:
        """Make ``code``'s masked code a trigger, unless it is one (its t statistic passed the threshold)."""
        config = self.config
        masked = code & config.auto_register_mask
        trigger_id = self._auto_ids.get(masked)
        if trigger_id is None:  # a code's t statistic passes again and again: its id is made once
            trigger_id = self._auto_ids[masked] = (
                f"AUTO_{masked:04X}_{config.auto_register_mask:04X}{self._suffix}"
            )
        if trigger_id not in self._triggers:
            self.register(
                pattern=masked,
                mask=config.auto_register_mask,
                strategy_id=f"PATTERN_{masked:04X}",
                direction=1 if self._masked_stats.get(masked).mean > 0 else -1,
                trigger_id=trigger_id,
                source="auto",
            )

    def _wake_sleepers(self) -> None:
        if not self._sleepers:
            return
        for trigger in list(self._sleepers.values()):
            if trigger.sleep_until_tick is None or self.ticks >= trigger.sleep_until_tick:
                self._transition(trigger, TriggerState.PROBATION)

    def pattern_mapping(self, code: int, *, masked: bool = False) -> PatternStats:
        """Next-move statistics of a full code, or of a masked code with ``masked=True``."""
        if masked:
            return self._masked_stats.get(code & self.config.auto_register_mask)
        return self._code_stats.get(code)

    # -- outcomes -----------------------------------------------------------------------------
    def _transition(self, trigger: Trigger, state: TriggerState) -> None:
        trigger.state = state
        if state is TriggerState.DORMANT:
            self._sleepers[trigger.trigger_id] = trigger
        else:
            self._sleepers.pop(trigger.trigger_id, None)
        trigger.epoch_successes = 0
        trigger.epoch_failures = 0
        trigger.sleep_until_tick = (
            self.ticks + self.config.dormant_ticks if state is TriggerState.DORMANT else None
        )
        self._persist(trigger)

    def record_outcome(self, trigger_id: str, success: bool) -> Trigger:
        """Record the outcome of an execution the trigger opened; apply dormancy and collapse."""
        cfg = self.config
        with self._lock:
            trigger = self.get(trigger_id)
            if trigger.state is TriggerState.COLLAPSED:
                return trigger
            if success:
                trigger.successes += 1
                trigger.epoch_successes += 1
            else:
                trigger.failures += 1
                trigger.epoch_failures += 1
            epoch_n = trigger.epoch_successes + trigger.epoch_failures
            epoch_conf = _confidence(trigger.epoch_successes, trigger.epoch_failures)
            if (
                trigger.outcomes >= cfg.collapse_min_samples
                # Beta(1 + s, 1 + f) has its median at 1/2 or above when s >= f, so its 95% bound
                # too: only a trigger with more failures than successes needs the bound computed.
                and trigger.successes < trigger.failures
                and _upper_bound(trigger.successes, trigger.failures) < 0.5
            ):
                self._transition(trigger, TriggerState.COLLAPSED)
            elif epoch_n >= cfg.dormant_min_samples and epoch_conf < cfg.dormant_threshold:
                self._transition(trigger, TriggerState.DORMANT)
            elif trigger.state is TriggerState.PROBATION and epoch_n >= cfg.dormant_min_samples:
                self._transition(trigger, TriggerState.ACTIVE)
            elif self.store is not None:
                self._unsaved[trigger_id] = trigger
            return trigger

    # -- state --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Return the engine's learnt state (pattern statistics, pending code, tick count, triggers).

        An engine with a store keeps its pattern statistics in the store's ``pattern_stats``
        table instead (``codes`` and ``masked`` are then None; :meth:`save_stats` writes them, in
        the checkpoint's unit of work): as raw bytes rather than base64 inside the checkpoint's
        JSON, whose encoding cost more than the write (1.6 MB of JSON a checkpoint at 100,000 bars).
        """
        with self._lock:
            in_store = self.store is not None
            return {
                "ticks": self.ticks,
                "triggers": [t.to_dict() for t in self._triggers.values()],
                "pending": list(self._pending) if self._pending is not None else None,
                "codes": None if in_store else self._code_stats.pack(),
                "masked": None if in_store else self._masked_stats.pack(),
                "stats_log": self._take_stats_snapshot() if in_store else None,
            }

    def _take_stats_snapshot(self) -> list[int] | None:
        """The log's rows a snapshot refers to, and the bytes of changes since its whole table.

        The bytes come back with a restore, so that a resumed engine writes its whole tables at
        the checkpoints an uninterrupted one does: its checkpoints' state is the same.
        """
        if self._stats_base is None:
            return None
        self._snapshot_base = self._stats_base
        return [self._stats_base, self._stats_seq, self._stats_changes]

    def _stats_owner(self, table: str, row: int) -> str:
        """The store's name of row ``row`` of ``table``'s log (see :meth:`save_stats`)."""
        return f"triggers{self._suffix}:{table}:log{row}"

    def _slot_owner(self, table: str, slot: int) -> str:
        """The store's name of ``table`` in slot 0 or 1: where checkpoints kept it before the log."""
        return f"triggers{self._suffix}:{table}:{slot}"

    def save_stats(self) -> None:
        """Write the pattern statistics to the store; the next :meth:`snapshot` refers to them.

        The store holds each table as a log: a whole table, then the codes changed at each later
        save (a long run's whole tables are 2 MiB each; a thousand ticks change at most a thousand
        codes). A save writes a new row, never one the last snapshot refers to, so that a crash (or
        a failed write) between the save and the checkpoint's state leaves that state with the
        statistics it was taken with. Once the changes since the whole table outweigh it, a save
        writes the whole table again, and the rows before the one the last snapshot starts at go.
        The checkpoint saves, then snapshots.
        """
        with self._lock:
            if self.store is None:
                return
            tables = (("codes", self._code_stats), ("masked", self._masked_stats))
            row = self._stats_seq + 1
            size = 32 * (len(self._code_stats) + len(self._masked_stats))  # bytes of the whole tables
            whole = self._stats_base is None or self._stats_changes >= size
            for name, table in tables:
                if whole:
                    packed = table.to_bytes()
                    table.changed()[:] = 0  # the whole table holds them
                else:
                    packed = table.take_changes()
                self.store.put_pattern_stats(self._stats_owner(name, row), packed)
                self._stats_changes = 0 if whole else self._stats_changes + len(packed)
            self._stats_seq = row
            if whole:
                self._stats_base = row
            # Rows before the last snapshot's whole table (or this one, before any snapshot).
            keep = self._snapshot_base if self._snapshot_base is not None else row
            stale = [self._stats_owner(n, r) for r in range(self._stats_oldest, keep) for n, _ in tables]
            if self._slots_left and self._snapshot_base is not None:  # a checkpoint refers to the log now
                stale += [self._slot_owner(n, slot) for slot in (0, 1) for n, _ in tables]
                self._slots_left = False
            self.store.delete_pattern_stats(stale)
            self._stats_oldest = max(self._stats_oldest, keep)

    def restore(self, data: dict[str, Any]) -> None:
        """Restore state written by :meth:`snapshot`.

        The triggers come from the snapshot when it holds them (their state as of the snapshot,
        in registration order; the store's rows may be newer after a crash, and re-processing
        rewrites them), else they stay as loaded from the store.
        """
        with self._lock:
            if "triggers" in data:
                self._triggers, self._by_mask, self._sleepers, self._unsaved = {}, {}, {}, {}
                for item in data["triggers"]:
                    self._index(Trigger.from_dict(item))
            self.ticks = int(data["ticks"])
            pending = data.get("pending")
            self._pending = (int(pending[0]), float(pending[1])) if pending else None
            log = data.get("stats_log")
            if log is not None and self.store is not None:  # the store's log (see save_stats)
                base, last, changes = int(log[0]), int(log[1]), int(log[2])
                self._code_stats = self._stored_stats("codes", base, last)
                self._masked_stats = self._stored_stats("masked", base, last)
                self._stats_seq, self._stats_base, self._stats_changes = last, base, changes
                self._snapshot_base, self._stats_oldest = base, base
                self._slots_left = False
            elif data.get("codes") is None and self.store is not None:  # two slots, before the log
                slot = int(data.get("stats_slot") or 0)
                self._code_stats = self._stored_stats("codes", slot, slot, self._slot_owner)
                self._masked_stats = self._stored_stats("masked", slot, slot, self._slot_owner)
                self._stats_seq, self._stats_base, self._snapshot_base = -1, None, None
                self._slots_left = True
            else:  # packed in the snapshot (no store, or a checkpoint from before the table)
                self._code_stats = PatternTable.unpack(data["codes"])
                self._masked_stats = PatternTable.unpack(data["masked"])

    def _stored_stats(
        self, table: str, base: int, last: int, owner_of: Callable[[str, int], str] | None = None
    ) -> PatternTable:
        """The whole table at row ``base`` of the store's log, with the changes up to ``last`` applied."""
        assert self.store is not None
        stats = PatternTable()
        for row in range(base, last + 1):
            owner = (owner_of or self._stats_owner)(table, row)
            packed = self.store.pattern_stats(owner)
            if packed is None:
                raise StoreError(f"the checkpoint's pattern statistics ({owner}) are missing")
            stats.apply(packed)
        return stats

    def statistics(self) -> dict[str, Any]:
        """Counts by state, codes seen, ticks processed."""
        by_state = {s.value: 0 for s in TriggerState}
        for trigger in self._triggers.values():
            by_state[trigger.state.value] += 1
        return {
            "ticks": self.ticks,
            "triggers": len(self._triggers),
            "by_state": by_state,
            "codes_seen": len(self._code_stats),
        }
