"""Fixtures of the predictor tests: the bundled samples and small, fast predictors fitted once."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from tengri.data import load_ohlcv
from tengri.engine.signals import Tick
from tengri.predict import LSTMTradingPredictor, PredictorSettings


def small_settings(variant: str = "enhanced", *, seed: int = 7, epochs: int = 2) -> PredictorSettings:
    """Settings small enough for unit tests: width 8, a 16-bar window, 2 epochs."""
    base = PredictorSettings.from_config(_config(), variant)
    settings = PredictorSettings(
        model=base.model, variant=variant, epochs=epochs, patience=2, learning_rate=3e-3, segments=4
    )
    return settings.with_model(hidden_size=8, num_heads=2, memory_slots=4, seq_len=16, seed=seed)


def _config() -> object:
    from tengri.config import TengriConfig

    return TengriConfig()


@pytest.fixture(scope="session")
def eurusd() -> pd.DataFrame:
    """5,000 hourly EUR/USD bars."""
    return load_ohlcv("sample:eurusd_h1")


@pytest.fixture(scope="session")
def goog() -> pd.DataFrame:
    """2,148 daily GOOG bars."""
    return load_ohlcv("sample:goog_d1")


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., PredictorSettings]:
    """``make_settings(variant="enhanced", seed=7, epochs=2)``: small predictor settings."""
    return small_settings


@pytest.fixture(scope="session")
def fitted_eurusd(eurusd: pd.DataFrame) -> LSTMTradingPredictor:
    """A small enhanced predictor fitted on the first 1,200 EUR/USD bars."""
    return LSTMTradingPredictor(settings=small_settings()).fit(eurusd.iloc[:1200])


@pytest.fixture(scope="session")
def fitted_goog(goog: pd.DataFrame) -> LSTMTradingPredictor:
    """A small plain-LSTM predictor fitted on the first 1,000 GOOG bars."""
    return LSTMTradingPredictor(settings=small_settings("lstm")).fit(goog.iloc[:1000])


def _bar_tick(bars: pd.DataFrame, position: int, offset: int) -> Tick:
    row = bars.iloc[position]
    return Tick(
        symbol="GOOG",
        timestamp=bars.index[position].timestamp(),
        price=float(row["Close"]),
        index=position - offset,
        volume=float(row["Volume"]),
        open=float(row["Open"]),
        high=float(row["High"]),
        low=float(row["Low"]),
    )


@pytest.fixture(scope="session")
def bar_tick() -> Callable[[pd.DataFrame, int, int], Tick]:
    """The tick of bar ``position`` of ``bars``, numbered from ``offset`` (the stream's first bar)."""
    return _bar_tick
