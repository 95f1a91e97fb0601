"""No look-ahead: a feature at bar t never changes when later bars are appended, and leaks are caught."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.errors import InvalidInputError
from tengri.features import LookaheadReport, check_lookahead, compute_features, warmup_bars

SAMPLE_CUTS = {"eurusd_h1": 5000, "goog_d1": 2148}


@pytest.mark.parametrize("name", ["eurusd_h1", "goog_d1"])
@settings(max_examples=15, deadline=None)
@given(fraction=st.floats(min_value=0.0, max_value=1.0))
def test_features_up_to_a_random_cut_equal_the_full_series_exactly(
    name: str,
    fraction: float,
    sample_bars: dict[str, pd.DataFrame],
    sample_features: dict[str, pd.DataFrame],
) -> None:
    bars, full = sample_bars[name], sample_features[name]
    cut = warmup_bars() + round(fraction * (len(bars) - 1 - warmup_bars()))
    truncated = compute_features(bars.iloc[: cut + 1])
    # Exact: TA-Lib and pandas run the same forward recursions on the same leading bars.
    np.testing.assert_array_equal(truncated.to_numpy(), full.iloc[: cut + 1].to_numpy())


@pytest.mark.parametrize("name", ["eurusd_h1", "goog_d1"])
def test_check_lookahead_passes_compute_features_on_both_samples(
    name: str, sample_bars: dict[str, pd.DataFrame]
) -> None:
    report = check_lookahead(sample_bars[name])
    assert report.ok, report.message
    assert len(report.cut_points) == 20
    assert report.cut_points[0] == warmup_bars()
    assert report.cut_points[-1] == SAMPLE_CUTS[name] - 2
    assert report.column is None
    assert report.timestamp is None
    assert str(report).startswith("ok: no look-ahead at 20 cut point(s) over 51 column(s)")


def _with_leak(
    name: str, leak: Callable[[pd.DataFrame], pd.Series]
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def compute(bars: pd.DataFrame) -> pd.DataFrame:
        features = compute_features(bars, higher_factors=(4,))
        features[name] = leak(bars)
        return features

    return compute


def test_a_shift_minus_one_feature_is_caught_and_named(eurusd: pd.DataFrame) -> None:
    bars = eurusd.iloc[:1500]
    compute = _with_leak("next_close", lambda bars: bars["Close"].shift(-1))
    report = check_lookahead(bars, compute, n_cuts=5)
    assert not report.ok
    assert report.column == "next_close"
    assert report.columns == ("next_close",)
    first_cut = report.cut_points[0]
    assert first_cut == 135  # warm-up of factors (4,); the full result's last row is NaN, not row 135
    assert report.cut_point == first_cut
    assert report.timestamp == bars.index[first_cut]
    assert report.truncated_value is not None
    assert np.isnan(report.truncated_value)
    assert report.full_value == bars["Close"].iloc[first_cut + 1]
    assert "column next_close differs" in report.message
    assert "5 of 5 cut point(s) differ" in report.message


def test_a_centred_rolling_window_is_caught_and_named(eurusd: pd.DataFrame) -> None:
    compute = _with_leak(
        "centred_mean", lambda bars: bars["Close"].rolling(5, center=True, min_periods=1).mean()
    )
    report = check_lookahead(eurusd.iloc[:1500], compute, n_cuts=4)
    assert not report.ok
    assert report.column == "centred_mean"
    assert report.columns == ("centred_mean",)
    # With min_periods=1 the edge values are numbers on both sides but differ in value.
    assert report.truncated_value is not None
    assert np.isfinite(report.truncated_value)
    assert report.truncated_value != report.full_value


def test_a_full_sample_statistic_is_caught(eurusd: pd.DataFrame) -> None:
    compute = _with_leak("demeaned", lambda bars: bars["Close"] - bars["Close"].mean())
    report = check_lookahead(eurusd.iloc[:1000], compute, n_cuts=3)
    assert not report.ok
    assert report.column == "demeaned"
    assert report.timestamp == eurusd.index[0]  # every row differs; the earliest is reported


def test_a_small_tolerance_does_not_hide_a_leak_but_forgives_rounding(eurusd: pd.DataFrame) -> None:
    bars = eurusd.iloc[:1000]
    full_length = len(bars)

    def noisy(frame: pd.DataFrame) -> pd.Series:
        # A last-digit difference that depends on the length, as a different float path might give.
        return frame["Close"] * (1.0 + 1e-15 * (len(frame) == full_length))

    assert not check_lookahead(bars, noisy, n_cuts=3).ok
    assert check_lookahead(bars, noisy, n_cuts=3, rtol=1e-12).ok


def test_predictions_without_the_last_row_on_a_shorter_input_are_a_row_difference(
    eurusd: pd.DataFrame,
) -> None:
    def predictions(bars: pd.DataFrame) -> pd.Series:
        # Wrongly keeps a row only once the next bar exists: the row set itself looks ahead.
        return bars["Close"].iloc[:-1].rename("prediction")

    report = check_lookahead(eurusd.iloc[:300], predictions, cut_points=[100, 200])
    assert not report.ok
    assert report.column is None
    assert report.timestamp == eurusd.index[100]
    assert "missing from the truncated result" in report.message


def test_a_series_compute_and_every_cut_point(eurusd: pd.DataFrame) -> None:
    bars = eurusd.iloc[:120]
    report = check_lookahead(bars, lambda bars: bars["Close"].ewm(span=10).mean(), cut_points="all")
    assert report.ok
    assert report.cut_points == tuple(range(118 + 1))


def test_explicit_cut_points_are_sorted_and_checked(eurusd: pd.DataFrame) -> None:
    bars = eurusd.iloc[:900]
    report = check_lookahead(bars, cut_points=[899, 850, 816, 850])
    assert isinstance(report, LookaheadReport)
    assert report.ok
    assert report.cut_points == (816, 850, 899)
    with pytest.raises(InvalidInputError, match="cut points"):
        check_lookahead(bars, cut_points=[900])
    with pytest.raises(InvalidInputError, match="cut_points"):
        check_lookahead(bars, cut_points="some")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="atol"):
        check_lookahead(bars, atol=-1.0)


def test_compute_must_return_a_frame_of_numbers(eurusd: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="DataFrame or Series"):
        check_lookahead(eurusd.iloc[:50], lambda bars: bars.to_numpy())
    with pytest.raises(InvalidInputError, match="numbers"):
        check_lookahead(eurusd.iloc[:50], lambda bars: bars.assign(label="up"))
