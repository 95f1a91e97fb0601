"""Long series drawn at a chart's resolution: each bucket of bars keeps its lowest and highest point.

A chart some 1,600 pixels wide cannot show more than two values per pixel column, its lowest and
highest; drawing every bar of a million-bar run costs memory and time and shows the same
picture. :func:`envelope` keeps, from each of ``points / 2`` equal buckets of bars, the bar of the
minimum and the bar of the maximum, in time order (plus the first and the last bar), so every
peak, trough and drawdown is drawn where it happened. Series up to ``points`` long are returned
whole. Trades are never downsampled: the charts draw each one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["POINTS", "envelope", "kept"]

#: Points kept of a long series: two per pixel column of the widest chart, with room to spare.
POINTS = 4_000


def kept(n: int, *ys: npt.NDArray[np.float64], points: int = POINTS) -> npt.NDArray[np.intp]:
    """Indices, in order, of the bars that hold a bucket's minimum or maximum of any of ``ys``.

    ``ys`` are ``n`` long. The bars kept are the union over the ``ys`` (so series drawn together
    stay aligned on the same times), with the first and the last; a series of at most ``points``
    bars is kept whole. A NaN is never a bucket's extreme unless the whole bucket is NaN.
    """
    if n <= points or not ys:
        return np.arange(n)
    buckets = max(1, points // (2 * len(ys)))
    size = -(-n // buckets)  # ceil(n / buckets): the last bucket may be shorter
    padded = buckets * size
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    starts = np.arange(buckets) * size
    for y in ys:
        values = np.full(padded, np.nan)
        values[:n] = y
        block = values.reshape(buckets, size)
        missing = np.isnan(block)
        low = np.where(missing, np.inf, block).argmin(axis=1) + starts
        high = np.where(missing, -np.inf, block).argmax(axis=1) + starts
        keep[low[low < n]] = True
        keep[high[high < n]] = True
    return np.flatnonzero(keep)


def envelope(
    x: npt.NDArray[Any], *ys: npt.NDArray[np.float64], points: int = POINTS
) -> tuple[npt.NDArray[Any], ...]:
    """Return ``x`` and each of ``ys`` at the bars :func:`kept` keeps (all of them, unchanged, when short)."""
    if len(x) <= points or not ys:
        return (x, *ys)
    shown = kept(len(x), *ys, points=points)
    return (x[shown], *(np.asarray(y)[shown] for y in ys))
