"""Child process of the crash test: replay EURUSD through the orchestrator on a store file, resuming.

Run as ``python crash_replay.py <data_dir> <ticks.json> [<arm_at>]`` (rows ``[time, open, high,
low, close, volume]``, written by the parent so that the child need not import pandas). Resumes
from the store's checkpoint (``start()``, then the ticks from ``tick_index`` on), prints
``start <index>``, a line per confirmed opening (``open <id>``) and close (``close <id> <profit>``)
once ``process_tick`` returned, ``tick <index>`` after each tick, and ``done`` after a graceful
shutdown.

With ``arm_at`` the child prints ``armed`` after the tick ``max(arm_at, start)`` and goes on; the
parent kills it with SIGKILL when it reads that line, so the kill lands somewhere in the ticks
that follow (inside a tick, a write, a checkpoint, …). An armed child that reaches the end (a
slow parent) prints ``armed`` if it had not yet and waits on its standard input instead of
shutting down, so every armed child is killed: the number of kills is the number of targets,
whatever the machine's speed.
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


def main(data_dir: Path, ticks: Path, arm_at: int | None) -> None:
    rows = json.loads(ticks.read_text())
    orchestrator = build(data_dir).start()
    out = sys.stdout
    first = orchestrator.tick_index
    out.write(f"start {first}\n")
    out.flush()
    armed_after = None if arm_at is None else max(arm_at, first)
    for i in range(first, len(rows)):
        t, open_, high, low, close, volume = rows[i]
        result = orchestrator.process_tick(close, t, volume, "EURUSD", open=open_, high=high, low=low)
        lines = [f"open {o['execution_id']}\n" for o in result["opened"]]
        lines += [f"close {c['execution_id']} {c['profit']!r}\n" for c in result["closed"]]
        lines.append(f"tick {i}\n")
        if i == armed_after:
            lines.append("armed\n")
        out.write("".join(lines))
        out.flush()
    if armed_after is not None:
        if armed_after >= len(rows):
            out.write("armed\n")
            out.flush()
        sys.stdin.read()  # the parent's SIGKILL is on its way
    orchestrator.shutdown()
    orchestrator.store.close()
    out.write("done\n")
    out.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
