"""Benchmark the feature pipeline: compute_features on both samples and on 100,000 synthetic bars.

Run: ``.venv/bin/python benchmarks/bench_features.py``. Each figure is the best of several runs
in this process. The reference, timed in the same run on the same bars, is the base timeframe's
indicator set called straight from TA-Lib and pandas (no validation, no higher timeframes); the
ratio says what validation, the two higher timeframes (4× and 24×) and their causal alignment cost
on top. Also timed: ``FeaturePipeline.transform`` and the default ``check_lookahead`` (20 cuts).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from tengri.data import load_ohlcv
from tengri.features import FeaturePipeline, check_lookahead, compute_features
from tengri.features._indicators import indicator_columns

SYNTHETIC_BARS = 100_000


def _best(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _synthetic(n_bars: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n_bars)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0.0, 0.05, (2, n_bars))
    return load_ohlcv(
        pd.DataFrame(
            {
                "Open": open_,
                "High": np.maximum(open_, close) + spread[0],
                "Low": np.minimum(open_, close) - spread[1],
                "Close": close,
                "Volume": rng.integers(0, 1000, n_bars).astype(np.float64),
            },
            index=pd.date_range("2010-01-01", periods=n_bars, freq="h", tz="UTC"),
        )
    )


def main() -> None:
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs; Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, TA-Lib {talib.__version__}"
    )
    datasets = {
        "sample:eurusd_h1": load_ohlcv("sample:eurusd_h1"),
        "sample:goog_d1": load_ohlcv("sample:goog_d1"),
        f"synthetic ({SYNTHETIC_BARS:,} hourly bars)": _synthetic(SYNTHETIC_BARS),
    }
    print()
    print(f"{'data':<34}{'bars':>9}{'compute_features':>18}{'reference':>12}{'ratio':>8}{'bars/s':>13}")
    for name, bars in datasets.items():
        repeats = 3 if len(bars) > 50_000 else 10
        features = _best(lambda bars=bars: compute_features(bars), repeats)
        reference = _best(lambda bars=bars: indicator_columns(bars), repeats)
        print(
            f"{name:<34}{len(bars):>9,}{features * 1e3:>15.1f} ms{reference * 1e3:>9.1f} ms"
            f"{features / reference:>7.1f}×{len(bars) / features:>13,.0f}"
        )
    eurusd = datasets["sample:eurusd_h1"]
    pipeline = FeaturePipeline().fit(eurusd, train_end=eurusd.index[3999])
    transform = _best(lambda: pipeline.transform(eurusd), 10)
    lookahead = _best(lambda: check_lookahead(eurusd), 2)
    print()
    print(f"FeaturePipeline.transform, eurusd_h1 (5,000 bars): {transform * 1e3:.1f} ms")
    print(f"check_lookahead, eurusd_h1, 20 cut points:          {lookahead * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
