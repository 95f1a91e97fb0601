"""The JSON-ready summary behind ``tengri data info``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tengri.data import OHLCVData, describe_ohlcv, read_ohlcv


def bars_at(stamps: list[str]) -> pd.DataFrame:
    count = len(stamps)
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "Open": np.full(count, 10.0),
            "High": np.linspace(11.0, 12.0, count),
            "Low": np.linspace(9.0, 8.0, count),
            "Close": np.full(count, 10.5),
            "Volume": np.arange(count, dtype=float),
        }
    )


def test_summary_of_a_frame_with_one_gap_and_a_repair() -> None:
    stamps = [
        "2024-01-01 00:00",
        "2024-01-01 01:00",
        "2024-01-01 01:00",
        "2024-01-01 02:00",
        "2024-01-01 05:00",
    ]
    data = read_ohlcv(bars_at(stamps), repair=True)

    summary = describe_ohlcv(data)

    assert summary == {
        "source": "<frame>",
        "rows": 4,
        "first": "2024-01-01T00:00:00+00:00",
        "last": "2024-01-01T05:00:00+00:00",
        "bar_interval": "PT1H",
        "bar_interval_seconds": 3600.0,
        "price_range": {"low": 8.0, "high": 12.0},
        "mean_volume": 2.0,
        "gaps": 1,
        "repairs": {"duplicates_dropped": 1},
        "notes": [],
    }
    assert json.loads(json.dumps(summary)) == summary


def test_summary_of_the_daily_sample() -> None:
    summary = describe_ohlcv(read_ohlcv("sample:goog_d1"))

    assert summary["rows"] == 2148
    assert summary["bar_interval"] == "P1D"
    assert summary["gaps"] > 300  # weekends and holidays count as gaps
    json.dumps(summary)


def test_summary_of_a_single_bar_has_no_interval() -> None:
    data = OHLCVData(frame=read_ohlcv(bars_at(["2024-01-01"])).frame, source="one", notes=("n",))

    summary = describe_ohlcv(data)

    assert (summary["rows"], summary["bar_interval"], summary["gaps"], summary["notes"]) == (
        1,
        None,
        0,
        ["n"],
    )


def test_fractional_intervals_format_as_iso_durations() -> None:
    data = read_ohlcv(bars_at(["2024-01-01 00:00:00", "2024-01-01 00:00:00.5", "2024-01-02 00:15:01"]))

    # The median of 0.5 s and 24 h 15 min 0.5 s.
    assert describe_ohlcv(data)["bar_interval"] == "PT12H7M30.5S"


def test_intervals_of_days_and_hours_format_as_iso_durations() -> None:
    data = read_ohlcv(bars_at(["2024-01-01 00:00", "2024-01-02 02:00"]))

    assert describe_ohlcv(data)["bar_interval"] == "P1DT2H"
