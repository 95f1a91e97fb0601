"""Read OHLCV bars from a CSV file, a Parquet file, a bundled sample or a DataFrame.

A source is one of

- a path to ``*.csv`` (optionally compressed: ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zip``)
  or ``*.parquet`` / ``*.pq``;
- ``"sample:<name>"``, a bundled sample (see :func:`tengri.data.list_samples`);
- a :class:`pandas.DataFrame` (named ``"<frame>"`` in messages; not modified);
- an :class:`~tengri.data.OHLCVData` already read, returned as it is (so a caller that read and
  repaired the bars once can hand them to a service that reads its data argument).

Whatever the source, the bars go through :func:`tengri.data.validate_ohlcv`. Row numbers in
messages are 1-based data rows: in a CSV file, row 1 is the line after the header, and blank lines
count (so row ``r`` is line ``r + 1`` of the file); blank lines at the very end of a CSV file are
not rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, NoReturn, TypeAlias

import numpy as np
import pandas as pd

from tengri.data._samples import is_sample_address, sample_resource
from tengri.data._validation import OHLCVData, validated_data
from tengri.errors import DataValidationError

__all__ = ["OHLCVSource", "load_ohlcv", "read_ohlcv", "write_ohlcv"]

OHLCVSource: TypeAlias = str | Path | pd.DataFrame | OHLCVData
"""Anything :func:`read_ohlcv` accepts."""

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def read_ohlcv(source: OHLCVSource, *, repair: bool = False) -> OHLCVData:
    """Read and validate OHLCV bars.

    Parameters
    ----------
    source
        A CSV or Parquet path, ``"sample:<name>"``, a DataFrame, or bars already read.
    repair
        Drop duplicate timestamps (keeping the first) and sort rows instead of failing on them.

    Returns
    -------
    OHLCVData
        The validated frame with its source name, repairs and notes.

    Raises
    ------
    DataValidationError
        If the file is missing, empty, of an unsupported type or unreadable, or if the bars fail
        validation; the message names the source and, where it applies, the row and column.
    """
    if isinstance(source, OHLCVData):
        return source
    if isinstance(source, pd.DataFrame):
        return validated_data(source, source="<frame>", repair=repair)
    name = str(source)
    if isinstance(source, str) and is_sample_address(source):
        with sample_resource(source).open("rb") as handle:
            raw = _read_csv(handle, name)
    else:
        raw = _read_file(Path(source), name)
    return validated_data(raw, source=name, repair=repair)


def load_ohlcv(source: OHLCVSource, *, repair: bool = False) -> pd.DataFrame:
    """Read and validate OHLCV bars and return the frame alone (``read_ohlcv(...).frame``).

    Parameters
    ----------
    source
        A CSV or Parquet path, ``"sample:<name>"``, or a DataFrame.
    repair
        Drop duplicate timestamps (keeping the first) and sort rows instead of failing on them.

    Returns
    -------
    pandas.DataFrame
        UTC ``DatetimeIndex`` named ``"timestamp"``; float64 ``Open, High, Low, Close, Volume``.
    """
    return read_ohlcv(source, repair=repair).frame


def _fail(source: str, message: str) -> NoReturn:
    raise DataValidationError(f"{source}: {message}")


def _read_file(path: Path, source: str) -> pd.DataFrame:
    lowered = path.name.lower()
    is_csv = lowered.endswith(_CSV_SUFFIXES)
    is_parquet = lowered.endswith(_PARQUET_SUFFIXES)
    if not path.exists():
        _fail(source, "file not found")
    if not (is_csv or is_parquet):
        supported = ", ".join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)
        _fail(source, f"unsupported file type (supported: {supported})")
    if not path.is_file():
        _fail(source, "not a regular file")
    if path.stat().st_size == 0:
        _fail(source, "empty file")
    if is_csv:
        return _read_csv(path, source)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, NotImplementedError) as error:
        _fail(source, f"cannot read Parquet: {_one_line(error)}")


def _read_csv(file: Path | IO[bytes], source: str) -> pd.DataFrame:
    try:
        # Blank lines are kept so that row numbers match the file's lines; low_memory=False
        # types each column once, from all its values.
        raw = pd.read_csv(file, skip_blank_lines=False, low_memory=False)
    except pd.errors.EmptyDataError:
        _fail(source, "empty file")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as error:
        _fail(source, f"cannot parse CSV: {_one_line(error)}")
    present = np.flatnonzero(~np.asarray(raw.isna().all(axis=1)))
    # Trailing blank lines are not data rows; everything before them is kept and validated.
    last_row = int(present[-1]) + 1 if present.size else 0
    return raw.iloc[:last_row]


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def write_ohlcv(frame: pd.DataFrame, path: Path) -> Path:
    """Write validated bars to ``path`` as CSV or Parquet (by its suffix), readable by :func:`read_ohlcv`.

    Raises
    ------
    DataValidationError
        If the suffix is neither CSV nor Parquet, or the file cannot be written.
    """
    lowered = path.name.lower()
    try:
        if lowered.endswith(_PARQUET_SUFFIXES):
            frame.to_parquet(path)
        elif lowered.endswith(_CSV_SUFFIXES):
            frame.to_csv(path, index_label="timestamp", lineterminator="\n")
        else:
            supported = ", ".join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)
            _fail(str(path), f"unsupported file type (supported: {supported})")
    except OSError as error:
        _fail(str(path), f"cannot write: {_one_line(error)}")
    return path
