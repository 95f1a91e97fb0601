"""The feed's watch: gaps reported, out-of-order and impossible bars refused, a stale feed blocks entries."""

from __future__ import annotations

import pytest

from tengri.live import Bar, FeedWatch

DAY = 86_400.0


def bar(t: float, close: float = 10.0) -> Bar:
    return Bar(t, close, close + 1, close - 1, close, 100.0)


def test_a_gap_is_reported_and_the_bar_used() -> None:
    watch = FeedWatch(interval=DAY, max_gap=1.5)
    assert watch.admit(bar(0), 0)
    assert watch.admit(bar(DAY), 1)
    assert watch.admit(bar(4 * DAY), 2)  # two bars missing
    assert watch.counts["gap"] == 1
    assert watch.events[-1].kind == "gap"
    assert "about 2 bar(s) missing" in watch.events[-1].detail


@pytest.mark.parametrize("when", [0.0, -DAY])
def test_a_repeat_or_an_older_bar_is_refused(when: float) -> None:
    watch = FeedWatch(interval=DAY)
    assert watch.admit(bar(0), 0)
    assert not watch.admit(bar(when, close=99), 1)
    assert watch.counts["out_of_order"] == 1
    assert watch.last_bar == bar(0)


def test_an_impossible_bar_is_refused() -> None:
    watch = FeedWatch(interval=DAY)
    assert not watch.admit(Bar(0, 10, 9, 8, 10, 1), 0)  # high under the open
    assert not watch.admit(Bar(0, 10, 11, 9, float("nan"), 1), 0)
    assert watch.counts["invalid"] == 2
    assert watch.last_bar is None


def test_an_unknown_interval_is_the_median_spacing_of_the_first_bars() -> None:
    watch = FeedWatch()
    for i, t in enumerate([0, 1, 2, 5, 6, 7]):  # a weekend-like 3-day spacing among days
        watch.admit(bar(t * DAY), i)
    assert watch.interval == DAY


def test_a_stale_feed_blocks_entries_until_a_bar_after_the_next() -> None:
    watch = FeedWatch(interval=60.0, stale_intervals=3)
    watch.admit(bar(0), 1000.0)
    assert not watch.check(1000.0 + 180.0)
    assert watch.entries_allowed
    assert watch.check(1000.0 + 181.0)
    assert not watch.entries_allowed
    assert watch.counts["stale"] == 1
    watch.admit(bar(60), 1300.0)  # the first bar after: still no entry on it
    assert not watch.stale
    assert not watch.entries_allowed
    watch.admit(bar(120), 1360.0)
    assert watch.entries_allowed
