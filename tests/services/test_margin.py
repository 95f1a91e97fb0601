"""Margin call: equity at 0 closes everything and stops trading, as backtesting.py's broker does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.backtesting_reference import PARITY_TRADING, quick_start_stats

from tengri.config import TengriConfig
from tengri.report import compute_statistics
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross


def _backtesting_py_btcusd() -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    from backtesting.test import BTCUSD

    stats = quick_start_stats(BTCUSD)  # backtesting.py's quick start, on its bitcoin data
    return BTCUSD, stats._trades, stats


def _replay(tmp_path: Path, frame: pd.DataFrame, **trading: Any) -> Path:
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={**PARITY_TRADING, **trading}, engine={"defensive_margin": 0.0}
    )
    outcome = run_replay(config, frame, model="none", strategy=SmaCross(), build_html=False)
    return outcome.run_dir


@pytest.mark.slow
def test_btcusd_short_is_liquidated_at_the_bar_backtesting_py_liquidates(tmp_path: Path) -> None:
    frame, reference, stats = _backtesting_py_btcusd()
    reference_bar = int((stats._equity_curve["Equity"].to_numpy() <= 0).argmax())
    run_dir = _replay(tmp_path, frame)
    summary = json.loads((run_dir / "summary.json").read_text())
    trades = pd.read_csv(run_dir / "trades.csv")
    print(
        f"liquidated: tengri bar {summary['margin_call_bar']}, backtesting.py bar {reference_bar}; "
        f"return tengri {summary['return_pct']:.1f}%, backtesting.py {stats['Return [%]']:.1f}%; "
        f"sharpe {summary['sharpe_ratio']}, sortino {summary['sortino_ratio']}"
    )
    assert reference_bar == 88
    assert summary["margin_call"] is True
    assert summary["margin_call_bar"] == reference_bar
    assert summary["margin_call_reason"] == "equity"
    assert any(note.startswith("margin call at bar 88") for note in summary["notes"])  # the report's header
    assert summary["ruined"] is True
    assert (
        trades[["entry_bar", "exit_bar"]].values.tolist()
        == reference[["EntryBar", "ExitBar"]].values.tolist()
    )
    assert trades["reason"].iloc[-1] == "margin_call"
    assert trades["exit_price"].iloc[-1] == pytest.approx(reference["ExitPrice"].iloc[-1], rel=1e-12)
    # Nothing opens after the call, to the end of the data.
    assert len(trades) == len(reference)
    assert summary["executions_open"] == 0
    assert summary["sharpe_ratio"] is None or summary["sharpe_ratio"] <= 0
    assert summary["sortino_ratio"] is None or summary["sortino_ratio"] <= 0


def test_a_maintenance_margin_calls_before_equity_reaches_zero(tmp_path: Path) -> None:
    from backtesting.test import BTCUSD

    frame = BTCUSD.iloc[:100]
    without = json.loads((_replay(tmp_path / "a", frame) / "summary.json").read_text())
    with_margin = json.loads(
        (_replay(tmp_path / "b", frame, maintenance_margin=0.5) / "summary.json").read_text()
    )
    assert without["margin_call_bar"] == 88
    assert with_margin["margin_call_reason"] == "maintenance"
    assert with_margin["margin_call_bar"] < 88
    assert with_margin["equity_final"] > 0


def test_leverage_multiplies_the_position(tmp_path: Path) -> None:
    from backtesting.test import GOOG

    frame = GOOG.iloc[:200]
    plain = pd.read_csv(_replay(tmp_path / "a", frame) / "trades.csv")
    levered = pd.read_csv(_replay(tmp_path / "b", frame, leverage=2.0) / "trades.csv")
    assert levered["size"].iloc[0] == pytest.approx(2 * plain["size"].iloc[0], abs=1)


def test_a_ruined_run_never_reports_a_positive_sharpe_or_sortino() -> None:
    # Big gains, then a loss of everything: the arithmetic mean return stays positive.
    equity = [100.0, 200.0, 300.0, 600.0, 1200.0, -50.0, -50.0]
    timeline = pd.DataFrame(
        {
            "timestamp": pd.date_range("2020-01-01", periods=len(equity), freq="D").strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "close": 1.0,
            "equity": equity,
            "position": 0.0,
        }
    )
    trades = pd.DataFrame({"profit": [], "return_pct": [], "costs": []})
    stats = compute_statistics(timeline, trades, bars_per_year=252)
    alive = compute_statistics(timeline.iloc[:5], trades, bars_per_year=252)
    assert stats["ruined"] is True
    assert alive["ruined"] is False
    assert alive["sharpe_ratio"] is not None
    assert alive["sharpe_ratio"] > 0
    assert stats["sharpe_ratio"] == 0.0
    assert stats["sortino_ratio"] == 0.0
    assert stats["return_pct"] == pytest.approx(-150.0)
