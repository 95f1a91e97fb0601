"""Heavy work inside bursts: the one way Tengri runs a fit, a trial, a fold or quantum inference.

DESIGN.md, Next seams: Compute governance. ``with manager.compute("training") as budget:`` asks
the thermal manager for a burst and yields a :class:`ComputeBudget`. The work calls
:meth:`ComputeBudget.pause_point` at its natural points (between batches, epochs, trials, folds):
once :meth:`ComputeBudget.should_pause` holds (the burst's time is up on the clock, or the zone
turned hot), the burst ends there, is charged its measured length, and the work waits — on the
manager's clock, so a test never sleeps — for the next granted burst after the cooldown, then
goes on with its state intact. A limit is therefore overrun by at most one step.

A refused burst follows the budget's policy:

``wait`` (live)
    A cooldown or a running burst is waited out; a hot zone is polled every ``poll_s`` until it
    cools; an exhausted daily budget waits for midnight UTC. ``max_wait_s`` bounds the wait.
``skip`` (replay)
    A cooldown or a running burst is waited out (it ends at a known time); a hot zone or an
    exhausted budget raises :class:`~tengri.errors.BurstRefusedError` at once, so the caller keeps
    what it has (the current fit) and reports the skipped work.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tengri.engine.clock import sleep
from tengri.engine.thermal.bursts import Burst, BurstRefusal, EndedBurst
from tengri.errors import BurstRefusedError

if TYPE_CHECKING:
    from tengri.engine.thermal.manager import ThermalZoneManager

__all__ = ["ComputeBudget", "ComputeStats", "RefusalPolicy"]

log = logging.getLogger(__name__)

RefusalPolicy = Literal["wait", "skip"]
_POLL_S = 5.0


@dataclass
class ComputeStats:
    """What the manager's bursts did since it started: the ``compute`` part of a run's summary."""

    bursts_granted: int = 0
    bursts_refused: int = 0
    burst_seconds: float = 0.0
    work_paused: int = 0
    torch_threads_max: int = 0
    model_every_max: int = 0


class ComputeBudget:
    """A piece of heavy work's hold on bursts: entered once, paused and resumed at natural points.

    Parameters
    ----------
    manager
        The thermal manager that grants bursts.
    label
        The work's name in ``bursts.csv`` and the log (``training``, ``trial 3``, ``fold 2``).
    policy
        ``wait`` or ``skip`` on a refusal (see the module's docstring).
    on_burst_end
        Called with each ended burst and the label (a run's journal records it).
    check_every_s
        Sensors are re-read by :meth:`should_pause` at most this often (clock seconds).
    max_wait_s
        The longest a ``wait`` is allowed before the refusal is raised (``None``: no bound).
    poll_s
        How often a refusal without a known end (the zone) is asked again.
    """

    def __init__(
        self,
        manager: ThermalZoneManager,
        label: str,
        *,
        policy: RefusalPolicy = "wait",
        on_burst_end: Callable[[EndedBurst, str], None] | None = None,
        check_every_s: float = 1.0,
        max_wait_s: float | None = None,
        poll_s: float = _POLL_S,
    ) -> None:
        self.manager = manager
        self.label = label
        self.policy: RefusalPolicy = policy
        self.on_burst_end = on_burst_end
        self.check_every_s = check_every_s
        self.max_wait_s = max_wait_s
        self.poll_s = poll_s
        self.burst: Burst | None = None
        self.ended: list[EndedBurst] = []
        self.pauses = 0
        self._checked_at = -math.inf

    # -- the context --------------------------------------------------------------------------

    def __enter__(self) -> ComputeBudget:
        self._acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    @property
    def seconds(self) -> float:
        """Seconds charged to the budget by this work's ended bursts."""
        return sum(ended.length_s for ended in self.ended)

    @property
    def device(self) -> str:
        """The device heavy work inside this burst should use (``cuda`` or ``cpu``)."""
        return self.manager.inference_device()

    @property
    def remaining_s(self) -> float:
        """Seconds left before the running burst's deadline (0 without one)."""
        if self.burst is None:
            return 0.0
        return max(self.burst.deadline - self.manager.clock.now(), 0.0)

    # -- natural points -----------------------------------------------------------------------

    def should_pause(self) -> bool:
        """Whether the work should stop at this point: the burst's time is up, or the zone is hot."""
        if self.burst is None:
            return True
        now = self.manager.clock.now()
        if now >= self.burst.deadline:
            return True
        if now - self._checked_at >= self.check_every_s:
            self._checked_at = now
            self.manager.update_thermal_state()
        return self.manager.is_throttling()

    def pause_point(self) -> None:
        """A natural point of the work: if it should pause, end the burst and wait for the next.

        Raises
        ------
        BurstRefusedError
            Under the ``skip`` policy, when the next burst is refused for the zone or the budget
            (or a ``wait`` outlasts ``max_wait_s``); the work stops and its caller keeps what it had.
        """
        if not self.should_pause():
            return
        self.pauses += 1
        self.manager.compute_stats.work_paused += 1
        log.info("%s paused after %.2f s of its burst; waiting for the next", self.label, self._elapsed())
        self._release()
        self._acquire()
        log.info("%s resumed", self.label)

    # -- bursts -------------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return 0.0 if self.burst is None else self.manager.clock.now() - self.burst.started_at

    def _acquire(self) -> None:
        manager, stats = self.manager, self.manager.compute_stats
        waited = 0.0
        while True:
            attempt = manager.try_start_burst(label=self.label)
            if isinstance(attempt, Burst):
                self.burst = attempt
                self._checked_at = manager.clock.now()
                stats.bursts_granted += 1
                log.info(
                    "burst granted for %s: up to %.1f s (zone %s)",
                    self.label,
                    attempt.max_seconds,
                    manager.zone,
                )
                return
            stats.bursts_refused += 1
            delay = self._delay(attempt)
            if delay is None or (self.max_wait_s is not None and waited + delay > self.max_wait_s):
                log.warning("burst refused for %s (%s): %s", self.label, attempt.reason, attempt.message)
                raise BurstRefusedError(attempt.message, reason=attempt.reason)
            log.info("burst refused for %s (%s); waiting %.1f s", self.label, attempt.reason, delay)
            sleep(manager.clock, delay)
            waited += delay

    def _delay(self, refusal: BurstRefusal) -> float | None:
        """How long to wait before asking again, or ``None`` to give up under this policy."""
        known = refusal.retry_after_s
        if refusal.reason in ("cooldown", "active"):
            return max(known if known is not None else self.poll_s, 1e-3)
        if self.policy == "skip":
            return None
        if refusal.reason == "budget" and known is not None:
            return max(known, 1e-3)
        return self.poll_s

    def _release(self) -> None:
        burst, self.burst = self.burst, None
        if burst is None:
            return
        ended = self.manager.end_burst(burst.burst_id)
        self.ended.append(ended)
        self.manager.compute_stats.burst_seconds += ended.length_s
        log.debug("burst for %s ended after %.3f s", self.label, ended.length_s)
        if self.on_burst_end is not None:
            self.on_burst_end(ended, self.label)
