"""Child process of the crash test: replay EURUSD through the orchestrator on a store file, resuming.

Run as ``python crash_replay.py <data_dir> <ticks.json>`` (rows ``[time, open, high, low,
close, volume]``, written by the parent so that the child need not import pandas). Resumes from
the store's checkpoint
(``start()``, then the ticks from ``tick_index`` on), prints ``start <index>``, a line per
confirmed opening (``open <id>``) and close (``close <id> <profit>``) once ``process_tick``
returned, ``tick <index>`` after each tick, and ``done`` after a graceful shutdown. The parent
kills it with SIGKILL at random points and starts it again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator

T0 = 1_700_000_000.0
CHECKPOINT_INTERVAL = 100


def build(data_dir: Path) -> SystemOrchestrator:
    """The replay orchestrator of the crash test (many auto-registered triggers, many trades)."""
    clock = ManualClock(T0)
    config = TengriConfig.load(data_dir=data_dir).with_overrides(
        trading={"holding_bars": 6, "max_open_executions": 4},
        agent={"context_fields": ("profit_zone",)},
        triggers={"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
        engine={"checkpoint_interval": CHECKPOINT_INTERVAL},
        # Replays run with synchronous=normal: a commit that returned survives kill -9.
        store={"synchronous": "normal"},
    )
    return SystemOrchestrator(
        config,
        store=MemoryMap.from_config(config, clock=clock),
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
        mode="replay",
        machine_clock=clock,
    )


def main(data_dir: Path, ticks: Path) -> None:
    rows = json.loads(ticks.read_text())
    orchestrator = build(data_dir).start()
    out = sys.stdout
    first = orchestrator.tick_index
    out.write(f"start {first}\n")
    out.flush()
    for i in range(first, len(rows)):
        t, open_, high, low, close, volume = rows[i]
        result = orchestrator.process_tick(close, t, volume, "EURUSD", open=open_, high=high, low=low)
        lines = [f"open {o['execution_id']}\n" for o in result["opened"]]
        lines += [f"close {c['execution_id']} {c['profit']!r}\n" for c in result["closed"]]
        lines.append(f"tick {i}\n")
        out.write("".join(lines))
        out.flush()
    orchestrator.shutdown()
    orchestrator.store.close()
    out.write("done\n")
    out.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
