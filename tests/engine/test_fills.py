"""The fill model's rules for stops and targets inside a bar."""

from __future__ import annotations

import pytest
from tests.engine.strategy_engine import strategy_engine

from tengri.engine import (
    ManualClock,
    Strategy,
    StrategySource,
    SystemOrchestrator,
    Target,
)
from tengri.engine.fills import entry_fill, level_fill, levels


def test_a_long_stop_inside_the_bar_fills_at_the_stop() -> None:
    assert level_fill(1, sl=95.0, tp=110.0, open_=100.0, high=101.0, low=94.0) == (95.0, "stop_loss")


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    assert level_fill(1, sl=95.0, tp=None, open_=90.0, high=92.0, low=89.0) == (90.0, "stop_loss")
    assert level_fill(-1, sl=105.0, tp=None, open_=108.0, high=109.0, low=107.0) == (108.0, "stop_loss")


def test_a_gap_through_the_target_fills_at_the_better_open() -> None:
    assert level_fill(1, sl=None, tp=110.0, open_=112.0, high=113.0, low=111.0) == (112.0, "take_profit")
    assert level_fill(-1, sl=None, tp=90.0, open_=88.0, high=89.0, low=87.0) == (88.0, "take_profit")


def test_a_bar_touching_both_levels_is_the_stops() -> None:
    assert level_fill(1, sl=95.0, tp=105.0, open_=100.0, high=106.0, low=94.0) == (95.0, "stop_loss")
    assert level_fill(-1, sl=105.0, tp=95.0, open_=100.0, high=106.0, low=94.0) == (105.0, "stop_loss")


def test_a_bar_between_the_levels_fills_nothing() -> None:
    assert level_fill(1, sl=95.0, tp=105.0, open_=100.0, high=104.0, low=96.0) is None


def test_levels_from_fractions_unless_the_signal_gives_prices() -> None:
    assert levels(1, 100.0, None, None, 0.05, 0.1) == pytest.approx((95.0, 110.0))
    assert levels(-1, 100.0, None, None, 0.05, 0.1) == pytest.approx((105.0, 90.0))
    assert levels(1, 100.0, 97.0, None, 0.05, None) == (97.0, None)


def test_entry_orders_fill_as_backtesting_py_fills_them() -> None:
    assert entry_fill(1, limit=99.0, stop=None, open_=100.0, high=101.0, low=98.0) == 99.0
    assert entry_fill(1, limit=99.0, stop=None, open_=97.0, high=101.0, low=96.0) == 97.0  # gap: the open
    assert entry_fill(1, limit=95.0, stop=None, open_=100.0, high=101.0, low=98.0) is None
    assert entry_fill(-1, limit=101.0, stop=None, open_=100.0, high=102.0, low=98.0) == 101.0
    assert entry_fill(1, limit=None, stop=101.0, open_=100.0, high=102.0, low=98.0) == 101.0
    assert entry_fill(1, limit=None, stop=101.0, open_=103.0, high=104.0, low=102.0) == 103.0
    assert entry_fill(-1, limit=None, stop=99.0, open_=100.0, high=101.0, low=98.0) == 99.0
    assert entry_fill(1, limit=None, stop=None, open_=100.0, high=101.0, low=98.0) == 100.0


def test_a_limit_entry_waits_for_its_price_until_it_expires() -> None:
    class BuyTheDip(Strategy):
        def next(self) -> Target | None:
            return Target(1, limit=95.0, expiry=3) if len(self.closes) == 1 else None

    def engine() -> SystemOrchestrator:
        trading = {"max_open_executions": 1, "commission": 0.0}
        return strategy_engine(ManualClock(0.0), [StrategySource(BuyTheDip())], trading)

    filled = engine()
    bars = [(100.0, 101.0, 99.0, 100.0), (100.0, 101.0, 97.0, 98.0), (98.0, 99.0, 94.0, 96.0)]
    results = [
        filled.process_tick(c, float(i), symbol="X", open=o, high=h, low=lo)
        for i, (o, h, lo, c) in enumerate(bars)
    ]
    assert [r["opened"] for r in results[:2]] == [[], []]
    assert results[2]["opened"][0]["entry_price"] == 95.0

    lapsed = engine()
    never = [(100.0, 101.0, 99.0, 100.0)] + [(100.0, 101.0, 96.0, 100.0)] * 3 + [(100.0, 101.0, 90.0, 95.0)]
    results = [
        lapsed.process_tick(c, float(i), symbol="X", open=o, high=h, low=lo)
        for i, (o, h, lo, c) in enumerate(never)
    ]
    assert all(r["opened"] == [] for r in results)  # expired after 3 bars, before the dip
    assert lapsed.desk.pending == []
