"""One engine for the engine tests that trade a strategy: in replay mode, on an in-memory store.

The strategy's signals are taken as they come (no pattern trades, no confidence gate, no holding
period, no slippage), the machine runs cool, and the manual clock serves as the machine's too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, StrategySource, SystemOrchestrator


def strategy_engine(
    clock: ManualClock,
    sources: list[StrategySource],
    trading: dict[str, Any],
    **sections: dict[str, Any],
) -> SystemOrchestrator:
    """An orchestrator trading ``sources`` with ``trading`` over the defaults above; ``sections``
    override other config sections (``risk=...``, ``agent=...``)."""
    taken_as_they_come = {
        "slippage": 0.0,
        "holding_bars": None,
        "trade_patterns": False,
        "min_confidence": 0.0,
    }
    config = TengriConfig.load(data_dir=Path("unused")).with_overrides(
        trading={**taken_as_they_come, **trading}, **sections
    )
    return SystemOrchestrator(
        config,
        store=MemoryMap.in_memory(clock=clock),
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
        mode="replay",
        machine_clock=clock,
        signal_sources=sources,
    )
