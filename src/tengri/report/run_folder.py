"""Read a replay's run folder (the files the replay service writes) into typed pandas frames.

The folder contract is fixed by the replay service: ``timeline.csv``, ``trades.csv``,
``executions.csv``, ``confidences.csv``, ``signals.csv``, ``bursts.csv`` (CSV with a header,
timestamps as ISO 8601 UTC strings) and ``run.json``. This module checks that each file and
column is there, parses timestamps to UTC, and returns them as one :class:`RunFolder`; it never
changes a value.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tengri.errors import DataValidationError, NotFoundError

__all__ = [
    "CHUNK_ROWS",
    "TEXT_COLUMNS",
    "RunFolder",
    "load_run",
    "parse_timestamps",
    "read_account_columns",
    "read_timeline",
]

#: Rows of ``timeline.csv`` parsed at a time (see :func:`read_timeline`).
CHUNK_ROWS = 100_000

_TRADE_COLUMNS = (
    "execution_id",
    "strategy_id",
    "source",
    "direction",
    "size",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "entry_bar",
    "exit_bar",
    "profit",
    "return_pct",
    "costs",
    "reason",
    "confidence",
)

#: Every CSV of the contract, its required columns, and which of them are timestamps.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "timeline": (
        (
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "equity",
            "cash",
            "position",
            "open_executions",
            "profit_zone",
            "thermal_zone",
            "temperature",
            "in_burst",
        ),
        ("timestamp",),
    ),
    "trades": (_TRADE_COLUMNS, ("entry_time", "exit_time")),
    "executions": ((*_TRADE_COLUMNS, "status"), ("entry_time", "exit_time")),
    "confidences": (("timestamp", "strategy_id", "confidence"), ("timestamp",)),
    "signals": (("timestamp", "stated_confidence", "hit"), ("timestamp",)),
    "bursts": (("start", "end", "seconds", "label"), ("start", "end")),
}


#: The columns of the folder's files that hold text, read as text even where every value looks
#: like a number: a symbol named after its file (``600519.csv``), an id.
TEXT_COLUMNS: dict[str, type[str]] = dict.fromkeys(
    (
        "symbol",
        "execution_id",
        "strategy_id",
        "source",
        "reason",
        "status",
        "hash_triggers",
        "profit_zone",
        "thermal_zone",
        "label",
    ),
    str,
)


@dataclass(frozen=True)
class RunFolder:
    """One replay's results, as written by the replay service and read back unchanged."""

    path: Path
    meta: dict[str, Any]
    timeline: pd.DataFrame
    trades: pd.DataFrame
    executions: pd.DataFrame
    confidences: pd.DataFrame
    signals: pd.DataFrame
    bursts: pd.DataFrame

    @property
    def bars_per_year(self) -> float:
        """Bars in one year for annualisation, from ``run.json`` (252 when absent)."""
        value = self.meta.get("bars_per_year")
        return float(value) if isinstance(value, int | float) and value > 0 else 252.0


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Return ``values`` (ISO 8601 strings or datetimes) as tz-aware UTC timestamps."""
    if len(values) == 0:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=values.index, dtype="datetime64[ns, UTC]")
    zulu = _zulu_times(values)
    if zulu is not None:
        return zulu
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _zulu_times(values: pd.Series) -> pd.Series | None:
    """The journal's own times (``2024-01-01T00:00:00Z``, at most six digits of a second) parsed by Arrow.

    What ``pd.to_datetime(values, utc=True, format="ISO8601")`` gives them (microseconds, UTC),
    in C at some ten times its speed: a long run's timeline has a time a bar. ``None`` for any
    other column, which pandas parses.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
        return None
    try:
        text = pa.array(values.array, type=pa.string(), from_pandas=True)
    except (TypeError, ValueError, pa.ArrowException):
        return None
    if text.null_count:
        return None
    lengths = pc.min_max(pc.utf8_length(text)).as_py()
    if not (lengths["min"] >= 20 and lengths["max"] <= 27) or not pc.all(pc.ends_with(text, "Z")).as_py():
        return None
    try:
        parsed = pc.cast(text, pa.timestamp("us", tz="UTC"))
    except (ValueError, pa.ArrowException):
        return None
    series = parsed.to_pandas()
    series.index, series.name = values.index, values.name
    return series


def _line_count(path: Path) -> int:
    """Newlines in ``path``, plus one: at least the file's rows (its header included)."""
    count = 1
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


class _Column:
    """One column of a timeline read by chunks: a numeric one filled into an array allocated once.

    A column whose chunks are not all of one numeric dtype (a string column, the timestamps, a
    column with an empty field in some chunk only) is kept as its chunks and joined by pandas'
    own rules at the end, as :func:`pandas.concat` of the chunks would.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.array: npt.NDArray[Any] | None = None
        self.filled = 0
        self.pieces: list[Any] = []

    def add(self, values: pd.Series) -> None:
        if not self.pieces:
            dtype = values.dtype
            numeric = isinstance(dtype, np.dtype) and dtype.kind in "biuf"
            if numeric and self.array is None:
                self.array = np.empty(self.capacity, dtype=dtype)
            if numeric and self.array is not None and self.array.dtype == dtype:
                end = self.filled + len(values)
                if end <= self.capacity:
                    self.array[self.filled : end] = values.to_numpy()
                    self.filled = end
                    return
            if self.array is not None:  # from here on, chunks as they come
                self.pieces.append(pd.Series(self.array[: self.filled].copy()))
                self.array = None
        self.pieces.append(values.reset_index(drop=True))

    def values(self) -> Any:
        if not self.pieces:
            assert self.array is not None
            return self.array[: self.filled]
        return pd.concat(self.pieces, ignore_index=True)


def read_timeline(path: Path, columns: Sequence[str] | None = None, **options: Any) -> pd.DataFrame:
    """Read a timeline CSV (only ``columns``, in that order, when given), its ``timestamp`` parsed to UTC.

    The file is parsed :data:`CHUNK_ROWS` rows at a time: each chunk's timestamps become 8-byte
    datetimes, and its numeric columns are copied into arrays allocated once for the whole file,
    before the next chunk is read. A million-bar timeline read whole would hold every timestamp
    as a string and the parser's buffers for every column at once; chunks joined at the end would
    hold it twice. The values and dtypes are those of one :func:`pandas.read_csv` of the file with
    the same ``options`` (the same parser reads each row the same way, and a column whose chunks
    differ in dtype is joined by pandas' own rules).
    """
    usecols = list(columns) if columns is not None else None
    capacity = _line_count(path)
    parts: dict[str, _Column] = {}
    options = {"dtype": TEXT_COLUMNS, **options}
    with pd.read_csv(path, usecols=usecols, chunksize=CHUNK_ROWS, **options) as reader:
        for chunk in reader:
            for name in chunk.columns:
                values = chunk[name]
                if name == "timestamp":
                    values = parse_timestamps(values)
                parts.setdefault(str(name), _Column(capacity)).add(values)
            del chunk
    if not parts:  # the header alone
        frame = pd.read_csv(path, usecols=usecols, **options)
        if "timestamp" in frame.columns:
            frame["timestamp"] = parse_timestamps(frame["timestamp"])
        return frame if usecols is None else frame[usecols]
    names = usecols if usecols is not None else list(parts)
    # A frame of the columns as they are: each in its own block, not copied (for a dict, pandas
    # copies unless told not to).
    return pd.DataFrame({name: parts.pop(name).values() for name in names}, copy=False)


#: The timeline's columns an instrument's statistics read (:func:`read_account_columns`).
ACCOUNT_COLUMNS = ("timestamp", "close", "equity", "position")
_ARROW_BLOCK = 1 << 20  # bytes of whole lines Arrow parses at a time


def read_account_columns(path: Path) -> pd.DataFrame:
    """Read :data:`ACCOUNT_COLUMNS` of a timeline the journal wrote: the times as UTC, the rest floats.

    Arrow's CSV parser, on :data:`_ARROW_BLOCK` bytes of whole lines at a time, into arrays
    allocated once: a long run's timeline is never held as text (a million bars: 64 MB at the
    peak beyond the imports, where pandas' chunks took 60 and Arrow's own streaming reader,
    reading ahead, 110 to 195; 0.45 s against pandas' 0.63), and a short one is read in under
    half of pandas' time (5,000 bars: 2.5 ms against 5.6). An empty field is a missing value.
    Arrow parses a number to the nearest double, so each is the float the journal wrote (its
    shortest repr). A file Arrow does not take (other times than the journal's, a number it
    refuses) is read by :func:`read_timeline`, the columns' floats as floats.
    """
    import io

    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    names = list(ACCOUNT_COLUMNS)
    capacity = _line_count(path)
    times = np.empty(capacity, dtype="datetime64[us]")
    numbers = {name: np.empty(capacity, dtype=np.float64) for name in names[1:]}
    types = {"timestamp": pa.timestamp("us", tz="UTC"), **dict.fromkeys(names[1:], pa.float64())}
    filled = 0
    try:
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8").rstrip("\r\n").split(",")
            read = arrow_csv.ReadOptions(column_names=header, use_threads=False)
            convert = arrow_csv.ConvertOptions(
                include_columns=names, column_types=types, null_values=[""], strings_can_be_null=False
            )
            rest = b""
            while True:
                block = handle.read(_ARROW_BLOCK)
                data = rest + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                rest, data = data[cut:], data[:cut]
                if data:
                    table = arrow_csv.read_csv(io.BytesIO(data), read_options=read, convert_options=convert)
                    stamps = table.column("timestamp")
                    if stamps.null_count:
                        raise pa.ArrowInvalid("a row without its time")
                    end = filled + table.num_rows
                    times[filled:end] = stamps.cast(pa.int64()).to_numpy().view("datetime64[us]")
                    for name, array in numbers.items():
                        array[filled:end] = table.column(name).to_numpy()
                    filled = end
                if not block:
                    break
    except (pa.ArrowInvalid, pa.ArrowKeyError, KeyError, UnicodeDecodeError):
        frame = read_timeline(path, names, keep_default_na=False, na_values=[""])
        return frame.astype(dict.fromkeys(names[1:], np.float64))
    columns: dict[str, Any] = {"timestamp": pd.Series(pd.DatetimeIndex(times[:filled]).tz_localize("UTC"))}
    columns.update((name, array[:filled]) for name, array in numbers.items())
    return pd.DataFrame(columns, copy=False)


def _header(path: Path) -> list[str]:
    """The column names in the header of the CSV ``path`` (none for a zero-byte file)."""
    if path.stat().st_size == 0:
        return []
    return [str(column) for column in pd.read_csv(path, nrows=0).columns]


def _read_csv(
    run_dir: Path, name: str, columns_read: Sequence[str] | None = None, header_only: bool = False
) -> pd.DataFrame:
    columns, time_columns = COLUMNS[name]
    path = run_dir / f"{name}.csv"
    if not path.is_file():
        raise NotFoundError(f"run folder {run_dir} has no {path.name}")
    if path.stat().st_size == 0:
        # "may be empty": a zero-byte file is read as the header alone.
        frame = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    elif header_only:
        frame = pd.DataFrame({column: pd.Series(dtype=object) for column in _header(path)})
    elif name == "timeline":
        header = _header(path)
        wanted = None if columns_read is None else [c for c in columns_read if c in header]
        missing = [column for column in columns if column not in header]
        if missing:
            raise DataValidationError(f"{path} lacks the column(s) {', '.join(missing)}", column=missing[0])
        return read_timeline(path, wanted)
    else:
        frame = pd.read_csv(path, dtype=TEXT_COLUMNS)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataValidationError(f"{path} lacks the column(s) {', '.join(missing)}", column=missing[0])
    for column in time_columns:
        frame[column] = parse_timestamps(frame[column])
    return frame


def load_run(
    run_dir: Path, *, timeline_columns: Sequence[str] | None = None, headers_only: Collection[str] = ()
) -> RunFolder:
    """Read every file of the run folder ``run_dir``.

    ``timeline_columns`` reads only those of the timeline's columns (those the file has; every
    contracted column must still be there), so that a long run's timeline is not held whole when a
    reader needs a few. The tables named in ``headers_only`` are checked (file and columns) but
    not read: their frames have the file's columns and no rows.

    Raises
    ------
    NotFoundError
        When the folder or one of its files is missing.
    DataValidationError
        When a CSV lacks a contracted column, ``run.json`` is not a JSON object, or the
        timeline has no bars.
    """
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise NotFoundError(f"run folder {run_dir} has no run.json")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise DataValidationError(f"{meta_path} must hold a JSON object")
    frames = {
        name: _read_csv(
            run_dir,
            name,
            timeline_columns if name == "timeline" else None,
            header_only=name in headers_only,
        )
        for name in COLUMNS
    }
    if frames["timeline"].empty:
        raise DataValidationError(f"{run_dir / 'timeline.csv'} has no bars", row=0)
    return RunFolder(path=run_dir, meta=meta, **frames)
