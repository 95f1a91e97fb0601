"""Long series are drawn from their buckets' extremes: every peak and trough kept, in time order."""

from __future__ import annotations

import numpy as np

from tengri.report.downsample import envelope


def test_a_short_series_is_drawn_whole() -> None:
    x = np.arange(10)
    y = np.linspace(0.0, 1.0, 10)
    kept_x, kept_y = envelope(x, y, points=10)
    assert kept_x is x
    assert kept_y is y


def test_a_long_series_keeps_each_buckets_extremes_in_order() -> None:
    rng = np.random.default_rng(7)
    x = np.arange(100_003)
    y = np.cumsum(rng.normal(size=x.size))
    y[500] = np.nan
    kept_x, kept_y = envelope(x, y, points=400)
    assert len(kept_x) <= 400 + 2
    assert np.all(np.diff(kept_x) > 0)
    assert kept_x[0] == 0
    assert kept_x[-1] == x[-1]
    np.testing.assert_array_equal(kept_y, y[kept_x])
    assert np.nanmax(kept_y) == np.nanmax(y)
    assert np.nanmin(kept_y) == np.nanmin(y)
    # 200 buckets (400 points, two per bucket) of 501 bars (100,003 / 200 rounded up): each keeps
    # its own lowest and highest bar.
    for start in range(0, x.size, 501):
        bucket = y[start : start + 501]
        assert int(np.nanargmax(bucket)) + start in kept_x
        assert int(np.nanargmin(bucket)) + start in kept_x


def test_series_drawn_together_share_their_times() -> None:
    x = np.arange(10_000)
    a = np.sin(x / 50.0)
    b = np.cos(x / 70.0)
    kept_x, kept_a, kept_b = envelope(x, a, b, points=200)
    np.testing.assert_array_equal(kept_a, a[kept_x])
    np.testing.assert_array_equal(kept_b, b[kept_x])
    assert int(np.argmax(a)) in kept_x
    assert int(np.argmin(b)) in kept_x
