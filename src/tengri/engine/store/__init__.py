"""The memory map: the engine's persistent, thread-safe store (DESIGN.md, Memory map)."""

from tengri.engine.store.memory_map import MemoryMap
from tengri.engine.store.records import (
    BudgetRecord,
    CleanupReport,
    ExecutionRecord,
    ExecutionStatus,
    IntegrityReport,
    TriggerRecord,
)

__all__ = [
    "BudgetRecord",
    "CleanupReport",
    "ExecutionRecord",
    "ExecutionStatus",
    "IntegrityReport",
    "MemoryMap",
    "TriggerRecord",
]
