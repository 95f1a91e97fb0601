"""Periodic duties on the injectable clock, with health bookkeeping: a failing duty degrades, never stops.

Each duty runs when the clock has passed its due time (checked on every tick and by the live
loop), then is due again ``interval`` seconds later. A duty that raises is logged, marks its
component degraded with the reason, and is retried at its next due time; a later success clears
the mark and counts a restart.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Duty", "DutyScheduler", "Health"]

log = logging.getLogger(__name__)


class Health:
    """Which components are degraded, and why; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._degraded: dict[str, str] = {}
        self.restarts: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    def fail(self, component: str, reason: str) -> None:
        """Mark a component degraded (logged once per new reason)."""
        with self._lock:
            if self._degraded.get(component) != reason:
                log.warning("component %s degraded: %s", component, reason)
            self._degraded[component] = reason
            self.errors[component] = self.errors.get(component, 0) + 1

    def ok(self, component: str) -> None:
        """Mark a component healthy again (a restart, if it was degraded)."""
        if component not in self._degraded:  # the common case, once per tick: no lock needed to see it
            return
        with self._lock:
            if self._degraded.pop(component, None) is not None:
                self.restarts[component] = self.restarts.get(component, 0) + 1
                log.info("component %s recovered", component)

    @property
    def degraded(self) -> bool:
        """Whether any component is degraded (read without the lock: a hint for fast paths)."""
        return bool(self._degraded)

    @property
    def status(self) -> str:
        """``healthy`` or ``degraded``."""
        with self._lock:
            return "degraded" if self._degraded else "healthy"

    def reasons(self) -> dict[str, str]:
        """Degraded components and their reasons."""
        with self._lock:
            return dict(self._degraded)


@dataclass
class Duty:
    """One periodic job."""

    name: str
    interval: float
    action: Callable[[float], None]
    next_due: float | None = None
    runs: int = 0


class DutyScheduler:
    """Runs due duties; owns no thread (the orchestrator's live loop or each tick calls it)."""

    def __init__(self, health: Health) -> None:
        self.health = health
        self.duties: dict[str, Duty] = {}
        self._lock = threading.Lock()
        # No duty is due while quiet_from <= now < quiet_until (each tick checks this first).
        self._quiet_from = math.inf
        self._quiet_until = -math.inf

    def add(self, name: str, interval: float, action: Callable[[float], None]) -> None:
        """Register a duty, first due at the next :meth:`run_due`."""
        self.duties[name] = Duty(name, interval, action)
        self._quiet_from, self._quiet_until = math.inf, -math.inf

    def _quiet_window(self) -> tuple[float, float]:
        due = [(d.next_due, d.interval) for d in self.duties.values() if d.next_due is not None]
        if len(due) < len(self.duties) or not due:
            return math.inf, -math.inf
        return max(t - interval for t, interval in due), min(t for t, _ in due)

    def run_due(self, now: float) -> list[str]:
        """Run every duty whose time has come; return their names."""
        if self._quiet_from <= now < self._quiet_until:
            return []
        if not self._lock.acquire(blocking=False):
            return []  # another thread is running duties right now
        try:
            ran = []
            for duty in self.duties.values():
                # Not yet due; a clock that jumped back past the last run makes it due at once.
                if duty.next_due is not None and duty.next_due - duty.interval <= now < duty.next_due:
                    continue
                duty.next_due = now + duty.interval
                try:
                    duty.action(now)
                except Exception as exc:
                    self.health.fail(duty.name, f"{type(exc).__name__}: {exc}")
                else:
                    self.health.ok(duty.name)
                duty.runs += 1
                ran.append(duty.name)
            self._quiet_from, self._quiet_until = self._quiet_window()
            return ran
        finally:
            self._lock.release()
