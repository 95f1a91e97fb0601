"""evaluate's next-open P&L equals a `tengri backtest` (the replay) of the same signals on the same bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.data import read_ohlcv
from tengri.engine import Strategy
from tengri.errors import InvalidInputError
from tengri.predict.next_open import next_open_returns
from tengri.services.replay import run_replay

COMMISSION, SLIPPAGE = 0.001, 0.0005


class _Positions(Strategy):
    """Returns the given position at each bar: the evaluation's signals as a strategy."""

    positions: tuple[int, ...] = ()

    def next(self) -> int:
        return self.positions[len(self.closes) - 1]


def test_next_open_pnl_equals_the_backtest(tmp_path: Path) -> None:
    bars = read_ohlcv("sample:goog_d1").frame.iloc[:250]
    rng = np.random.default_rng(7)
    decided = rng.choice([-1, 0, 1], size=len(bars) - 1, p=[0.3, 0.4, 0.3])
    decided[-1] = 0  # the evaluation closes at the open after its last decision
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={
            "cash": 10_000.0,
            "commission": COMMISSION,
            "slippage": SLIPPAGE,
            "position_fraction": 1.0,
            "whole_units": False,
            "max_open_executions": 1,
            "holding_bars": None,
            "trade_patterns": False,
            "min_confidence": 0.0,
        },
        engine={"defensive_margin": 0.0},
    )
    strategy = _Positions(positions=(*(int(p) for p in decided), 0))
    outcome = run_replay(config, bars, model="none", strategy=strategy, build_html=False)
    trades = pd.read_csv(outcome.run_dir / "trades.csv")
    final_equity = float(pd.read_csv(outcome.run_dir / "timeline.csv")["equity"].iloc[-1])

    ours = next_open_returns(decided, bars["Open"].to_numpy(), commission=COMMISSION, slippage=SLIPPAGE)
    assert len(ours.trades) == len(trades) > 20
    assert [t[0] for t in ours.trades] == trades["direction"].tolist()
    assert [t[1] for t in ours.trades] == trades["entry_bar"].tolist()
    assert [t[2] for t in ours.trades] == trades["exit_bar"].tolist()
    np.testing.assert_allclose([t[3] for t in ours.trades], trades["entry_price"], rtol=1e-12)
    np.testing.assert_allclose([t[4] for t in ours.trades], trades["exit_price"], rtol=1e-12)
    assert 10_000.0 * float(np.prod(1.0 + ours.returns)) == pytest.approx(final_equity, rel=1e-9)


def test_a_short_through_a_doubling_is_bust_and_stops() -> None:
    opens = [100.0, 100.0, 150.0, 210.0, 100.0, 50.0]
    result = next_open_returns([-1, -1, -1, -1, 1], opens, commission=0.0, slippage=0.0)
    assert result.returns.tolist() == [0.0, -0.5, -1.0, 0.0, 0.0]
    assert float(np.prod(1.0 + result.returns)) == 0.0


def test_bad_positions_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="need 3 opens"):
        next_open_returns([1, 0], [1.0, 1.0], commission=0.0, slippage=0.0)
    with pytest.raises(InvalidInputError, match="-1, 0 or 1"):
        next_open_returns([0.5], [1.0, 1.0], commission=0.0, slippage=0.0)
