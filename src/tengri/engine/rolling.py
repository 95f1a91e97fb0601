"""Rolling means summed as pandas sums them, so that a strategy's ties fall where pandas' do.

A plain sum of the window's values differs from pandas' ``Series.rolling(n).mean()`` in the last
bits, and at an exact tie of two averages (SMA(5) = SMA(30) on EURUSD hourly, bar 2419) pandas
gives a difference of 0.0 where the plain sum gives −2.2e-16: a crossover one bar early.
:class:`RollingMean` follows pandas' ``roll_mean`` (``pandas/_libs/window/aggregations.pyx``):
one running sum over the whole series, each value added and, when it leaves the window,
removed with Kahan compensation (one for additions, one for removals); a window of one value
repeated gives that value; a window of positive values never gives a negative mean (nor of
negative values a positive one).
Hand-written because TA-Lib's ``SMA`` and numpy's sums round differently from pandas, and the
reference strategies (backtesting.py's) use pandas.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Sequence

__all__ = ["RollingMean"]


class RollingMean:
    """The means of a fixed window over a growing series, one per value, as pandas computes them."""

    __slots__ = (
        "_added",
        "_keep",
        "_means",
        "_negative",
        "_period",
        "_removed",
        "_same",
        "_seen",
        "_sum",
        "_window",
    )

    def __init__(self, period: int, keep: int | None = None) -> None:
        """``keep``: the newest means :meth:`at` answers for (None: all of them)."""
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self._period = period
        self._keep = keep
        self._seen = 0
        # Unboxed doubles: 8 bytes a value where a list of floats holds 32 (the series can be long).
        self._means: array[float] = array("d")
        self._sum = 0.0
        self._added = 0.0  # Kahan compensations, one for additions and one for removals (as pandas)
        self._removed = 0.0
        self._negative = 0
        self._same = 0  # how many values in a row (newest last) equal the newest
        self._window: deque[float] = deque(maxlen=period)  # the newest ``period`` values

    def _add(self, value: float) -> None:
        y = value - self._added
        t = self._sum + y
        self._added = t - self._sum - y
        self._sum = t
        if value < 0:
            self._negative += 1

    def _remove(self, value: float) -> None:
        y = -value - self._removed
        t = self._sum + y
        self._removed = t - self._sum - y
        self._sum = t
        if value < 0:
            self._negative -= 1

    def extend(self, values: Sequence[float]) -> None:
        """Take the series' values past those already seen (``values`` is the whole series so far)."""
        for value in values[self._seen :]:
            self.push(value)

    def push(self, value: float) -> None:
        """Take the series' next value."""
        n = self._seen
        window = self._window
        if n >= self._period:  # pandas removes the leaving value before adding the new one
            self._remove(window[0])
        self._add(value)
        self._same = self._same + 1 if n and value == window[-1] else 1
        window.append(value)
        means = self._means
        means.append(self._mean(value) if n + 1 >= self._period else math.nan)
        if self._keep is not None and len(means) >= 2 * self._keep + 64:  # now and then: O(1) a value
            del means[: len(means) - self._keep]
        self._seen = n + 1

    def _mean(self, newest: float) -> float:
        n = self._period
        if self._same >= n:
            return newest
        result = self._sum / n
        if self._negative == 0 and result < 0:
            return 0.0
        if self._negative == n and result > 0:
            return 0.0
        return result

    def at(self, ago: int = 0) -> float:
        """The mean of the window ending ``ago`` values back (NaN before the window is full or past keep)."""
        index = len(self._means) - 1 - ago
        if index < 0 or ago < 0 or (self._keep is not None and ago >= self._keep):
            return float("nan")
        return self._means[index]
