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
reference strategies (backtesting.py's) use pandas. Compiled (:mod:`tengri.engine._kernel`): a
strategy's averages advance with every tick, in C with the same operations in the same order.
"""

from __future__ import annotations

from tengri.engine import _kernel

__all__ = ["RollingMean"]

RollingMean = _kernel.RollingMean
