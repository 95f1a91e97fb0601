"""Tengri's replay against backtesting.py on its own quick start: SMA(10, 20) crossover on GOOG."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross

PARITY_TRADING = {
    "cash": 10_000.0,
    "commission": 0.002,
    "slippage": 0.0,
    "position_fraction": 0.9999,  # backtesting.py's default order size
    "whole_units": True,
    "max_open_executions": 1,
    "holding_bars": None,
    "trade_patterns": False,
    "min_confidence": 0.0,
}


def _backtesting_py() -> tuple[pd.DataFrame, float]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCrossReference(Strategy):  # backtesting.py's quick start, verbatim
        n1 = 10
        n2 = 20

        def init(self) -> None:
            close = self.data.Close
            self.sma1 = self.I(SMA, close, self.n1)
            self.sma2 = self.I(SMA, close, self.n2)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its progress bar and "some trades remain open" notice
        stats = Backtest(GOOG, SmaCrossReference, cash=10_000, commission=0.002).run()
    return stats._trades, float(stats["Equity Final [$]"])


@pytest.mark.slow
def test_sma_crossover_matches_backtesting_py(tmp_path: Path) -> None:
    reference_trades, reference_equity = _backtesting_py()
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading=PARITY_TRADING, engine={"defensive_margin": 0.0}
    )
    outcome = run_replay(config, "sample:goog_d1", model="none", strategy=SmaCross(), build_html=False)
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
    assert (sizes == 0).mean() > 0.8
    assert final_equity == pytest.approx(reference_equity, rel=0.005)
