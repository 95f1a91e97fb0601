"""Replay speed: Tengri's replay against backtesting.py on the same SMA(10, 20) strategy and data.

Side by side in one run, on GOOG daily (2,148 bars) and EURUSD hourly (5,000 bars): backtesting.py's
``Backtest.run`` with its quick-start SmaCross, and Tengri's ``run_replay`` with the same rule
written as a ``tengri.Strategy`` (store, journal and statistics included, HTML report excluded). Then the main
job's streaming part with the enhanced model attached on EURUSD hourly: bars per second of the
replay loop including per-bar inference (the fit is timed apart). Goals (issue 7): no model at
least as fast as backtesting.py; with the enhanced model at least 1,000 bars/s. And the startup of
a new run's store and engine, next to backtesting.py's whole run on GOOG (goal, issue 17: < 5 ms).

Run: .venv/bin/python benchmarks/bench_replay.py
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, StrategySource, SystemOrchestrator
from tengri.services import replay as replay_module
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross

ROUNDS = 5
STARTUP_ROUNDS = 20


def sma_cross_reference() -> type:
    """backtesting.py's quick-start SmaCross(10, 20) (backtesting is imported on the first call)."""
    from backtesting import Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCrossReference(Strategy):
        def init(self) -> None:
            self.sma1 = self.I(SMA, self.data.Close, 10)
            self.sma2 = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    return SmaCrossReference


def _backtesting_py(name: str) -> float:
    from backtesting import Backtest
    from backtesting.test import EURUSD, GOOG

    data = {"goog_d1": GOOG, "eurusd_h1": EURUSD}[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        Backtest(data, sma_cross_reference(), cash=10_000, commission=0.002).run()
        return time.perf_counter() - start


def _tengri_no_model(name: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = TengriConfig.load(data_dir=Path(tmp)).with_overrides(
            trading={
                "cash": 10_000.0,
                "commission": 0.002,
                "slippage": 0.0,
                "position_fraction": 0.9999,
                "whole_units": True,
                "max_open_executions": 1,
                "holding_bars": None,
                "trade_patterns": False,
                "min_confidence": 0.0,
            },
            engine={"defensive_margin": 0.0},
        )
        start = time.perf_counter()
        run_replay(config, f"sample:{name}", model="none", strategy=SmaCross(), build_html=False)
        return time.perf_counter() - start


def _startup() -> float:
    """Seconds to open a new run's store and engine, as the replay does (median of ``STARTUP_ROUNDS``).

    ``MemoryMap`` on a fresh SQLite file, ``SystemOrchestrator(...)`` with a strategy and
    ``start(background=False)``; the first round in this process is left out (it compiles the
    statements once per process).
    """
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        config = TengriConfig.load(data_dir=Path(tmp))
        for round_ in range(STARTUP_ROUNDS + 1):
            run_dir = Path(tmp) / f"run{round_}"
            run_dir.mkdir()
            clock = ManualClock(1_700_000_000.0)
            start = time.perf_counter()
            store = replay_module.run_store(config, run_dir, clock)
            orchestrator = SystemOrchestrator(
                config,
                store=store,
                clock=clock,
                signal_sources=[StrategySource(SmaCross())],
                mode="replay",
            )
            orchestrator.start(background=False)
            if round_:
                times.append(time.perf_counter() - start)
            orchestrator.shutdown(backup=False)
            store.close()
    return statistics.median(times)


def _breakdown(name: str) -> dict[str, float]:
    """Seconds of one no-model replay by phase (wrappers around the replay's steps)."""
    spent: dict[str, float] = dict.fromkeys(
        (
            "read and validate the data",
            "open the store and the engine",
            "engine: handle_tick",
            "replay bookkeeping per bar",
            "checkpoints and journal flushes",
            "statistics, run files, close",
        ),
        0.0,
    )
    patched: list[tuple[object, str, object]] = []

    def timed(owner: object, attribute: str, phase: str) -> None:
        original = getattr(owner, attribute)

        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - start

        patched.append((owner, attribute, original))
        setattr(owner, attribute, wrapper)

    timed(replay_module, "read_panel", "read and validate the data")
    timed(replay_module._Replay, "__init__", "open the store and the engine")
    timed(replay_module.SystemOrchestrator, "start", "open the store and the engine")
    timed(replay_module._Replay, "step", "replay bookkeeping per bar")
    timed(replay_module.SystemOrchestrator, "handle_tick", "engine: handle_tick")
    timed(replay_module._Replay, "checkpoint", "checkpoints and journal flushes")
    timed(replay_module, "write_run_files", "statistics, run files, close")
    timed(MemoryMap, "close", "statistics, run files, close")
    try:
        total = _tengri_no_model(name)
    finally:
        for owner, attribute, original in reversed(patched):
            setattr(owner, attribute, original)
    spent["replay bookkeeping per bar"] -= spent["engine: handle_tick"]  # step includes the tick
    spent["other"] = total - sum(spent.values())
    return spent


def _tengri_with_model() -> tuple[float, float, int]:
    """Return (fit seconds, streaming seconds, streamed bars) of `tengri run` on EURUSD."""
    timings: dict[str, float] = {}
    original = replay_module._Replay.attach_model

    def timed_attach(self: replay_module._Replay, model: str) -> None:
        start = time.perf_counter()
        original(self, model)
        timings["fit"] = time.perf_counter() - start
        timings["stream_start"] = time.perf_counter()

    replay_module._Replay.attach_model = timed_attach  # type: ignore[method-assign]
    original_finish = replay_module.write_run_files

    def timed_finish(*args, **kwargs):  # type: ignore[no-untyped-def]
        timings["stream_end"] = time.perf_counter()
        return original_finish(*args, **kwargs)

    replay_module.write_run_files = timed_finish  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_replay(
                TengriConfig.load(data_dir=Path(tmp)), "sample:eurusd_h1", model="enhanced", build_html=False
            )
            bars = int(outcome.summary["bars_replayed"])
    finally:
        replay_module._Replay.attach_model = original  # type: ignore[method-assign]
        replay_module.write_run_files = original_finish
    return timings["fit"], timings["stream_end"] - timings["stream_start"], bars


def main() -> None:
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, torch {torch.__version__}"
    )
    references: dict[str, float] = {}
    for name, label, bars in (("goog_d1", "GOOG daily", 2148), ("eurusd_h1", "EURUSD hourly", 5000)):
        reference = references[name] = statistics.median(_backtesting_py(name) for _ in range(ROUNDS))
        ours = statistics.median(_tengri_no_model(name) for _ in range(ROUNDS))
        print(f"\nSMA(10, 20) crossover on {label}, {bars} bars, median of {ROUNDS} runs")
        print(f"  {'backtesting.py Backtest.run':<43}{reference:7.3f} s  {bars / reference:9,.0f} bars/s")
        print(f"  tengri run_replay (store, journal, stats)  {ours:7.3f} s  {bars / ours:9,.0f} bars/s")
        verdict = "MET" if ours <= reference else "NOT MET"
        print(f"  tengri / backtesting.py speed: {reference / ours:.2f}x (goal >= 1: {verdict})")
    startup = _startup()
    print(f"\nstartup of a new run's store and engine, median of {STARTUP_ROUNDS} (goal < 5 ms)")
    print(f"  {'tengri MemoryMap + SystemOrchestrator + start':<47}{startup * 1000:7.2f} ms")
    print(f"  {'backtesting.py whole Backtest.run, GOOG daily':<47}{references['goog_d1'] * 1000:7.2f} ms")
    print(f"  startup / backtesting.py's run: {startup / references['goog_d1']:.1%}")
    _breakdown("goog_d1")  # warm
    phases = _breakdown("goog_d1")
    print("\nwhere one tengri replay of GOOG daily spends its time (wrappers add a little to each)")
    for phase, seconds in phases.items():
        print(f"  {phase:<43}{seconds * 1000:7.1f} ms  {seconds * 1e6 / 2148:6.1f} µs/bar")
    fit, stream, streamed = _tengri_with_model()
    rate = streamed / stream
    print(
        f"\ntengri run, enhanced model, EURUSD hourly: fit {fit:.1f} s in a burst, {streamed} bars streamed"
    )
    verdict = "MET" if rate >= 1000 else "NOT MET"
    print(f"  replay with per-bar inference: {rate:,.0f} bars/s (goal >= 1,000: {verdict})")


if __name__ == "__main__":
    main()
