"""The fill model's rules for stops and targets inside a bar."""

from __future__ import annotations

import pytest

from tengri.engine.fills import level_fill, levels


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
