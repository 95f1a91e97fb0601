"""The run journal: appended flushes equal a whole write, a torn last line is cut, resumes drop later rows."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.services.journal import FILES, RunJournal, iso, iso_column, iso_times


def _bar(journal: RunJournal, bar: int) -> None:
    journal.add("timeline", bar=bar, timestamp=iso(1e9 + 3600 * bar), close=1.0 + bar / 8, equity=math.nan)


def test_flushes_append_what_a_single_write_would_hold(tmp_path: Path) -> None:
    stepwise, whole = RunJournal(tmp_path / "a"), RunJournal(tmp_path / "b")
    for bar in range(7):
        _bar(stepwise, bar)
        _bar(whole, bar)
        if bar % 3 == 2:
            stepwise.flush()
    stepwise.flush()
    whole.flush()
    for table in FILES:
        name = f"{table}.csv"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    frame = pd.read_csv(tmp_path / "a" / "timeline.csv")
    assert frame["bar"].tolist() == list(range(7))
    assert frame["equity"].isna().all()  # a non-finite float is an empty field


def test_load_cuts_a_torn_line_and_drops_rows_past_the_checkpoint(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    for bar in range(5):
        _bar(journal, bar)
    journal.flush()
    path = tmp_path / "timeline.csv"
    with path.open("a") as handle:
        handle.write("1")  # a kill in the middle of appending bar 10's row: "1" would read as bar 1
    resumed = RunJournal(tmp_path)
    resumed.load(upto_bar=3)
    assert resumed.frame("timeline")["bar"].tolist() == [0, 1, 2]
    _bar(resumed, 3)
    resumed.flush()  # appends to the file, cut before the checkpoint's first later bar
    assert pd.read_csv(path)["bar"].tolist() == [0, 1, 2, 3]


def test_iso_times_match_iso() -> None:
    times = [0.0, 1e9, 1.7e9 + 3600.0]
    assert iso_times(times) == [iso(t) for t in times]
    assert iso_times([1.5, 2.0]) == [iso(1.5), iso(2.0)]  # fractional seconds keep their digits
    assert iso_times(np.array([1e9, 1e9 + 0.5])) == [iso(1e9), iso(1e9 + 0.5)]  # numpy floats too


def _datetime_iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


@settings(max_examples=3_000, deadline=None)
@given(
    st.one_of(
        st.integers(-86_400 * 800, 253_402_300_799).map(float),  # whole seconds, before 1970 too
        st.floats(-1e10, 253_402_300_799.0),  # fractions
        st.sampled_from(
            [0.0, 951_782_400.0, 951_868_799.0, 4_107_542_400.0, 253_402_300_799.0]
        ),  # leap days, the end
    )
)
def test_iso_is_datetimes_form(t: float) -> None:
    """The compiled form of whole seconds is datetime's, leap years and the year 9999 included."""
    assert iso(t) == _datetime_iso(t)
    assert iso_times([t, t]) == [_datetime_iso(t)] * 2
    assert iso(int(t)) == _datetime_iso(int(t))
    column = iso_column(np.array([t, 1e9]))  # an Arrow array of whole seconds, else iso_times' list
    assert (column if isinstance(column, list) else column.to_pylist()) == [_datetime_iso(t), iso(1e9)]
    assert isinstance(column, pa.Array) == (t == int(t) and t >= 0)


def test_iso_refuses_what_datetime_refuses() -> None:
    for t in (253_402_300_800.0, math.nan, math.inf):
        with pytest.raises((ValueError, OverflowError)):
            iso(t)


def test_a_streamed_table_is_read_back_from_its_file_with_the_columns_asked(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    for bar in range(4):
        _bar(journal, bar)
    in_memory = pd.DataFrame.from_records(
        [(bar, iso(1e9 + 3600 * bar), 1.0 + bar / 8) for bar in range(4)],
        columns=["bar", "timestamp", "close"],
    )
    pd.testing.assert_frame_equal(journal.frame("timeline", columns=("close", "bar", "timestamp")), in_memory)
    assert journal.count("timeline") == 4
    # Flushed rows left memory: the table is what its file holds (here cut to two bars).
    lines = (tmp_path / "timeline.csv").read_text().splitlines(keepends=True)
    (tmp_path / "timeline.csv").write_text("".join(lines[:3]))
    assert journal.frame("timeline")["bar"].tolist() == [0, 1]
    assert list(journal.frame("timeline").columns) == list(FILES["timeline"])


def _trade(journal: RunJournal, exit_bar: int, profit: float, return_pct: float | None) -> None:
    journal.add(
        "trades",
        execution_id=f"e{exit_bar}",
        strategy_id="s",
        source="",
        direction=1,
        size=3.0,
        entry_time=iso(1e9),
        entry_price=0.1 + 0.2,
        exit_time=iso(1e9 + exit_bar),
        exit_price=1 / 3,
        entry_bar=0,
        exit_bar=exit_bar,
        profit=profit,
        return_pct=return_pct,
        costs=0.0,
        reason="signal",
        confidence=0.7,
        symbol="X",
    )


def test_trades_leave_memory_when_written_and_read_back_to_the_same_floats(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    profits = [0.1 + 0.2, -1e-300, 2.0 / 3.0, 123456.789e-17, 5e-324]
    for bar, profit in enumerate(profits, start=1):
        _trade(journal, bar, profit, None if bar == 2 else profit * 7.1)
        if bar == 3:
            journal.flush()
            assert journal.count("trades") == 3
    expected = pd.DataFrame.from_records(
        [(bar, p, None if bar == 2 else p * 7.1) for bar, p in enumerate(profits, start=1)],
        columns=["exit_bar", "profit", "return_pct"],
    )
    assert journal.count("trades") == 5
    read = journal.frame("trades", columns=("exit_bar", "profit", "return_pct"))
    assert journal._rows["trades"] == []  # flushed: nothing of them held
    pd.testing.assert_frame_equal(read, expected, check_exact=True)
    # A resume keeps the trades closed before its checkpoint and rewrites the file with them.
    resumed = RunJournal(tmp_path)
    resumed.load(upto_bar=3)
    _trade(resumed, 4, 1.5, 1.5)
    resumed.flush()
    assert resumed.frame("trades")["exit_bar"].tolist() == [1, 2, 4]
    assert resumed.frame("trades")["profit"].tolist() == [profits[0], profits[1], 1.5]


def test_rows_given_as_columns_are_written_as_the_same_rows(tmp_path: Path) -> None:
    # Numpy columns beside tuples, a NaN and an infinity among the floats, ints for a float column
    # in one block: the bytes are those of the rows appended one at a time.
    rows = [
        tuple(
            bar
            if name == "bar"
            else iso(1e9 + 60 * bar)
            if name == "timestamp"
            else name
            if name == "symbol"
            else v
            for name, v in zip(FILES["timeline"], [0.1 * bar + 1 / 3] * len(FILES["timeline"]), strict=True)
        )
        for bar in range(9)
    ]
    rows[2] = (*rows[2][:6], math.nan, math.inf, 0, *rows[2][9:])
    by_rows, by_columns = RunJournal(tmp_path / "rows"), RunJournal(tmp_path / "columns")
    for row in rows:
        by_rows.append("timeline", row)
    for first, stop in ((0, 4), (4, 9)):
        block = list(zip(*rows[first:stop], strict=True))
        block[0] = np.arange(first, stop)
        block[5] = np.array(block[5])
        by_columns.append_columns("timeline", block)
        if first == 0:
            assert by_columns.count("timeline") == 4
            by_columns.flush()  # a flush between blocks appends
    assert by_columns.count("timeline") == 9
    by_rows.flush()
    by_columns.flush()
    expected = (tmp_path / "rows" / "timeline.csv").read_bytes()
    assert (tmp_path / "columns" / "timeline.csv").read_bytes() == expected
    assert b",,," in expected  # the NaN and the infinity are empty fields
    with pytest.raises(ValueError, match="columns"):
        by_columns.append_columns("trades", block)
    with pytest.raises(ValueError, match="one length"):
        by_columns.append_columns("timeline", [*block[:-1], block[-1][:1]])


def test_a_flush_leaves_the_files_of_tables_without_new_rows_alone(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    _bar(journal, 0)
    journal.flush()
    bursts, timeline = tmp_path / "bursts.csv", tmp_path / "timeline.csv"
    before = {path: path.stat().st_ino for path in (bursts, timeline)}  # a rewrite renames a new file in
    _bar(journal, 1)
    journal.flush()
    journal.flush()
    assert bursts.stat().st_ino == before[bursts]  # header only, as written: not written again
    assert bursts.read_text() == ",".join(FILES["bursts"]) + "\n"
    assert pd.read_csv(timeline)["bar"].tolist() == [0, 1]
    journal.add("bursts", start="a", end="b", seconds=1.0, label="fit")
    journal.flush()
    assert len(pd.read_csv(bursts)) == 1
    journal.replace("bursts", [])  # replaced by no rows: the file must say so
    journal.flush()
    assert pd.read_csv(bursts).empty
    resumed = RunJournal(tmp_path)  # a resume rewrites what it loaded: the file may hold later rows
    resumed.load(upto_bar=1)
    resumed.flush()
    assert pd.read_csv(timeline)["bar"].tolist() == [0]


def test_a_timeline_block_writes_what_its_rows_write(tmp_path: Path) -> None:
    """The compiled block of engine columns: the same bytes as the rows as tuples, twice over."""
    from tengri.engine import _kernel

    rows = [
        (10_000.0, 10_000.0, 0, 0, "unknown", "cool", 35.0, 0, 10_000.0),
        (math.nan, 9_990.5, 95.0, 1, "surging", "warm", 61.25, 1, 9_990.5),  # NaN: an empty field
        (1e-7, -3.0, -2.5, 2, "a, zone", "cool", 35.0, 0, 1e300),
    ]
    block = _kernel.TimelineBlock()
    by_rows, by_block = RunJournal(tmp_path / "rows"), RunJournal(tmp_path / "block")
    for flush in range(2):
        for i, row in enumerate(rows):
            bar = 3 * flush + i
            own = (bar, iso(1e9 + 60 * bar), 1.0, 2.0, 0.5, 1.5)
            by_rows.append("timeline", (*own, *row[:-1], "X", row[-1]))
            block.add(*row)
        assert len(block) == 3
        engine = block.take()
        assert len(block) == 0
        bars = [3 * flush + i for i in range(3)]
        own_columns = [bars, [iso(1e9 + 60 * b) for b in bars], *([v] * 3 for v in (1.0, 2.0, 0.5, 1.5))]
        by_block.append_columns("timeline", [*own_columns, *engine[:-1], ["X"] * 3, engine[-1]])
        by_rows.flush()
        by_block.flush()
    assert (tmp_path / "block" / "timeline.csv").read_bytes() == (
        tmp_path / "rows" / "timeline.csv"
    ).read_bytes()
