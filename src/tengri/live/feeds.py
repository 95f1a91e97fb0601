"""Market-data feeds for live trading: one protocol, bars from a growing file, stdin or an exchange.

A :class:`Feed` hands out closed OHLCV bars, oldest first, each time it is polled; it never
blocks. What a bar must satisfy (ordering, gaps, staleness) is the :class:`~tengri.live.watch.FeedWatch`'s
job, the same for every feed. Lines a feed cannot read are reported (logged and kept in
:attr:`Feed.rejected`), never used.

- :class:`FileFeed` (``file:PATH``) follows a CSV or JSON-lines file another process appends to;
  CSV lines are parsed by the same reader as ``tengri backtest``'s, so the same file gives the
  same bars;
- :class:`LineFeed` (``stdin``) reads JSON lines from a stream on a reader thread;
- :class:`~tengri.live.ccxt_feed.CcxtFeed` (``ccxt:EXCHANGE:SYMBOL:TIMEFRAME``) polls an
  exchange's OHLCV through ccxt.
"""

from __future__ import annotations

import io
import json
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import pandas as pd

from tengri.data import read_ohlcv
from tengri.errors import DataValidationError, InvalidInputError

__all__ = ["Bar", "Feed", "FileFeed", "LineFeed", "bars_from_frame"]

log = logging.getLogger(__name__)

_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
# A JSON line's fields, by their lower-cased names (the CSV reader maps its own headers).
_JSON_FIELDS = {
    "timestamp": "timestamp",
    "time": "timestamp",
    "date": "timestamp",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "volume": "Volume",
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed OHLCV bar; ``timestamp`` its opening time in seconds since the epoch (UTC)."""

    timestamp: float
    open: float
    high: float
    low: float
    close: float
    volume: float


@runtime_checkable
class Feed(Protocol):
    """A source of closed bars for :func:`tengri.services.live.run_live`."""

    name: str
    """What the feed reads (for the run's symbol, messages and the status page)."""

    interval: float | None
    """Seconds between bars when the feed knows them (an exchange's timeframe), else None."""

    finished: bool
    """True once the feed can give no more bars (stdin at its end); a file never finishes."""

    rejected: list[str]
    """Lines or bars the feed could not read, newest last (each also logged)."""

    def poll(self) -> list[Bar]:
        """Return the bars closed since the last poll, oldest first (empty when none); never block."""
        ...

    def close(self) -> None:
        """Release what the feed holds (files, threads, connections)."""
        ...


def bars_from_frame(frame: pd.DataFrame) -> list[Bar]:
    """Turn a validated OHLCV frame (:func:`tengri.data.read_ohlcv`'s) into bars."""
    times = (frame.index.asi8 / 1e9).tolist()
    columns = [frame[c].to_numpy(dtype=float).tolist() for c in ("Open", "High", "Low", "Close", "Volume")]
    return [Bar(t, o, h, lo, c, v) for t, o, h, lo, c, v in zip(times, *columns, strict=True)]


def _validated(raw: pd.DataFrame) -> list[Bar]:
    return bars_from_frame(read_ohlcv(raw).frame)


class _Lines:
    """Turns complete text lines into bars, for CSV (after a header line) or JSON lines."""

    def __init__(self, source: str, *, json_lines: bool) -> None:
        self.source = source
        self.json_lines = json_lines
        self.header: str | None = None
        self.rejected: list[str] = []

    def parse(self, lines: list[str]) -> list[Bar]:
        lines = [line for line in lines if line.strip()]
        if not self.json_lines and self.header is None and lines:
            self.header, lines = lines[0], lines[1:]
        if not lines:
            return []
        try:
            return self._parse_many(lines)
        except (DataValidationError, InvalidInputError, ValueError):
            # One bad line spoils the chunk: read line by line, so only the bad ones are refused.
            bars: list[Bar] = []
            for line in lines:
                try:
                    bars.extend(self._parse_many([line]))
                except (DataValidationError, InvalidInputError, ValueError) as exc:
                    self._reject(line, str(exc))
            return bars

    def _parse_many(self, lines: list[str]) -> list[Bar]:
        if self.json_lines:
            return _validated(pd.DataFrame([self._record(line) for line in lines]))
        # The backtest's own reader (tengri.data.read_ohlcv), so a file gives the same bars.
        raw = pd.read_csv(io.StringIO("".join([self.header or "", *lines])), low_memory=False)
        return _validated(raw)

    def _record(self, line: str) -> dict[str, Any]:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise InvalidInputError(f"a JSON line must be an object, got {type(data).__name__}")
        record = {_JSON_FIELDS[k.lower()]: v for k, v in data.items() if k.lower() in _JSON_FIELDS}
        missing = {"timestamp", "Open", "High", "Low", "Close"} - record.keys()
        if missing:
            raise InvalidInputError(f"a JSON line lacks {', '.join(sorted(missing))}")
        record.setdefault("Volume", 0.0)
        stamp = record["timestamp"]
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            record["timestamp"] = pd.Timestamp(stamp, unit="s", tz="UTC")
        return record

    def _reject(self, line: str, reason: str) -> None:
        message = f"{self.source}: line refused ({reason}): {line.strip()[:200]}"
        log.warning(message)
        self.rejected.append(message)


class FileFeed:
    """Bars from a CSV or JSON-lines file that another process appends to, followed as it grows.

    Only complete lines (ending in a newline) are read; a partly written last line waits for the
    next poll. A ``.jsonl``, ``.ndjson`` or ``.json`` file holds one JSON object a line
    (``timestamp``, ``open``, ``high``, ``low``, ``close``, ``volume``); anything else is CSV
    with a header, as ``tengri backtest`` reads it.
    """

    interval: float | None = None
    finished = False

    def __init__(self, path: Path | str, *, interval: float | None = None) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.interval = interval
        self._lines = _Lines(str(self.path), json_lines=self.path.name.lower().endswith(_JSON_SUFFIXES))
        self.rejected = self._lines.rejected
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[Bar]:
        """Read the lines appended since the last poll; a missing file is simply not there yet."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        if not chunk:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        complete, newline, self._partial = data.rpartition(b"\n")
        if not newline:
            self._partial = data
            return []
        text = complete.decode("utf-8", errors="replace")
        return self._lines.parse([line + "\n" for line in text.split("\n")])

    def close(self) -> None:
        """Nothing to release: the file is opened for each poll."""


class LineFeed:
    """Bars from JSON lines on a stream (``stdin``), read on a daemon thread; finished at its end."""

    interval: float | None = None

    def __init__(self, stream: IO[str], *, name: str = "stdin", interval: float | None = None) -> None:
        self.name = name
        self.interval = interval
        self.finished = False
        self._lines = _Lines(name, json_lines=True)
        self.rejected = self._lines.rejected
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, args=(stream,), name="tengri-feed", daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def poll(self) -> list[Bar]:
        """Parse the lines read since the last poll."""
        lines: list[str] = []
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self.finished = True
                break
            lines.append(line)
        return self._lines.parse(lines)

    def close(self) -> None:
        """The reader thread is a daemon: it ends with the process."""
