"""Fixtures of the feature tests: the bundled samples, their full features, and synthetic bars."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from tengri.data import OHLCV_COLUMNS, load_ohlcv
from tengri.features import compute_features

SAMPLES = ("eurusd_h1", "goog_d1")


def _synthetic_bars(n_bars: int, *, seed: int = 0, freq: str = "h") -> pd.DataFrame:
    """Return consistent random OHLCV bars (a geometric random walk) on a regular UTC grid."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0.0, 0.5, (2, n_bars))
    stamps = pd.date_range("2020-01-01", periods=n_bars, freq=freq, tz="UTC", name="timestamp")
    frame = pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) + spread[0],
            "Low": np.minimum(open_, close) - spread[1],
            "Close": close,
            "Volume": rng.integers(0, 1000, n_bars).astype(np.float64),
        },
        index=stamps.as_unit("ns"),
    )
    return frame.loc[:, list(OHLCV_COLUMNS)]


@pytest.fixture(scope="session")
def sample_bars() -> dict[str, pd.DataFrame]:
    """Both bundled samples, by name."""
    return {name: load_ohlcv(f"sample:{name}") for name in SAMPLES}


@pytest.fixture(scope="session")
def sample_features(sample_bars: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The default features of both samples, computed once on the full series."""
    return {name: compute_features(bars) for name, bars in sample_bars.items()}


@pytest.fixture(scope="session")
def eurusd(sample_bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """5,000 hourly EUR/USD bars."""
    return sample_bars["eurusd_h1"]


@pytest.fixture(scope="session")
def make_bars() -> Callable[..., pd.DataFrame]:
    """``make_bars(n_bars, seed=0, freq="h")``: consistent random OHLCV bars on a regular UTC grid."""
    return _synthetic_bars
