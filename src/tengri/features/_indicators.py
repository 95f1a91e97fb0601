"""The indicator set computed on one timeframe's bars: returns, volatility and TA-Lib oscillators.

Every indicator is causal: its value at row ``t`` is computed from rows ``0..t`` by a forward
recursion (TA-Lib) or a forward rolling window (pandas), so appending rows never changes it. The
EMA-based indicators (RSI, MACD, ATR, ADX) do depend on where the input starts (their recursions
are seeded from the first rows), which is why :func:`tengri.features.check_lookahead` compares
runs that share the first bar.

The indicators, with ``c``, ``h``, ``l``, ``v`` the close, high, low and volume of the bars:

=================  =====================================================================  ========
column             definition                                                             lookback
=================  =====================================================================  ========
``ret_{k}``        ``log(c[t] / c[t-k])`` for k in 1, 2, 4, 8, 16                          k
``vol_{w}``        sample std (ddof 1) of ``ret_1`` over the last w rows, w in 8, 24      w
``rsi_14``         ``talib.RSI(c, 14)`` (Wilder), 0..100                                  14
``macd``           ``talib.MACD(c, 12, 26, 9)`` line / ``c``                              33
``macd_signal``    its 9-bar EMA signal line / ``c``                                      33
``bb_pct_b``       ``(c - lower) / (upper - lower)``, ``talib.BBANDS(c, 20, 2, 2)``;      19
                   0.5 when the band has no width
``bb_width``       ``(upper - lower) / middle``                                           19
``atr_ratio``      ``talib.ATR(h, l, c, 14) / c``                                         14
``adx_14``         ``talib.ADX(h, l, c, 14)``, 0..100                                     27
``stoch_k``        slow %K of ``talib.STOCH(h, l, c, 14, 3, SMA, 3, SMA)``, 0..100        17
``stoch_d``        slow %D of the same                                                    17
``volume_z``       ``(v - mean) / std`` over the last 24 rows (ddof 1); 0 when std is 0   23
=================  =====================================================================  ========

The lookback is the number of leading rows that are NaN (TA-Lib's ``lookback``); the set's
lookback is :data:`LOOKBACK` = 33 rows, set by MACD.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import talib
from numpy.typing import NDArray

__all__ = [
    "INDICATOR_NAMES",
    "LOOKBACK",
    "RETURN_HORIZONS",
    "VOLATILITY_WINDOWS",
    "VOLUME_WINDOW",
    "indicator_columns",
]

RETURN_HORIZONS: Final = (1, 2, 4, 8, 16)
VOLATILITY_WINDOWS: Final = (8, 24)
RSI_PERIOD: Final = 14
MACD_FAST: Final = 12
MACD_SLOW: Final = 26
MACD_SIGNAL: Final = 9
BBANDS_PERIOD: Final = 20
BBANDS_DEVIATIONS: Final = 2.0
ATR_PERIOD: Final = 14
ADX_PERIOD: Final = 14
STOCH_FASTK: Final = 14
STOCH_SLOWK: Final = 3
STOCH_SLOWD: Final = 3
VOLUME_WINDOW: Final = 24
_SMA: Final = talib.MA_Type.SMA  # type: ignore[attr-defined]  # the stubs do not re-export MA_Type

INDICATOR_NAMES: Final[tuple[str, ...]] = (
    *(f"ret_{k}" for k in RETURN_HORIZONS),
    *(f"vol_{w}" for w in VOLATILITY_WINDOWS),
    "rsi_14",
    "macd",
    "macd_signal",
    "bb_pct_b",
    "bb_width",
    "atr_ratio",
    "adx_14",
    "stoch_k",
    "stoch_d",
    "volume_z",
)
"""The column names of one timeframe's indicator set, in output order."""

LOOKBACK: Final = (MACD_SLOW - 1) + (MACD_SIGNAL - 1)
"""Leading rows of one timeframe that are NaN in some column: 33, set by MACD(12, 26, 9)."""

# A band or a deviation this small relative to its level is zero up to rounding in TA-Lib's and
# pandas' running sums; dividing by it would turn rounding noise into huge values.
_RELATIVE_ZERO: Final = 1e-12


def indicator_columns(bars: pd.DataFrame) -> dict[str, NDArray[np.float64]]:
    """Compute the indicator set on validated OHLCV bars.

    Parameters
    ----------
    bars
        Validated bars (finite float columns ``Open, High, Low, Close, Volume``, prices > 0); extra
        columns are ignored.

    Returns
    -------
    dict of str to numpy.ndarray
        One float64 array per name of :data:`INDICATOR_NAMES`, in that order, each as long as
        ``bars``; the first rows are NaN (see the module docstring for each lookback).
    """
    high = bars["High"].to_numpy(dtype=np.float64)
    low = bars["Low"].to_numpy(dtype=np.float64)
    close = bars["Close"].to_numpy(dtype=np.float64)
    volume = bars["Volume"].to_numpy(dtype=np.float64)
    columns: dict[str, NDArray[np.float64]] = {}

    log_close = np.log(close)
    for horizon in RETURN_HORIZONS:
        columns[f"ret_{horizon}"] = _lagged_difference(log_close, horizon)
    one_bar = pd.Series(columns["ret_1"])
    for window in VOLATILITY_WINDOWS:
        columns[f"vol_{window}"] = one_bar.rolling(window, min_periods=window).std().to_numpy()

    columns["rsi_14"] = talib.RSI(close, timeperiod=RSI_PERIOD)
    macd, signal, _ = talib.MACD(close, fastperiod=MACD_FAST, slowperiod=MACD_SLOW, signalperiod=MACD_SIGNAL)
    columns["macd"] = macd / close
    columns["macd_signal"] = signal / close

    upper, middle, lower = talib.BBANDS(
        close, timeperiod=BBANDS_PERIOD, nbdevup=BBANDS_DEVIATIONS, nbdevdn=BBANDS_DEVIATIONS, matype=_SMA
    )
    width = upper - lower
    flat = width <= _RELATIVE_ZERO * middle
    columns["bb_pct_b"] = np.where(flat, 0.5, (close - lower) / np.where(flat, 1.0, width))
    columns["bb_width"] = width / middle

    columns["atr_ratio"] = talib.ATR(high, low, close, timeperiod=ATR_PERIOD) / close
    columns["adx_14"] = talib.ADX(high, low, close, timeperiod=ADX_PERIOD)
    slow_k, slow_d = talib.STOCH(
        high,
        low,
        close,
        fastk_period=STOCH_FASTK,
        slowk_period=STOCH_SLOWK,
        slowk_matype=_SMA,
        slowd_period=STOCH_SLOWD,
        slowd_matype=_SMA,
    )
    columns["stoch_k"] = slow_k
    columns["stoch_d"] = slow_d
    columns["volume_z"] = _rolling_z_score(volume, VOLUME_WINDOW)
    return columns


def _lagged_difference(values: NDArray[np.float64], lag: int) -> NDArray[np.float64]:
    """Return ``values[t] - values[t - lag]``, NaN for the first ``lag`` rows."""
    out = np.full(values.shape, np.nan)
    out[lag:] = values[lag:] - values[:-lag]
    return out


def _rolling_z_score(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Return the z-score of each value within its trailing window; 0 where the window is constant.

    Zero-volume series (FX feeds without volume) have a zero deviation everywhere; their z-score is
    0, not NaN or infinity.
    """
    rolling = pd.Series(values).rolling(window, min_periods=window)
    mean = rolling.mean().to_numpy()
    deviation = rolling.std().to_numpy()
    flat = deviation <= _RELATIVE_ZERO * np.abs(mean)
    z_score = np.where(flat, 0.0, (values - mean) / np.where(flat, 1.0, deviation))
    # Keep the warm-up rows NaN: the comparison above is False for NaN, so they pass through.
    return np.where(np.isnan(deviation), np.nan, z_score)
