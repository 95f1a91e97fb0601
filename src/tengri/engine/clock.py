"""Injectable clocks: every time value inside the engine comes from one, so replays are deterministic.

``SystemClock`` reads the wall clock; ``ManualClock`` is moved by its owner — a replay moves it
to each bar's timestamp, a test moves it by hand. Waiting (a burst's cooldown) goes through
:func:`sleep`, which sleeps on the wall clock and advances a manual one: a test never sleeps.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "sleep"]


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

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of wall time."""
        time.sleep(max(seconds, 0.0))

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

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``: the clock moves forward by them at once (nothing really sleeps)."""
        self.advance(max(seconds, 0.0))

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


def sleep(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` on ``clock``: its own ``sleep`` if it has one, else the wall clock's."""
    wait = getattr(clock, "sleep", None)
    if callable(wait):
        wait(seconds)
    else:
        time.sleep(max(seconds, 0.0))
