"""Loading and validating OHLCV bars: real files in, a validated frame or a named error out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.data import OHLCV_COLUMNS, list_samples, load_ohlcv, read_ohlcv, validate_ohlcv
from tengri.errors import DataValidationError

HEADER = "timestamp,Open,High,Low,Close,Volume"
COLUMNS = HEADER.split(",")

# Five good hourly bars; the error cases break one cell and expect its row and column named.
GOOD_ROWS = (
    "2024-01-01 00:00:00,1.00,1.20,0.90,1.10,100",
    "2024-01-01 01:00:00,1.10,1.30,1.00,1.20,110",
    "2024-01-01 02:00:00,1.20,1.25,1.05,1.15,120",
    "2024-01-01 03:00:00,1.15,1.22,1.10,1.18,130",
    "2024-01-01 04:00:00,1.18,1.28,1.12,1.25,140",
)


def write_csv(
    directory: Path,
    rows: tuple[str, ...] | list[str] = GOOD_ROWS,
    *,
    header: str = HEADER,
    name: str = "bars.csv",
) -> Path:
    path = directory / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def with_cell(row: int, column: str, value: str, rows: tuple[str, ...] = GOOD_ROWS) -> list[str]:
    """Return ``rows`` with the cell at 1-based data ``row`` in ``column`` replaced by ``value``."""
    changed = list(rows)
    cells = changed[row - 1].split(",")
    cells[COLUMNS.index(column)] = value
    changed[row - 1] = ",".join(cells)
    return changed


def test_good_csv_loads_to_the_validated_form(tmp_path: Path) -> None:
    data = read_ohlcv(write_csv(tmp_path))

    frame = data.frame
    assert list(frame.columns) == list(OHLCV_COLUMNS)
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "timestamp"
    assert str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert frame["Volume"].tolist() == [100.0, 110.0, 120.0, 130.0, 140.0]
    assert data.source == str(tmp_path / "bars.csv")
    assert data.repairs == {}
    assert data.notes == ()


def test_load_ohlcv_returns_the_frame_of_read_ohlcv(tmp_path: Path) -> None:
    path = write_csv(tmp_path)

    pd.testing.assert_frame_equal(load_ohlcv(path), read_ohlcv(str(path)).frame)


@pytest.mark.parametrize(
    ("rows", "row", "column", "fragment"),
    [
        pytest.param(with_cell(3, "Close", "abc"), 3, "Close", "non-numeric value 'abc'", id="non-numeric"),
        pytest.param(with_cell(2, "Open", ""), 2, "Open", "missing value", id="empty-cell"),
        pytest.param(with_cell(4, "Volume", "NaN"), 4, "Volume", "missing value", id="nan"),
        pytest.param(with_cell(4, "High", "inf"), 4, "High", "infinite", id="infinite"),
        pytest.param(with_cell(5, "Low", "0"), 5, "Low", "must be positive", id="zero-price"),
        pytest.param(with_cell(2, "Open", "-1.1"), 2, "Open", "must be positive", id="negative-price"),
        pytest.param(with_cell(2, "Volume", "-5"), 2, "Volume", "volume is negative", id="negative-volume"),
        pytest.param(with_cell(3, "High", "0.8"), 3, "High", "below Low", id="high-below-low"),
        pytest.param(with_cell(4, "Close", "1.3"), 4, "Close", "outside [Low", id="close-above-high"),
        pytest.param(with_cell(4, "Close", "1.0"), 4, "Close", "outside [Low", id="close-below-low"),
        pytest.param(with_cell(2, "Open", "0.5"), 2, "Open", "outside [Low", id="open-below-low"),
        pytest.param(
            with_cell(4, "timestamp", "2024-01-01 02:00:00"),
            4,
            "timestamp",
            "duplicate timestamp",
            id="duplicate",
        ),
        pytest.param(
            with_cell(3, "timestamp", "2024-01-01 00:30:00"),
            3,
            "timestamp",
            "earlier than",
            id="out-of-order",
        ),
        pytest.param(
            with_cell(5, "timestamp", "not a date"),
            5,
            "timestamp",
            "unparseable timestamp",
            id="bad-timestamp",
        ),
        pytest.param(with_cell(2, "timestamp", ""), 2, "timestamp", "missing timestamp", id="no-timestamp"),
    ],
)
def test_bad_cell_is_reported_with_its_row_and_column(
    tmp_path: Path, rows: list[str], row: int, column: str, fragment: str
) -> None:
    path = write_csv(tmp_path, rows)

    with pytest.raises(DataValidationError) as caught:
        read_ohlcv(path)

    error = caught.value
    assert (error.row, error.column) == (row, column)
    assert str(path) in error.message
    assert f"row {row}" in error.message
    assert f"column {column}" in error.message
    assert fragment in error.message
    assert "\n" not in error.message


def test_the_first_offending_row_is_reported(tmp_path: Path) -> None:
    rows = with_cell(4, "High", "0.1", rows=tuple(with_cell(2, "Low", "1.5")))

    with pytest.raises(DataValidationError, match=r"row 2, column High: High 1\.3 is below Low 1\.5"):
        read_ohlcv(write_csv(tmp_path, rows))


def test_blank_line_inside_the_data_keeps_row_numbers_true_to_the_file(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS[:2], "", *GOOD_ROWS[2:]]

    with pytest.raises(DataValidationError, match="row 3, column timestamp: missing timestamp"):
        read_ohlcv(write_csv(tmp_path, rows))


def test_trailing_blank_lines_are_not_rows(tmp_path: Path) -> None:
    assert len(load_ohlcv(write_csv(tmp_path, [*GOOD_ROWS, "", ""]))) == 5


def test_missing_price_column_is_named(tmp_path: Path) -> None:
    rows = [",".join(row.split(",")[:2] + row.split(",")[3:]) for row in GOOD_ROWS]
    path = write_csv(tmp_path, rows, header="timestamp,Open,Low,Close,Volume")

    with pytest.raises(DataValidationError, match=r"missing column\(s\) High") as caught:
        read_ohlcv(path)
    assert caught.value.column == "High"


def test_missing_column_message_names_an_unnamed_header_cell_plainly(tmp_path: Path) -> None:
    path = tmp_path / "unnamed.csv"
    path.write_text(",Open,High,Low\n2024-01-01,1,2,0.5\n")
    with pytest.raises(DataValidationError, match=r"found: \(unnamed column 1\), Open, High, Low") as caught:
        read_ohlcv(path)
    assert "Unnamed" not in str(caught.value)


def test_file_without_a_timestamp_column_is_rejected(tmp_path: Path) -> None:
    rows = [row.split(",", 1)[1] for row in GOOD_ROWS]

    with pytest.raises(DataValidationError, match="no timestamp column"):
        read_ohlcv(write_csv(tmp_path, rows, header="Open,High,Low,Close,Volume"))


def test_two_timestamp_columns_are_ambiguous(tmp_path: Path) -> None:
    rows = [f"x,{row}" for row in GOOD_ROWS]

    with pytest.raises(DataValidationError, match="several timestamp columns"):
        read_ohlcv(write_csv(tmp_path, rows, header="Date," + HEADER))


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(DataValidationError, match=r"empty\.csv: empty file"):
        read_ohlcv(path)


def test_header_only_file_has_no_data_rows(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="no data rows"):
        read_ohlcv(write_csv(tmp_path, []))


def test_ragged_csv_is_a_parse_error(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS[:2], GOOD_ROWS[2] + ",1,2,3"]

    with pytest.raises(DataValidationError, match="cannot parse CSV"):
        read_ohlcv(write_csv(tmp_path, rows))


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"missing\.csv: file not found"):
        read_ohlcv(tmp_path / "missing.csv")


def test_unsupported_file_type_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bars.json"
    path.write_text("[]", encoding="utf-8")

    with pytest.raises(DataValidationError, match="unsupported file type"):
        read_ohlcv(path)


def test_numeric_timestamps_are_rejected(tmp_path: Path) -> None:
    rows = [f"{1_700_000_000 + 3600 * i},{row.split(',', 1)[1]}" for i, row in enumerate(GOOD_ROWS)]

    with pytest.raises(DataValidationError, match="row 1, column timestamp: numeric timestamp"):
        read_ohlcv(write_csv(tmp_path, rows))


def test_columns_match_in_any_case_and_volume_may_be_missing(tmp_path: Path) -> None:
    rows = [",".join([*row.split(",")[:5], "9.9"]) for row in GOOD_ROWS]
    path = write_csv(tmp_path, rows, header="DATE, open ,HIGH,low,Close,Adj Close")

    data = read_ohlcv(path)

    assert data.frame["Volume"].tolist() == [0.0] * 5
    assert data.frame["Close"].iloc[0] == 1.10
    assert data.notes == ("no Volume column; Volume set to 0.0", "ignored column(s): Adj Close")


def test_unnamed_first_column_holds_the_timestamps(tmp_path: Path) -> None:
    frame = load_ohlcv(write_csv(tmp_path, header=",Open,High,Low,Close,Volume"))

    assert frame.index[-1] == pd.Timestamp("2024-01-01 04:00", tz="UTC")


def test_naive_times_are_utc_and_aware_times_are_converted(tmp_path: Path) -> None:
    stamps = [
        "2024-01-01T00:00:00",
        "2024-01-01T03:00:00+02:00",
        "2024-01-01T02:00:00Z",
        "2023-12-31T22:00:00-05:00",
        "2024-01-01 04:00",
    ]
    rows = [f"{stamp},{row.split(',', 1)[1]}" for stamp, row in zip(stamps, GOOD_ROWS, strict=True)]

    frame = load_ohlcv(write_csv(tmp_path, rows))

    assert list(frame.index) == list(pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"))
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"


def test_non_iso_timestamps_follow_the_first_value_format(tmp_path: Path) -> None:
    rows = [f"{i + 10}.01.2024 09:00,{row.split(',', 1)[1]}" for i, row in enumerate(GOOD_ROWS)]

    frame = load_ohlcv(write_csv(tmp_path, rows))

    assert frame.index[0] == pd.Timestamp("2024-01-10 09:00", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2024-01-14 09:00", tz="UTC")


def test_frame_with_an_aware_index_is_converted_and_left_unmodified() -> None:
    index = pd.date_range("2024-03-01 09:30", periods=3, freq="D", tz="America/New_York", name="when")
    raw = pd.DataFrame(
        {"open": [10.0, 11, 12], "high": [11.0, 12, 13], "low": [9.0, 10, 11], "close": [10.5, 11.5, 12.5]},
        index=index,
    )
    before = raw.copy()

    data = read_ohlcv(raw)

    assert data.source == "<frame>"
    assert data.frame.index[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    pd.testing.assert_frame_equal(raw, before)


def test_frame_errors_count_rows_from_one() -> None:
    raw = pd.DataFrame(
        {
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "Open": [1.0, 1.0, 1.0],
            "High": [2.0, 2.0, 2.0],
            "Low": [0.5, 0.5, 0.5],
            "Close": [1.5, 2.5, 1.5],
        }
    )

    with pytest.raises(DataValidationError, match=r"^<frame>, row 2, column Close: Close 2.5 is outside"):
        validate_ohlcv(raw)


def test_validate_ohlcv_is_idempotent(tmp_path: Path) -> None:
    frame = load_ohlcv(write_csv(tmp_path))

    again, repairs = validate_ohlcv(frame, source="again")

    pd.testing.assert_frame_equal(again, frame)
    assert repairs == {}


def test_parquet_with_a_datetime_index_loads(tmp_path: Path) -> None:
    expected = load_ohlcv(write_csv(tmp_path))
    path = tmp_path / "bars.parquet"
    expected.tz_convert("Asia/Tokyo").to_parquet(path)

    pd.testing.assert_frame_equal(load_ohlcv(path), expected)


def test_parquet_with_a_timestamp_column_reports_bad_rows(tmp_path: Path) -> None:
    raw = load_ohlcv(write_csv(tmp_path)).reset_index()
    raw.loc[3, "Low"] = 5.0
    path = tmp_path / "bars.parquet"
    raw.to_parquet(path)

    with pytest.raises(
        DataValidationError, match=r"bars.parquet, row 4, column High: High 1.22 is below Low 5.0"
    ):
        read_ohlcv(path)


def test_corrupt_parquet_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file")

    with pytest.raises(DataValidationError, match="cannot read Parquet"):
        read_ohlcv(path)


@pytest.mark.parametrize(
    ("address", "rows", "first", "last"),
    [
        ("sample:eurusd_h1", 5000, "2017-04-19 09:00", "2018-02-07 15:00"),
        ("sample:goog_d1", 2148, "2004-08-19", "2013-03-01"),
        ("sample:aapl_d1", 3270, "2000-03-01", "2013-03-01"),
        ("sample:msft_d1", 3270, "2000-03-01", "2013-03-01"),
        ("sample:ibm_d1", 3270, "2000-03-01", "2013-03-01"),
    ],
)
def test_samples_load_with_their_row_counts(address: str, rows: int, first: str, last: str) -> None:
    data = read_ohlcv(address)

    assert data.source == address
    assert len(data.frame) == rows
    assert str(data.frame.index.tz) == "UTC"
    assert data.frame.index[0] == pd.Timestamp(first, tz="UTC")
    assert data.frame.index[-1] == pd.Timestamp(last, tz="UTC")
    assert data.repairs == {}


def test_list_samples_names_the_addresses() -> None:
    assert list_samples() == (
        "sample:aapl_d1",
        "sample:eurusd_h1",
        "sample:goog_d1",
        "sample:ibm_d1",
        "sample:msft_d1",
    )


def test_unknown_sample_lists_the_known_ones() -> None:
    with pytest.raises(
        DataValidationError, match="sample:nope: unknown sample; known samples: sample:aapl_d1, sample:eurusd"
    ):
        read_ohlcv("sample:nope")


def test_repair_drops_duplicates_and_sorts(tmp_path: Path) -> None:
    stamps = ["00:00", "02:00", "01:00", "01:00", "03:00"]
    rows = [
        f"2024-01-01 {stamp},{row.split(',', 1)[1]}" for stamp, row in zip(stamps, GOOD_ROWS, strict=True)
    ]
    path = write_csv(tmp_path, rows)

    data = read_ohlcv(path, repair=True)

    assert data.repairs == {"duplicates_dropped": 1, "rows_reordered": 2}
    assert list(data.frame.index.hour) == [0, 1, 2, 3]
    # The first of the duplicates (file row 3) is the one kept.
    assert data.frame["Open"].tolist() == [1.00, 1.20, 1.10, 1.18]


def test_repair_of_clean_data_changes_nothing(tmp_path: Path) -> None:
    data = read_ohlcv(write_csv(tmp_path), repair=True)

    assert data.repairs == {}


def test_repair_only_reorders_when_there_are_no_duplicates(tmp_path: Path) -> None:
    rows = [GOOD_ROWS[1], GOOD_ROWS[0], *GOOD_ROWS[2:]]

    assert read_ohlcv(write_csv(tmp_path, rows), repair=True).repairs == {"rows_reordered": 2}


def test_repair_does_not_hide_other_problems(tmp_path: Path) -> None:
    rows = [GOOD_ROWS[1], *with_cell(3, "Close", "nan")]

    with pytest.raises(DataValidationError, match="row 4, column Close: missing value"):
        read_ohlcv(write_csv(tmp_path, rows), repair=True)


def test_dates_that_fit_both_day_orders_are_ambiguous(tmp_path: Path) -> None:
    rows = [f"0{i + 1}.02.2024 09:00,{row.split(',', 1)[1]}" for i, row in enumerate(GOOD_ROWS)]

    with pytest.raises(DataValidationError, match="row 1, column timestamp: ambiguous dates"):
        read_ohlcv(write_csv(tmp_path, rows))


def test_month_first_dates_parse_when_only_that_order_fits(tmp_path: Path) -> None:
    rows = [f"01/{i + 28}/2024 09:00,{row.split(',', 1)[1]}" for i, row in enumerate(GOOD_ROWS[:4])]

    frame = load_ohlcv(write_csv(tmp_path, rows))

    assert frame.index[-1] == pd.Timestamp("2024-01-31 09:00", tz="UTC")


_MOMENTS = st.integers(-2_000_000_000, 8_000_000_000)  # seconds: 1906 to 2223


@st.composite
def _iso_column(draw: st.DrawFn) -> list[str | None]:
    """A column of ISO 8601 times in one of the forms files hold, some missing."""
    form = draw(st.sampled_from(["date", "space", "T", "fraction", "Z", "offset", "mixed zones"]))
    values: list[str | None] = []
    for seconds in draw(st.lists(_MOMENTS, min_size=1, max_size=30)):
        if draw(st.integers(0, 9)) == 0:
            values.append(None)
            continue
        moment = pd.Timestamp(seconds, unit="s")
        if form == "date":
            values.append(moment.strftime("%Y-%m-%d"))
        elif form == "space":
            values.append(moment.strftime("%Y-%m-%d %H:%M:%S"))
        elif form == "T":
            values.append(moment.strftime("%Y-%m-%dT%H:%M"))
        elif form == "fraction":
            values.append(moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{draw(st.integers(0, 999_999)):06d}")
        elif form == "Z":
            values.append(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        else:
            hours = draw(st.integers(-12, 14)) if form == "mixed zones" else 2
            values.append(moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{hours:+03d}:00")
    return values


@settings(max_examples=300, deadline=None)
@given(_iso_column())
def test_text_times_parse_to_pandas_instants(values: list[str | None]) -> None:
    """Arrow's parse (zoned, naive or dates alone) gives the instants pandas' ISO 8601 parse gives."""
    from tengri.data._validation import _arrow_iso8601, _parse_text_timestamps

    raw = pd.Series(values, dtype=object, name="timestamp")
    want = pd.DatetimeIndex(pd.to_datetime(raw, utc=True, format="ISO8601")).as_unit("ns")
    assert _parse_text_timestamps(raw, "x.csv", "timestamp").as_unit("ns").equals(want)
    fast = _arrow_iso8601(raw)
    if any(v is not None for v in values):
        assert fast is not None  # every form here is one Arrow reads
        assert fast.as_unit("ns").equals(want)


def test_naive_and_zoned_times_in_one_column_are_pandas_instants() -> None:
    """Arrow reads a column as all naive or all zoned; a mix goes to pandas, offsets kept."""
    from tengri.data._validation import _arrow_iso8601, _parse_text_timestamps

    raw = pd.Series(["2020-01-01T00:00:00", "2020-01-01T05:00:00+02:00", "2020-01-02"], dtype=object)
    assert _arrow_iso8601(raw) is None
    parsed = _parse_text_timestamps(raw, "x.csv", "timestamp")
    assert list(parsed) == [
        pd.Timestamp("2020-01-01 00:00", tz="UTC"),
        pd.Timestamp("2020-01-01 03:00", tz="UTC"),
        pd.Timestamp("2020-01-02 00:00", tz="UTC"),
    ]
