"""Arrow's read of a CSV file: the bars pandas' read gives, or pandas' read itself.

Each file is read twice: by ``read_ohlcv`` (Arrow's read where it takes the file) and by pandas'
read alone, validated as ``read_ohlcv`` validated it before Arrow's read existed. Both must give
the same frame, bit for bit, or the same error.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tengri.data import _reading, list_samples, read_ohlcv
from tengri.data._samples import sample_resource
from tengri.data._validation import OHLCVData, validated_data
from tengri.errors import DataValidationError

HEADER = "timestamp,Open,High,Low,Close,Volume"


def pandas_read(path: Path, *, repair: bool = False) -> OHLCVData | DataValidationError:
    """Return what pandas' read alone gives: the validated bars or the error."""
    try:
        raw = _reading._read_csv(path, str(path))
        return validated_data(raw, source=str(path), repair=repair)
    except DataValidationError as error:
        return error


def tengri_read(path: Path, *, repair: bool = False) -> OHLCVData | DataValidationError:
    try:
        return read_ohlcv(path, repair=repair)
    except DataValidationError as error:
        return error


def assert_same(got: OHLCVData | DataValidationError, expected: OHLCVData | DataValidationError) -> None:
    if isinstance(expected, DataValidationError):
        assert isinstance(got, DataValidationError)
        assert (got.message, got.row, got.column) == (expected.message, expected.row, expected.column)
        return
    assert isinstance(got, OHLCVData)
    assert (got.source, got.repairs, got.notes) == (expected.source, expected.repairs, expected.notes)
    pd.testing.assert_frame_equal(got.frame, expected.frame, check_exact=True)
    assert got.frame.index.dtype == expected.frame.index.dtype == "datetime64[ns, UTC]"
    assert np.array_equal(got.frame.index.asi8, expected.frame.index.asi8)
    # Bit for bit: equal floats can still differ in sign (0.0 and -0.0).
    assert np.array_equal(got.frame.to_numpy().view(np.int64), expected.frame.to_numpy().view(np.int64))


def bar_rows(
    count: int,
    *,
    stamps: pd.DatetimeIndex | None = None,
    text: str = "%Y-%m-%d %H:%M:%S",
    seed: int = 0,
    integer_volume: bool = False,
) -> list[str]:
    """Return ``count`` well-formed bars as CSV lines: a random walk, prices to 5 decimals.

    The timestamps are ``stamps`` (minutes from 2024-01-01) written by ``strftime(text)``, or by
    ``isoformat()`` (offsets as ``+hh:mm``) where ``text`` is ``"isoformat"``.
    """
    rng = np.random.default_rng(seed)
    if stamps is None:
        stamps = pd.date_range("2024-01-01", periods=count, freq="min")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, count)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 1e-3, count))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 1e-3, count))
    volume = rng.integers(0, 10**6, count) if integer_volume else rng.uniform(0, 1e4, count)
    rows = []
    texts = [stamp.isoformat() for stamp in stamps] if text == "isoformat" else stamps.strftime(text)
    for stamp, o, h, lo, c, v in zip(texts, open_, high, low, close, volume, strict=True):
        # Rounded outward so that low <= open, close <= high still holds.
        rows.append(
            f"{stamp},{o:.5f},{np.ceil(h * 1e5) / 1e5:.5f},{np.floor(lo * 1e5) / 1e5:.5f},{c:.5f},"
            + (str(v) if integer_volume else repr(float(v)))
        )
    return rows


def write(
    directory: Path, rows: list[str], *, header: str = HEADER, end: str = "\n", newline: str = "\n"
) -> Path:
    path = directory / "bars.csv"
    path.write_bytes((newline.join([header, *rows]) + end).encode())
    return path


def test_the_samples_read_the_same_through_arrow() -> None:
    for address in list_samples():
        with resources.as_file(sample_resource(address)) as path:
            assert _reading._arrow_csv(path) is not None, address
            assert_same(tengri_read(path), pandas_read(path))


GOOD_FILES: dict[str, dict[str, Any]] = {
    "naive": {},
    "iso-t-and-z": {"text": "%Y-%m-%dT%H:%M:%SZ"},
    "minutes-only": {"text": "%Y-%m-%d %H:%M"},
    "fractional-seconds": {
        "stamps": pd.date_range("2024-01-01", periods=3000, freq="250ms"),
        "text": "%Y-%m-%d %H:%M:%S.%f",
    },
    "offset-plus-0530": {
        "stamps": pd.date_range("2024-01-01", periods=3000, freq="h", tz="Asia/Kolkata"),
        "text": "%Y-%m-%d %H:%M:%S%z",
    },
    "offsets-through-dst": {
        "stamps": pd.date_range("2024-03-01", periods=3000, freq="h", tz="America/New_York"),
        "text": "isoformat",
    },
    "dates": {"stamps": pd.date_range("1990-01-01", periods=3000, freq="D"), "text": "%Y-%m-%d"},
    "integer-volume": {"integer_volume": True},
}


@pytest.mark.parametrize("options", GOOD_FILES.values(), ids=GOOD_FILES.keys())
def test_good_files_read_the_same_through_arrow(tmp_path: Path, options: dict[str, Any]) -> None:
    path = write(tmp_path, bar_rows(3000, **options))

    assert _reading._arrow_csv(path) is not None
    assert_same(tengri_read(path), pandas_read(path))


def test_a_file_of_many_blocks_reads_the_same_through_arrow(tmp_path: Path) -> None:
    path = write(tmp_path, bar_rows(40_000, integer_volume=True, seed=1))
    assert path.stat().st_size > 30 * _reading._ARROW_BLOCK_BYTES

    assert _reading._arrow_csv(path) is not None
    assert_same(tengri_read(path), pandas_read(path))


@pytest.mark.parametrize(
    ("header", "rows", "end", "newline"),
    [
        pytest.param(",Open,High,Low,Close,Volume", None, "\n", "\n", id="unnamed-first-column"),
        pytest.param("DATE, open ,HIGH,low,Close,Adj Close", None, "\n", "\n", id="names-in-any-case"),
        pytest.param("Open,High,timestamp,Low,Close,Volume", "moved", "\n", "\n", id="timestamp-third"),
        pytest.param("time,Open,High,Low,Close", "no-volume", "\n", "\n", id="no-volume"),
        pytest.param(HEADER, None, "", "\n", id="no-last-line-break"),
        pytest.param(HEADER, None, "\r\n", "\r\n", id="crlf"),
        pytest.param(HEADER, "quoted", "\n", "\n", id="quoted-values"),
        pytest.param(HEADER, "exponents", "\n", "\n", id="exponents-and-signs"),
    ],
)
def test_other_well_formed_files_read_the_same_through_arrow(
    tmp_path: Path, header: str, rows: str | None, end: str, newline: str
) -> None:
    lines = bar_rows(2000, integer_volume=True)
    cells = [line.split(",") for line in lines]
    if rows == "moved":
        lines = [",".join([c[1], c[2], c[0], *c[3:]]) for c in cells]
    elif rows == "no-volume":
        lines = [",".join(c[:5]) for c in cells]
    elif rows == "quoted":
        lines = [",".join(f'"{cell}"' for cell in c) for c in cells]
    elif rows == "exponents":
        lines = [",".join([c[0], f"+{c[1]}", f"{float(c[2]):e}", c[3], c[4], f"{c[5]}.0e0"]) for c in cells]
    path = write(tmp_path, lines, header=header, end=end, newline=newline)

    assert _reading._arrow_csv(path) is not None
    assert_same(tengri_read(path), pandas_read(path))


def test_repair_reads_the_same_through_arrow(tmp_path: Path) -> None:
    lines = bar_rows(3000)
    lines[10], lines[11] = lines[11], lines[10]
    lines[20] = lines[19]
    path = write(tmp_path, lines)

    assert _reading._arrow_csv(path) is not None
    assert_same(tengri_read(path, repair=True), pandas_read(path, repair=True))


def with_cell(lines: list[str], row: int, column: int, value: str) -> list[str]:
    changed = list(lines)
    cells = changed[row - 1].split(",")
    cells[column] = value
    changed[row - 1] = ",".join(cells)
    return changed


# Row 2,500 is past the first block (64 kB, some 1,000 rows), whose values decide Arrow's column types.
LATE = 2500

BAD_FILES: dict[str, tuple[Callable[[list[str]], list[str]], bool]] = {
    "hex-volume": (lambda rows: with_cell(rows, 3, 5, "0x10"), True),
    "hex-volume-late": (lambda rows: with_cell(rows, LATE, 5, "0x10"), True),
    "text-late": (lambda rows: with_cell(rows, LATE, 4, "abc"), True),
    "decimal-volume-late": (lambda rows: with_cell(rows, LATE, 5, "12.5"), False),
    "negative-zero-volume": (lambda rows: with_cell(rows, 7, 5, "-0"), True),
    "upper-case-nan": (lambda rows: with_cell(rows, 4, 2, "NAN"), False),
    "signed-nan": (lambda rows: with_cell(rows, LATE, 2, "+nan"), False),
    "null-string-late": (lambda rows: with_cell(rows, LATE, 3, "NULL"), True),
    "none-late": (lambda rows: with_cell(rows, LATE, 3, "None"), True),
    "empty-cell": (lambda rows: with_cell(rows, 5, 1, ""), True),
    "infinite": (lambda rows: with_cell(rows, LATE, 2, "inf"), False),
    "negative-price": (lambda rows: with_cell(rows, LATE, 1, "-1.0"), False),
    "blank-line": (lambda rows: [*rows[:LATE], "", *rows[LATE:]], True),
    "trailing-blank-lines": (lambda rows: [*rows, "", ""], True),
    "short-row": (lambda rows: [*rows[: LATE - 1], rows[LATE - 1].rsplit(",", 1)[0], *rows[LATE:]], True),
    "long-row": (lambda rows: with_cell(rows, LATE, 5, "1,2"), True),
    "bad-time-late": (lambda rows: with_cell(rows, LATE, 0, "2024-02-30 00:00:00"), True),
    "time-out-of-range": (lambda rows: with_cell(rows, LATE, 0, "2300-01-01 00:00:00"), True),
    "fractional-second-late": (lambda rows: with_cell(rows, LATE, 0, rows[LATE - 1][:19] + ".5"), True),
    "offset-late": (lambda rows: with_cell(rows, LATE, 0, rows[LATE - 1][:19] + "+00:00"), True),
    "day-first-time": (lambda rows: with_cell(rows, 1, 0, "13.01.2024 09:00"), True),
    "duplicate": (lambda rows: with_cell(rows, LATE, 0, rows[LATE - 2].split(",")[0]), False),
    "out-of-order": (lambda rows: [*rows[: LATE - 1], rows[LATE], rows[LATE - 1], *rows[LATE + 1 :]], False),
    "quoted-line-break": (lambda rows: with_cell(rows, 9, 5, '"1\n2"'), True),
}


@pytest.mark.parametrize(("change", "arrow_refuses"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_other_files_give_what_pandas_read_gives(
    tmp_path: Path, change: Callable[[list[str]], list[str]], arrow_refuses: bool
) -> None:
    path = write(tmp_path, change(bar_rows(3000, integer_volume=True)))

    # A file Arrow reads but whose bars fail validation is read again by pandas for its message.
    assert (_reading._arrow_csv(path) is None) is arrow_refuses
    assert_same(tengri_read(path), pandas_read(path))


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,Open,Open,Low,Close,Volume",
        ",Open,High,Low,Close,",
        "Open,High,Low,Close,Volume,x",
        "when,Open,High,Low,Close,Volume",
    ],
    ids=["duplicate-name", "two-unnamed", "no-timestamp-column", "timestamp-named-otherwise"],
)
def test_headers_arrow_is_not_sure_of_go_to_pandas(tmp_path: Path, header: str) -> None:
    lines = bar_rows(100)
    if header.startswith("Open"):
        lines = [",".join([*line.split(",")[1:], line.split(",")[0]]) for line in lines]
    path = write(tmp_path, lines, header=header)

    assert _reading._arrow_csv(path) is None
    assert_same(tengri_read(path), pandas_read(path))


def test_a_header_alone_goes_to_pandas(tmp_path: Path) -> None:
    path = write(tmp_path, [])
    assert _reading._arrow_csv(path) is None
    with pytest.raises(DataValidationError, match="no data rows"):
        read_ohlcv(path)
