"""The typed rows the memory map reads and writes: executions, triggers, thermal budget, reports.

Plain frozen dataclasses, so that callers never handle SQL rows; the store converts at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BudgetRecord",
    "CleanupReport",
    "ExecutionRecord",
    "ExecutionStatus",
    "IntegrityReport",
    "TriggerRecord",
]

ExecutionStatus = Literal["open", "closed", "expired"]


@dataclass(frozen=True)
class ExecutionRecord:
    """One strategy execution (DESIGN.md, Strategy execution).

    ``profit`` is ``direction·(exit − entry)·size − costs`` as computed by the caller when it closes
    the execution; ``success`` is ``profit > 0``. ``hash_triggers`` and ``context`` are JSON.
    """

    execution_id: str
    agent_id: str
    strategy_id: str
    direction: int
    entry_price: float
    opened_at: float
    hash_triggers: tuple[str, ...] = ()
    size: float = 1.0
    costs: float = 0.0
    confidence: float | None = None
    context: dict[str, Any] = field(default_factory=dict)
    status: ExecutionStatus = "open"
    exit_price: float | None = None
    profit: float | None = None
    success: bool | None = None
    closed_at: float | None = None

    @classmethod
    def of(cls, fields: dict[str, Any]) -> ExecutionRecord:
        """The record of ``fields``, a new dict of every field's value (taken, not copied).

        What the store and the agent build a record with on every open and close: the frozen
        dataclass's ``__init__`` sets its sixteen fields one ``object.__setattr__`` at a time
        (4.6 µs a record; this 1.5). The caller gives every field, in any order.
        """
        record = _new(cls)
        _set(record, "__dict__", fields)
        return record


_new = object.__new__
_set = object.__setattr__


@dataclass(frozen=True)
class TriggerRecord:
    """The last state of one hash trigger (DESIGN.md, Triggers).

    ``state`` is the trigger engine's word (``active``, ``dormant``, ``probation``, ``collapsed``…);
    ``state_until`` is when (tick or time, as the trigger engine counts) a temporary state ends.
    """

    trigger_id: str
    pattern: int
    mask: int
    strategy_id: str
    direction: int
    state: str = "active"
    state_until: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0


@dataclass(frozen=True)
class BudgetRecord:
    """The persisted state of the daily burst budget (DESIGN.md, Thermal zones).

    ``day`` is the UTC date (``YYYY-MM-DD``) the used seconds belong to; ``active_burst`` the burst
    running when this was written (so that a restart can account for it), else ``None``.
    """

    name: str
    day: str
    used_seconds: float
    cooldown_until: float
    active_burst: dict[str, Any] | None = None
    updated_at: float = 0.0


@dataclass(frozen=True)
class CleanupReport:
    """What a cleanup found and removed; sizes in bytes of live (non-free) database pages."""

    limit_bytes: int
    size_before: int | None
    size_after: int | None
    profit_points_deleted: int = 0
    executions_deleted: int = 0
    ran: bool = False

    @property
    def under_limit(self) -> bool:
        """Whether the store ended at or below its limit (``True`` when the size is unknown)."""
        return self.size_after is None or self.size_after <= self.limit_bytes


@dataclass(frozen=True)
class IntegrityReport:
    """The result of :meth:`MemoryMap.integrity_check`: ``ok`` and the problems found, if any."""

    ok: bool
    problems: tuple[str, ...] = ()
    schema_version: int = 0
