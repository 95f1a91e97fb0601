"""Feeds: a growing file followed line by line, JSON lines, bad lines refused and reported."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tengri.data import read_ohlcv
from tengri.errors import InvalidInputError
from tengri.live import FileFeed, LineFeed, open_broker, open_feed
from tengri.live.feeds import bars_from_frame

HEADER = ",Open,High,Low,Close,Volume\n"


def test_file_feed_reads_only_complete_lines_as_the_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    feed = FileFeed(path)
    assert feed.poll() == []  # not there yet
    path.write_text(HEADER + "2024-01-01,10,11,9,10.5,100\n2024-01-02,10.5,12")
    first = feed.poll()
    assert [b.close for b in first] == [10.5]
    with path.open("a") as handle:
        handle.write(",10,11.5,200\n2024-01-03,11.5,12,11,11.8,150\n")
    second = feed.poll()
    assert [(b.open, b.close) for b in second] == [(10.5, 11.5), (11.5, 11.8)]
    assert feed.poll() == []


def test_file_feed_gives_the_backtest_readers_bars(tmp_path: Path) -> None:
    source = Path("src/tengri/data/samples/goog_d1.csv").read_text().splitlines(keepends=True)
    path = tmp_path / "goog.csv"
    feed = FileFeed(path)
    bars = []
    for start in range(0, len(source), 97):  # appended in uneven chunks
        with path.open("a") as handle:
            handle.write("".join(source[start : start + 97]))
        bars.extend(feed.poll())
    assert bars == bars_from_frame(read_ohlcv(path).frame)


def test_a_bad_line_is_refused_and_reported_and_the_others_used(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(
        HEADER + "2024-01-01,10,11,9,10.5,100\n2024-01-02,10,11,9,nan,100\n2024-01-03,10,11,9,10,1\n"
    )
    feed = FileFeed(path)
    bars = feed.poll()
    assert [b.close for b in bars] == [10.5, 10.0]
    assert len(feed.rejected) == 1
    assert "2024-01-02" in feed.rejected[0]


def test_json_lines_on_a_stream() -> None:
    lines = [
        json.dumps({"timestamp": "2024-01-01T00:00:00Z", "open": 1, "high": 2, "low": 0.5, "close": 1.5}),
        "not json",
        json.dumps({"time": 1704153600, "open": 1.5, "high": 2, "low": 1, "close": 1.8, "volume": 3}),
    ]
    feed = LineFeed(io.StringIO("\n".join(lines) + "\n"))
    bars = []
    while not feed.finished:
        bars.extend(feed.poll())
    assert [(b.timestamp, b.close, b.volume) for b in bars] == [
        (1704067200.0, 1.5, 0.0),
        (1704153600.0, 1.8, 3.0),
    ]
    assert len(feed.rejected) == 1


@pytest.mark.parametrize(
    "spec", ["", "file:", "ftp:x", "ccxt:binance:BTC/USDT", "ccxt:nosuchexchange:A/B:1h"]
)
def test_a_bad_feed_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(InvalidInputError):
        open_feed(spec)


@pytest.mark.parametrize("spec", ["", "ccxt:", "alpaca"])
def test_a_bad_broker_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(InvalidInputError):
        open_broker(spec)
