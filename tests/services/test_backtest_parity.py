"""Tengri's replay against backtesting.py on its own quick start: SMA(10, 20) crossover on GOOG.

And SMA(5, 30) on its EURUSD hourly bars, whose bar 2419 has an exact tie of the two averages:
Tengri's averages are summed as pandas sums them (:mod:`tengri.engine.rolling`), or it would
reverse one bar early there.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.backtesting_reference import PARITY_TRADING, quick_start_stats

from tengri.config import TengriConfig
from tengri.engine import Target
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross


def _backtesting_py(data: str = "GOOG", n1: int = 10, n2: int = 20) -> tuple[pd.DataFrame, float]:
    import backtesting.test

    stats = quick_start_stats(getattr(backtesting.test, data), n1, n2)
    return stats._trades, float(stats["Equity Final [$]"])


@pytest.mark.slow
# EURUSD's sizes (some 5,000 units at 1.1) are more often a unit apart than GOOG's (some 10 shares).
@pytest.mark.parametrize(("data", "n1", "n2", "exact_sizes"), [("GOOG", 10, 20, 0.8), ("EURUSD", 5, 30, 0.6)])
def test_sma_crossover_matches_backtesting_py(
    tmp_path: Path, data: str, n1: int, n2: int, exact_sizes: float
) -> None:
    import backtesting.test

    reference_trades, reference_equity = _backtesting_py(data, n1, n2)
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading=PARITY_TRADING, engine={"defensive_margin": 0.0}
    )
    frame = getattr(backtesting.test, data)
    outcome = run_replay(config, frame, model="none", strategy=SmaCross(fast=n1, slow=n2), build_html=False)
    trades = pd.read_csv(outcome.run_dir / "trades.csv")
    timeline = pd.read_csv(outcome.run_dir / "timeline.csv")
    ours: list[Any] = trades[["entry_bar", "exit_bar"]].values.tolist()
    theirs: list[Any] = reference_trades[["EntryBar", "ExitBar"]].values.tolist()
    final_equity = float(timeline["equity"].iloc[-1])
    gap = 100 * (final_equity / reference_equity - 1)
    print(
        f"trades: tengri {len(ours)}, backtesting.py {len(theirs)}; final equity: "
        f"tengri {final_equity:,.2f}, backtesting.py {reference_equity:,.2f} ({gap:+.3f}%)"
    )
    assert len(ours) == len(theirs)
    assert ours == theirs
    assert trades["direction"].tolist() == [1 if s > 0 else -1 for s in reference_trades["Size"]]
    # Sizes agree but for a few units: backtesting.py sizes a reversal with an unrealised profit it
    # cached before closing the old trade (at this bar's close), Tengri with the cash after closing.
    sizes = (trades["size"] - reference_trades["Size"].abs()).abs()
    assert (sizes <= 1).all()
    print(f"sizes equal in {(sizes == 0).mean():.0%} of trades")
    assert (sizes == 0).mean() > exact_sizes
    assert final_equity == pytest.approx(reference_equity, rel=0.005)


def _backtesting_py_with_levels(sl: float, tp: float) -> tuple[pd.DataFrame, float]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCrossLevels(Strategy):
        def init(self) -> None:
            self.sma1 = self.I(SMA, self.data.Close, 10)
            self.sma2 = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            close = self.data.Close[-1]
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy(sl=close * (1 - sl), tp=close * (1 + tp))
            elif crossover(self.sma2, self.sma1):
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(GOOG, SmaCrossLevels, cash=10_000, commission=0.002).run()
    return stats._trades, float(stats["Equity Final [$]"])


class SmaCrossLevels(SmaCross):
    """Long on an upward crossover with a stop and a target, flat on a downward one."""

    sl = 0.05
    tp = 0.10

    def next(self) -> Target | None:
        target = super().next()
        if target is None:
            return None
        if target.direction < 0:
            return Target(0)
        close = float(self.closes[-1])
        return Target(1, sl=close * (1 - self.sl), tp=close * (1 + self.tp), reopen=True)


@pytest.mark.slow
@pytest.mark.parametrize(("sl", "tp"), [(0.05, 0.10), (0.02, 0.03)])
def test_stop_loss_and_take_profit_match_backtesting_py(tmp_path: Path, sl: float, tp: float) -> None:
    from backtesting.test import GOOG

    reference_trades, reference_equity = _backtesting_py_with_levels(sl, tp)
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading=PARITY_TRADING, engine={"defensive_margin": 0.0}
    )
    strategy = SmaCrossLevels(sl=sl, tp=tp)
    outcome = run_replay(config, GOOG, model="none", strategy=strategy, build_html=False)
    trades = pd.read_csv(outcome.run_dir / "trades.csv")
    timeline = pd.read_csv(outcome.run_dir / "timeline.csv")
    final_equity = float(timeline["equity"].iloc[-1])
    reasons = trades["reason"].value_counts().to_dict()
    print(
        f"sl {sl:.0%} tp {tp:.0%}: trades tengri {len(trades)}, backtesting.py {len(reference_trades)}; "
        f"exits {reasons}; final equity tengri {final_equity:,.6f}, backtesting.py {reference_equity:,.6f}"
    )
    ours: list[Any] = trades[["entry_bar", "exit_bar", "size"]].values.tolist()
    theirs: list[Any] = reference_trades[["EntryBar", "ExitBar", "Size"]].values.tolist()
    assert ours == theirs
    assert trades["exit_price"].to_numpy() == pytest.approx(
        reference_trades["ExitPrice"].to_numpy(), rel=1e-12
    )
    assert {"stop_loss", "take_profit"} <= set(reasons)
    assert final_equity == pytest.approx(reference_equity, rel=1e-6)
