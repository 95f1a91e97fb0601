"""backtesting.py's quick start, the reference Tengri's parity tests compare against.

One copy of its ``SmaCross`` strategy (an SMA crossover that closes the position and opens the
other way on each cross), run on any of its bundled frames with its quick start's cash and
commission unless a test says otherwise.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

#: Tengri's trading settings that trade as the quick start does: its cash and commission, no
#: slippage, one position of backtesting.py's default order size in whole units, held until the
#: strategy changes its mind, with the pattern triggers and the confidence gate out of the way.
PARITY_TRADING: dict[str, object] = {
    "cash": 10_000.0,
    "commission": 0.002,
    "slippage": 0.0,
    "position_fraction": 1.0,  # backtesting.py's default order size, 1 − 2⁻⁵², all of the equity
    "whole_units": True,
    "max_open_executions": 1,
    "holding_bars": None,
    "trade_patterns": False,
    "min_confidence": 0.0,
}


def quick_start_stats(frame: pd.DataFrame, n1: int = 10, n2: int = 20, **options: Any) -> Any:
    """Run backtesting.py's quick-start SmaCross(n1, n2) on ``frame``; return its stats.

    ``options`` go to ``backtesting.Backtest`` (default cash 10,000 and commission 0.2 %).
    """
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCrossReference(Strategy):  # backtesting.py's quick start, verbatim
        def init(self) -> None:
            close = self.data.Close
            self.sma1 = self.I(SMA, close, n1)
            self.sma2 = self.I(SMA, close, n2)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    settings = {"cash": 10_000, "commission": 0.002, **options}
    with warnings.catch_warnings():
        # Its progress bar, its "some trades remain open" notice, and pandas deprecations it calls.
        warnings.simplefilter("ignore")
        return Backtest(frame, SmaCrossReference, **settings).run()
