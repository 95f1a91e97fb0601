"""What the engine reports about itself: the seed's performance metrics and the system state.

Mixed into :class:`~tengri.engine.orchestrator.SystemOrchestrator`: :meth:`EngineReporting.get_statistics`
(the REST ``/statistics``, a run's summary) and the periodic statistics log line.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Literal

from tengri.engine.agent import MemoryAgent
from tengri.engine.desk import ExecutionDesk
from tengri.engine.duties import Health
from tengri.engine.margin import MarginCall
from tengri.engine.profit import ProfitTrajectoryCoprocessor
from tengri.engine.store import MemoryMap
from tengri.engine.symbols import SymbolPatterns
from tengri.engine.thermal import ThermalZoneManager

__all__ = ["EngineReporting"]

log = logging.getLogger("tengri.engine.orchestrator")


class EngineReporting:
    """The orchestrator's statistics (see the module docstring)."""

    agent: MemoryAgent
    desk: ExecutionDesk
    health: Health
    store: MemoryMap
    mode: Literal["live", "replay"]
    thermal_manager: ThermalZoneManager
    profit_coprocessor: ProfitTrajectoryCoprocessor
    patterns: SymbolPatterns
    margin_call: MarginCall | None
    entries: dict[str, int]
    _started: bool
    _ticks_processed: int
    _tick_seconds: float
    _latencies: deque[float]
    _slow_ticks: int

    def get_statistics(self) -> dict[str, Any]:
        """Return the seed's performance metrics and the system state."""
        agent_stats = self.agent.statistics()
        budget = self.thermal_manager.budget_status()
        lat = sorted(self._latencies)
        store_size = self.store.size_bytes()
        return {
            "system_state": {
                "system_health": self.health.status,
                "degraded": self.health.reasons(),
                "restarts": dict(self.health.restarts),
                "started": self._started,
                "mode": self.mode,
                "thermal_zone": self.thermal_manager.zone,
                "profit_zone": self.profit_coprocessor.last_vector.zone_state.value,
            },
            "ticks_processed": self._ticks_processed,
            "ticks_per_second": self._ticks_processed / self._tick_seconds if self._tick_seconds > 0 else 0.0,
            "tick_latency_ms": {
                "p50": lat[len(lat) // 2] * 1000.0 if lat else None,
                "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000.0 if lat else None,
            },
            "slow_ticks": self._slow_ticks,
            "entries": dict(self.entries),
            "margin_call": None if self.margin_call is None else self.margin_call.to_dict(),
            "risk": self.desk.risk.summary(),
            "executions": {
                "completed": agent_stats["completed"],
                "open": len(self.desk.positions),
                "success_rate": agent_stats["success_rate"],
                "average_profit_per_trade": agent_stats["average_profit"],
                "realised_profit": self.desk.realised,
            },
            "strategies": agent_stats["strategies"],
            "triggers": self.patterns.statistics(),
            "burst_utilisation": budget,
            "memory_usage": {"store_bytes": store_size, "memory_limit_mb": self.store.memory_limit_mb},
        }

    def _log_statistics(self, _now: float) -> None:
        log.info(
            "health=%s ticks=%d open=%d completed=%d realised=%.2f",
            self.health.status,
            self._ticks_processed,
            len(self.desk.positions),
            self.desk.closed_count,
            self.desk.realised,
        )
