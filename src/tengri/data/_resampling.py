"""Build higher-timeframe bars from completed buckets only, and align them to the base bars causally.

Timestamp convention
--------------------
A bar is labelled by its open time: the base bar labelled ``t`` covers ``[t, t + Δ)`` and its
close is known at the end of that interval. A higher-timeframe bar is labelled by its bucket's
start and carries ``completed_at``, the label of the base bar at whose close the higher bar is
final. A base bar labelled ``t`` may therefore use exactly the higher bars with
``completed_at ≤ t`` (that is what :func:`align_to_base` does).

When a bucket is complete
-------------------------
With a ``rule`` (a pandas frequency such as ``"4h"``, ``"1D"``, ``"W-MON"``, ``"MS"``) a bucket
``[start, end)`` is complete, and emitted, as soon as the input contains

(a) its last constituent bar: a bar at ``t`` in the bucket with ``t + Δ ≥ end``, where Δ is the
    input's bar spacing; ``completed_at = t``. For hourly input and ``"4h"``, the bucket
    ``[00:00, 04:00)`` completes with the 03:00 bar. Or
(b) any bar at or after ``end`` (the input skipped the bucket's last bars: a weekend, a holiday, a
    gap); ``completed_at`` is the first such bar.

The first bucket is dropped as well when the data begins mid-bucket (its first bar lies Δ or
more after the bucket's start): bars from before the data are missing from it. Both rules look
only at bars up to ``completed_at``, and no bar that could still join a bucket is ever left out
of it, so a higher bar never changes when later bars are appended: the result for ``bars[:n]`` is
always the first rows of the result for ``bars``. The trailing bucket is dropped until it
completes; buckets without bars are absent, not NaN. (Bars missing inside a bucket are missing
from the data itself; the higher bar aggregates the bars there are.)

Δ is ``bar_interval`` when given, else the smallest spacing between consecutive input bars. The
smallest spacing errs on the safe side: a stray short spacing delays completions to rule (b), it never
completes a bucket early. When bars arrive one by one and the spacing is known, pass it.

Fixed-length rules (``"15min"``, ``"4h"``, ``"1D"``, ``"7D"``) cut buckets on multiples of the rule
from the Unix epoch (1970-01-01 UTC), so every data set shares the same buckets. Calendar rules
(``"W-MON"``, ``"MS"``, ``"QS"``, ``"YS"``, ``"B"``) cut at their anchors, counted from the anchor
on or before the first bar's day; use start anchors (``"MS"``, not ``"ME"``) so that a bucket's
label is its first day.

With a ``factor`` k, the buckets are blocks of k consecutive input rows counted from the first
row: block j is rows ``[j·k, (j + 1)·k)``, labelled by its first row's timestamp and complete with
its k-th row (``completed_at`` is that row's timestamp). Blocks count rows, not time; use a rule
to follow the calendar across gaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.tseries.frequencies import to_offset

from tengri.data._validation import OHLCV_COLUMNS
from tengri.errors import DataValidationError, InvalidInputError

__all__ = ["COMPLETED_AT", "align_to_base", "resample_ohlcv"]

COMPLETED_AT = "completed_at"
"""The column of a resampled frame holding the label of the base bar that completed each bar."""

_BUCKET_START = "bucket_start"


def resample_ohlcv(
    frame: pd.DataFrame,
    factor: int | None = None,
    rule: str | None = None,
    *,
    bar_interval: pd.Timedelta | str | None = None,
) -> pd.DataFrame:
    """Aggregate validated bars to a higher timeframe, emitting completed buckets only.

    Each bucket becomes one bar: first Open, highest High, lowest Low, last Close, summed Volume.
    See the module docstring for when a bucket is complete and how bars are labelled.

    Parameters
    ----------
    frame
        A validated OHLCV frame (from :func:`tengri.data.load_ohlcv` or
        :func:`tengri.data.validate_ohlcv`); extra columns are ignored.
    factor
        Blocks of this many consecutive rows (≥ 1). Give exactly one of ``factor`` and ``rule``.
    rule
        A pandas frequency string such as ``"4h"``, ``"1D"``, ``"W-MON"`` or ``"MS"``.
    bar_interval
        The spacing Δ of the input bars, used by ``rule`` to recognise a bucket's last bar;
        inferred as the smallest spacing between consecutive bars when omitted.

    Returns
    -------
    pandas.DataFrame
        Index ``"timestamp"``: bucket starts (UTC). Columns ``Open, High, Low, Close, Volume``
        (float64) and ``completed_at`` (UTC): the label of the base bar that completed the bucket.

    Raises
    ------
    InvalidInputError
        If both or neither of ``factor`` and ``rule`` are given, ``factor < 1``, the rule is not a
        positive pandas frequency, or ``bar_interval`` is not a positive duration.
    DataValidationError
        If ``frame`` is not in the validated form.
    """
    _require_validated(frame)
    if (factor is None) == (rule is None):
        raise InvalidInputError("resample_ohlcv: give exactly one of factor and rule")
    stamps = frame.index.as_unit("ns").asi8
    values = frame.loc[:, list(OHLCV_COLUMNS)].to_numpy(dtype=np.float64)
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int | np.integer) or factor < 1:
            raise InvalidInputError(f"resample_ohlcv: factor must be an integer ≥ 1, got {factor!r}")
        return _resample_blocks(stamps, values, int(factor))
    assert rule is not None
    spacing = _spacing_ns(stamps, bar_interval)
    starts, ends = _bucket_bounds(frame.index, stamps, rule)
    return _resample_buckets(stamps, values, starts, ends, spacing)


def align_to_base(higher: pd.DataFrame, base_index: pd.DatetimeIndex, *, prefix: str = "") -> pd.DataFrame:
    """Give each base bar the latest higher bar completed by its label, and nothing later.

    A base bar labelled ``t`` gets the higher bar with the largest ``completed_at ≤ t``; before the
    first higher bar completes, its row is NaN / NaT. No base bar sees a higher bar whose last
    constituent bar comes after it.

    Parameters
    ----------
    higher
        A frame from :func:`resample_ohlcv` (it needs the ``completed_at`` column).
    base_index
        The base bars' timestamps, increasing. Naive timestamps are taken as UTC.
    prefix
        Prepended to every output column name, for instance ``"h4_"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``base_index``; the columns of ``higher`` (including ``completed_at``) plus
        ``bucket_start``, the label of the higher bar each row uses.

    Raises
    ------
    DataValidationError
        If ``higher`` has no ``completed_at`` column, or either input is not in time order.
    """
    if COMPLETED_AT not in higher.columns:
        raise DataValidationError(
            f"align_to_base: the higher frame has no {COMPLETED_AT} column; build it with resample_ohlcv"
        )
    if not isinstance(base_index, pd.DatetimeIndex) or not base_index.is_monotonic_increasing:
        raise DataValidationError("align_to_base: base_index must be an increasing DatetimeIndex")
    right = higher.rename_axis(_BUCKET_START).reset_index()
    right[COMPLETED_AT] = pd.DatetimeIndex(right[COMPLETED_AT]).as_unit("ns")
    if not right[COMPLETED_AT].is_monotonic_increasing:
        raise DataValidationError(f"align_to_base: the higher frame's {COMPLETED_AT} must be increasing")
    base = base_index.tz_localize("UTC") if base_index.tz is None else base_index.tz_convert("UTC")
    left = pd.DataFrame({"_base": base.as_unit("ns")})
    aligned = pd.merge_asof(left, right, left_on="_base", right_on=COMPLETED_AT, direction="backward")
    columns = [*higher.columns, _BUCKET_START]
    aligned = aligned.loc[:, columns].set_axis(base_index, axis=0)
    return aligned.set_axis([prefix + str(name) for name in columns], axis=1)


def _require_validated(frame: pd.DataFrame) -> None:
    index = frame.index
    missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"resample_ohlcv: missing column(s) {', '.join(missing)}; validate the bars first",
            column=missing[0],
        )
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataValidationError("resample_ohlcv: the index must be a tz-aware DatetimeIndex")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise DataValidationError("resample_ohlcv: timestamps must be strictly increasing")


def _spacing_ns(stamps: NDArray[np.int64], bar_interval: pd.Timedelta | str | None) -> int | None:
    """Return the input's bar spacing in nanoseconds, or None when it cannot be known (< 2 bars)."""
    if bar_interval is not None:
        try:
            spacing = pd.Timedelta(bar_interval)
        except ValueError as error:
            raise InvalidInputError(
                f"resample_ohlcv: bar_interval {bar_interval!r} is not a duration"
            ) from error
        if pd.isna(spacing) or spacing <= pd.Timedelta(0):
            raise InvalidInputError(f"resample_ohlcv: bar_interval must be positive, got {bar_interval!r}")
        return int(spacing.value)
    if stamps.size < 2:
        return None
    return int(np.diff(stamps).min())


def _bucket_bounds(
    index: pd.DatetimeIndex, stamps: NDArray[np.int64], rule: str
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return each row's bucket start and end (nanoseconds since the epoch, UTC)."""
    try:
        offset = to_offset(rule)
    except ValueError as error:
        raise InvalidInputError(f"resample_ohlcv: {rule!r} is not a pandas frequency") from error
    if offset.n <= 0:
        raise InvalidInputError(f"resample_ohlcv: rule must be positive, got {rule!r}")
    try:
        step = int(pd.Timedelta(offset).value)
    except ValueError:
        step = 0  # a calendar offset (week, month, business day): no fixed length
    if step > 0:
        starts = stamps // step * step
        return starts, starts + step
    if stamps.size == 0:
        return stamps.copy(), stamps.copy()
    anchor = offset.rollback(index[0].tz_convert("UTC").normalize())
    edges = pd.date_range(anchor, index[-1], freq=offset)
    edges_ns = np.append(edges.as_unit("ns").asi8, (edges[-1] + offset).as_unit("ns").value)
    bucket = np.searchsorted(edges_ns, stamps, side="right") - 1
    return edges_ns[bucket], edges_ns[bucket + 1]


def _resample_buckets(
    stamps: NDArray[np.int64],
    values: NDArray[np.float64],
    starts: NDArray[np.int64],
    ends: NDArray[np.int64],
    spacing: int | None,
) -> pd.DataFrame:
    n_rows = stamps.size
    if n_rows == 0:
        return _frame(starts, values[:0], stamps)
    first = np.concatenate([[0], np.flatnonzero(np.diff(starts)) + 1])
    last = np.append(first[1:] - 1, n_rows - 1)
    last_stamp = stamps[last]
    closes_itself = (
        last_stamp + spacing >= ends[first] if spacing is not None else np.zeros(first.size, dtype=np.bool_)
    )
    followed = last + 1 < n_rows
    next_stamp = stamps[np.minimum(last + 1, n_rows - 1)]
    completed_at = np.where(closes_itself, last_stamp, next_stamp)
    keep = closes_itself | followed
    # The data may begin mid-bucket; that first bucket lacks bars from before the data.
    keep[0] &= spacing is not None and stamps[0] - starts[0] < spacing
    bars = _aggregate(values, first, last)
    return _frame(starts[first][keep], bars[keep], completed_at[keep])


def _resample_blocks(stamps: NDArray[np.int64], values: NDArray[np.float64], factor: int) -> pd.DataFrame:
    n_blocks = stamps.size // factor
    first = np.arange(n_blocks, dtype=np.int64) * factor
    last = first + factor - 1
    bars = _aggregate(values[: n_blocks * factor], first, last)
    return _frame(stamps[first], bars, stamps[last])


def _aggregate(
    values: NDArray[np.float64], first: NDArray[np.int64], last: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Aggregate rows ``first[j]..last[j]`` (contiguous, covering ``values``) into one bar each."""
    if first.size == 0:
        return values[:0]
    return np.column_stack(
        [
            values[first, 0],
            np.maximum.reduceat(values[:, 1], first),
            np.minimum.reduceat(values[:, 2], first),
            values[last, 3],
            np.add.reduceat(values[:, 4], first),
        ]
    )


def _frame(
    labels: NDArray[np.int64], bars: NDArray[np.float64], completed_at: NDArray[np.int64]
) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(labels, unit="ns", utc=True), name="timestamp")
    frame = pd.DataFrame(bars.reshape(-1, len(OHLCV_COLUMNS)), index=index, columns=list(OHLCV_COLUMNS))
    frame[COMPLETED_AT] = pd.to_datetime(completed_at, unit="ns", utc=True)
    return frame
