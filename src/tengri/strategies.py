"""Example strategies written with the plug-in API (:class:`tengri.Strategy`).

``SmaCross`` is backtesting.py's quick-start strategy: long when the fast simple moving average
crosses above the slow one, short when it crosses below, always in the market. Like
backtesting.py's ``position.close(); self.buy()``, a crossover in the direction already held
closes the position and opens a new one (after an exact tie of the two averages). The averages
are summed as pandas sums them (:mod:`tengri.engine.rolling`), so ties fall where pandas' do.
"""

from __future__ import annotations

from tengri.engine.signals import Strategy, Target

__all__ = ["SmaCross"]


class SmaCross(Strategy):
    """Moving-average crossover: +1 when SMA(fast) crosses above SMA(slow), −1 when below."""

    fast = 10
    slow = 20

    def init(self) -> None:
        """Read no further back than the slow average of the bar before: a bounded history."""
        self.history_bars = max(self.fast, self.slow) + 1

    def next(self) -> Target | None:
        """Return the new target on a crossover (closing and reopening), else keep the current one."""
        if len(self) < self.slow + 1:  # ticks seen (the kept history is never shorter here)
            return None
        fast_before, slow_before = self.sma(self.fast, 1), self.sma(self.slow, 1)
        fast_now, slow_now = self.sma(self.fast), self.sma(self.slow)
        if fast_before < slow_before and fast_now > slow_now:
            return Target(1, reopen=True)
        if fast_before > slow_before and fast_now < slow_now:
            return Target(-1, reopen=True)
        return None
