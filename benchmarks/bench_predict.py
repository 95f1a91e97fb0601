"""Benchmark the predictor's streaming ``update`` against batch ``predict``, per bar, on EUR/USD (issue 6).

Run: ``.venv/bin/python benchmarks/bench_predict.py [--bars N] [--hidden H] [--rounds R]``

The enhanced model (LIF + attention, the seed's width 64, a 60-bar window) is fitted for one epoch
on the first 1,500 bars (the weights do not change the cost). Then, on the next ``--bars`` bars:

- ``predict``: one call over the series up to the last bar, divided by the bars it streams (the
  reference: features computed once, vectorised, then one model step per bar);
- ``update``: one call per bar (incremental features, scaling, one model step, calibration),
  the predictor's live path and what the replay's model source pays per tick;
- ``compute_features`` per bar: what recomputing the features for every new bar would cost
  instead of the incremental path.

The goal is the main job's: at least 1,000 bars/s including per-bar inference. Timings are
medians over rounds that interleave the candidates, so that load from other processes on the
shared machine hits both alike; read the ratio first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Any

import pandas as pd
import torch

from tengri.data import load_ohlcv
from tengri.features import compute_features
from tengri.predict import DEFAULT_HIGHER_FACTORS, LSTMTradingPredictor, PredictorSettings

FIT_BARS = 1500
GOAL_BARS_PER_SECOND = 1000.0


def _bars(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"timestamp": stamp, **row} for stamp, row in zip(frame.index, frame.to_dict("records"), strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1000, help="bars streamed per round")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size of the enhanced model")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    args = parser.parse_args(argv)
    print("command:", " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__} "
        "(1 intra-op thread)"
    )
    data = load_ohlcv("sample:eurusd_h1")
    stop = FIT_BARS + args.bars
    if stop > len(data):
        parser.error(f"--bars must be at most {len(data) - FIT_BARS}")
    settings = PredictorSettings(epochs=1, patience=1).with_model(hidden_size=args.hidden, seed=0)
    predictor = LSTMTradingPredictor(settings=settings).fit(data.iloc[:FIT_BARS])
    tail = _bars(data.iloc[FIT_BARS:stop])
    print(
        f"model: enhanced (LIF + attention), hidden {args.hidden}, window {settings.model.seq_len}, "
        f"features {len(predictor.pipeline.feature_names) if predictor.pipeline else 0} "
        f"(higher factors {DEFAULT_HIGHER_FACTORS}); streamed bars {FIT_BARS}..{stop - 1} of EUR/USD H1"
    )

    samples: dict[str, list[float]] = {"predict": [], "update": [], "features": []}
    for _ in range(args.rounds):
        start = time.perf_counter()
        predictions = predictor.predict(data.iloc[:stop])
        samples["predict"].append((time.perf_counter() - start) / len(predictions))

        predictor.predict(data.iloc[:FIT_BARS])  # rewind the stream to the end of the fitted bars
        start = time.perf_counter()
        for bar in tail:
            predictor.update(bar)
        samples["update"].append((time.perf_counter() - start) / len(tail))

        probe = range(stop - 50, stop)
        start = time.perf_counter()
        for end in probe:
            compute_features(data.iloc[: end + 1], higher_factors=DEFAULT_HIGHER_FACTORS)
        samples["features"].append((time.perf_counter() - start) / len(probe))

    median = {name: statistics.median(values) for name, values in samples.items()}
    reference = median["predict"]
    print(f"\n  {'path':<58} {'per bar':>11} {'bars/s':>9} {'vs predict':>11}")
    rows = (
        ("predict (batch: features once, one step per bar)", "predict"),
        ("update (streaming: incremental features + one step)", "update"),
        ("compute_features on the whole history, per new bar", "features"),
    )
    for label, key in rows:
        seconds = median[key]
        print(f"  {label:<58} {seconds * 1e3:>8.3f} ms {1 / seconds:>9.0f} {seconds / reference:>10.2f}×")
    rate = 1 / median["update"]
    verdict = "meets" if rate >= GOAL_BARS_PER_SECOND else "misses"
    print(f"\nstreaming update: {rate:.0f} bars/s, {verdict} the goal of {GOAL_BARS_PER_SECOND:.0f} bars/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
