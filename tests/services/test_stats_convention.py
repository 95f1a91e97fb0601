"""report.stats_convention changes the figures a run's summary.json reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tengri.config import TengriConfig
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross


def _summary(tmp_path: Path, convention: str) -> dict[str, object]:
    from backtesting.test import GOOG

    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={
            "max_open_executions": 1,
            "holding_bars": None,
            "trade_patterns": False,
            "min_confidence": 0.0,
        },
        report={"stats_convention": convention},
    )
    outcome = run_replay(config, GOOG.iloc[:400], strategy=SmaCross(), build_html=False)
    return json.loads((outcome.run_dir / "summary.json").read_text())


def test_the_backtesting_py_convention_changes_the_ratios(tmp_path: Path) -> None:
    tengri = _summary(tmp_path / "a", "tengri")
    theirs = _summary(tmp_path / "b", "backtesting.py")
    assert tengri["return_pct"] == pytest.approx(theirs["return_pct"])
    assert tengri["sharpe_ratio"] != theirs["sharpe_ratio"]
    assert tengri["buy_and_hold_return_pct"] != theirs["buy_and_hold_return_pct"]
