"""Streaming features: the last row of :func:`tengri.features.compute_features`, one new bar at a time.

Why hand-written: :func:`~tengri.features.compute_features` costs 5–30 ms per call, almost all
of it fixed pandas overhead, so recomputing it for every new bar caps a replay at a few dozen bars
per second. The predictor's :meth:`~tengri.predict.LSTMTradingPredictor.update` needs only the
newest row, so this module evaluates the same indicator set (``tengri.features._indicators``'
table, same TA-Lib calls, same guards) on the trailing :data:`HISTORY` bars of each timeframe,
with plain NumPy for the windowed statistics. ``tests/predict/test_predict_streaming.py`` checks
it against ``compute_features`` on both bundled samples.

Exactness. Windowed indicators (returns, volatilities, Bollinger bands, stochastics, volume
z-score) see the same bars and agree to rounding. The EMA-seeded ones (RSI, MACD, ATR, ADX) depend
on where their input starts: until a timeframe has :data:`HISTORY` bars the buffer *is* the whole
history and they agree exactly; later the seed's influence has decayed by
``(1 − 1/14)^(HISTORY − 40) < 1e-14`` (Wilder's smoothing, the slowest), far below float32
resolution. Higher-timeframe blocks are counted from the stream's first bar, as in
:func:`tengri.data.resample_ohlcv` with a ``factor``, and recomputed only when a block completes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import talib
from numpy.typing import NDArray

from tengri.data import OHLCV_COLUMNS
from tengri.features import (
    INDICATOR_NAMES,
    RETURN_HORIZONS,
    VOLATILITY_WINDOWS,
    VOLUME_WINDOW,
    feature_names,
)

__all__ = ["HISTORY", "StreamingFeatures", "last_indicator_row"]

HISTORY: Final = 512
"""Trailing bars (of each timeframe) the EMA-seeded indicators are recomputed on."""

_SMA: Final = talib.MA_Type.SMA  # type: ignore[attr-defined]  # the stubs do not re-export MA_Type


def _unwrapped(function: Any) -> Any:
    """Return TA-Lib's compiled function without its pandas/polars dispatch (``functools.wraps``).

    The dispatch inspects every argument for Series types: about 20 µs a call, as much as the
    indicator itself on a few hundred floats. Our inputs are always float64 NumPy arrays.
    """
    return getattr(function, "__wrapped__", function)


_RSI, _MACD, _BBANDS, _ATR, _ADX, _STOCH = (
    _unwrapped(f) for f in (talib.RSI, talib.MACD, talib.BBANDS, talib.ATR, talib.ADX, talib.STOCH)
)
_RELATIVE_ZERO: Final = 1e-12  # the same guard as tengri.features._indicators
_WINDOWED: Final = 32  # ≥ the longest plain window: Bollinger 20, stochastics 14 + 3 + 3 − 2


def last_indicator_row(bars: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the indicator set of the last row of ``bars`` (``(n, 5)`` OHLCV, oldest first).

    NaN where the input is too short for an indicator, as in ``compute_features``' warm-up.
    """
    high, low, close, volume = bars[:, 1], bars[:, 2], bars[:, 3], bars[:, 4]
    n = close.size
    out = np.full(len(INDICATOR_NAMES), np.nan)
    log_close = np.log(close)
    for position, horizon in enumerate(RETURN_HORIZONS):
        if n > horizon:
            out[position] = log_close[-1] - log_close[-1 - horizon]
    one_bar = np.diff(log_close[-max(VOLATILITY_WINDOWS) - 1 :])
    for position, window in enumerate(VOLATILITY_WINDOWS, start=len(RETURN_HORIZONS)):
        if n > window:
            out[position] = _sample_std(one_bar[-window:])
    offset = len(RETURN_HORIZONS) + len(VOLATILITY_WINDOWS)
    out[offset] = _RSI(close, timeperiod=14)[-1]
    macd, signal, _ = _MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    out[offset + 1] = macd[-1] / close[-1]
    out[offset + 2] = signal[-1] / close[-1]
    # Bollinger bands and stochastics are plain windows (no recursion): their last value needs only
    # the last _WINDOWED bars, and gets exactly the same inputs.
    recent_high, recent_low, recent_close = high[-_WINDOWED:], low[-_WINDOWED:], close[-_WINDOWED:]
    upper, middle, lower = _BBANDS(recent_close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=_SMA)
    width = upper[-1] - lower[-1]
    flat = width <= _RELATIVE_ZERO * middle[-1]
    out[offset + 3] = 0.5 if flat else (close[-1] - lower[-1]) / width
    out[offset + 4] = width / middle[-1]
    out[offset + 5] = _ATR(high, low, close, timeperiod=14)[-1] / close[-1]
    out[offset + 6] = _ADX(high, low, close, timeperiod=14)[-1]
    slow_k, slow_d = _STOCH(
        recent_high,
        recent_low,
        recent_close,
        fastk_period=14,
        slowk_period=3,
        slowk_matype=_SMA,
        slowd_period=3,
        slowd_matype=_SMA,
    )
    out[offset + 7] = slow_k[-1]
    out[offset + 8] = slow_d[-1]
    if n >= VOLUME_WINDOW:
        recent = volume[-VOLUME_WINDOW:]
        mean, deviation = recent.mean(), _sample_std(recent)
        out[offset + 9] = 0.0 if deviation <= _RELATIVE_ZERO * abs(mean) else (volume[-1] - mean) / deviation
    return out


def _sample_std(values: NDArray[np.float64]) -> float:
    """Sample standard deviation (ddof 1) of a short window: ``np.std`` costs ~40 µs in overhead."""
    centred = values - values.mean()
    return float(np.sqrt(centred @ centred / (values.size - 1)))


class StreamingFeatures:
    """Raw features of each new bar, equal (see the module docstring) to ``compute_features``' rows.

    Parameters
    ----------
    higher_factors
        As for :func:`tengri.features.compute_features`.
    """

    def __init__(self, higher_factors: Sequence[int]) -> None:
        self.names = feature_names(higher_factors)  # validates the factors
        self.higher_factors = tuple(int(factor) for factor in higher_factors)
        self._capacity = HISTORY * max((1, *self.higher_factors))
        self._buffer = np.empty((2 * self._capacity, len(OHLCV_COLUMNS)))
        self._size = 0
        self.bar_count = 0
        """Bars seen since the stream's first bar (block positions count from it)."""
        width = len(INDICATOR_NAMES)
        self._higher = {factor: np.full(width, np.nan) for factor in self.higher_factors}

    @classmethod
    def from_bars(cls, ohlcv: pd.DataFrame, higher_factors: Sequence[int]) -> StreamingFeatures:
        """Return a stream that has seen every bar of ``ohlcv`` (its first bar starts the stream)."""
        stream = cls(higher_factors)
        values = ohlcv.loc[:, list(OHLCV_COLUMNS)].to_numpy(dtype=np.float64)
        stream.bar_count = len(values) - min(len(values), stream._capacity)
        for row in values[-stream._capacity :]:
            stream._push(row)
        # The cached higher-block rows: recompute each factor's latest completed block.
        for factor in stream.higher_factors:
            stream._refresh_higher(factor)
        return stream

    def append(self, bar: NDArray[np.float64]) -> NDArray[np.float64]:
        """Add one bar (``Open, High, Low, Close, Volume``) and return its raw feature row.

        NaN entries mean the stream is still in its warm-up.
        """
        self._push(np.asarray(bar, dtype=np.float64))
        for factor in self.higher_factors:
            if self.bar_count % factor == 0:
                self._refresh_higher(factor)
        base = last_indicator_row(self._recent(HISTORY))
        return np.concatenate([base, *(self._higher[factor] for factor in self.higher_factors)])

    def _push(self, row: NDArray[np.float64]) -> None:
        if self._size == self._buffer.shape[0]:
            self._buffer[: self._capacity] = self._buffer[self._size - self._capacity : self._size]
            self._size = self._capacity
        self._buffer[self._size] = row
        self._size += 1
        self.bar_count += 1

    def _recent(self, count: int) -> NDArray[np.float64]:
        return self._buffer[max(0, self._size - count) : self._size]

    def _refresh_higher(self, factor: int) -> None:
        """Recompute the indicator row of the latest block of ``factor`` bars that has completed."""
        completed = self.bar_count // factor
        first_buffered = self.bar_count - self._size  # stream position of the buffer's first bar
        first_block = max(completed - HISTORY, -(-first_buffered // factor))
        if completed <= first_block:
            self._higher[factor] = np.full(len(INDICATOR_NAMES), np.nan)
            return
        start = first_block * factor - first_buffered
        stop = completed * factor - first_buffered
        rows = self._buffer[start:stop].reshape(completed - first_block, factor, len(OHLCV_COLUMNS))
        blocks = np.column_stack(
            [
                rows[:, 0, 0],
                rows[:, :, 1].max(axis=1),
                rows[:, :, 2].min(axis=1),
                rows[:, -1, 3],
                rows[:, :, 4].sum(axis=1),
            ]
        )
        self._higher[factor] = last_indicator_row(blocks)
