"""Sizing: the signal's size, the sizing policies, and `tengri backtest`'s quick-start defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.backtesting_reference import quick_start_stats

from tengri.cli import main
from tengri.config import TengriConfig, TradingConfig
from tengri.engine import Target, Tick
from tengri.engine.sizing import Sizer
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross


def _quick_start() -> pd.DataFrame:
    from backtesting.test import GOOG

    return quick_start_stats(GOOG)._trades


@pytest.mark.slow
def test_backtest_without_a_config_gives_backtesting_py_quick_start_trades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = _quick_start()
    assert main(["backtest", "sample:goog_d1"]) == 0
    capsys.readouterr()
    [trades_file] = (tmp_path / "data" / "runs").glob("*/trades.csv")
    trades = pd.read_csv(trades_file)
    first_notional = trades["entry_price"].iloc[0] * trades["size"].iloc[0]
    print(
        f"trades: tengri {len(trades)}, backtesting.py {len(reference)}; first position {first_notional:,.2f}"
    )
    ours: list[Any] = trades[["entry_bar", "exit_bar"]].values.tolist()
    assert ours == reference[["EntryBar", "ExitBar"]].values.tolist()
    assert (trades["size"] * trades["direction"]).tolist() == reference["Size"].tolist()  # share for share
    assert first_notional > 0.99 * 10_000 * 0.998 - trades["entry_price"].iloc[0]  # nearly all equity


def test_a_config_file_keeps_its_own_sizing_in_a_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tengri.toml"
    config.write_text("[trading]\nmax_open_executions = 4\n")
    assert main(["backtest", "sample:goog_d1", "--config", str(config)]) == 0
    capsys.readouterr()
    [trades_file] = (tmp_path / "data" / "runs").glob("*/trades.csv")
    trades = pd.read_csv(trades_file)
    first_notional = trades["entry_price"].iloc[0] * trades["size"].iloc[0]
    assert first_notional < 0.26 * 10_000


def _tick(i: int, price: float, spread: float) -> Tick:
    return Tick("x", float(i), price, i, open=price, high=price + spread, low=price - spread)


def test_the_signal_size_is_a_fraction_of_equity_or_units() -> None:
    sizer = Sizer(TradingConfig(commission=0.0, max_open_executions=4))
    assert sizer.size(100.0, 10_000.0, "x") == pytest.approx(25.0)
    assert sizer.size(100.0, 10_000.0, "x", signal_size=0.5) == pytest.approx(50.0)
    assert sizer.size(100.0, 10_000.0, "x", signal_size=7) == 7


def test_volatility_sizing_follows_the_atr() -> None:
    sizer = Sizer(
        TradingConfig(
            commission=0.0, sizing="volatility", atr_period=3, volatility_target=0.01, max_open_executions=1
        )
    )
    assert sizer.size(100.0, 10_000.0, "x") == 0  # no ATR yet: no entry
    for i in range(5):
        sizer.observe(_tick(i, 100.0, 1.0))  # true range 2 every bar
    assert sizer.atr("x") == pytest.approx(2.0)
    assert sizer.size(100.0, 10_000.0, "x") == pytest.approx(50.0)  # 1 % of 10,000 over an ATR of 2
    wild = Sizer(sizer.config)
    for i in range(5):
        wild.observe(_tick(i, 100.0, 5.0))
    assert wild.size(100.0, 10_000.0, "x") == pytest.approx(10.0)


def test_kelly_sizing_scales_with_confidence_and_is_capped() -> None:
    sizer = Sizer(TradingConfig(commission=0.0, sizing="kelly", kelly_cap=0.25, max_open_executions=1))
    assert sizer.size(100.0, 10_000.0, "x", confidence=0.5) == 0
    assert sizer.size(100.0, 10_000.0, "x", confidence=0.55) == pytest.approx(10.0)
    assert sizer.size(100.0, 10_000.0, "x", confidence=0.95) == pytest.approx(25.0)


class HalfSize(SmaCross):
    def next(self) -> Target | None:
        target = super().next()
        return None if target is None else Target(target.direction, size=0.5, reopen=True)


def test_a_strategy_sizes_its_own_signal_in_a_replay(tmp_path: Path) -> None:
    from backtesting.test import GOOG

    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={"max_open_executions": 1, "commission": 0.0, "slippage": 0.0, "holding_bars": None}
        | {"trade_patterns": False, "min_confidence": 0.0}
    )
    outcome = run_replay(config, GOOG.iloc[:300], strategy=HalfSize(), build_html=False)
    trades = pd.read_csv(outcome.run_dir / "trades.csv")
    first = trades.iloc[0]
    assert first["entry_price"] * first["size"] == pytest.approx(5_000.0)
