"""A run's journal: the rows a replay records bar by bar, flushed to its folder with each checkpoint.

The folder holds ``timeline.csv`` (one row per bar), ``trades.csv`` (closed executions),
``confidences.csv`` (agents' confidences sampled over time), ``signals.csv`` (model signals and
whether their direction was right) and ``bursts.csv``; the report reads exactly these. A resumed
run loads them and drops the rows past its checkpoint, so that nothing is counted twice.

Rows are kept as tuples in the file's column order, and a flush appends only the rows added since
the last one: a replay flushes at every checkpoint, and rewriting whole files each time would grow
with the square of the run's length. The tables with a row per bar (or per sampled bar) stream:
once flushed, their rows leave memory, so a replay's memory does not grow with its bars, and
:meth:`RunJournal.frame` reads them back from their file. So do the trades' (a long run closes
tens of thousands of executions). Bursts, a few rows a run, stay in memory. A kill during an
append can leave a partial last line; :meth:`RunJournal.load` cuts it off before reading (its
rows are past the store's checkpoint, so they are dropped anyway).

The streamed tables are written by Arrow's CSV writer (a row per bar is the journal's largest
cost, and Python's float formatting most of it; Arrow's is about four times faster): a float is
its shortest round-trip form (``3`` for 3.0), a string is quoted. The other tables keep the csv
module's forms (``3.0``, strings quoted only when they must be), the committed fixtures' bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv

from tengri.engine import _kernel
from tengri.report.run_folder import COLUMNS, TEXT_COLUMNS

__all__ = ["FILES", "Column", "RunJournal", "iso", "iso_column", "iso_times"]

#: A column of rows given as columns (:meth:`RunJournal.append_columns`).
Column = Sequence[Any] | np.ndarray[Any, Any]

# The columns are the report's folder contract; the journal adds a bar number where rows are per bar.
# A portfolio's rows say their symbol; a timeline row also has that symbol's equity (the initial
# cash plus the symbol's realised and open profit), from which its own statistics are computed.
FILES: dict[str, tuple[str, ...]] = {
    "timeline": ("bar", *COLUMNS["timeline"][0], "symbol", "symbol_equity"),
    "trades": (*COLUMNS["trades"][0], "symbol"),
    "confidences": ("bar", *COLUMNS["confidences"][0]),
    "signals": ("bar", "timestamp", "direction", *COLUMNS["signals"][0][1:]),
    "bursts": COLUMNS["bursts"][0],
}
# The column that says which bar a row belongs to, where rows are dropped past a checkpoint.
_BAR_COLUMN = {"timeline": "bar", "confidences": "bar", "signals": "bar", "trades": "exit_bar"}
# The tables written by Arrow, whose rows leave memory once written; each has its bar as its
# first column, in order.
STREAMED = ("timeline", "confidences", "signals")
# Every table whose rows leave memory once written: the streamed ones and the trades (a row per
# closed execution, which a long run has tens of thousands of), written by the csv module.
_SPILLED = (*STREAMED, "trades")


def iso(t: float) -> str:
    """Return the ISO 8601 UTC form of an epoch time (``2024-01-01T00:00:00Z``).

    A whole second from 1970 on is formatted by the compiled core; any other time by datetime,
    whose form it is (a fraction as ``.ffffff``).
    """
    return _kernel.iso_seconds(t) or _iso(t)


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def iso_times(times: Iterable[float]) -> list[str]:
    """Return :func:`iso` of every time."""
    return _kernel.iso_list(times, _iso)


def iso_column(times: Sequence[float] | memoryview) -> Column:
    """:func:`iso_times` of a column of times (doubles), as an Arrow string array when each is a whole second.

    For the streamed tables' time columns: no Python string a time (the compiled core writes
    them into one buffer); any other time makes it the list of :func:`iso_times`.
    """
    column = _kernel.iso_column(times)
    return iso_times(times) if column is None else column


def _cut_partial_line(path: Path) -> None:
    """Drop an unfinished last line (a kill during an append) from ``path``."""
    with path.open("rb+") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)


def _keep_bars_before(path: Path, upto_bar: int) -> int:
    """Cut ``path`` (a streamed table, bars ascending in its first column) before ``upto_bar``'s rows.

    Returns the number of data rows kept. The kept lines are not rewritten, so they stay byte
    for byte as they were appended.
    """
    kept = 0
    with path.open("rb+") as handle:
        offset = len(handle.readline())  # the header
        for line in handle:
            if int(line.split(b",", 1)[0]) >= upto_bar:
                break
            offset += len(line)
            kept += 1
        handle.truncate(offset)
    return kept


def _finite(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """``row`` with every non-finite float as ``None`` (an empty field); the row itself when it has none."""
    for value in row:
        if value.__class__ is float and not -math.inf < value < math.inf:
            return tuple(None if v.__class__ is float and not -math.inf < v < math.inf else v for v in row)
    return row


def _write_rows(handle: BinaryIO, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write rows with the csv module: a float as its ``repr``, a string quoted only when it must be."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    handle.write(text.getvalue().encode())


def _column(values: Column) -> pa.Array:
    """One column of a streamed table's rows as an Arrow array, a non-finite float as a null."""
    if isinstance(values, pa.Array):  # given as Arrow already (text: non-finite floats are not)
        return values
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: each value as text (a float by its repr)
        return pa.array([None if v is None else repr(v) if isinstance(v, float) else str(v) for v in values])
    if pa.types.is_floating(array.type):
        floats = array.to_numpy(zero_copy_only=False)  # a null reads as NaN
        finite = np.isfinite(floats)
        if not finite.all():
            array = pa.array(floats, mask=~finite)
    return array


def _write_columns(handle: BinaryIO, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write a streamed table's rows through Arrow's CSV writer, a few times faster than the csv module.

    Each float is written as its shortest round-trip form (``3`` for 3.0, ``0.00001``), which
    reads back to the same float; every string is quoted. Rows of one bar are the same bytes
    whatever the flushes' sizes, so a resumed run's files equal an uninterrupted run's.
    """
    if rows:
        _write_block(handle, table, list(zip(*rows, strict=True)))


def _write_block(handle: BinaryIO, table: str, columns: Sequence[Column]) -> None:
    """Write rows given as columns (sequences or numpy arrays), as :func:`_write_columns` writes rows."""
    arrays = [_column(values) for values in columns]
    arrow_csv.write_csv(
        pa.Table.from_arrays(arrays, names=list(FILES[table])),
        handle,
        arrow_csv.WriteOptions(include_header=False),
    )


class RunJournal:
    """Rows of one run, appended to CSV files on :meth:`flush`; all but the bursts' leave memory then."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        # A spilled table's rows not yet written; every row of the others.
        self._rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in FILES}
        # A streamed table's rows given as columns (append_columns), after its rows, not yet written.
        self._blocks: dict[str, list[Sequence[Column]]] = {name: [] for name in STREAMED}
        self._written: dict[str, int] = dict.fromkeys(FILES, 0)  # rows of each table on disk
        # Tables whose file this journal wrote and that were neither replaced nor loaded since:
        # with no new rows, their file is already what a flush would write.
        self._current: set[str] = set()

    def __len__(self) -> int:
        return sum(self.count(table) for table in FILES)

    def count(self, table: str) -> int:
        """The number of rows in ``table``."""
        if table in _SPILLED:
            return self._written[table] + len(self._rows[table]) + self._block_rows(table)
        return len(self._rows[table])

    def _block_rows(self, table: str) -> int:
        return sum(len(block[0]) for block in self._blocks.get(table, ()))

    def add(self, table: str, **row: Any) -> None:
        """Append one row to ``table`` (keys are that table's columns; a missing one is empty).

        A non-finite float is written as an empty field.
        """
        self.append(table, tuple(row.get(name) for name in FILES[table]))

    def append(self, table: str, row: tuple[Any, ...]) -> None:
        """Append one row given as a tuple in ``FILES[table]`` order (a bar's row: no dict per bar)."""
        if len(row) != len(FILES[table]):
            raise ValueError(f"a {table} row has {len(FILES[table])} values, got {len(row)}")
        # A streamed table's non-finite floats become empty fields when its rows are written.
        self._rows[table].append(row if table in STREAMED else _finite(row))

    def append_columns(self, table: str, columns: Sequence[Column]) -> None:
        """Append rows of a streamed table given as its columns, in ``FILES[table]`` order.

        A block of bars at once, numpy arrays welcome: no tuple per bar. The rows are written
        exactly as :meth:`append` of each row would have them written.
        """
        if table not in STREAMED:
            raise ValueError(f"{table} rows are not given as columns")
        if len(columns) != len(FILES[table]) or len({len(c) for c in columns}) > 1:
            raise ValueError(f"a {table} block has {len(FILES[table])} columns of one length")
        if len(columns[0]):
            self._blocks[table].append(columns)

    def replace(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        """Replace every row of ``table``; the next flush rewrites its file."""
        self._rows[table] = []
        if table in self._blocks:
            self._blocks[table] = []
        self._written[table] = 0
        self._current.discard(table)
        for row in rows:
            self.add(table, **row)

    def frame(self, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Return a table as a DataFrame with its columns in order (a streamed one flushed and read back).

        ``columns`` keeps only those (in the table's order): a streamed table is then read without
        the others, a long run's memory spared.

        A streamed table's floats read back exactly (the file holds each float's shortest repr,
        which pandas' default parser reads to the same float), so its frame equals its rows'.
        """
        names = [name for name in FILES[table] if columns is None or name in columns]
        if table not in _SPILLED:
            return pd.DataFrame.from_records(self._rows[table], columns=list(FILES[table]))[names]
        self.flush()
        return pd.read_csv(
            self.run_dir / f"{table}.csv",
            usecols=names,
            dtype=TEXT_COLUMNS,
            keep_default_na=False,
            na_values=[""],
        )[names]

    def flush(self) -> None:
        """Write the rows added since the last flush to ``<run_dir>/<table>.csv``.

        A file is created whole (written, then renamed into place); later flushes append.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for table, all_rows in self._rows.items():
            path = self.run_dir / f"{table}.csv"
            spilled = table in _SPILLED
            blocks = self._blocks.get(table, [])
            start = self._written[table]
            end = start + len(all_rows) + self._block_rows(table) if spilled else len(all_rows)
            if start == end and (start or table in self._current) and path.is_file():
                continue  # nothing new (a table without rows is not rewritten at every flush)
            rows = all_rows if spilled else all_rows[start:end]
            write = _write_columns if table in STREAMED else _write_rows
            if start and path.is_file():
                with path.open("ab") as handle:
                    write(handle, table, rows)
                    for block in blocks:
                        _write_block(handle, table, block)
            else:
                tmp = path.with_suffix(".csv.tmp")
                with tmp.open("wb") as handle:
                    handle.write((",".join(FILES[table]) + "\n").encode())
                    write(handle, table, rows)
                    for block in blocks:
                        _write_block(handle, table, block)
                tmp.replace(path)
            self._written[table] = end
            self._current.add(table)
            if spilled:
                self._rows[table] = []
                if blocks:
                    self._blocks[table] = []

    def load(self, upto_bar: int) -> None:
        """Load the tables from disk, keeping only rows of bars before ``upto_bar``.

        A streamed table's file is cut before ``upto_bar``'s rows and its later flushes append.
        """
        self._current.clear()
        for table, columns in FILES.items():
            path = self.run_dir / f"{table}.csv"
            self._rows[table] = []
            if table in self._blocks:
                self._blocks[table] = []
            self._written[table] = 0  # the next flush rewrites the file: it may hold rows past upto_bar
            if not path.is_file():
                continue
            _cut_partial_line(path)
            if table in STREAMED:
                self._written[table] = _keep_bars_before(path, upto_bar)
                continue
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
            bar = _BAR_COLUMN.get(table)
            if bar is not None:
                frame = frame[frame[bar] < upto_bar]
            frame = frame.reindex(columns=list(columns)).astype(object)
            self._rows[table] = list(frame.where(frame.notna(), None).itertuples(index=False, name=None))
