"""Bars of several instruments: read a portfolio's sources and merge their bars into one stream.

A portfolio is given either as several sources (files or ``sample:`` names, one instrument each)
or as one long-format file with a ``symbol`` column (any case) beside the OHLCV columns, one row
per symbol and bar. Each symbol's bars are validated on their own by :func:`read_ohlcv`.

:func:`merge_bars` interleaves the symbols' bars by timestamp into one frame; bars of several
symbols at the same timestamp keep the order in which the symbols were given (a stable sort), so
the stream is the same on every run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tengri.data._reading import OHLCVSource, read_ohlcv
from tengri.data._samples import is_sample_address
from tengri.data._validation import OHLCV_COLUMNS, OHLCVData
from tengri.errors import DataValidationError

__all__ = ["MAX_SYMBOL_LENGTH", "Panel", "merge_bars", "read_panel", "symbol_of"]

# The longest symbol a tick may carry (tengri.engine.tick_input refuses longer ones).
MAX_SYMBOL_LENGTH = 64
_SYMBOL_COLUMN = "symbol"


@dataclass(frozen=True)
class Panel:
    """Each symbol's validated bars, in the order the symbols were given."""

    data: dict[str, OHLCVData]
    source: str  # the sources, as one label (", "-joined)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols, in order."""
        return tuple(self.data)


def symbol_of(source: OHLCVSource) -> str:
    """A source's symbol: a sample's name or a file's stem, as a short lower-case slug."""
    text = str(source)
    name = text.removeprefix("sample:") if is_sample_address(text) else Path(text).stem
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "data"
    return slug[:MAX_SYMBOL_LENGTH]


def _symbol_column(source: OHLCVSource) -> str | None:
    """The name of a file's ``symbol`` column (any case), or None: read from its header only."""
    if not isinstance(source, str | Path) or is_sample_address(str(source)):
        return None
    path = Path(source)
    if not path.is_file():
        return None  # read_ohlcv says what is wrong with it
    lowered = path.name.lower()
    try:
        if lowered.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            columns = list(pq.read_schema(path).names)
        elif lowered.endswith((".csv", ".csv.gz", ".txt")):
            columns = list(pd.read_csv(path, nrows=0).columns)
        else:
            return None
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None  # read_ohlcv says what is wrong with it
    return next((str(c) for c in columns if str(c).strip().lower() == _SYMBOL_COLUMN), None)


def _split_long(source: str | Path, column: str, repair: bool) -> dict[str, OHLCVData]:
    """Read a long-format file and validate each symbol's bars on their own."""
    name = str(source)
    lowered = name.lower()
    frame = pd.read_parquet(source) if lowered.endswith((".parquet", ".pq")) else pd.read_csv(source)
    symbols = frame[column]
    if symbols.isna().any():
        row = int(symbols.isna().to_numpy().argmax()) + 1
        raise DataValidationError(f"{name}: row {row} has no {column}", row=row, column=column)
    data: dict[str, OHLCVData] = {}
    for symbol, group in frame.groupby(symbols.astype(str).str.strip(), sort=False):
        label = str(symbol)
        if not label or len(label) > MAX_SYMBOL_LENGTH:
            raise DataValidationError(
                f"{name}: symbol {label!r} must have 1 to {MAX_SYMBOL_LENGTH} characters", column=column
            )
        try:
            data[label] = read_ohlcv(group.drop(columns=[column]).reset_index(drop=True), repair=repair)
        except DataValidationError as error:
            raise DataValidationError(f"{name} [{label}]: {error.message}", column=column) from None
    if not data:
        raise DataValidationError(f"{name}: no bars")
    return data


def read_panel(sources: Sequence[OHLCVSource | Panel], *, repair: bool = False) -> Panel:
    """Read the bars of one or more instruments.

    Parameters
    ----------
    sources
        One source per instrument (a CSV or Parquet path, ``"sample:<name>"``, a DataFrame), or
        one long-format file with a ``symbol`` column (or a panel already read, returned as is).
    repair
        Passed to :func:`read_ohlcv` for each symbol's bars.

    Raises
    ------
    DataValidationError
        For no source, a long-format file given beside others, two sources of the same symbol,
        or bad bars (the message names the source and the symbol).
    """
    if not sources:
        raise DataValidationError("no data: give at least one file or sample")
    if len(sources) == 1:
        first = sources[0]
        if isinstance(first, Panel):
            return first
        column = _symbol_column(first)
        if column is not None:
            assert isinstance(first, str | Path)
            return Panel(_split_long(first, column, repair), str(first))
    data: dict[str, OHLCVData] = {}
    for source in sources:
        if isinstance(source, Panel) or _symbol_column(source) is not None:
            raise DataValidationError(
                f"{source}: a file with a symbol column holds a whole portfolio; give it alone"
            )
        loaded = read_ohlcv(source, repair=repair)
        symbol = symbol_of(loaded.source)
        if symbol in data:
            raise DataValidationError(f"{loaded.source}: symbol {symbol!r} is given twice")
        data[symbol] = loaded
    return Panel(data, ", ".join(d.source for d in data.values()))


def merge_bars(panel: Panel) -> pd.DataFrame:
    """Every symbol's bars in one frame ordered by time, then by the symbols' order.

    Returns
    -------
    pandas.DataFrame
        The UTC ``timestamp`` index, a categorical ``symbol`` column (the panel's symbols, in its
        order; a byte a bar where a column of strings costs some 24) and ``Open, High, Low,
        Close, Volume``.
    """
    symbols = list(panel.data)

    def symbol_column(rank: int, bars: int) -> pd.Categorical:
        return pd.Categorical.from_codes(np.full(bars, rank, dtype=np.int32), categories=symbols)

    if len(panel.data) == 1:  # in time order already (validated): no sort, and no copy under copy-on-write
        (loaded,) = panel.data.values()
        single = loaded.frame.loc[:, list(OHLCV_COLUMNS)]
        single.insert(0, "symbol", symbol_column(0, len(single)))
        return single
    parts = []
    for rank, loaded in enumerate(panel.data.values()):
        part = loaded.frame.loc[:, list(OHLCV_COLUMNS)].copy()
        part.insert(0, "symbol", symbol_column(rank, len(part)))
        part["_rank"] = rank
        parts.append(part)
    merged = pd.concat(parts) if len(parts) > 1 else parts[0]
    order = merged.reset_index().sort_values(["timestamp", "_rank"], kind="mergesort").index
    return merged.iloc[order].drop(columns="_rank")
