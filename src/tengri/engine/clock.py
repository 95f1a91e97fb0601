"""Injectable clocks: every time value inside the engine comes from one, so replays are deterministic.

``SystemClock`` reads the wall clock; ``ManualClock`` is moved by its owner — a replay moves it
to each bar's timestamp, a test moves it by hand. Neither ever sleeps.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of time: seconds since the Unix epoch, UTC."""

    def now(self) -> float:
        """Return the current time in seconds since the epoch."""
        ...


class SystemClock:
    """The wall clock (``time.time``)."""

    def now(self) -> float:
        """Return the wall-clock time."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    Parameters
    ----------
    start
        The initial time, seconds since the epoch.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def set(self, t: float) -> None:
        """Move the clock to ``t`` (backwards too: a test of a clock jump needs that)."""
        with self._lock:
            self._now = float(t)

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("advance() takes a non-negative number of seconds; use set() to go back")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"
