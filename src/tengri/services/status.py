"""``tengri status``: what the store says now — open executions, budget, profit zone, triggers."""

from __future__ import annotations

from typing import Any

from tengri.config import TengriConfig
from tengri.engine import MemoryMap, ProfitTrajectoryCoprocessor
from tengri.engine.thermal.bursts import BurstLedger

__all__ = ["store_status"]


def store_status(config: TengriConfig) -> dict[str, Any]:
    """Read the configured store and return a JSON-ready summary (it changes nothing but the schema)."""
    store = MemoryMap.from_config(config)
    try:
        profit = ProfitTrajectoryCoprocessor(config, store=store)
        ledger = BurstLedger(config.thermal, store.clock, store)
        open_executions = store.open_executions()
        triggers = store.triggers()
        by_state: dict[str, int] = {}
        for trigger in triggers:
            by_state[trigger.state] = by_state.get(trigger.state, 0) + 1
        return {
            "store": store.url,
            "integrity": store.integrity_check().ok,
            "rows": store.statistics()["rows"],
            "profit_zone": profit.last_vector.zone_state.value,
            "profit_points": profit.n_points,
            "burst_budget": ledger.status(),
            "open_executions": [
                {
                    "execution_id": e.execution_id,
                    "agent_id": e.agent_id,
                    "strategy_id": e.strategy_id,
                    "direction": e.direction,
                    "entry_price": e.entry_price,
                    "opened_at": e.opened_at,
                }
                for e in open_executions
            ],
            "triggers": by_state,
        }
    finally:
        store.close()
