"""check_lookahead: a value at bar t must not change when the bars after t are appended.

For each cut point ``t`` (a row position), ``compute(bars.iloc[:t + 1])`` must equal the rows
``≤ bars.index[t]`` of ``compute(bars)``: the same index, the same columns, and the same values
(NaN equals NaN; a NaN on one side and a number on the other is a difference). Both runs start at
the same first bar, so indicators that depend on where the input starts (EMA seeds) pass; a value
that uses a later bar (``shift(-1)``, a centred window, a full-sample statistic) does not.

Cost: one ``compute`` of the full series plus one per cut point on ``t + 1`` bars. With
:func:`compute_features` (about 25–50 ms on 5,000 bars, mostly fixed pandas overhead; see
``benchmarks/bench_features.py``) the default 20 cut points take 0.5–1 s on 5,000 hourly
bars. ``cut_points="all"`` checks every bar from the first complete row on: one computation per
bar, about 4,200 × 45 ms ≈ 3 minutes for 5,000 bars, so use it on a slice of a few hundred bars
past the warm-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tengri.errors import InvalidInputError
from tengri.features._compute import compute_features

__all__ = ["ComputeFunction", "LookaheadReport", "check_lookahead"]

ComputeFunction = Callable[[pd.DataFrame], pd.DataFrame | pd.Series]
"""What :func:`check_lookahead` checks: bars in, a time-indexed frame (or series) of numbers out."""

DEFAULT_CUTS = 20
"""How many cut points :func:`check_lookahead` checks when none are given."""


@dataclass(frozen=True)
class LookaheadReport:
    """The outcome of :func:`check_lookahead`.

    Attributes
    ----------
    ok
        True when no cut point showed a difference.
    cut_points
        The row positions checked, increasing.
    column
        The first differing column (earliest timestamp, then column order); ``None`` when ok or
        when the rows themselves differ (see ``message``).
    timestamp
        The bar at which ``column`` first differs; ``None`` when ok.
    cut_point
        The cut point (row position) that revealed it; ``None`` when ok.
    truncated_value, full_value
        The two values at ``(timestamp, column)``: on the bars up to the cut, on all bars.
    columns
        Every column that differed at some cut point, in column order.
    message
        One line saying what was found.
    """

    ok: bool
    cut_points: tuple[int, ...]
    column: str | None = None
    timestamp: pd.Timestamp | None = None
    cut_point: int | None = None
    truncated_value: float | None = None
    full_value: float | None = None
    columns: tuple[str, ...] = ()
    message: str = ""

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class _Difference:
    timestamp: pd.Timestamp
    cut_point: int
    column: str | None
    truncated_value: float | None
    full_value: float | None
    reason: str


def check_lookahead(
    ohlcv: pd.DataFrame,
    compute: ComputeFunction = compute_features,
    *,
    cut_points: Iterable[int] | Literal["all"] | None = None,
    n_cuts: int = DEFAULT_CUTS,
    atol: float = 0.0,
    rtol: float = 0.0,
) -> LookaheadReport:
    """Check that ``compute``'s value at every bar ≤ t is the same with or without the bars after t.

    Parameters
    ----------
    ohlcv
        Bars (validated, as ``compute`` expects them), increasing in time.
    compute
        Maps bars to a frame (or series) of numbers indexed by (a subset of) the bars'
        timestamps; :func:`compute_features` by default. Pass a function that returns a model's
        predictions to check those too.
    cut_points
        Row positions ``t`` to cut at (``0 ≤ t < len(ohlcv)``); ``"all"`` for every bar from the
        first complete row of ``compute(ohlcv)`` to the second-to-last bar; ``None`` for
        ``n_cuts`` evenly spaced over that range. The first complete row is the first with no
        NaN (row 0 if there is none), so the default cuts do not start inside the warm-up, where
        :func:`compute_features` refuses too short an input.
    n_cuts
        How many cut points to spread when ``cut_points`` is ``None``.
    atol, rtol
        Values ``a`` (truncated) and ``b`` (full) are equal when ``|a − b| ≤ atol + rtol·|b|``.
        Exact (0, 0) by default: :func:`compute_features` is bit-for-bit reproducible under
        appending because TA-Lib and pandas run forward recursions from the first bar.

    Returns
    -------
    LookaheadReport
        ``ok``, or the first column and timestamp that differ (see :class:`LookaheadReport`).

    Raises
    ------
    InvalidInputError
        If a cut point is out of range, ``n_cuts < 1``, a tolerance is negative, or ``compute``
        returns something that is not a frame or series of numbers.
    """
    if atol < 0 or rtol < 0:
        raise InvalidInputError(f"check_lookahead: atol and rtol must be ≥ 0, got {atol!r}, {rtol!r}")
    n_bars = len(ohlcv)
    full = _as_frame(compute(ohlcv))
    cuts = _cut_points(cut_points, n_cuts, n_bars, _first_complete_row(full, ohlcv.index))
    found: list[_Difference] = []
    differing: set[str] = set()
    for cut in cuts:
        stamp = ohlcv.index[cut]
        truncated = _as_frame(compute(ohlcv.iloc[: cut + 1]))
        expected = full.loc[full.index <= stamp]
        difference = _compare(truncated, expected, cut, atol, rtol, differing)
        if difference is not None:
            found.append(difference)
    if not found:
        return LookaheadReport(
            ok=True,
            cut_points=cuts,
            message=f"ok: no look-ahead at {len(cuts)} cut point(s) over {full.shape[1]} column(s)",
        )
    first = min(found, key=lambda item: (item.timestamp, item.cut_point))
    columns = tuple(str(name) for name in full.columns if str(name) in differing)
    return LookaheadReport(
        ok=False,
        cut_points=cuts,
        column=first.column,
        timestamp=first.timestamp,
        cut_point=first.cut_point,
        truncated_value=first.truncated_value,
        full_value=first.full_value,
        columns=columns,
        message=(
            f"look-ahead: {first.reason} at {first.timestamp.isoformat()} (cut at row {first.cut_point}); "
            f"{len(found)} of {len(cuts)} cut point(s) differ"
            + (f", in column(s) {', '.join(columns)}" if columns else "")
        ),
    )


def _as_frame(result: object) -> pd.DataFrame:
    if isinstance(result, pd.Series):
        return result.to_frame(name=str(result.name) if result.name is not None else "value")
    if isinstance(result, pd.DataFrame):
        return result
    raise InvalidInputError(
        f"check_lookahead: compute must return a pandas DataFrame or Series, got {type(result).__name__}"
    )


def _first_complete_row(full: pd.DataFrame, index: pd.Index) -> int:
    """Return the bar position of the first row of ``full`` without NaN (0 if there is none)."""
    complete = np.flatnonzero(~np.isnan(_numbers(full)).any(axis=1))
    if complete.size == 0:
        return 0
    position = int(index.get_indexer([full.index[complete[0]]])[0])
    return max(position, 0)


def _cut_points(
    cut_points: Iterable[int] | Literal["all"] | None, n_cuts: int, n_bars: int, first: int
) -> tuple[int, ...]:
    last = max(n_bars - 2, first)
    if cut_points is None:
        if n_cuts < 1:
            raise InvalidInputError(f"check_lookahead: n_cuts must be ≥ 1, got {n_cuts}")
        return tuple(int(cut) for cut in np.unique(np.linspace(first, last, n_cuts).round().astype(np.int64)))
    if isinstance(cut_points, str):
        if cut_points != "all":
            raise InvalidInputError(
                f"check_lookahead: cut_points must be 'all', None or positions, got {cut_points!r}"
            )
        return tuple(range(first, last + 1))
    cuts = sorted({int(cut) for cut in cut_points})
    if not cuts or cuts[0] < 0 or cuts[-1] >= n_bars:
        raise InvalidInputError(f"check_lookahead: cut points must lie in [0, {n_bars - 1}], got {cuts!r}")
    return tuple(cuts)


def _numbers(frame: pd.DataFrame) -> NDArray[np.float64]:
    try:
        values: NDArray[np.float64] = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"check_lookahead: compute must return numbers ({error})") from error
    return values


def _compare(
    truncated: pd.DataFrame, expected: pd.DataFrame, cut: int, atol: float, rtol: float, differing: set[str]
) -> _Difference | None:
    """Return the earliest difference between the two results of one cut, recording its columns."""
    if not truncated.index.equals(expected.index):
        extra = truncated.index.difference(expected.index)
        missing = expected.index.difference(truncated.index)
        stamp = min([*extra[:1], *missing[:1]])
        side = "only in the truncated result" if stamp in extra else "missing from the truncated result"
        return _Difference(stamp, cut, None, None, None, f"row {side}")
    if list(truncated.columns) != list(expected.columns):
        stamp = expected.index[0] if len(expected.index) else truncated.index[0]
        return _Difference(stamp, cut, None, None, None, "the columns differ")
    left, right = _numbers(truncated), _numbers(expected)
    with np.errstate(invalid="ignore"):
        close = np.abs(left - right) <= atol + rtol * np.abs(right)
    same = (left == right) | (np.isnan(left) & np.isnan(right)) | close
    if same.all():
        return None
    rows, columns = np.nonzero(~same)
    differing.update(str(truncated.columns[column]) for column in np.unique(columns))
    row, column = int(rows[0]), int(columns[0])
    name = str(truncated.columns[column])
    return _Difference(
        truncated.index[row],
        cut,
        name,
        float(left[row, column]),
        float(right[row, column]),
        f"column {name} differs",
    )
