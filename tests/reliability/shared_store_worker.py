"""Worker of the shared-store test: one orchestrator (its own agent and symbol) on a shared store.

Run as ``python shared_store_worker.py <store_url> <agent_id> <symbol> <ticks.json>``. Replays the
ticks, and with each one increments the shared counter ``shared/ticks`` through
:meth:`MemoryMap.update` (a read-modify-write that must not lose another process's increments).
Prints ``done`` and the degraded components (``{}``: none) at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator

T0 = 1_700_000_000.0


def build(url: str, agent_id: str, data_dir: Path) -> SystemOrchestrator:
    clock = ManualClock(T0)
    config = TengriConfig.load(data_dir=data_dir).with_overrides(
        trading={"holding_bars": 6, "max_open_executions": 4},
        agent={"context_fields": ("profit_zone",)},
        triggers={"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
        engine={"default_agent_id": agent_id, "checkpoint_interval": 200},
    )
    return SystemOrchestrator(
        config,
        store=MemoryMap(url, clock=clock, backups_dir=data_dir / "backups"),
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
        mode="replay",
        machine_clock=clock,
    )


def main(url: str, agent_id: str, symbol: str, ticks: Path) -> None:
    orchestrator = build(url, agent_id, ticks.parent).start()
    store = orchestrator.store
    for t, open_, high, low, close, volume in json.loads(ticks.read_text()):
        orchestrator.process_tick(close, t, volume, symbol, open=open_, high=high, low=low)
        store.update("shared", "ticks", lambda n: n + 1, default=0)
    health = orchestrator.health.reasons()
    orchestrator.shutdown()
    store.close()
    print(f"done {health}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
