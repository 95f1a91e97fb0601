"""Where a replay's bar goes: CPU a bar in process, a trading strategy against one that never trades.

On a seeded one-minute random walk (``bench_scale.random_walk``, 100,000 bars by default), each in
this process, imports excluded (both engines get the same frame):

- backtesting.py's ``Backtest.run`` with its quick-start SmaCross(10, 20), no commission: the
  reference, what the replay loop has to reach for ``bench_scale.py``'s ratio of 1;
- Tengri's ``run_replay`` with ``tengri.strategies.SmaCross`` (store, journal, pattern learning and
  statistics on, no HTML report: ``tengri backtest --no-report``'s work);
- the same replay with a strategy that never trades: the cost of a quiet bar.

The difference of the last two, over SmaCross's trades, is the cost of a round trip (the signal,
the close and the open with their records, the profit window's update, the trade's journal row
and its share of the run files). Each figure is the best of ``--rounds`` runs, in CPU seconds
(``time.process_time``), so that a busy machine inflates it less.

Run: .venv/bin/python benchmarks/bench_bar_cost.py                 (100,000 bars)
     .venv/bin/python benchmarks/bench_bar_cost.py --bars 20000    (a quick run)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import sma_cross_reference  # the benchmarks folder is not a package
from bench_scale import random_walk
from tengri.cli import _strategy_trading  # what `tengri backtest` trades with
from tengri.config import TengriConfig
from tengri.engine.signals import Strategy
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross


class Never(Strategy):
    """Reads each bar and never trades: the replay's quiet bar."""

    def init(self) -> None:
        self.history_bars = 2

    def next(self) -> None:
        return None


def backtesting_py(frame: pd.DataFrame) -> tuple[float, int]:
    """CPU seconds of backtesting.py's quick start on ``frame``, and its trades."""
    from backtesting import Backtest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.process_time()
        stats = Backtest(frame, sma_cross_reference(), cash=10_000, commission=0.0).run()
        return time.process_time() - start, len(stats._trades)


def tengri(frame: pd.DataFrame, work: Path, strategy: Strategy) -> tuple[float, int]:
    """CPU seconds of ``run_replay`` on ``frame`` with ``strategy`` (no HTML), and its trades."""
    config = TengriConfig.load().with_overrides(data_dir=work, trading={"commission": 0.0})
    start = time.process_time()
    outcome = run_replay(_strategy_trading(config), frame, strategy=strategy, build_html=False)
    seconds = time.process_time() - start
    (run_dir,) = (work / "runs").iterdir()
    trades = len(pd.read_csv(run_dir / "trades.csv"))
    del outcome
    return seconds, trades


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000, help="bars of the random walk")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (the best counts)")
    args = parser.parse_args(argv)
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    frame = random_walk(args.bars)
    bars = len(frame)
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, list[tuple[float, int]]] = {"reference": [], "smacross": [], "never": []}
        for round_ in range(args.rounds):
            runs["reference"].append(backtesting_py(frame))
            runs["smacross"].append(tengri(frame, Path(tmp) / f"sma{round_}", SmaCross()))
            runs["never"].append(tengri(frame, Path(tmp) / f"never{round_}", Never()))
    best = {name: min(results) for name, results in runs.items()}
    reference, trading, quiet = best["reference"], best["smacross"], best["never"]
    print(f"\n{bars:,} one-minute bars, in process, best of {args.rounds} (CPU seconds; imports excluded)")
    for label, (seconds, trades) in (
        ("backtesting.py Backtest.run, SmaCross", reference),
        ("tengri run_replay, SmaCross", trading),
        ("tengri run_replay, a strategy that never trades", quiet),
    ):
        print(f"  {label:50s} {seconds:6.2f} s  {1e6 * seconds / bars:6.1f} us a bar  {trades:6,} trades")
    if trading[1] != reference[1]:
        raise SystemExit(f"the engines made different numbers of trades: {trading[1]} and {reference[1]}")
    round_trip = (trading[0] - quiet[0]) / trading[1] if trading[1] else float("nan")
    print(f"  a round trip in tengri (SmaCross over the quiet replay, a trade): {1e6 * round_trip:,.0f} us")
    print(f"  tengri's bar / backtesting.py's bar: {trading[0] / reference[0]:.2f}")
    per_row = bare_sqlite_insert(trading[1])
    print(
        f"  of a round trip, bare sqlite3 writing its execution's row (Tengri's table, its four "
        f"indexes; a commit per {_ROWS_PER_COMMIT} rows): {1e6 * per_row:.1f} us"
    )


_ROWS_PER_COMMIT = 55  # a replay's checkpoint of 1,000 one-minute bars holds about so many round trips


def bare_sqlite_insert(rows: int) -> float:
    """Wall seconds a row of bare ``sqlite3`` inserting ``rows`` closed executions into Tengri's table.

    The table and indexes a new store creates, WAL and ``synchronous=normal`` as a replay's store,
    an ``executemany`` and a commit per :data:`_ROWS_PER_COMMIT` rows as its checkpoints write
    them; no Tengri code on the path. Best of three.
    """
    import json
    import sqlite3

    from tengri.engine import MemoryMap
    from tengri.engine.store.statements import INSERT_EXECUTION

    context = json.dumps({"source": "strategy", "symbol": "X", "opened_index": 1, "sl": None, "tp": None})
    values = [
        {
            "execution_id": f"SmaCross_20240101_000000_{i:06d}",
            "agent_id": "main_agent",
            "strategy_id": "SmaCross",
            "hash_triggers": "[]",
            "direction": 1 if i % 2 else -1,
            "entry_price": 100.0 + i / 7,
            "exit_price": 100.5 + i / 7,
            "size": 100.0,
            "costs": 0.0,
            "profit": 50.0 - i % 100,
            "success": i % 3 == 0,
            "status": "closed",
            "context": context,
            "confidence": 0.5,
            "opened_at": 1.7e9 + 60.0 * i,
            "closed_at": 1.7e9 + 60.0 * i + 600.0,
        }
        for i in range(rows)
    ]
    best = float("inf")
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "store.db"
            MemoryMap(f"sqlite:///{path}").close()  # the schema a store creates
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA synchronous = NORMAL")
            start = time.perf_counter()
            for first in range(0, rows, _ROWS_PER_COMMIT):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(INSERT_EXECUTION.sql, values[first : first + _ROWS_PER_COMMIT])
                conn.execute("COMMIT")
            best = min(best, (time.perf_counter() - start) / rows)
            conn.close()
    return best


if __name__ == "__main__":
    main()
