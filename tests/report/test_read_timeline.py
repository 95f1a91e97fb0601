"""read_timeline and load_run's partial reads: the values of a whole read, a chunk at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.errors import DataValidationError
from tengri.report import load_run, run_folder
from tengri.report.run_folder import _zulu_times, parse_timestamps, read_timeline

from .conftest import MakeRun


def _whole(path: Path, columns: list[str] | None = None, **options: object) -> pd.DataFrame:
    frame = pd.read_csv(path, usecols=columns, **options)  # type: ignore[call-overload]
    frame["timestamp"] = parse_timestamps(frame["timestamp"])
    return frame if columns is None else frame[columns]


def _timeline(tmp_path: Path, rows: int = 23) -> Path:
    times = pd.date_range("2024-01-01", periods=rows, freq="min", tz="UTC")
    position = np.arange(rows) % 3 - 1
    frame = pd.DataFrame(
        {
            "bar": np.arange(rows),
            "timestamp": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times],
            "close": 100 + np.cumsum(np.linspace(-0.3, 0.4, rows)) / 3,
            "position": position,
            "zone": ["cool" if i % 5 else "warm" for i in range(rows)],
            # Empty only in the last rows: an integer column in the first chunks, a float one later.
            "in_burst": [str(i % 2) if i < rows - 4 else "" for i in range(rows)],
        }
    )
    path = tmp_path / "timeline.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


@pytest.mark.parametrize("chunk_rows", [1, 5, 10_000])
@pytest.mark.parametrize(
    "columns", [None, ["timestamp", "close", "position"], ["in_burst", "timestamp", "zone"]]
)
def test_read_timeline_equals_a_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int, columns: list[str] | None
) -> None:
    path = _timeline(tmp_path)
    monkeypatch.setattr(run_folder, "CHUNK_ROWS", chunk_rows)
    for options in ({}, {"keep_default_na": False, "na_values": [""]}):
        got = read_timeline(path, columns, **options)
        pd.testing.assert_frame_equal(got, _whole(path, columns, **options), check_exact=True)


def test_read_timeline_of_the_header_alone(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    path.write_text("timestamp,close\n")
    frame = read_timeline(path, ["close", "timestamp"])
    assert list(frame.columns) == ["close", "timestamp"]
    assert frame.empty


def test_load_run_reads_only_the_columns_asked_for(make_run: MakeRun) -> None:
    run_dir = make_run()
    whole = load_run(run_dir)
    part = load_run(
        run_dir, timeline_columns=["timestamp", "equity", "not_there"], headers_only=("executions",)
    )
    pd.testing.assert_frame_equal(part.timeline, whole.timeline[["timestamp", "equity"]], check_exact=True)
    assert part.executions.empty
    assert list(part.executions.columns) == list(whole.executions.columns)
    pd.testing.assert_frame_equal(part.trades, whole.trades)


def test_a_partial_read_still_checks_the_timeline(make_run: MakeRun) -> None:
    run_dir = make_run()
    timeline = pd.read_csv(run_dir / "timeline.csv").drop(columns=["cash"])
    timeline.to_csv(run_dir / "timeline.csv", index=False)
    with pytest.raises(DataValidationError, match="cash"):
        load_run(run_dir, timeline_columns=["timestamp", "equity"])


def test_a_header_only_read_still_checks_the_columns(make_run: MakeRun) -> None:
    run_dir = make_run()
    executions = pd.read_csv(run_dir / "executions.csv").drop(columns=["status"])
    executions.to_csv(run_dir / "executions.csv", index=False)
    with pytest.raises(DataValidationError, match="status"):
        load_run(run_dir, headers_only=("executions",))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-2_000_000_000, 8_000_000_000), st.integers(0, 6), st.integers(0, 999_999)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["object", "str"]),
)
def test_the_journals_times_parse_as_pandas_parses_them(
    moments: list[tuple[int, int, int]], dtype: str
) -> None:
    """Arrow's parse of ``...Z`` times (0 to 6 digits of a second) is pandas' to the unit and dtype."""
    texts = []
    for seconds, digits, fraction in moments:
        text = pd.Timestamp(seconds, unit="s").strftime("%Y-%m-%dT%H:%M:%S")
        texts.append(f"{text}.{fraction:06d}"[: len(text) + 1 + digits] if digits else text)
    values = pd.Series(
        [f"{t}Z" for t in texts], dtype=dtype, name="timestamp", index=range(3, 3 + len(texts))
    )
    assert _zulu_times(values) is not None
    pd.testing.assert_series_equal(
        parse_timestamps(values), pd.to_datetime(values, utc=True, format="ISO8601")
    )


@pytest.mark.parametrize("block", [400, 1 << 22])
def test_read_account_columns_are_a_whole_reads_as_floats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Arrow's read, a block or many, is pandas' whole read: the same floats, NaN where a field is empty."""
    rows = 57
    rng = np.random.default_rng(3)
    times = pd.date_range("2024-01-01", periods=rows, freq="min", tz="UTC")
    frame = pd.DataFrame(
        {
            "bar": np.arange(rows),
            "timestamp": [
                t.strftime("%Y-%m-%dT%H:%M:%S.250000Z" if i == 4 else "%Y-%m-%dT%H:%M:%SZ")
                for i, t in enumerate(times)
            ],
            "close": 100 + rng.standard_normal(rows).cumsum() / 7,
            "equity": [
                repr(float(v)) if i != 9 else ""
                for i, v in enumerate(10_000 + rng.standard_normal(rows) * 1e3)
            ],
            "position": np.arange(rows) % 3 - 1,  # whole numbers: pandas reads them as integers
            "zone": ["cool"] * rows,
        }
    )
    path = tmp_path / "timeline.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    monkeypatch.setattr(run_folder, "_ARROW_BLOCK", block)
    monkeypatch.setattr(run_folder, "read_timeline", None)  # Arrow's read, not pandas' fallback
    got = run_folder.read_account_columns(path)
    whole = _whole(path, list(run_folder.ACCOUNT_COLUMNS), keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(got, whole.astype({"position": np.float64}), check_exact=True)
    assert np.isnan(got["equity"].iloc[9])


def test_read_account_columns_of_other_times_are_read_by_pandas(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    rows = ["2024-01-01 00:00:00+01:00,1.5,10,0", "2024-01-01 01:00:00+01:00,2,11,1"]
    path.write_text("timestamp,close,equity,position\n" + "\n".join(rows) + "\n")
    got = run_folder.read_account_columns(path)
    assert got["timestamp"].tolist() == list(
        pd.to_datetime(["2023-12-31 23:00", "2024-01-01 00:00"], utc=True)
    )
    assert got["position"].tolist() == [0.0, 1.0]
    assert got["position"].dtype == np.float64
