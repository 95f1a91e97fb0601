"""Daily bars of several stocks that a PyPI package ships: ``bokeh-sampledata``'s AAPL, GOOG, IBM, MSFT.

:func:`stock_bars` reads them (2000-03-01 to 2013-03-01, GOOG from 2004-08-19) into Tengri's bar
frame (``Open, High, Low, Close, Volume``, a UTC index) and validates them like any other source.
Open, high, low and close are multiplied by ``adj_close / close`` (and the volume divided by it),
so that splits and dividends do not show as price jumps (AAPL halves twice otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from tengri.data import read_ohlcv
from tengri.errors import DataValidationError

__all__ = ["STOCKS", "stock_bars", "stock_csv"]

STOCKS: Final = ("AAPL", "GOOG", "IBM", "MSFT")
"""The daily stocks of ``bokeh.sampledata.stocks``."""


def stock_bars(symbol: str) -> pd.DataFrame:
    """Return one stock's validated daily bars.

    Raises
    ------
    DataValidationError
        If ``symbol`` is not one of :data:`STOCKS`.
    """
    if symbol not in STOCKS:
        raise DataValidationError(f"stock {symbol!r}: bokeh-sampledata ships {', '.join(STOCKS)}")
    from bokeh.sampledata import stocks

    raw = pd.DataFrame(getattr(stocks, symbol))
    factor = raw["adj_close"].astype(float) / raw["close"].astype(float)
    frame = pd.DataFrame(
        {
            column.capitalize(): raw[column].astype(float) * factor
            for column in ("open", "high", "low", "close")
        }
    )
    frame["Volume"] = raw["volume"].astype(float) / factor
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw["date"]), name="timestamp").tz_localize("UTC")
    return read_ohlcv(frame).frame


def stock_csv(symbol: str, directory: Path) -> Path:
    """Write one stock's bars to ``directory/<symbol>_d1.csv`` (a data source for every command)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{symbol}_d1.csv"
    stock_bars(symbol).to_csv(path)
    return path
