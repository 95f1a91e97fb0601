"""The checks every feed's bars pass: order, gaps and staleness, the same whatever the feed.

:meth:`FeedWatch.admit` judges each bar before the engine sees it: a bar at or before the last
one (out of order, or a repeat) or with impossible prices (not finite and positive, a high
under the open or close, a low over them) is refused and reported; a bar more than ``max_gap`` intervals
after the last one is used but reported as a gap (the bars in between are missing, and nothing
invents them). :meth:`FeedWatch.check` runs between polls: when no bar has arrived for
``stale_intervals`` intervals of machine time, the feed is stale; health says so and new
entries are blocked until bars flow again, and the first bar after a stale spell still opens
nothing (its decisions were made on old prices).

The interval is the feed's own (an exchange's timeframe), else the median spacing of the first
bars seen.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass, field

from tengri.live.feeds import Bar

__all__ = ["FeedEvent", "FeedWatch"]

log = logging.getLogger(__name__)

_INFER_FROM = 5  # bars whose spacings give an unknown interval


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """Something wrong with the feed: ``gap``, ``out_of_order``, ``invalid``, ``stale`` or ``resumed``."""

    kind: str
    at: float  # machine time
    bar_time: float | None
    detail: str


@dataclass
class FeedWatch:
    """Judges bars (order, gaps) and the feed's freshness; see the module docstring."""

    interval: float | None = None
    stale_intervals: float = 3.0
    max_gap: float = 1.5
    last_bar: Bar | None = None
    last_arrival: float | None = None  # machine time of the last admitted bar
    stale: bool = False
    events: list[FeedEvent] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"bars": 0, "gap": 0, "out_of_order": 0, "invalid": 0, "stale": 0}
    )
    _spacings: list[float] = field(default_factory=list)
    _fresh_after_stale: bool = False

    def admit(self, bar: Bar, now: float) -> bool:
        """Whether the engine may use ``bar`` (received at machine time ``now``); report what is wrong."""
        last = self.last_bar
        values = (bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume)
        if not (
            all(math.isfinite(v) for v in values)
            and min(bar.open, bar.low, bar.close) > 0
            and bar.volume >= 0
            and bar.low <= min(bar.open, bar.close)
            and bar.high >= max(bar.open, bar.close)
        ):
            self._report("invalid", now, bar.timestamp, f"bar refused: {bar}")
            return False
        if last is not None and bar.timestamp <= last.timestamp:
            self._report(
                "out_of_order",
                now,
                bar.timestamp,
                f"bar at {bar.timestamp:.0f} after {last.timestamp:.0f}: refused",
            )
            return False
        if last is not None:
            spacing = bar.timestamp - last.timestamp
            if self.interval is None:
                self._spacings.append(spacing)
                if len(self._spacings) >= _INFER_FROM:
                    self.interval = statistics.median(self._spacings)
            elif spacing > self.max_gap * self.interval:
                missing = round(spacing / self.interval) - 1
                self._report(
                    "gap", now, bar.timestamp, f"about {missing} bar(s) missing before {bar.timestamp:.0f}"
                )
        self._fresh_after_stale = self.stale
        if self.stale:
            self.stale = False
            self._report("resumed", now, bar.timestamp, "bars flow again")
        self.last_bar = bar
        self.last_arrival = now
        self.counts["bars"] += 1
        return True

    @property
    def entries_allowed(self) -> bool:
        """False while stale and for the first bar after it."""
        return not (self.stale or self._fresh_after_stale)

    def check(self, now: float) -> bool:
        """Mark the feed stale when no bar came for ``stale_intervals`` intervals; return whether stale."""
        if self.interval is None or self.last_arrival is None or self.stale:
            return self.stale
        if now - self.last_arrival > self.stale_intervals * self.interval:
            self.stale = True
            self._report("stale", now, None, f"no bar for {now - self.last_arrival:.0f} s")
        return self.stale

    def lag(self, now: float) -> float | None:
        """Seconds since the last bar's close (its open plus the interval), None before any bar."""
        if self.last_bar is None:
            return None
        return max(0.0, now - self.last_bar.timestamp - (self.interval or 0.0))

    def _report(self, kind: str, now: float, bar_time: float | None, detail: str) -> None:
        if kind != "resumed":
            self.counts[kind] += 1
        self.events.append(FeedEvent(kind, now, bar_time, detail))
        del self.events[:-1000]
        (log.info if kind == "resumed" else log.warning)("feed %s: %s", kind.replace("_", " "), detail)
