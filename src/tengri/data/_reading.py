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

A CSV file given by its path and not compressed (``*.csv``) is read first by Arrow's CSV reader,
in C and block by block: pandas' parser makes a Python string of every timestamp, and a million
rows then peak some 195 MB above the imports for 46 MB of bars (Arrow's read: some 103 MB).
Arrow's read is taken only where it gives the bars pandas' read would; wherever it is not sure of
that, or the bars it read fail validation, pandas reads the file, so that every message is the
one pandas' read gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Final, NoReturn, TypeAlias

import numpy as np
import pandas as pd

from tengri.data._samples import is_sample_address, sample_resource
from tengri.data._validation import _TIMESTAMP_NAMES, OHLCVData, validated_data
from tengri.errors import DataValidationError

__all__ = ["OHLCVSource", "load_ohlcv", "read_ohlcv", "write_ohlcv"]

OHLCVSource: TypeAlias = str | Path | pd.DataFrame | OHLCVData
"""Anything :func:`read_ohlcv` accepts."""

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")

_ARROW_BLOCK_BYTES: Final = 1 << 16
"""Bytes per block of Arrow's CSV reader. It reads some 32 blocks ahead of the parser: at 64 kB
that is 2 MB (at 1 MB, 40 MB of a million rows' peak), and the read takes about as long."""


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
        return validated_data(raw, source=name, repair=repair)
    path = Path(source)
    if path.name.lower().endswith(".csv") and path.is_file():
        data = _validated_arrow_csv(path, name, repair=repair)
        if data is not None:
            return data
    return validated_data(_read_file(path, name), source=name, repair=repair)


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


def _validated_arrow_csv(path: Path, source: str, *, repair: bool) -> OHLCVData | None:
    """Validate the bars Arrow reads from ``path``; ``None`` where pandas must read the file.

    Bars that fail validation give ``None`` too: the table pandas reads from a bad file can differ
    from Arrow's in what is wrong (``"NAN"`` is text to pandas, a NaN to Arrow), and its message is
    the one to give.
    """
    raw = _arrow_csv(path)
    if raw is None:
        return None
    try:
        return validated_data(raw, source=source, repair=repair)
    except DataValidationError:
        return None


def _arrow_csv(path: Path) -> pd.DataFrame | None:
    """Read the CSV file at ``path`` with Arrow as pandas would; ``None`` where Arrow is not sure to.

    The table is pandas' table of the same file, column by column: the header's names (an empty
    one as pandas names it, ``"Unnamed: <i>"``), the one timestamp column as UTC datetimes (the
    instants validation parses from pandas' text, naive times as UTC), every other column as
    float64 (validation's numbers from pandas' int64 or float64; both parsers round a decimal to
    the nearest double). Arrow decides each column's type from the file's first block, so any
    other file gives ``None``: a duplicate name, no timestamp column or more than one, a column of
    text or booleans, a value that does not fit its column's type in a later block, a time out of
    nanosecond range, a null (Arrow's null strings differ from pandas'), a blank line (a row of
    nulls to Arrow; validation reports it, or drops it at the end, as pandas reads it), a row of
    the wrong width, a line break inside a quoted value, or no rows.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as arrow_csv

    # pyarrow's default pool (mimalloc) keeps some 10 MB for itself; the system's gives it back.
    pool = pa.system_memory_pool()

    def open_reader(column_types: dict[str, Any] | None = None) -> Any:
        return arrow_csv.open_csv(
            pa.OSFile(str(path), memory_pool=pool),
            read_options=arrow_csv.ReadOptions(block_size=_ARROW_BLOCK_BYTES),
            parse_options=arrow_csv.ParseOptions(ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(column_types=column_types),
            memory_pool=pool,
        )

    try:
        with open_reader() as reader:
            schema = reader.schema
        names = [name or f"Unnamed: {position}" for position, name in enumerate(schema.names)]
        temporal = [
            position
            for position, kind in enumerate(schema.types)
            if pa.types.is_timestamp(kind) or pa.types.is_date32(kind)
        ]
        if len(set(names)) < len(names) or len(temporal) != 1:
            return None
        stamp = temporal[0]
        is_timestamp_name = names[stamp].strip().lower() in _TIMESTAMP_NAMES
        numeric = all(
            pa.types.is_int64(kind) or pa.types.is_float64(kind)
            for position, kind in enumerate(schema.types)
            if position != stamp
        )
        if not (numeric and (is_timestamp_name or not schema.names[stamp])):
            return None
        # Numbers are read as float64 even where the first block holds integers only: Arrow reads
        # "0x10" as the integer 16, which pandas keeps as text.
        types = {
            name: kind if position == stamp else pa.float64()
            for position, (name, kind) in enumerate(zip(schema.names, schema.types, strict=True))
        }
        integers = [names[position] for position, kind in enumerate(schema.types) if pa.types.is_int64(kind)]
        # The columns are allocated once, at their length, and filled a block at a time, so that
        # the read peaks at its data and a few blocks.
        rows = _count_lines(path) - 1
        stamps = np.empty(rows, dtype="datetime64[ns]")
        numbers = {
            name: np.empty(rows, dtype=np.float64) for position, name in enumerate(names) if position != stamp
        }
        filled = 0
        with open_reader(types) as reader:
            for batch in reader:
                end = filled + batch.num_rows
                if end > rows or any(column.null_count for column in batch.columns):
                    return None
                for position, (name, column) in enumerate(zip(names, batch.columns, strict=True)):
                    if position == stamp:
                        stamps[filled:end] = pc.cast(
                            column, pa.timestamp("ns", tz="UTC"), memory_pool=pool
                        ).to_numpy()
                    else:
                        numbers[name][filled:end] = column.to_numpy()
                filled = end
    except (pa.ArrowException, OSError, ValueError):
        return None
    if filled == 0 or filled < rows:
        return None
    # pandas reads "-0" in a column of integers as 0, Arrow's float64 as -0.0.
    if any(np.any((numbers[name] == 0.0) & np.signbit(numbers[name])) for name in integers):
        return None
    raw = pd.DataFrame(numbers, copy=False)
    raw.insert(stamp, names[stamp], pd.Series(stamps, copy=False).dt.tz_localize("UTC"))
    return raw


def _count_lines(path: Path) -> int:
    """Return the number of lines in the file at ``path`` (a last line without a line break counts)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


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
