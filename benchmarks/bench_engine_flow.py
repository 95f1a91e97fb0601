"""Ticks per second through SystemOrchestrator.process_tick on the EURUSD sample, with triggers active.

Pinned to one core. Side by side in one run: the full pipeline on a SQLite file (WAL) with one
commit per tick (live processing: a tick's writes are durable when it returns) under
``synchronous=full`` and ``normal``, the same with one commit per 1,000 ticks (what a replay does
between its checkpoints, ``store.replay_commit``), on an in-memory store, a tick that fires no
trigger (nothing registered: no fills, no writes), and the pattern hash alone. Prices and times
are Python floats, as a live feed's decoded JSON gives them. Prints p50 and p99 of one tick's
latency. Goal (issue 4): at least 20,000 ticks/s on one core without the model.

Run: .venv/bin/python benchmarks/bench_engine_flow.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tengri.config import TengriConfig
from tengri.data import load_ohlcv
from tengri.engine import ManualClock, MemoryMap, PatternEncoder, ScriptedSensor, SystemOrchestrator

GOAL = 20_000.0


def _rows(frame) -> list[tuple[float, float, float, float]]:  # type: ignore[no-untyped-def]
    """(time, open, close, volume) per bar as Python floats, as a live feed's decoded JSON gives them."""
    columns = (frame.index.asi8 / 1e9, frame["Open"], frame["Close"], frame["Volume"])
    return list(zip(*(np.asarray(c, dtype=float).tolist() for c in columns), strict=True))


def _engine(config: TengriConfig, store: MemoryMap, clock: ManualClock) -> SystemOrchestrator:
    """A started replay-mode orchestrator on ``store``, its duties on the market clock."""
    orchestrator = SystemOrchestrator(
        config,
        store=store,
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
        mode="replay",
        machine_clock=clock,
    )
    return orchestrator.start()


def _run(store_kind: str, frame, repeats: int = 3, batch: int = 1) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rows = _rows(frame)
    best: dict[str, float] = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            clock = ManualClock(0.0)
            config = TengriConfig.load(data_dir=Path(tmp)).with_overrides(
                trading={"holding_bars": 6, "max_open_executions": 4},
                triggers={"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
                agent={"context_fields": ("profit_zone",)},
                store={"synchronous": "normal" if store_kind == "normal" else "full"},
            )
            store = (
                MemoryMap.in_memory(clock=clock)
                if store_kind == "memory"
                else MemoryMap.from_config(config, clock=clock)
            )
            orchestrator = _engine(config, store, clock)
            latencies = np.empty(len(rows))
            start = time.perf_counter()
            for first in range(0, len(rows), batch):
                # One unit of work around `batch` ticks: their writes commit together at its end.
                with store.unit_of_work():
                    for i in range(first, min(first + batch, len(rows))):
                        t, o, c, v = rows[i]
                        t0 = time.perf_counter()
                        orchestrator.process_tick(c, t, v, "EURUSD", open=o)
                        latencies[i] = time.perf_counter() - t0
            elapsed = time.perf_counter() - start
            stats = orchestrator.get_statistics()
            store.close()
        rate = len(rows) / elapsed
        if not best or rate > best["ticks_per_s"]:
            best = {
                "ticks_per_s": rate,
                "p50_us": float(np.percentile(latencies, 50) * 1e6),
                "p99_us": float(np.percentile(latencies, 99) * 1e6),
                "executions": float(stats["executions"]["completed"]),
                "triggers": float(stats["triggers"]["triggers"]),
            }
    return best


def _quiet_ticks(frame, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Ticks/s of process_tick with no trigger registered: nothing fires, nothing trades or writes."""
    rows = _rows(frame)
    best = 0.0
    for _ in range(repeats):
        clock = ManualClock(0.0)
        store = MemoryMap.in_memory(clock=clock)
        config = TengriConfig.load().with_overrides(engine={"auto_register_triggers": False})
        orchestrator = _engine(config, store, clock)
        start = time.perf_counter()
        for t, o, c, v in rows:
            orchestrator.process_tick(c, t, v, "EURUSD", open=o)
        best = max(best, len(rows) / (time.perf_counter() - start))
        store.close()
    return best


def _hash_only(frame) -> float:  # type: ignore[no-untyped-def]
    closes = frame["Close"].to_numpy().tolist()
    start = time.perf_counter()
    encoder = PatternEncoder(20)
    for i, c in enumerate(closes):
        encoder.push(c)
        if encoder.ready:
            encoder.current(float(i))
    return len(closes) / (time.perf_counter() - start)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    frame = load_ohlcv("sample:eurusd_h1")
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores (pinned to 1), "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"data: sample:eurusd_h1, {len(frame)} bars; best of 3 runs each\n")
    floor = _hash_only(frame)
    results = {
        "file, full, commit per tick": _run("full", frame),
        "file, normal, commit per tick": _run("normal", frame),
        "file, full, commit per 1,000 ticks": _run("full", frame, batch=1000),
        "file, normal, commit per 1,000 ticks": _run("normal", frame, batch=1000),
        "in-memory SQLite, commit per tick": _run("memory", frame),
    }
    header = ("ticks/s", 10), ("p50 µs", 9), ("p99 µs", 9), ("executions", 12), ("vs goal", 9)
    print(f"{'pipeline (SQLite, WAL)':<38}" + "".join(f"{name:>{width}}" for name, width in header))
    for name, r in results.items():
        print(
            f"{name:<38}{r['ticks_per_s']:>10,.0f}{r['p50_us']:>9.1f}{r['p99_us']:>9.1f}"
            f"{r['executions']:>12.0f}{r['ticks_per_s'] / GOAL:>8.2f}×"
        )
    quiet = _quiet_ticks(frame)
    print(f"{'no triggers: no fills, no writes':<38}{quiet:>10,.0f}{1e6 / quiet:>9.1f} µs a tick (mean)")
    print(f"{'pattern hash alone (floor)':<38}{floor:>10,.0f}")
    print(f"\ngoal: {GOAL:,.0f} ticks/s on one core with the store on SQLite")
    print(
        "synchronous=full fsyncs every commit (durable through power loss); normal fsyncs at WAL\n"
        "checkpoints (every commit still survives kill -9, the last ones may not survive power loss).\n"
        "Commit per tick: what a tick opened or closed is durable when process_tick returns (live).\n"
        "Commit per 1,000 ticks: a kill loses up to 1,000 ticks, which a replay re-processes on --resume."
    )


if __name__ == "__main__":
    main()
