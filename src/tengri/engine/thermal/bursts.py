"""The burst ledger: who may run heavy compute now, for how long, and what it cost the day.

DESIGN.md, Thermal zones. A burst is allowed below the throttling zones, outside cooldown and
within the daily budget (``daily_budget_fraction`` of 24 h, 8,640 s by default). A granted burst
lasts at most ``max_burst_seconds`` (300 s) and no longer than the budget left; it ends when its
owner ends it or, automatically, when the clock passes its deadline (noticed on every call that
reads the ledger; no thread). Its actual length is charged to the budget of the UTC day it ends
on, and a cooldown of ``cooldown_factor`` (2) times that length follows. The length charged is
the one measured on the clock; a length its owner states (REST) may add to it, never reduce it,
and work that overran an automatic end is charged its overrun when its owner ends it. The budget resets at
midnight UTC by the injected clock. The day, used seconds, cooldown end and the running burst are
written to the store's ``thermal_budget`` table before the ledger changes, so they survive a
restart; a burst found running at start was interrupted and is charged up to the restart (or its
deadline, if earlier).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

from tengri.config import ThermalConfig
from tengri.engine.clock import Clock
from tengri.engine.store import BudgetRecord, MemoryMap
from tengri.errors import BurstRefusedError, ConflictError, InvalidInputError, NotFoundError

__all__ = ["Burst", "BurstLedger", "BurstRefusal", "EndedBurst", "RefusalReason", "utc_day"]

RefusalReason = Literal["zone", "cooldown", "budget", "active"]
_DAY_SECONDS = 86_400.0


def utc_day(t: float) -> str:
    """Return the UTC date of ``t`` as ``YYYY-MM-DD``."""
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).date().isoformat()


@dataclass(frozen=True)
class Burst:
    """A granted burst: it must end by ``deadline`` (seconds since the epoch)."""

    burst_id: str
    label: str
    started_at: float
    deadline: float
    requested_s: float | None = None

    @property
    def max_seconds(self) -> float:
        """The longest this burst may run."""
        return self.deadline - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (also the form stored in the budget table)."""
        return {
            "burst_id": self.burst_id,
            "label": self.label,
            "started_at": self.started_at,
            "deadline": self.deadline,
            "requested_s": self.requested_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Burst:
        """Rebuild a burst from :meth:`to_dict`."""
        return cls(
            burst_id=str(data["burst_id"]),
            label=str(data.get("label", "burst")),
            started_at=float(data["started_at"]),
            deadline=float(data["deadline"]),
            requested_s=None if data.get("requested_s") is None else float(data["requested_s"]),
        )


@dataclass(frozen=True)
class BurstRefusal:
    """Why a burst was refused: ``reason`` is ``zone``, ``cooldown``, ``budget`` or ``active``."""

    reason: RefusalReason
    message: str
    retry_after_s: float | None = None

    def to_error(self) -> BurstRefusedError:
        """Return the matching :class:`BurstRefusedError`."""
        return BurstRefusedError(self.message, reason=self.reason)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"reason": self.reason, "message": self.message, "retry_after_s": self.retry_after_s}


@dataclass(frozen=True)
class EndedBurst:
    """A burst that ended: its charged length, whether it ended automatically, its cooldown."""

    burst: Burst
    ended_at: float
    length_s: float
    automatic: bool
    cooldown_until: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            **self.burst.to_dict(),
            "ended_at": self.ended_at,
            "length_s": self.length_s,
            "automatic": self.automatic,
            "cooldown_until": self.cooldown_until,
        }


@dataclass(frozen=True)
class _State:
    day: str
    used_s: float
    cooldown_until: float
    active: Burst | None


class BurstLedger:
    """The daily budget, cooldown and running burst; thread-safe.

    Parameters
    ----------
    config
        ``daily_budget_fraction``, ``max_burst_seconds``, ``cooldown_factor``.
    clock
        The time of every decision.
    store
        Where the ledger persists (``None``: memory only).
    name
        The ledger's row in the budget table.
    """

    def __init__(
        self, config: ThermalConfig, clock: Clock, store: MemoryMap | None = None, name: str = "thermal"
    ):
        self.config = config
        self.clock = clock
        self.store = store
        self.name = name
        self.daily_budget_s = config.daily_budget_fraction * _DAY_SECONDS
        self._lock = threading.RLock()
        self.last_ended: EndedBurst | None = None
        self._settled: str | None = None  # the last burst its owner ended (charged in full)
        self._checked_day_start = math.nan  # the UTC day refresh last found up to date
        # While the clock reads within [_quiet_from, _quiet_until), refresh has nothing to do:
        # the same UTC day as its last check, and no burst's deadline passed. Any change of the
        # state closes the window (see _commit), and the next refresh takes the lock.
        self._quiet_from = self._quiet_until = math.nan
        now = clock.now()
        record = store.get_budget(name) if store is not None else None
        if record is None:
            self._state = _State(utc_day(now), 0.0, 0.0, None)
        else:
            active = Burst.from_dict(record.active_burst) if record.active_burst else None
            self._state = _State(record.day, record.used_seconds, record.cooldown_until, active)
            if active is not None:
                # The process stopped while this burst ran: charge it up to now (or its deadline).
                self._finish(min(now, active.deadline), min(now, active.deadline) - active.started_at, True)
        self.refresh()

    # -- state --------------------------------------------------------------------------------

    def _commit(self, state: _State) -> None:
        """Persist ``state``, then adopt it (a failed write changes nothing)."""
        self._quiet_until = math.nan  # the next refresh checks (NaN: no time is inside the window)
        if self.store is not None:
            self.store.set_budget(
                BudgetRecord(
                    name=self.name,
                    day=state.day,
                    used_seconds=state.used_s,
                    cooldown_until=state.cooldown_until,
                    active_burst=state.active.to_dict() if state.active else None,
                )
            )
        self._state = state

    def _finish(self, ended_at: float, length_s: float, automatic: bool) -> EndedBurst:
        burst = self._state.active
        assert burst is not None
        # An automatic end charges up to the deadline; an owner's end the measured length.
        length = min(max(length_s, 0.0), burst.max_seconds) if automatic else max(length_s, 0.0)
        cooldown_until = max(self._state.cooldown_until, ended_at + self.config.cooldown_factor * length)
        ended = EndedBurst(burst, ended_at, length, automatic, cooldown_until)
        self._commit(
            replace(
                self._state, used_s=self._state.used_s + length, cooldown_until=cooldown_until, active=None
            )
        )
        self.last_ended = ended
        return ended

    def refresh(self) -> EndedBurst | None:
        """End an overdue burst and reset the budget at a new UTC day; return an automatic end."""
        if self._quiet_from <= self.clock.now() < self._quiet_until:
            return None  # the common case, once per tick: nothing is due, no date to format
        with self._lock:
            now = self.clock.now()
            active = self._state.active
            day_start = _DAY_SECONDS * (now // _DAY_SECONDS)  # UTC days: whole multiples of 86,400 s
            if (active is None or now < active.deadline) and day_start == self._checked_day_start:
                self._quiet_from = day_start
                self._quiet_until = min(
                    day_start + _DAY_SECONDS, math.inf if active is None else active.deadline
                )
                return None
            ended = None
            if active is not None and now >= active.deadline:
                # Charge the burst to the day its deadline falls on, which may already be a new day.
                ending_day = utc_day(active.deadline)
                if ending_day != self._state.day:
                    self._commit(replace(self._state, day=ending_day, used_s=0.0))
                ended = self._finish(active.deadline, active.max_seconds, True)
            today = utc_day(now)
            if today != self._state.day:
                self._commit(replace(self._state, day=today, used_s=0.0))
            self._checked_day_start = day_start  # only once the day's state is written
            return ended

    @property
    def active(self) -> Burst | None:
        """The running burst, if any."""
        self.refresh()
        return self._state.active

    # -- start and end ------------------------------------------------------------------------

    def try_start(
        self, *, throttling_zone: str | None, requested_s: float | None, label: str
    ) -> Burst | BurstRefusal:
        """Grant a burst, or say why not; ``throttling_zone`` names the zone if it refuses bursts."""
        if requested_s is not None and (not math.isfinite(requested_s) or requested_s <= 0):
            raise InvalidInputError(f"requested_s must be a positive number of seconds, got {requested_s!r}")
        with self._lock:
            self.refresh()
            now = self.clock.now()
            state = self._state
            if state.active is not None:
                left = state.active.deadline - now
                return BurstRefusal("active", f"burst {state.active.burst_id} is already running", left)
            if throttling_zone is not None:
                return BurstRefusal("zone", f"thermal zone is {throttling_zone}: no bursts until it cools")
            if now < state.cooldown_until:
                left = state.cooldown_until - now
                return BurstRefusal("cooldown", f"cooling down for another {left:.1f} s", left)
            remaining = self.daily_budget_s - state.used_s
            if remaining <= 0:
                tomorrow = dt.datetime.fromisoformat(state.day).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
                return BurstRefusal(
                    "budget",
                    f"daily burst budget of {self.daily_budget_s:.0f} s is used up until midnight UTC",
                    tomorrow.timestamp() - now,
                )
            length = min(
                requested_s or self.config.max_burst_seconds, self.config.max_burst_seconds, remaining
            )
            burst = Burst(f"burst_{uuid.uuid4().hex[:12]}", label, now, now + length, requested_s)
            self._commit(replace(state, active=burst))
            return burst

    def end(self, burst_id: str | None = None, duration: float | None = None) -> EndedBurst:
        """End the running burst and charge its length: the clock's, or ``duration`` if longer.

        A stated ``duration`` may add to the measured length (up to the burst's maximum), never
        reduce it. Ending by id a burst that already ended automatically charges the time it ran
        past its deadline (once), with the longer cooldown that follows.

        Raises
        ------
        ConflictError
            If no burst is running (and ``burst_id`` does not name the last one).
        NotFoundError
            If ``burst_id`` names neither the running burst nor the last one.
        """
        if duration is not None and (not math.isfinite(duration) or duration < 0):
            raise InvalidInputError(f"duration must be a non-negative number of seconds, got {duration!r}")
        with self._lock:
            self.refresh()
            active = self._state.active
            last = self.last_ended
            if active is None or (burst_id is not None and burst_id != active.burst_id):
                if burst_id is not None and last is not None and last.burst.burst_id == burst_id:
                    return self._settle_overrun(last)
                if active is None:
                    raise ConflictError("no burst is running")
                raise NotFoundError(f"no burst {burst_id!r}; the running burst is {active.burst_id}")
            now = self.clock.now()
            stated = 0.0 if duration is None else min(duration, active.max_seconds)
            ended = self._finish(now, max(now - active.started_at, stated), False)
            self._settled = active.burst_id
            return ended

    def _settle_overrun(self, last: EndedBurst) -> EndedBurst:
        """Charge an automatically ended burst the time its owner ran past the deadline (once)."""
        if not last.automatic or self._settled == last.burst.burst_id:
            return last
        self._settled = last.burst.burst_id
        now = self.clock.now()
        extra = now - last.ended_at
        if extra <= 0:
            return last
        length = last.length_s + extra
        cooldown_until = max(self._state.cooldown_until, now + self.config.cooldown_factor * length)
        self._commit(replace(self._state, used_s=self._state.used_s + extra, cooldown_until=cooldown_until))
        self.last_ended = replace(last, ended_at=now, length_s=length, cooldown_until=cooldown_until)
        return self.last_ended

    def status(self) -> dict[str, Any]:
        """Return a JSON-ready summary: day, budget, used, remaining, cooldown, running burst."""
        with self._lock:
            self.refresh()
            now = self.clock.now()
            state = self._state
            return {
                "day": state.day,
                "budget_s": self.daily_budget_s,
                "used_s": state.used_s,
                "remaining_s": max(self.daily_budget_s - state.used_s, 0.0),
                "cooldown_until": state.cooldown_until,
                "cooldown_remaining_s": max(state.cooldown_until - now, 0.0),
                "max_burst_s": self.config.max_burst_seconds,
                "active_burst": state.active.to_dict() if state.active else None,
                "last_burst": self.last_ended.to_dict() if self.last_ended else None,
            }
