"""Turn a raw table of bars into a validated OHLCV frame, or say exactly which row is wrong.

The validated form, used by every layer above ``tengri.data``, is a DataFrame with

- a ``DatetimeIndex`` named ``"timestamp"``, tz-aware UTC at nanosecond resolution, strictly
  increasing (no duplicates);
- float64 columns ``Open, High, Low, Close, Volume`` in that order, all finite, prices > 0,
  volume ≥ 0, ``Low ≤ Open, Close ≤ High``.

Input columns are matched case-insensitively and ignoring surrounding spaces; other columns are
ignored (and named in a note). A missing ``Volume`` column becomes 0.0, with a note. The timestamp
comes, in this order of preference, from a ``DatetimeIndex``, from the one column named
``timestamp``, ``datetime``, ``date`` or ``time`` (any case), from the first unnamed column (a CSV
written with its index: ``",Open,High,..."``), or from any other non-default index. Naive times are
taken as UTC; aware times are converted to UTC.

Every failure is a :class:`~tengri.errors.DataValidationError` whose one-line message names the
source, the 1-based data row (row 1 is the first row after a CSV header, or the first row of a
frame) and the column. Checks run in a fixed order and the first failing check reports its first
offending row: structure (rows, columns), timestamps, numbers (non-numeric, missing, infinite),
signs (prices > 0, volume ≥ 0), bar shape (High ≥ Low, then Open and Close within [Low, High]),
then duplicate and out-of-order timestamps. Nothing is dropped or reordered unless ``repair=True``,
which drops duplicate timestamps (keeping the first) and sorts the rows; every other problem stays
an error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.tseries.api import guess_datetime_format

from tengri.errors import DataValidationError

__all__ = [
    "OHLCV_COLUMNS",
    "OHLCVData",
    "validate_ohlcv",
    "validated_data",
]

OHLCV_COLUMNS: Final = ("Open", "High", "Low", "Close", "Volume")
"""The columns of a validated frame, in order."""

_PRICE_COLUMNS: Final = OHLCV_COLUMNS[:4]
_TIMESTAMP_NAMES: Final = ("timestamp", "datetime", "date", "time")
_UNNAMED_COLUMN: Final = re.compile(r"^Unnamed: \d+$")


@dataclass(frozen=True)
class OHLCVData:
    """A validated OHLCV frame and the story of how it was read.

    Attributes
    ----------
    frame
        The validated frame (see the module docstring for its exact form).
    source
        Where the bars came from: a path, ``"sample:<name>"`` or ``"<frame>"``.
    repairs
        What ``repair=True`` changed, for instance ``{"duplicates_dropped": 3,
        "rows_reordered": 10}``; empty when nothing changed.
    notes
        Other things worth knowing, for instance that ``Volume`` was missing and set to 0.0.
    """

    frame: pd.DataFrame
    source: str
    repairs: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def validate_ohlcv(
    frame: pd.DataFrame, *, source: str = "<frame>", repair: bool = False
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Validate a raw table of bars and return it in the validated form.

    Parameters
    ----------
    frame
        Raw bars: any column case, a timestamp column or index (see the module docstring). Not
        modified.
    source
        Name of the data's origin, used in error messages.
    repair
        Drop duplicate timestamps (keeping the first) and sort rows instead of failing on them.

    Returns
    -------
    frame : pandas.DataFrame
        The validated frame.
    repairs : dict of str to int
        Rows changed by ``repair``: ``duplicates_dropped`` and ``rows_reordered`` (the number of
        rows whose position changed in the sort), present only when non-zero.

    Raises
    ------
    DataValidationError
        On the first failed check, naming the source, the 1-based row and the column.
    """
    data = validated_data(frame, source=source, repair=repair)
    return data.frame, data.repairs


def validated_data(raw: pd.DataFrame, *, source: str, repair: bool) -> OHLCVData:
    """Validate ``raw`` as :func:`validate_ohlcv` does, keeping the notes as well."""
    if len(raw.index) == 0:
        raise DataValidationError(f"{source}: no data rows")
    notes: list[str] = []
    stamps_raw, stamp_label, stamp_column = _timestamp_source(raw, source)
    columns = _price_columns(raw, source, exclude=stamp_column, notes=notes)
    stamps = _parse_timestamps(stamps_raw, source, stamp_label)
    values = _numeric_values(raw, columns, source)
    _check_values(values, source)
    # The frame takes the array it is given (no one else holds it) rather than a copy of it.
    frame = pd.DataFrame(
        values, index=pd.DatetimeIndex(stamps, name="timestamp"), columns=OHLCV_COLUMNS, copy=False
    )
    frame, repairs = _check_order(frame, source, stamp_label, repair=repair)
    return OHLCVData(frame=frame, source=source, repairs=repairs, notes=tuple(notes))


def _fail(source: str, message: str, *, row: int | None = None, column: str | None = None) -> NoReturn:
    where = "".join(
        [f", row {row}" if row is not None else "", f", column {column}" if column is not None else ""]
    )
    raise DataValidationError(f"{source}{where}: {message}", row=row, column=column)


def _first_true(mask: NDArray[np.bool_]) -> tuple[int, int] | None:
    """Return ``(row, column)`` of the first True of a 2-D mask in row-major order, or None."""
    flat = mask.ravel()
    position = int(np.argmax(flat))
    if not flat[position]:
        return None
    row, column = divmod(position, mask.shape[1])
    return row, column


def _is_unnamed(name: Hashable) -> bool:
    return name is None or (isinstance(name, str) and (not name.strip() or bool(_UNNAMED_COLUMN.match(name))))


def _timestamp_source(raw: pd.DataFrame, source: str) -> tuple[pd.Series, str, Hashable | None]:
    """Find the timestamps: return their raw values, their name for messages, and their column."""
    if isinstance(raw.index, pd.DatetimeIndex):
        return pd.Series(raw.index), str(raw.index.name or "index"), None
    named = [name for name in raw.columns if str(name).strip().lower() in _TIMESTAMP_NAMES]
    if len(named) > 1:
        listed = ", ".join(repr(str(name)) for name in named)
        _fail(source, f"several timestamp columns ({listed}); keep one")
    if named:
        return raw[named[0]].reset_index(drop=True), str(named[0]), named[0]
    unnamed = [name for name in raw.columns if _is_unnamed(name)]
    if unnamed:
        return raw[unnamed[0]].reset_index(drop=True), "timestamp", unnamed[0]
    if not isinstance(raw.index, pd.RangeIndex):
        return pd.Series(raw.index), str(raw.index.name or "index"), None
    _fail(
        source,
        "no timestamp column (expected one named timestamp, datetime, date or time, "
        "an unnamed first column, or a DatetimeIndex)",
        column="timestamp",
    )


def _price_columns(
    raw: pd.DataFrame, source: str, *, exclude: Hashable | None, notes: list[str]
) -> dict[str, Hashable | None]:
    """Map each of ``OHLCV_COLUMNS`` to the raw column holding it (None: Volume is absent)."""
    by_key: dict[str, list[Hashable]] = {}
    for name in raw.columns:
        if exclude is not None and name == exclude:
            continue
        by_key.setdefault(str(name).strip().lower(), []).append(name)
    for wanted in OHLCV_COLUMNS:
        found = by_key.get(wanted.lower(), [])
        if len(found) > 1:
            listed = ", ".join(repr(str(name)) for name in found)
            _fail(source, f"several columns match {wanted} ({listed}); keep one", column=wanted)
    missing = [wanted for wanted in _PRICE_COLUMNS if wanted.lower() not in by_key]
    if missing:
        # pandas names a header's empty cell "Unnamed: N"; say what the file has there.
        present = ", ".join(
            f"(unnamed column {int(str(name)[9:]) + 1})"
            if re.fullmatch(r"Unnamed: \d+", str(name))
            else str(name)
            for name in raw.columns
        )
        _fail(source, f"missing column(s) {', '.join(missing)} (found: {present})", column=missing[0])
    columns: dict[str, Hashable | None] = {
        wanted: by_key[wanted.lower()][0] if wanted.lower() in by_key else None for wanted in OHLCV_COLUMNS
    }
    if columns["Volume"] is None:
        notes.append("no Volume column; Volume set to 0.0")
    used = {name for name in columns.values() if name is not None}
    ignored = [str(name) for name in raw.columns if name not in used and (exclude is None or name != exclude)]
    if ignored:
        notes.append(f"ignored column(s): {', '.join(ignored)}")
    return columns


def _parse_timestamps(raw: pd.Series, source: str, label: str) -> pd.DatetimeIndex:
    """Parse raw timestamps to a UTC, nanosecond ``DatetimeIndex`` (naive values taken as UTC)."""
    dtype = raw.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        parsed = pd.DatetimeIndex(raw)
        parsed = parsed.tz_localize("UTC") if parsed.tz is None else parsed.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        _fail(
            source,
            f"numeric timestamp {raw.iloc[0]}; write timestamps as ISO 8601 text or datetimes",
            row=1,
            column=label,
        )
    else:
        # An object column may mix text with numbers (or booleans): refuse the first one by its row
        # rather than let pandas guess what a bare number means among dates. A column of text
        # alone (pandas' scan in C says so) has none to look for, value by value in Python.
        only_text = pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")
        numeric = (
            np.zeros(len(raw), dtype=bool)
            if only_text
            else np.fromiter(
                (isinstance(v, int | float | np.number) and not _is_missing(v) for v in raw),
                dtype=bool,
                count=len(raw),
            )
        )
        if numeric.any():
            position = int(np.argmax(numeric))
            _fail(
                source,
                f"numeric timestamp {raw.iloc[position]!r}; write timestamps as ISO 8601 text or datetimes",
                row=position + 1,
                column=label,
            )
        parsed = _parse_text_timestamps(raw, source, label)
    missing = np.asarray(parsed.isna())
    if missing.any():
        position = int(np.argmax(missing))
        value = raw.iloc[position]
        problem = "missing timestamp" if _is_missing(value) else f"unparseable timestamp {value!r}"
        _fail(source, problem, row=position + 1, column=label)
    if parsed.unit == "ns":
        return parsed  # as_unit would copy the column even to the unit it has
    try:
        return parsed.as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        _fail(source, "timestamp outside the years 1677-2262", column=label)


def _parse_text_timestamps(raw: pd.Series, source: str, label: str) -> pd.DatetimeIndex:
    """Parse text as ISO 8601, or else in one format guessed from the first value.

    A format is applied to every value (never element by element), so one file cannot mix
    day-first and month-first dates. When the first value fits both orders, the order that
    parses every value wins; when both do, the dates are ambiguous and rejected.
    """
    fast = _arrow_iso8601(raw)
    if fast is not None:
        return fast
    with warnings.catch_warnings():
        # pandas warns about formats it can only guess; a value it cannot parse becomes NaT and
        # is reported as an error with its row, which says more than the warning.
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.DatetimeIndex(pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601"))
        present = np.flatnonzero(np.asarray(raw.notna()))
        if not present.size or not pd.isna(parsed[present[0]]):
            return parsed
        first = str(raw.iloc[present[0]])
        formats = dict.fromkeys(
            fmt for dayfirst in (False, True) if (fmt := guess_datetime_format(first, dayfirst=dayfirst))
        )
        candidates = [
            pd.DatetimeIndex(pd.to_datetime(raw, utc=True, errors="coerce", format=fmt)) for fmt in formats
        ]
    complete = [candidate for candidate in candidates if candidate.notna().sum() == present.size]
    if len(complete) > 1 and not complete[0].equals(complete[1]):
        _fail(
            source,
            f"ambiguous dates such as {first!r} (day or month first?); write ISO 8601 timestamps",
            row=int(present[0]) + 1,
            column=label,
        )
    if complete:
        return complete[0]
    return candidates[0] if candidates else parsed


def _arrow_iso8601(raw: pd.Series) -> pd.DatetimeIndex | None:
    """ISO 8601 text parsed by Arrow's cast, in C (some ten times pandas' speed); ``None`` where it cannot.

    Arrow takes the same instants as ``pd.to_datetime(utc=True, format="ISO8601")`` (naive times as
    UTC, offsets converted) on the forms it reads; anything else it refuses whole, and pandas
    parses the column instead, with its error for the first bad row. Arrow reads times with a
    zone offset (``Z``, ``+01:00``) as instants and times without one (dates alone too) as wall
    times, which are UTC here; the first value's form decides which is tried first (a refusal
    costs a whole pass).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(raw.array, type=pa.string(), from_pandas=True)
    except (ValueError, TypeError, pa.ArrowException):
        return None
    present = pc.drop_null(text) if text.null_count else text
    first = present[0].as_py() if len(present) else ""
    offset = first.endswith(("Z", "z")) or (len(first) > 10 and ("+" in first[10:] or "-" in first[10:]))
    utc = pa.timestamp("ns", tz="UTC")
    for zoned in (offset, not offset):
        try:
            parsed = pc.cast(text, utc) if zoned else pc.cast(pc.cast(text, pa.timestamp("ns")), utc)
        except (ValueError, TypeError, NotImplementedError, OverflowError, pa.ArrowException):
            continue
        return pd.DatetimeIndex(parsed.to_pandas(), name=raw.name)
    return None


def _is_missing(value: Any) -> bool:
    missing = pd.isna(value)
    return bool(missing) if isinstance(missing, bool | np.bool_) else False


def _numeric_values(
    raw: pd.DataFrame, columns: dict[str, Hashable | None], source: str
) -> NDArray[np.float64]:
    """Return the five columns as an ``(n, 5)`` float64 array; fail on the first non-numeric cell."""
    n_rows = len(raw.index)
    values = np.zeros((n_rows, len(OHLCV_COLUMNS)), dtype=np.float64)
    non_numeric = np.zeros_like(values, dtype=np.bool_)
    for position, wanted in enumerate(OHLCV_COLUMNS):
        name = columns[wanted]
        if name is None:
            continue
        column = raw[name]
        if pd.api.types.is_bool_dtype(column.dtype):
            non_numeric[:, position] = True
            continue
        if column.dtype == np.float64:
            # Already numbers: copied as they are, without coercion's two temporary columns.
            values[:, position] = column.to_numpy()
            continue
        coerced = pd.to_numeric(column, errors="coerce")
        values[:, position] = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
        non_numeric[:, position] = np.asarray(coerced.isna() & column.notna())
    first = _first_true(non_numeric)
    if first is not None:
        row, position = first
        name = columns[OHLCV_COLUMNS[position]]
        _fail(
            source,
            f"non-numeric value {raw[name].iloc[row]!r}",
            row=row + 1,
            column=OHLCV_COLUMNS[position],
        )
    return values


def _check_values(values: NDArray[np.float64], source: str) -> None:
    """Check numbers, signs and bar shape, each vectorised over all rows.

    Each check's mask is made once the check before has passed, so that one is held at a time.
    """
    for test, problem in ((np.isnan, "missing value (NaN)"), (np.isinf, "infinite value")):
        first = _first_true(test(values))
        if first is not None:
            _fail(source, problem, row=first[0] + 1, column=OHLCV_COLUMNS[first[1]])
    first = _first_true(_bad_signs(values))
    if first is not None:
        row, position = first
        value = values[row, position]
        problem = (
            f"price must be positive, got {float(value)!r}"
            if position < 4
            else f"volume is negative ({float(value)!r})"
        )
        _fail(source, problem, row=row + 1, column=OHLCV_COLUMNS[position])
    open_, high, low, close = (values[:, i] for i in range(4))
    inverted = (high < low)[:, None]
    first = _first_true(inverted)
    if first is not None:
        row = first[0]
        _fail(
            source, f"High {float(high[row])!r} is below Low {float(low[row])!r}", row=row + 1, column="High"
        )
    outside = np.stack([(open_ < low) | (open_ > high), (close < low) | (close > high)], axis=1)
    first = _first_true(outside)
    if first is not None:
        row, which = first
        name = ("Open", "Close")[which]
        value = (open_, close)[which][row]
        _fail(
            source,
            f"{name} {float(value)!r} is outside [Low {float(low[row])!r}, High {float(high[row])!r}]",
            row=row + 1,
            column=name,
        )


def _bad_signs(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Return the mask of prices ≤ 0 and volumes < 0, made in one array."""
    signs = np.empty(values.shape, dtype=np.bool_)
    np.less_equal(values[:, :4], 0.0, out=signs[:, :4])
    np.less(values[:, 4:], 0.0, out=signs[:, 4:])
    return signs


def _check_order(
    frame: pd.DataFrame, source: str, label: str, *, repair: bool
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Fail on duplicate or out-of-order timestamps, or with ``repair`` drop and sort them."""
    stamps = frame.index.asi8
    repairs: dict[str, int] = {}
    duplicated = np.asarray(frame.index.duplicated(keep="first"))
    if duplicated.any():
        if not repair:
            row = int(np.argmax(duplicated))
            first_seen = int(np.argmax(stamps == stamps[row]))
            _fail(
                source,
                f"duplicate timestamp {frame.index[row].isoformat()} (first in row {first_seen + 1}); "
                "--repair keeps the first (repair=True in Python)",
                row=row + 1,
                column=label,
            )
        repairs["duplicates_dropped"] = int(duplicated.sum())
        frame = frame.loc[~duplicated]
        stamps = frame.index.asi8
    # Compared, not subtracted: no temporary column of differences, and none to overflow.
    backwards = stamps[1:] < stamps[:-1]
    if backwards.any():
        if not repair:
            row = int(np.argmax(backwards)) + 1
            _fail(
                source,
                f"timestamp {frame.index[row].isoformat()} is earlier than the row before "
                f"({frame.index[row - 1].isoformat()}); --repair sorts the rows (repair=True in Python)",
                row=row + 1,
                column=label,
            )
        order = np.argsort(stamps, kind="stable")
        repairs["rows_reordered"] = int(np.count_nonzero(order != np.arange(order.size)))
        frame = frame.iloc[order]
    return frame, repairs
