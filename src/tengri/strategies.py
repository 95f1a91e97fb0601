"""Example strategies written with the plug-in API (:class:`tengri.Strategy`).

``SmaCross`` is backtesting.py's quick-start strategy: long when the fast simple moving average
crosses above the slow one, short when it crosses below, always in the market.
"""

from __future__ import annotations

from tengri.engine.signals import Strategy

__all__ = ["SmaCross"]


class SmaCross(Strategy):
    """Moving-average crossover: +1 when SMA(fast) crosses above SMA(slow), −1 when below."""

    fast = 10
    slow = 20

    def next(self) -> int | None:
        """Return the new target on a crossover, else keep the current one."""
        if len(self.closes) < self.slow + 1:
            return None
        fast_before, slow_before = self.sma(self.fast, 1), self.sma(self.slow, 1)
        fast_now, slow_now = self.sma(self.fast), self.sma(self.slow)
        if fast_before < slow_before and fast_now > slow_now:
            return 1
        if fast_before > slow_before and fast_now < slow_now:
            return -1
        return None
