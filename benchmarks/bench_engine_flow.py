"""Ticks per second through SystemOrchestrator.process_tick on the EURUSD sample, with triggers active.

Pinned to one core. Side by side in one run: the full pipeline on a SQLite file (WAL), the same on
an in-memory store, and the pattern hash alone (the floor every tick pays). Prints p50 and p99 of
one tick's latency. Goal (issue 4): at least 20,000 ticks/s on one core without the model.

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


def _run(store_kind: str, frame, repeats: int = 3) -> dict[str, float]:  # type: ignore[no-untyped-def]
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
            orchestrator = SystemOrchestrator(
                config,
                store=store,
                clock=clock,
                sensors=[ScriptedSensor({"cpu": 50.0})],
                mode="replay",
                machine_clock=clock,
            )
            orchestrator.start()
            rows = list(
                zip(frame.index.asi8 / 1e9, frame["Open"], frame["Close"], frame["Volume"], strict=True)
            )
            latencies = np.empty(len(rows))
            start = time.perf_counter()
            for i, (t, o, c, v) in enumerate(rows):
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
        "SQLite file, synchronous=full": _run("full", frame),
        "SQLite file, synchronous=normal": _run("normal", frame),
        "in-memory SQLite": _run("memory", frame),
    }
    print(f"{'pipeline':<34}{'ticks/s':>12}{'p50 µs':>10}{'p99 µs':>10}{'executions':>12}{'vs goal':>10}")
    for name, r in results.items():
        print(
            f"{name:<34}{r['ticks_per_s']:>12,.0f}{r['p50_us']:>10.1f}{r['p99_us']:>10.1f}"
            f"{r['executions']:>12.0f}{r['ticks_per_s'] / GOAL:>9.2f}×"
        )
    print(f"{'pattern hash alone (floor)':<34}{floor:>12,.0f}")
    print(f"\ngoal: {GOAL:,.0f} ticks/s on one core with the store on SQLite")
    print(
        "synchronous=full fsyncs every commit (durable through power loss); normal fsyncs at WAL\n"
        "checkpoints (every commit still survives kill -9, the last ones may not survive power loss)."
    )


if __name__ == "__main__":
    main()
