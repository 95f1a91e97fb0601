"""Benchmark the engine's state: incremental profit fit against numpy.polyfit, and memory-map writes.

Run: ``.venv/bin/python benchmarks/bench_engine_state.py``. Both sides of each comparison run in
this process on the same data: the coprocessor's ``update`` on a full 10,000-point window (in-memory
state, and with an in-memory store appending each point) against refitting ``numpy.polyfit`` on the
window per point, with the largest coefficient difference reported; and memory-map writes per second
on a SQLite file in a temporary directory (WAL, ``synchronous=FULL``: every write is fsynced before
it returns; and ``synchronous=NORMAL``) against an in-memory store. The file figures are bounded by
the disk: the bare sqlite3 commit rate on the same file system (one insert per ``BEGIN IMMEDIATE``
… ``COMMIT``, ``synchronous=FULL``) is printed as their ceiling.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy

from tengri.engine.profit import ProfitTrajectoryCoprocessor
from tengri.engine.store import ExecutionRecord, MemoryMap

WINDOW = 10_000
UPDATES = 20_000
POLYFIT_UPDATES = 300
WRITES = 1_500


def _profit() -> list[tuple[str, str]]:
    rng = np.random.default_rng(42)
    total = WINDOW + UPDATES
    times = 1_700_000_000.0 + np.cumsum(rng.uniform(0.5, 1.5, total))
    values = 10_000.0 + np.cumsum(rng.normal(0.02, 3.0, total))
    t_list = times.tolist()
    v_list = values.tolist()
    coprocessor = ProfitTrajectoryCoprocessor(window_size=WINDOW)
    for i in range(WINDOW):
        coprocessor.update(v_list[i], t_list[i])
    start = time.perf_counter()
    for i in range(WINDOW, total):
        vector = coprocessor.update(v_list[i], t_list[i])
    incremental = UPDATES / (time.perf_counter() - start)

    start = time.perf_counter()
    for i in range(WINDOW, WINDOW + POLYFIT_UPDATES):
        tw = times[i + 1 - WINDOW : i + 1]
        tau = (tw - tw[-1]) / (tw[-1] - tw[0])
        np.polyfit(tau, values[i + 1 - WINDOW : i + 1], 3)
    refit = POLYFIT_UPDATES / (time.perf_counter() - start)

    tw = times[-WINDOW:]
    reference = np.polyfit((tw - tw[-1]) / (tw[-1] - tw[0]), values[-WINDOW:], 3)[::-1]
    rel = float(np.max(np.abs(np.asarray(vector.coefficients) - reference)) / np.max(np.abs(reference)))

    with MemoryMap.in_memory() as store:
        # A full window already stored, as after a restart; then every update appends its point.
        store.append_profit_points("profit", zip(t_list[:WINDOW], v_list[:WINDOW], strict=True))
        stored = ProfitTrajectoryCoprocessor(window_size=WINDOW, store=store)
        start = time.perf_counter()
        for i in range(WINDOW, WINDOW + WRITES):
            stored.update(v_list[i], t_list[i])
        with_store = WRITES / (time.perf_counter() - start)
    return [
        ("profit update, incremental (updates/s)", f"{incremental:,.0f}"),
        ("profit update, numpy.polyfit refit (updates/s)", f"{refit:,.0f}"),
        ("speed-up (goal ≥ 100×)", f"{incremental / refit:,.1f}×"),
        ("max |Δcoef| / max |coef| vs polyfit (goal ≤ 1e-6)", f"{rel:.1e}"),
        ("profit update with an in-memory store (updates/s)", f"{with_store:,.0f}"),
    ]


def _writes(store: MemoryMap) -> tuple[float, float]:
    start = time.perf_counter()
    for i in range(WRITES):
        store.set("bench", f"k{i}", {"i": i, "v": [1.0, 2.0]})
    kv_rate = WRITES / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(WRITES // 3):
        store.insert_execution(ExecutionRecord(f"e{i}", "agent", "S1", 1, 100.0, float(i), ("T1",)))
        store.close_execution(f"e{i}", exit_price=101.0, profit=1.0)
        store.append_profit_point("bench", float(i), float(i))
    mixed_rate = (WRITES // 3) * 3 / (time.perf_counter() - start)
    return kv_rate, mixed_rate


def _sqlite_commits(directory: str) -> float:
    """Commits per second of bare sqlite3 on a file in ``directory``: the disk's ceiling for the store."""
    conn = sqlite3.connect(Path(directory) / "bare.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL)")
        start = time.perf_counter()
        for i in range(WRITES):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (x) VALUES (?)", (float(i),))
            conn.execute("COMMIT")
        return WRITES / (time.perf_counter() - start)
    finally:
        conn.close()


def _store() -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            ("bare sqlite3 commits on the same file system, FULL (commits/s)", f"{_sqlite_commits(tmp):,.0f}")
        )
    for synchronous in ("full", "normal"):
        with tempfile.TemporaryDirectory() as tmp, MemoryMap(data_dir=tmp, synchronous=synchronous) as store:
            kv_rate, mixed_rate = _writes(store)
            rows += [
                (f"memory map on SQLite file ({synchronous}), kv set (writes/s)", f"{kv_rate:,.0f}"),
                (
                    f"memory map on SQLite file ({synchronous}), execution/profit writes (writes/s)",
                    f"{mixed_rate:,.0f}",
                ),
            ]
    with MemoryMap.in_memory() as memory:
        kv_rate, mixed_rate = _writes(memory)
        rows += [
            ("memory map in memory (reference), kv set (writes/s)", f"{kv_rate:,.0f}"),
            ("memory map in memory (reference), execution/profit writes (writes/s)", f"{mixed_rate:,.0f}"),
        ]
    return rows


def main() -> None:
    """Run both benchmarks and print the command, the machine and a table of figures."""
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(
        f"machine: {platform.machine()} {platform.system()}, cpu count {os.cpu_count()}, "
        f"python {platform.python_version()}, numpy {np.__version__}, sqlalchemy {sqlalchemy.__version__}"
    )
    print(
        f"profit window {WINDOW:,} points; {UPDATES:,} incremental updates, {POLYFIT_UPDATES} polyfit refits"
    )
    rows = _profit() + _store()
    width = max(len(name) for name, _ in rows)
    print()
    print(f"{'figure'.ljust(width)}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
