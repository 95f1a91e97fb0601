"""A command's heavy work inside the thermal manager's bursts, with the bursts it used recorded.

``tengri train``, ``tune`` and ``evaluate`` run outside an engine: each opens the store (whose
``thermal_budget`` row the engine shares, so the daily budget is one for the machine), a thermal
manager reading the configured sensors, and asks it for a burst per fit, trial or fold
(DESIGN.md, Next seams: Compute governance). A refusal is waited out for at most
``thermal.max_wait_seconds`` on the manager's clock, then raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tengri.engine import ComputeBudget, EndedBurst, MemoryMap, ThermalZoneManager
from tengri.engine.thermal import RefusalPolicy
from tengri.services.journal import iso

if TYPE_CHECKING:
    from tengri.config import TengriConfig

__all__ = ["CommandCompute", "command_compute"]


class CommandCompute:
    """Grants a command's bursts and keeps one row per burst (``start, end, seconds, label``).

    Parameters
    ----------
    thermal
        The thermal manager that grants bursts.
    policy
        What a refusal does (:mod:`tengri.engine.thermal.compute`).
    max_wait_s
        The longest a refusal is waited out before it is raised.
    """

    def __init__(
        self, thermal: ThermalZoneManager, *, policy: RefusalPolicy = "wait", max_wait_s: float | None = None
    ) -> None:
        self.thermal = thermal
        self.policy: RefusalPolicy = policy
        self.max_wait_s = max_wait_s
        self.bursts: list[dict[str, Any]] = []

    def budget(self, label: str) -> ComputeBudget:
        """Return the context manager that runs one piece of work (a fit, a trial, a fold) in bursts."""
        return self.thermal.compute(
            label, policy=self.policy, on_burst_end=self.record, max_wait_s=self.max_wait_s
        )

    def record(self, ended: EndedBurst, label: str) -> None:
        """Keep an ended burst as a ``bursts.csv`` row."""
        self.bursts.append(
            {
                "start": iso(ended.burst.started_at),
                "end": iso(ended.ended_at),
                "seconds": ended.length_s,
                "label": label,
            }
        )


@contextmanager
def command_compute(
    config: TengriConfig, thermal: ThermalZoneManager | None = None
) -> Iterator[CommandCompute]:
    """Yield a :class:`CommandCompute` on ``thermal``, or on a manager over the configured store."""
    wait = config.thermal.max_wait_seconds
    if thermal is not None:
        yield CommandCompute(thermal, max_wait_s=wait)
        return
    store = MemoryMap.from_config(config)
    try:
        yield CommandCompute(ThermalZoneManager(store=store, config=config), max_wait_s=wait)
    finally:
        store.close()
