"""Risk limits: each triggers, is counted, and prevents what it says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.strategy_engine import strategy_engine

from tengri.config import RiskConfig, TengriConfig
from tengri.engine import (
    ManualClock,
    Strategy,
    StrategySource,
    SystemOrchestrator,
    Target,
)
from tengri.engine._kernel_reference import RiskMarks
from tengri.engine.risk import RiskGuard
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross

T0 = 1_700_000_000.0  # 6,400 s before a UTC midnight


class AlwaysLong(Strategy):
    """Asks every tick to hold a fresh long position (closing the last one)."""

    def next(self) -> Target:
        return Target(1, reopen=True)


def _orchestrator(
    sources: list[StrategySource] | None = None, slots: int = 1, **risk: Any
) -> SystemOrchestrator:
    clock = ManualClock(T0)
    trading = {"fill_policy": "this_tick", "max_open_executions": slots, "commission": 0.0}
    return strategy_engine(clock, sources or [StrategySource(AlwaysLong())], trading, risk=risk)


def test_the_drawdown_kill_switch_flattens_and_stops_entries() -> None:
    engine = _orchestrator(max_drawdown_pct=10.0)
    assert engine.process_tick(100.0, T0, symbol="X")["opened"]
    assert engine.process_tick(95.0, T0 + 60, symbol="X")["opened"]  # equity 9,500: 5 % down
    killed = engine.process_tick(80.0, T0 + 120, symbol="X")  # about 16 % below the peak
    assert [c["reason"] for c in killed["closed"]] == ["risk_kill"]
    assert killed["opened"] == []
    later = engine.process_tick(120.0, T0 + 180, symbol="X")
    assert later["opened"] == []
    assert later["open_executions"] == 0
    risk = engine.get_statistics()["risk"]
    assert risk["max_drawdown"] == 1
    assert risk["max_drawdown_refused"] == 2
    assert risk["killed_at_tick"] == 2


def test_the_daily_loss_limit_stops_entries_until_the_next_utc_day() -> None:
    engine = _orchestrator(max_daily_loss_pct=5.0)
    assert engine.process_tick(100.0, T0, symbol="X")["opened"]
    hit = engine.process_tick(94.0, T0 + 60, symbol="X")  # 6 % below the day's start
    assert [c["reason"] for c in hit["closed"]] == ["reopen"]
    assert hit["opened"] == []
    assert engine.process_tick(95.0, T0 + 120, symbol="X")["opened"] == []
    assert engine.process_tick(96.0, T0 + 7_000, symbol="X")["opened"]  # a new UTC day
    risk = engine.get_statistics()["risk"]
    assert risk["max_daily_loss"] == 1
    assert risk["max_daily_loss_refused"] == 2
    assert risk["killed_at_tick"] is None


@pytest.mark.parametrize(
    ("risk", "units"),
    [({"max_gross_exposure": 0.5}, 50.0), ({"max_position_fraction": 0.3}, 30.0)],
)
def test_exposure_caps_cut_the_entry(risk: dict[str, float], units: float) -> None:
    [uncapped] = _orchestrator().process_tick(100.0, T0, symbol="X")["opened"]
    engine = _orchestrator(**risk)
    [opened] = engine.process_tick(100.0, T0, symbol="X")["opened"]
    assert uncapped["size"] == pytest.approx(100.0)  # all of the 10,000 in one slot
    assert opened["size"] == pytest.approx(units)
    [key] = risk
    assert engine.get_statistics()["risk"][key] == 1


def test_summary_json_counts_the_kill_switch(tmp_path: Path) -> None:
    from backtesting.test import GOOG

    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={
            "max_open_executions": 1,
            "holding_bars": None,
            "trade_patterns": False,
            "min_confidence": 0.0,
        },
        risk={"max_drawdown_pct": 10.0},
    )
    outcome = run_replay(config, GOOG, strategy=SmaCross(), build_html=False)
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    risk = summary["risk"]
    assert risk["max_drawdown"] == 1
    assert risk["max_drawdown_refused"] > 0
    assert any(note.startswith("risk: drawdown kill switch at bar") for note in summary["notes"])
    assert summary["max_drawdown_pct"] > -15.0  # flattened soon after a 10 % fall
    trades = pd.read_csv(outcome.run_dir / "trades.csv")
    assert trades["reason"].iloc[-1] == "risk_kill"
    assert trades["exit_bar"].iloc[-1] == risk["killed_at_tick"]


class LongOn(Strategy):
    """Long on its own symbol's first tick, silent on the others'."""

    symbol = ""

    def next(self) -> int | None:
        assert self.tick is not None
        return 1 if self.tick.symbol == self.symbol else None


def test_a_tick_for_one_symbol_marks_the_whole_account() -> None:
    sources = [
        StrategySource(LongOn(symbol="X", name="on-x")),
        StrategySource(LongOn(symbol="Y", name="on-y")),
    ]
    engine = _orchestrator(sources, slots=2)
    ledger = []
    for price, t, symbol in [
        (100.0, T0, "X"),
        (50.0, T0 + 1, "Y"),
        (110.0, T0 + 2, "X"),
        (60.0, T0 + 3, "Y"),
    ]:
        result = engine.process_tick(price, t, symbol=symbol)
        positions = sorted((p.symbol, p.size) for p in engine.desk.positions.values())
        ledger.append((result["equity"], engine.desk.config.cash + engine.desk.realised, positions))
    # Hand-computed: 50 units of X at 100 (half of 10,000), then 100 units of Y at 50.
    assert ledger == [
        (10_000.0, 10_000.0, [("X", 50.0)]),
        (10_000.0, 10_000.0, [("X", 50.0), ("Y", 100.0)]),
        (10_500.0, 10_000.0, [("X", 50.0), ("Y", 100.0)]),
        (11_500.0, 10_000.0, [("X", 50.0), ("Y", 100.0)]),  # Y's tick counts X's open profit
    ]


@settings(max_examples=300, deadline=None)
@given(
    daily=st.one_of(st.none(), st.floats(0.5, 50.0)),
    drawdown=st.one_of(st.none(), st.floats(0.5, 50.0)),
    steps=st.lists(
        st.tuples(st.floats(-2_000.0, 3_000.0), st.floats(0.0, 200_000.0)), min_size=1, max_size=60
    ),
)
def test_the_compiled_mark_is_the_python_mark(
    daily: float | None, drawdown: float | None, steps: list[tuple[float, float]]
) -> None:
    """Equity (losses past zero too) over days, holidays and gaps: the same trips, hits and state."""
    guard = RiskGuard(RiskConfig(max_daily_loss_pct=daily, max_drawdown_pct=drawdown))
    reference = RiskMarks(daily, drawdown)
    t = T0
    for index, (equity, gap) in enumerate(steps):
        t += gap
        assert guard.mark(equity, t, index) == reference.mark(equity, t, index)
    state = guard.snapshot()
    assert (state["peak"], state["killed_at"], state["day"], state["blocked_day"]) == (
        reference.peak,
        reference.killed_at,
        reference.day,
        reference.blocked_day,
    )
    assert (state["day_start"], state["last_equity"]) == (reference.day_start, reference.last_equity)
    hits = [name for name, _ in reference.hits]
    assert guard.counts["max_daily_loss"] == hits.count("max_daily_loss")
    assert guard.counts["max_drawdown"] == hits.count("max_drawdown")
    restored = RiskGuard(guard.config)
    restored.restore(json.loads(json.dumps(state)))
    assert restored.snapshot() == state
    assert restored.allows_entry(t) == guard.allows_entry(t)
