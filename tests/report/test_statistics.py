"""compute_statistics on hand-computed cases, edge cases, and against backtesting.py's compute_stats."""

from __future__ import annotations

import json
import math
import statistics as pystats
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tengri.errors import InvalidInputError
from tengri.report import compute_statistics, write_summary
from tengri.report.statistics import drawdown, drawdown_episodes


def _timeline(equity: list[float], close: list[float], position: list[float]) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=len(equity), freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": [t.isoformat() for t in times],
            "close": close,
            "equity": equity,
            "position": position,
        }
    )


def _trades(profit: list[float], return_pct: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"profit": profit, "return_pct": return_pct, "costs": [1.0] * len(profit)})


@pytest.fixture
def five_bars() -> dict[str, object]:
    # E = 100, 110, 99, 121, 121; one 10 % drawdown from bar 1 to bar 3; two trades +12 and −4.
    timeline = _timeline([100, 110, 99, 121, 121], [10, 11, 10, 12, 13], [0, 1, 1, 1, 0])
    return compute_statistics(timeline, _trades([12.0, -4.0], [12.0, -4.0]), bars_per_year=4)


def test_hand_computed_equity_figures(five_bars: dict[str, object]) -> None:
    s = five_bars
    assert s["bars"] == 5
    assert s["start"] == "2024-01-01T00:00:00+00:00"
    assert s["duration"] == pd.Timedelta(days=4).isoformat()
    assert s["equity_final"] == 121.0
    assert s["equity_peak"] == 121.0
    assert s["return_pct"] == pytest.approx(21.0)
    assert s["buy_and_hold_return_pct"] == pytest.approx(30.0)
    # held after bars 1..3, so bars 1..4 are in the market (bar 4 exits): 4 of 5.
    assert s["exposure_pct"] == pytest.approx(80.0)
    # 4 returns over N = 4 bars per year: exactly one year, so annualised = total = 21 %.
    assert s["annualised_return_pct"] == pytest.approx(21.0)
    assert s["max_drawdown_pct"] == pytest.approx(-10.0)
    assert s["average_drawdown_pct"] == pytest.approx(-10.0)
    assert s["max_drawdown_duration_bars"] == 2
    assert pd.Timedelta(str(s["max_drawdown_duration"])) == pd.Timedelta(days=2)
    assert s["calmar_ratio"] == pytest.approx(0.21 / 0.10)


def test_hand_computed_risk_ratios(five_bars: dict[str, object]) -> None:
    r = [0.1, -0.1, 121 / 99 - 1, 0.0]
    mean, std = pystats.fmean(r), pystats.stdev(r)
    assert five_bars["annualised_volatility_pct"] == pytest.approx(std * 2 * 100)
    assert five_bars["sharpe_ratio"] == pytest.approx(mean / std * 2)
    # downside deviation √(mean(min(r, 0)²)) = √(0.01 / 4) = 0.05
    assert five_bars["sortino_ratio"] == pytest.approx(mean / 0.05 * 2)


def test_hand_computed_trade_figures(five_bars: dict[str, object]) -> None:
    s = five_bars
    assert s["num_trades"] == 2
    assert s["total_costs"] == 2.0
    assert s["win_rate_pct"] == 50.0
    assert s["best_trade_pct"] == 12.0
    assert s["worst_trade_pct"] == -4.0
    assert s["average_trade_pct"] == pytest.approx((math.sqrt(1.12 * 0.96) - 1) * 100)
    assert s["profit_factor"] == pytest.approx(3.0)
    assert s["expectancy"] == pytest.approx(4.0)
    assert s["expectancy_pct"] == pytest.approx(4.0)
    # √2 · mean 4 / stdev(12, −4) = √2 · 4 / (16/√2) = 0.5
    assert s["sqn"] == pytest.approx(0.5)


def test_risk_free_rate_lowers_sharpe() -> None:
    timeline = _timeline([100, 101, 103, 102, 105], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1])
    free = compute_statistics(timeline, _trades([], []), bars_per_year=252)
    costly = compute_statistics(timeline, _trades([], []), bars_per_year=252, risk_free=0.05)
    assert isinstance(free["sharpe_ratio"], float)
    assert isinstance(costly["sharpe_ratio"], float)
    assert costly["sharpe_ratio"] < free["sharpe_ratio"]


def test_drawdown_episodes_include_an_unrecovered_tail() -> None:
    dd = drawdown(np.array([100.0, 90.0, 100.0, 100.0, 95.0, 80.0]))
    assert drawdown_episodes(dd) == [(0, 2, pytest.approx(0.1)), (3, 5, pytest.approx(0.2))]


@pytest.mark.parametrize(
    ("equity", "close", "position"),
    [
        ([1000.0, 1000.0, 1000.0, 1000.0], [5.0, 5.0, 5.0, 5.0], [0, 0, 0, 0]),  # flat, no trades
        ([1000.0], [5.0], [0]),  # a single bar
        ([1000.0, 0.0, 0.0], [5.0, 4.0, 3.0], [1, 0, 0]),  # ruin
    ],
    ids=["flat", "single-bar", "ruin"],
)
def test_degenerate_runs_give_strict_json(
    equity: list[float], close: list[float], position: list[float], tmp_path: Path
) -> None:
    stats = compute_statistics(_timeline(equity, close, position), _trades([], []), bars_per_year=252)
    text = json.dumps(stats, allow_nan=False)  # raises on NaN or infinity
    assert stats["num_trades"] == 0
    assert stats["win_rate_pct"] is None
    assert stats["profit_factor"] is None
    assert stats["sqn"] is None
    if len(equity) < 3 or equity[-1] == equity[0]:
        assert stats["sharpe_ratio"] is None
        assert stats["sortino_ratio"] is None
    assert json.loads(write_summary(tmp_path, stats).read_text()) == json.loads(text)


def test_flat_equity_has_zero_drawdown_and_no_ratios() -> None:
    stats = compute_statistics(_timeline([50.0] * 6, [1.0] * 6, [0] * 6), _trades([], []), bars_per_year=252)
    assert stats["max_drawdown_pct"] == 0.0
    assert stats["max_drawdown_duration_bars"] == 0
    assert stats["calmar_ratio"] is None
    assert stats["annualised_volatility_pct"] == 0.0
    assert stats["exposure_pct"] == 0.0


def test_only_winning_trades_have_no_profit_factor_but_a_win_rate() -> None:
    stats = compute_statistics(
        _timeline([100.0, 110.0], [1.0, 1.0], [1, 0]), _trades([10.0], [10.0]), bars_per_year=252
    )
    assert stats["profit_factor"] is None
    assert stats["win_rate_pct"] == 100.0
    assert stats["sqn"] is None


def test_rejects_empty_timeline_and_bad_bars_per_year() -> None:
    with pytest.raises(InvalidInputError):
        compute_statistics(_timeline([], [], []), _trades([], []), bars_per_year=252)
    with pytest.raises(InvalidInputError):
        compute_statistics(_timeline([1.0], [1.0], [0]), _trades([], []), bars_per_year=0)


def test_write_summary_is_sorted_strict_json(tmp_path: Path) -> None:
    path = write_summary(
        tmp_path, {"b": float("nan"), "a": np.float64(1.5), "c": np.int64(3), "d": float("inf")}
    )
    assert path == tmp_path / "summary.json"
    text = path.read_text()
    assert json.loads(text) == {"a": 1.5, "b": None, "c": 3, "d": None}
    assert text.index('"a"') < text.index('"b"') < text.index('"c"')
    assert "NaN" not in text
    assert "Infinity" not in text
