"""Resampling to higher timeframes: completed buckets only, aligned to the base bars without look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.data import COMPLETED_AT, OHLCV_COLUMNS, align_to_base, load_ohlcv, resample_ohlcv
from tengri.errors import DataValidationError, InvalidInputError

HOUR = pd.Timedelta("1h")


def hourly_bars(stamps: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Return consistent random OHLCV bars at ``stamps``."""
    rng = np.random.default_rng(seed)
    n_bars = len(stamps)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0.0, 0.5, (2, n_bars))
    frame = pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) + spread[0],
            "Low": np.minimum(open_, close) - spread[1],
            "Close": close,
            "Volume": rng.integers(0, 1000, n_bars).astype(np.float64),
        },
        index=pd.DatetimeIndex(stamps, name="timestamp").as_unit("ns"),
    )
    return frame.loc[:, list(OHLCV_COLUMNS)]


def grid(start: str, periods: int, freq: str = "h") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq=freq, tz="UTC")


def aggregate(bars: pd.DataFrame) -> list[float]:
    """The reference aggregation of a bucket's bars, written the obvious way."""
    return [
        bars["Open"].iloc[0],
        bars["High"].max(),
        bars["Low"].min(),
        bars["Close"].iloc[-1],
        bars["Volume"].sum(),
    ]


def test_four_hour_bars_from_hourly_bars() -> None:
    bars = hourly_bars(grid("2024-01-01 00:00", 8))

    higher = resample_ohlcv(bars, rule="4h")

    assert list(higher.index) == list(grid("2024-01-01", 2, "4h"))
    assert list(higher.columns) == [*OHLCV_COLUMNS, COMPLETED_AT]
    assert list(higher[COMPLETED_AT]) == [bars.index[3], bars.index[7]]
    for label, row in higher.iterrows():
        bucket = bars.loc[label : label + pd.Timedelta("4h") - HOUR]
        np.testing.assert_allclose(row[list(OHLCV_COLUMNS)].to_numpy(dtype=float), aggregate(bucket))


def test_trailing_incomplete_bucket_is_dropped() -> None:
    bars = hourly_bars(grid("2024-01-01 00:00", 7))

    higher = resample_ohlcv(bars, rule="4h")

    assert list(higher.index) == [pd.Timestamp("2024-01-01", tz="UTC")]


def test_bucket_cut_short_by_a_gap_completes_with_the_next_bar() -> None:
    stamps = grid("2024-01-01 00:00", 12).delete([2, 3, 4])  # 02:00-04:00 missing

    higher = resample_ohlcv(hourly_bars(stamps), rule="4h", bar_interval="1h")

    assert higher[COMPLETED_AT].iloc[0] == pd.Timestamp("2024-01-01 05:00", tz="UTC")
    assert higher["Volume"].iloc[0] == hourly_bars(stamps)["Volume"].iloc[:2].sum()


def test_data_starting_mid_bucket_drops_that_bucket() -> None:
    higher = resample_ohlcv(hourly_bars(grid("2024-01-01 01:00", 11)), rule="4h")

    assert list(higher.index) == list(grid("2024-01-01 04:00", 2, "4h"))


def test_factor_makes_blocks_of_rows_from_the_first_row() -> None:
    bars = hourly_bars(grid("2024-01-01 05:00", 7))

    higher = resample_ohlcv(bars, factor=3)

    assert list(higher.index) == [bars.index[0], bars.index[3]]
    assert list(higher[COMPLETED_AT]) == [bars.index[2], bars.index[5]]
    np.testing.assert_allclose(higher.iloc[1, :5].to_numpy(dtype=float), aggregate(bars.iloc[3:6]))


def test_weekly_bars_from_daily_sample_start_on_mondays() -> None:
    daily = load_ohlcv("sample:goog_d1")

    weekly = resample_ohlcv(daily, rule="W-MON")

    assert set(weekly.index.day_of_week) == {0}
    assert (weekly[COMPLETED_AT] > weekly.index).all()
    assert weekly["Volume"].sum() <= daily["Volume"].sum()


def test_monthly_bars_label_the_first_of_the_month() -> None:
    monthly = resample_ohlcv(load_ohlcv("sample:eurusd_h1"), rule="MS")

    assert set(monthly.index.day) == {1}
    assert monthly.index[0] == pd.Timestamp("2017-05-01", tz="UTC")  # April starts mid-month
    assert monthly.index[-1] == pd.Timestamp("2018-01-01", tz="UTC")  # February is not complete


@pytest.mark.parametrize(
    "arguments",
    [{}, {"factor": 2, "rule": "4h"}, {"factor": 0}, {"factor": True}, {"rule": "nonsense"}, {"rule": "-4h"}],
)
def test_bad_arguments_are_rejected(arguments: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="resample_ohlcv"):
        resample_ohlcv(hourly_bars(grid("2024-01-01", 8)), **arguments)  # type: ignore[arg-type]


def test_unvalidated_frames_are_rejected() -> None:
    bars = hourly_bars(grid("2024-01-01", 8)).iloc[::-1]

    with pytest.raises(DataValidationError, match="strictly increasing"):
        resample_ohlcv(bars, rule="4h")


def test_align_to_base_needs_completion_times() -> None:
    bars = hourly_bars(grid("2024-01-01", 8))

    with pytest.raises(DataValidationError, match="completed_at"):
        align_to_base(bars, bars.index)


def test_align_to_base_waits_for_completion() -> None:
    bars = hourly_bars(grid("2024-01-01 00:00", 10))

    aligned = align_to_base(resample_ohlcv(bars, rule="4h"), bars.index, prefix="h4_")

    assert aligned.index.equals(bars.index)
    assert aligned["h4_Close"].iloc[:3].isna().all()
    assert (aligned["h4_Close"].iloc[3:7] == bars["Close"].iloc[3]).all()
    assert (aligned["h4_Close"].iloc[7:] == bars["Close"].iloc[7]).all()
    assert aligned["h4_bucket_start"].iloc[7] == pd.Timestamp("2024-01-01 04:00", tz="UTC")


@st.composite
def gappy_hourly_bars(draw: st.DrawFn) -> pd.DataFrame:
    """Hourly bars with random missing hours, starting at a random hour."""
    n_slots = draw(st.integers(min_value=1, max_value=80))
    present = draw(st.lists(st.booleans(), min_size=n_slots, max_size=n_slots))
    start = pd.Timestamp("2024-01-01", tz="UTC") + draw(st.integers(0, 47)) * HOUR
    stamps = pd.date_range(start, periods=n_slots, freq="h")[np.array(present, dtype=bool)]
    return hourly_bars(stamps, seed=draw(st.integers(0, 2**16)))


RULES = st.sampled_from(["2h", "3h", "4h", "6h", "1D"])


@settings(max_examples=150, deadline=None)
@given(bars=gappy_hourly_bars(), rule=RULES, cut=st.integers(min_value=0, max_value=80))
def test_resampled_prefix_is_a_prefix_of_the_resampled_whole(bars: pd.DataFrame, rule: str, cut: int) -> None:
    full = resample_ohlcv(bars, rule=rule, bar_interval="1h")
    prefix = bars.iloc[:cut]

    partial = resample_ohlcv(prefix, rule=rule, bar_interval="1h")

    pd.testing.assert_frame_equal(partial, full.iloc[: len(partial)])
    step = pd.Timedelta(rule)
    for label, row in partial.iterrows():
        # Every bar of the whole data that belongs to the bucket is already in the prefix.
        members = bars.loc[(bars.index >= label) & (bars.index < label + step)]
        assert members.index[-1] <= prefix.index[-1]
        assert row[COMPLETED_AT] <= prefix.index[-1]
        assert row[COMPLETED_AT] >= members.index[-1]
        np.testing.assert_allclose(row[list(OHLCV_COLUMNS)].to_numpy(dtype=float), aggregate(members))


@settings(max_examples=100, deadline=None)
@given(bars=gappy_hourly_bars(), factor=st.integers(1, 7), cut=st.integers(min_value=0, max_value=80))
def test_factor_prefix_is_a_prefix_of_the_whole(bars: pd.DataFrame, factor: int, cut: int) -> None:
    full = resample_ohlcv(bars, factor=factor)

    partial = resample_ohlcv(bars.iloc[:cut], factor=factor)

    assert len(partial) == min(cut, len(bars)) // factor
    pd.testing.assert_frame_equal(partial, full.iloc[: len(partial)])


@settings(max_examples=50, deadline=None)
@given(n_bars=st.integers(2, 60), start_hour=st.integers(0, 23), rule=RULES, cut=st.integers(2, 60))
def test_inferred_spacing_on_regular_bars_keeps_the_prefix_property(
    n_bars: int, start_hour: int, rule: str, cut: int
) -> None:
    bars = hourly_bars(grid("2024-01-01", n_bars) + start_hour * HOUR)

    full = resample_ohlcv(bars, rule=rule)
    partial = resample_ohlcv(bars.iloc[:cut], rule=rule)

    pd.testing.assert_frame_equal(partial, full.iloc[: len(partial)])
    pd.testing.assert_frame_equal(full, resample_ohlcv(bars, rule=rule, bar_interval="1h"))


@settings(max_examples=40, deadline=None)
@given(bars=gappy_hourly_bars(), rule=RULES)
def test_align_to_base_only_uses_bars_completed_by_then(bars: pd.DataFrame, rule: str) -> None:
    higher = resample_ohlcv(bars, rule=rule, bar_interval="1h")

    aligned = align_to_base(higher, bars.index)

    for position, stamp in enumerate(bars.index):
        # What a live system would know at this bar: the resampling of the bars up to it.
        known = resample_ohlcv(bars.iloc[: position + 1], rule=rule, bar_interval="1h")
        row = aligned.iloc[position]
        if known.empty:
            assert row.isna().all()
            continue
        assert row[COMPLETED_AT] <= stamp
        assert row["bucket_start"] == known.index[-1]
        pd.testing.assert_series_equal(
            row[[*OHLCV_COLUMNS, COMPLETED_AT]], known.iloc[-1], check_names=False, check_dtype=False
        )
