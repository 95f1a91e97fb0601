"""Scale: `tengri backtest` against backtesting.py on long one-minute random walks (issue 17).

For each length (100,000 and 1,000,000 bars unless ``--bars`` says otherwise) the benchmark writes a
seeded random-walk minute series to a CSV file, then runs, each in its own subprocess and on the
same file,

- ``tengri backtest FILE --no-report`` with its default strategy, the SMA(10, 20) crossover
  (``tengri.strategies:SmaCross``): store, journal, pattern learning and statistics on, the run's
  CSV and JSON files written, no HTML report (backtesting.py's quick start does not plot either);
- ``tengri backtest FILE`` as a user runs it by default, HTML report included;
- backtesting.py's quick-start SmaCross(10, 20), reading the same CSV with pandas;
- ``tengri backtest FILE --no-report`` with a strategy that never trades: Tengri's floor, every
  bar's work (store, journal, pattern learning, run files) without a round trip. Its time against
  backtesting.py's whole run says what 1x would leave each of backtesting.py's round trips.

Both trade the quick start's 10,000 cash without commission (a config file says so to Tengri):
at 0.2 % a round trip every twenty bars or so, a random walk ruins either account within some
thousands of bars, after which neither trades and the run measures nothing.

It prints each one's wall time (the whole subprocess: interpreter, imports, reading the data,
the run, writing its results), bars per second, peak resident memory (``ru_maxrss`` of that
child alone, from ``os.wait4`` in a small launcher that forks it: forked from this process, a
child's figure would start at this process's own memory), trade counts, and the ratios; and
checks that both make the same trades (the same entry and exit bars, in the same directions).

Where the time goes. A bar's CPU is spread over some thirty Python calls, none above a seventh
of the loop. Compiling modules unchanged buys nothing: Cython 3.3 on the orchestrator and the
replay loop as they are made no measurable difference on 2026-12-05 (Python 3.11's specialised
attribute reads are as fast as compiled code's generic ones), on 41 modules earlier 161 against
154 us a bar, and mypyc stops with an internal error on the orchestrator's mixins. What
pays is state and loops in C classes that the Python classes extend (``tengri.engine._kernel``):
the pattern encoder and statistics, the strategies' history and rolling means (``StrategyCore``,
the base of ``Strategy``; the user's ``next`` stays Python), each tick's trigger work
(``TriggerCore``), the account's per-tick sums (``AccountCore``), the risk guard's mark
(``RiskCore``), the common tick's validation, the unit of work each tick enters, the profit
window's cubic fit (``CubicCore``) and the replay's timeline columns and ISO times;
``bench_kernel.py`` justifies Cython over Numba. From 2026-12-05's morning to 12-06 this
benchmark went from 0.27x to 0.67x at 100,000 bars and from 0.18x to 0.59x at 1,000,000, the
files the same. What is left (``bench_bar_cost.py``, in process, 2026-12-06): a bar that trades
nothing costs 17.9 us, backtesting.py's whole loop 16.5 us a bar, and each round trip (signal,
close, open, their records and the store's insert, the agent's learning, the profit window's
update, the trade's journal row, its share of executions.csv) some 330 us. As whole processes at
1,000,000 bars the floor alone (the never-trading run above) took 21.5 s against backtesting.py's
23.7 s (2026-12-06 00:22): 1x would leave 41 us a round trip, two rows' inserts into SQLite at
21 us each, bare. Issue 17 is blocked on it; the README's Performance section has the figures.

Run: .venv/bin/python benchmarks/bench_scale.py                  (100,000 and 1,000,000 bars)
     .venv/bin/python benchmarks/bench_scale.py --bars 20000     (a quick run)
     .venv/bin/python benchmarks/bench_scale.py --rounds 3       (median of three runs each)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 17

# backtesting.py's quick start on the CSV in argv[1]; it writes its trades to argv[2].
_BACKTESTING_PY = """
import sys, warnings
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

class SmaCross(Strategy):
    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, 10)
        self.sma2 = self.I(SMA, self.data.Close, 20)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()

frame = pd.read_csv(sys.argv[1], index_col="timestamp", parse_dates=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    stats = Backtest(frame, SmaCross, cash=10_000, commission=0.0).run()
trades = stats._trades
pd.DataFrame({
    "entry_bar": trades["EntryBar"],
    "exit_bar": trades["ExitBar"],
    "direction": [1 if s > 0 else -1 for s in trades["Size"]],
}).to_csv(sys.argv[2], index=False)
"""


@dataclass(frozen=True)
class Measured:
    """One subprocess's wall time, peak RSS and trades (entry bar, exit bar, direction)."""

    seconds: float
    peak_rss_mb: float
    trades: list[tuple[int, int, int]]


def random_walk(bars: int, seed: int = SEED) -> pd.DataFrame:
    """A seeded one-minute random walk: log-normal closes, opens at the previous close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, bars)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0003, (2, bars)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    index = pd.date_range("2024-01-01", periods=bars, freq="min", tz="UTC", name="timestamp")
    volume = rng.integers(100, 10_000, bars).astype(float)
    frame = pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume}, index=index
    )
    return frame.round({"Open": 4, "High": 4, "Low": 4, "Close": 4})


# Runs argv[1:] and prints its peak RSS in kilobytes. A child's ru_maxrss starts at the RSS of the
# process that forked it (Linux carries the forking process's high-water mark across exec): forked
# from this benchmark, which holds a million bars, a child would report this process's memory.
# Forked from this small launcher instead, it reports its own (the launcher's few megabytes are
# far below either engine's peak).
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and its own peak RSS in MB (it must succeed)."""
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{process.stderr}")
    return seconds, int(process.stdout.split()[-1]) / 1024  # kilobytes on Linux


# A strategy that never trades: its run is Tengri's floor, every bar's work without a round trip.
_NEVER = """from tengri import Strategy


class Never(Strategy):
    def init(self):
        self.history_bars = 2

    def next(self):
        return None
"""


def run_tengri(csv: Path, work: Path, report: bool = False, never: bool = False) -> Measured:
    """``tengri backtest csv`` in its own process, with its data directory under ``work``.

    Without ``report``, ``--no-report``: the run's files without report.html, as backtesting.py's
    quick start computes its statistics without plotting. ``never``: with a strategy that never
    trades (the floor: the store, the journal, pattern learning and the run files, no trade).
    """
    data_dir = work / "tengri-data"
    env = {**os.environ, "TENGRI_DATA_DIR": str(data_dir)}
    config = work / "tengri.toml"
    config.write_text("[trading]\ncommission = 0.0\n")
    command = [sys.executable, "-m", "tengri", "backtest", str(csv), "--config", str(config)]
    if not report:
        command.append("--no-report")
    if never:
        (work / "never.py").write_text(_NEVER)
        command += ["--strategy", f"{work / 'never.py'}:Never"]
    seconds, rss = _timed(command, env)
    (run_dir,) = (data_dir / "runs").iterdir()
    trades = pd.read_csv(run_dir / "trades.csv")
    rows = trades[["entry_bar", "exit_bar", "direction"]].astype(int).itertuples(index=False, name=None)
    return Measured(seconds, rss, list(rows))


def run_backtesting_py(csv: Path, work: Path) -> Measured:
    """backtesting.py's quick start on ``csv`` in its own process."""
    out = work / "backtesting-py-trades.csv"
    seconds, rss = _timed([sys.executable, "-c", _BACKTESTING_PY, str(csv), str(out)])
    trades = pd.read_csv(out)
    rows = trades[["entry_bar", "exit_bar", "direction"]].astype(int).itertuples(index=False, name=None)
    return Measured(seconds, rss, list(rows))


def _median(runs: list[Measured]) -> Measured:
    return Measured(
        statistics.median(r.seconds for r in runs),
        statistics.median(r.peak_rss_mb for r in runs),
        runs[0].trades,
    )


def measure(bars: int, rounds: int) -> dict[str, object]:
    """Both engines on a ``bars``-long random walk, ``rounds`` times each, alternating; print the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        csv = work / f"random-walk-{bars}.csv"
        random_walk(bars).to_csv(csv, index_label="timestamp", lineterminator="\n")
        input_mb = csv.stat().st_size / 2**20
        ours: list[Measured] = []
        with_report: list[Measured] = []
        theirs: list[Measured] = []
        floor: list[Measured] = []
        runners = (
            (theirs, run_backtesting_py, "backtesting-py"),
            (ours, run_tengri, "tengri"),
            (with_report, lambda csv, where: run_tengri(csv, where, report=True), "tengri-report"),
            (floor, lambda csv, where: run_tengri(csv, where, never=True), "tengri-never"),
        )
        for round_ in range(rounds):
            for runs, runner, label in runners:
                round_dir = work / f"{label}-{round_}"
                round_dir.mkdir()
                runs.append(runner(csv, round_dir))
        tengri, reported, reference = _median(ours), _median(with_report), _median(theirs)
        never = _median(floor)
    same = tengri.trades == reference.trades and reported.trades == reference.trades
    print(f"\n{bars:,} one-minute bars (random walk, seed {SEED}, CSV {input_mb:.0f} MB), median of {rounds}")
    for name, m in (
        ("backtesting.py (quick start)", reference),
        ("tengri backtest --no-report", tengri),
        ("tengri backtest (report.html)", reported),
        ("tengri, a strategy never trades", never),
    ):
        print(
            f"  {name:<32}{m.seconds:8.2f} s {bars / m.seconds:11,.0f} bars/s "
            f"{m.peak_rss_mb:8.0f} MB peak RSS {len(m.trades):8,} trades"
        )
    speed = reference.seconds / tengri.seconds
    memory = tengri.peak_rss_mb / reference.peak_rss_mb
    print(
        f"  speed tengri --no-report / backtesting.py: {speed:.2f}x (goal >= 1: "
        f"{'MET' if speed >= 1 else 'NOT MET'}); with the report: {reference.seconds / reported.seconds:.2f}x"
    )
    verdict = "MET" if memory <= 1 else "NOT MET"
    print(
        f"  peak RSS tengri --no-report / backtesting.py: {memory:.2f} (goal <= 1: {verdict}); "
        f"with the report: {reported.peak_rss_mb / reference.peak_rss_mb:.2f}"
    )
    print(f"  same trades: {'yes' if same else 'NO'}")
    # What 1x leaves each round trip: backtesting.py's whole run less Tengri's floor, per trade.
    left = (reference.seconds - never.seconds) / max(len(reference.trades), 1)
    print(
        f"  tengri's floor (no trade) / backtesting.py's whole run: {never.seconds / reference.seconds:.2f}; "
        f"1x would leave {1e6 * left:,.0f} us for each of its {len(reference.trades):,} round trips"
    )
    if not same:
        first = next(
            (i for i, (a, b) in enumerate(zip(tengri.trades, reference.trades, strict=False)) if a != b),
            min(len(tengri.trades), len(reference.trades)),
        )
        print(f"  first difference at trade {first}")
    return {
        "bars": bars,
        "tengri_s": tengri.seconds,
        "backtesting_py_s": reference.seconds,
        "tengri_rss_mb": tengri.peak_rss_mb,
        "tengri_report_s": reported.seconds,
        "tengri_report_rss_mb": reported.peak_rss_mb,
        "tengri_never_trading_s": never.seconds,
        "backtesting_py_rss_mb": reference.peak_rss_mb,
        "trades": len(tengri.trades),
        "same_trades": same,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[100_000, 1_000_000], help="series lengths")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each engine per length (median)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    results = [measure(bars, args.rounds) for bars in args.bars]
    if len(results) > 1:
        small, large = results[0], results[-1]
        large_rss, small_rss = float(large["tengri_rss_mb"]), float(small["tengri_rss_mb"])  # type: ignore[arg-type]
        growth = large_rss / small_rss
        # The input data in memory: the bars' five float64 columns and their int64 times.
        large_input, small_input = (int(r["bars"]) * 6 * 8 / 2**20 for r in (large, small))  # type: ignore[call-overload]
        beyond = (large_rss - large_input) / (small_rss - small_input)
        print(
            f"\npeak RSS of tengri --no-report at {large['bars']:,} bars / at {small['bars']:,} bars: "
            f"{growth:.2f} with the input data; {beyond:.2f} beyond it ({large_input:.0f} and "
            f"{small_input:.0f} MB of bars in memory) (goal < 1.2: {'met' if beyond < 1.2 else 'not met'})"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["same_trades"] for r in results):
        raise SystemExit("the two engines made different trades")


if __name__ == "__main__":
    main()
