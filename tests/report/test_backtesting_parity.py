"""compute_statistics agrees with backtesting.py's compute_stats where the definitions coincide.

The backtest is backtesting.py's quick start (SmaCross 10/20 on GOOG, cash 10,000, commission
0.2 %), with ``finalize_trades=True`` so the last open trade is closed and counted by both.
Tolerance: 1e-9 relative — both sides compute the same floating-point formulas from the same
numbers; anything larger is a definitional difference, not rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.backtesting_reference import quick_start_stats

from tengri.report import compute_statistics

backtesting = pytest.importorskip("backtesting")

REL = 1e-9


def _quick_start() -> Any:
    from backtesting.test import GOOG

    return quick_start_stats(GOOG, finalize_trades=True), GOOG


# backtesting.py 0.6 calls DatetimeIndex.dayofweek, deprecated in pandas 3; not our code.
@pytest.fixture(scope="module")
def parity() -> tuple[Any, dict[str, Any], pd.DataFrame]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning)
        stats, data = _quick_start()
    equity_curve, trades = stats["_equity_curve"], stats["_trades"]
    # Net units held after each bar: a trade filled at EntryBar's open is held until ExitBar's open.
    position = np.zeros(len(equity_curve))
    for trade in trades.itertuples():
        position[trade.EntryBar : trade.ExitBar] += trade.Size
    timeline = pd.DataFrame(
        {
            "timestamp": [t.isoformat() + "Z" for t in equity_curve.index],
            "close": data["Close"].to_numpy(),
            "equity": equity_curve["Equity"].to_numpy(),
            "position": position,
        }
    )
    ours_trades = pd.DataFrame(
        {"profit": trades["PnL"], "return_pct": trades["ReturnPct"] * 100, "costs": trades["Commission"]}
    )
    ours = compute_statistics(timeline, ours_trades, bars_per_year=252)
    return stats, ours, ours_trades


@pytest.mark.parametrize(
    ("ours_key", "theirs_key"),
    [
        ("equity_final", "Equity Final [$]"),
        ("equity_peak", "Equity Peak [$]"),
        ("return_pct", "Return [%]"),
        ("exposure_pct", "Exposure Time [%]"),
        ("annualised_return_pct", "Return (Ann.) [%]"),  # daily bars, 252 a year: same geometric mean
        ("calmar_ratio", "Calmar Ratio"),
        ("max_drawdown_pct", "Max. Drawdown [%]"),
        ("average_drawdown_pct", "Avg. Drawdown [%]"),
        ("num_trades", "# Trades"),
        ("win_rate_pct", "Win Rate [%]"),
        ("best_trade_pct", "Best Trade [%]"),
        ("worst_trade_pct", "Worst Trade [%]"),
        ("average_trade_pct", "Avg. Trade [%]"),
        ("expectancy_pct", "Expectancy [%]"),
        ("sqn", "SQN"),
        ("total_costs", "Commissions [$]"),
    ],
)
def test_figures_match_backtesting(
    parity: tuple[Any, dict[str, Any], pd.DataFrame], ours_key: str, theirs_key: str
) -> None:
    theirs, ours, _ = parity
    assert ours[ours_key] == pytest.approx(float(theirs[theirs_key]), rel=REL)


def test_max_drawdown_duration_matches_backtesting(parity: tuple[Any, dict[str, Any], pd.DataFrame]) -> None:
    theirs, ours, _ = parity
    assert pd.Timedelta(ours["max_drawdown_duration"]) == theirs["Max. Drawdown Duration"]


def test_profit_factor_is_backtestings_on_unit_notional(
    parity: tuple[Any, dict[str, Any], pd.DataFrame],
) -> None:
    # backtesting.py's "Profit Factor" sums percentage returns; ours sums currency profits. With
    # every trade on the same notional (profit ∝ return) the two definitions coincide.
    theirs, ours, trades = parity
    unit = trades.assign(profit=trades["return_pct"])
    timeline = pd.DataFrame(
        {"timestamp": ["2024-01-01T00:00:00Z"], "close": [1.0], "equity": [1.0], "position": [0]}
    )
    on_unit_notional = compute_statistics(timeline, unit, bars_per_year=252)
    assert on_unit_notional["profit_factor"] == pytest.approx(float(theirs["Profit Factor"]), rel=REL)
    gross = trades["profit"]
    assert ours["profit_factor"] == pytest.approx(gross[gross > 0].sum() / -gross[gross < 0].sum(), rel=REL)


def test_buy_and_hold_starts_at_the_first_bar(parity: tuple[Any, dict[str, Any], pd.DataFrame]) -> None:
    # backtesting.py starts buy-and-hold after the indicators' 19-bar warm-up; we start at bar 0.
    from backtesting.test import GOOG

    close = GOOG["Close"].to_numpy()
    theirs, ours, _ = parity
    assert ours["buy_and_hold_return_pct"] == pytest.approx((close[-1] / close[0] - 1) * 100, rel=REL)
    assert float(theirs["Buy & Hold Return [%]"]) == pytest.approx((close[-1] / close[19] - 1) * 100, rel=REL)


@pytest.mark.parametrize(
    ("ours_key", "theirs_key"),
    [
        ("sharpe_ratio", "Sharpe Ratio"),
        ("sortino_ratio", "Sortino Ratio"),
        ("calmar_ratio", "Calmar Ratio"),
        ("profit_factor", "Profit Factor"),
        ("exposure_pct", "Exposure Time [%]"),
        ("buy_and_hold_return_pct", "Buy & Hold Return [%]"),
        ("annualised_return_pct", "Return (Ann.) [%]"),
        ("annualised_volatility_pct", "Volatility (Ann.) [%]"),
    ],
)
def test_the_backtesting_py_convention_reproduces_its_figures(
    parity: tuple[Any, dict[str, Any], pd.DataFrame], ours_key: str, theirs_key: str
) -> None:
    theirs, _, trades = parity
    equity_curve = theirs["_equity_curve"]
    timeline = pd.DataFrame(
        {
            "timestamp": [t.isoformat() + "Z" for t in equity_curve.index],
            "close": _goog_close(),
            "equity": equity_curve["Equity"].to_numpy(),
            "position": _positions(theirs["_trades"], len(equity_curve)),
        }
    )
    ours = compute_statistics(
        timeline, trades, bars_per_year=252, convention="backtesting.py", first_trading_bar=19
    )
    assert ours[ours_key] == pytest.approx(float(theirs[theirs_key]), rel=1e-6)


def _goog_close() -> Any:
    from backtesting.test import GOOG

    return GOOG["Close"].to_numpy()


def _positions(trades: pd.DataFrame, n: int) -> Any:
    position = np.zeros(n)
    for trade in trades.itertuples():
        position[trade.EntryBar : trade.ExitBar] += trade.Size
    return position
