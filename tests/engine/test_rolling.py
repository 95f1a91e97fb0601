"""RollingMean gives pandas' rolling means bit for bit, so a strategy's ties fall where pandas' do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tengri.data import read_ohlcv
from tengri.engine import Signal, Strategy, StrategySource, Target, Tick
from tengri.engine.rolling import RollingMean
from tengri.strategies import SmaCross


def _means(values: list[float], period: int) -> np.ndarray:
    rolling = RollingMean(period)
    out = []
    for n in range(1, len(values) + 1):
        rolling.extend(values[:n])
        out.append(rolling.at())
    return np.array(out)


@pytest.mark.parametrize("period", [1, 5, 30])
def test_equals_pandas_bit_for_bit_on_eurusd(period: int) -> None:
    closes = read_ohlcv("sample:eurusd_h1").frame["Close"].to_numpy().tolist()[:3000]
    expected = pd.Series(closes).rolling(period).mean().to_numpy()
    assert np.array_equal(_means(closes, period), expected, equal_nan=True)


@pytest.mark.parametrize("period", [2, 7])
def test_equals_pandas_on_values_of_both_signs_and_runs_of_one_value(period: int) -> None:
    closes = read_ohlcv("sample:eurusd_h1").frame["Close"].to_numpy()[:2000]
    values = np.diff(closes).tolist() + [0.25] * 9 + [-1e-17] * 9 + [3.0, -3.0] * 5
    expected = pd.Series(values).rolling(period).mean().to_numpy()
    assert np.array_equal(_means(values, period), expected, equal_nan=True)


def test_the_eurusd_tie_is_an_exact_zero() -> None:
    # Bar 2419 of EURUSD hourly: SMA(5) equals SMA(30) exactly, as pandas computes them.
    closes = read_ohlcv("sample:eurusd_h1").frame["Close"].to_numpy().tolist()[:2420]
    fast, slow = _means(closes, 5)[-1], _means(closes, 30)[-1]
    plain = sum(closes[-5:]) / 5 - sum(closes[-30:]) / 30
    assert fast - slow == 0.0
    assert plain != 0.0  # what a plain sum gave: a crossover one bar early


def test_a_repeated_value_and_a_short_history() -> None:
    rolling = RollingMean(3)
    rolling.extend([0.1, 0.1])
    assert np.isnan(rolling.at())
    rolling.extend([0.1, 0.1, 0.1])
    assert rolling.at() == 0.1
    assert np.isnan(rolling.at(ago=5))
    with pytest.raises(ValueError, match="period"):
        RollingMean(0)


def test_a_target_with_reopen_signals_again_in_the_same_direction() -> None:
    class Always(SmaCross):
        def next(self) -> Target | None:
            return Target(1, reopen=True, sl=90.0, tp=120.0, size=0.5)

    source = StrategySource(Always())
    first = source.on_tick(Tick("x", 0.0, 100.0, 0))
    second = source.on_tick(Tick("x", 1.0, 100.0, 1))
    assert first == (Signal("Always", 1, source="strategy", size=0.5, sl=90.0, tp=120.0, reopen=True),)
    assert second == first


def _fed(strategy: Strategy, closes: np.ndarray) -> list[tuple[float, float]]:
    """``strategy``'s (sma(5), sma(3, ago=2)) after each close."""
    out = []
    for i, close in enumerate(closes.tolist()):
        strategy._append(Tick("x", float(i), close, i, 1.0, close, close, close))
        out.append((strategy.sma(5), strategy.sma(3, 2)))
    return out


def test_history_bars_keeps_the_newest_bars_and_the_same_averages() -> None:
    class Free(Strategy):
        def next(self) -> None:
            return None

    class Bounded(Free):
        history_bars = 6

    closes = read_ohlcv("sample:eurusd_h1").frame["Close"].to_numpy()[:3000]  # past compactions
    free, bounded = Free(), Bounded()
    assert len(free) == 0
    assert free  # truthy before any tick
    full, windowed = _fed(free, closes), _fed(bounded, closes)
    np.testing.assert_array_equal(np.array(windowed), np.array(full))  # bit for bit, NaN where NaN
    assert np.isnan(full[3][0])
    assert not np.isnan(full[4][0])
    assert len(bounded) == len(free) == 3000
    np.testing.assert_array_equal(bounded.closes, closes[-6:])
    np.testing.assert_array_equal(bounded.highs, closes[-6:])
    assert len(free.closes) == 3000
    assert np.isnan(bounded.sma(5, ago=2))  # reaches 7 bars back: past the 6 kept
    assert bounded.sma(5, ago=1) == free.sma(5, ago=1)
    assert bounded._data.shape[1] == 1024  # compacted in place, never grown
    with pytest.raises(ValueError, match="history_bars"):
        Bounded(history_bars=0)
