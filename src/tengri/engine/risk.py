"""Risk limits: a drawdown kill switch, a daily loss limit, and caps on exposure and position size.

Settings (``[risk]``, each off when unset):

- ``max_drawdown_pct``: when the account's equity falls this many percent below its peak, every
  position closes at the last price and no entry opens again (a kill switch for the run);
- ``max_daily_loss_pct``: when equity falls this many percent below its value at the end of the
  previous UTC day, no entry opens until the next UTC day (open positions stay);
- ``max_gross_exposure``: an entry is cut so that the open positions' value ``Σ |size|·price``
  stays within this multiple of equity (refused when nothing is left);
- ``max_position_fraction``: an entry is cut so that its symbol's positions are worth at most
  this fraction of equity (refused when nothing is left).

Each hit is logged and counted (:meth:`RiskGuard.summary`, ``summary.json``'s ``"risk"``): the
kill switch and a day's loss limit once when they trip, the entries they refuse, and every entry
a cap cut or refused.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from tengri.config import RiskConfig

__all__ = ["RiskGuard"]

log = logging.getLogger(__name__)

_DAY = 86_400.0
_NO_LIMITS = RiskConfig()


class RiskGuard:
    """Watches the account's equity each tick and gates and caps entries (see the module docstring).

    The marks and positions it judges by are the account's (:mod:`tengri.engine.account`).
    """

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        self._limits: tuple[RiskConfig, bool] | None = None  # see limits
        self.peak: float | None = None
        self.killed_at: int | None = None
        self._day: int | None = None
        self._day_start: float | None = None
        self._last_equity: float | None = None
        self._blocked_day: int | None = None
        # Set from outside (a live run's stale feed): why entries are held, None when they are not.
        self.entries_held: str | None = None
        self.counts = {
            "max_drawdown": 0,
            "max_drawdown_refused": 0,
            "max_daily_loss": 0,
            "max_daily_loss_refused": 0,
            "max_gross_exposure": 0,
            "max_position_fraction": 0,
        }

    @property
    def limits(self) -> bool:
        """Whether any limit is set (the config differs from the default one); cached per (frozen) config."""
        cached = self._limits
        if cached is None or cached[0] is not self.config:
            cached = self._limits = (self.config, self.config != _NO_LIMITS)
        return cached[1]

    # -- the account, each tick ---------------------------------------------------------------
    def mark(self, equity: float, timestamp: float, index: int) -> bool:
        """Take the account's equity after a tick; return True when the kill switch trips now."""
        cfg = self.config
        day = math.floor(timestamp / _DAY)
        if day != self._day:
            self._day = day
            self._day_start = self._last_equity if self._last_equity is not None else equity
        self._last_equity = equity
        if (
            cfg.max_daily_loss_pct is not None
            and self._blocked_day != day
            and self._day_start is not None
            and self._day_start > 0
            and equity <= self._day_start * (1.0 - cfg.max_daily_loss_pct / 100.0)
        ):
            self._blocked_day = day
            self.counts["max_daily_loss"] += 1
            log.warning(
                "risk: daily loss limit at tick %d (equity %.2f from %.2f): no entries until the next day",
                index,
                equity,
                self._day_start,
            )
        self.peak = equity if self.peak is None else max(self.peak, equity)
        if (
            cfg.max_drawdown_pct is not None
            and self.killed_at is None
            and self.peak > 0
            and equity <= self.peak * (1.0 - cfg.max_drawdown_pct / 100.0)
        ):
            self.killed_at = index
            self.counts["max_drawdown"] += 1
            log.warning(
                "risk: drawdown kill switch at tick %d (equity %.2f, peak %.2f): flattening, no more entries",
                index,
                equity,
                self.peak,
            )
            return True
        return False

    # -- entries ------------------------------------------------------------------------------
    def allows_entry(self, timestamp: float) -> bool:
        """Whether an entry may open now (not after the kill switch, nor on a day past its loss limit).

        Nor while :attr:`entries_held` says why not (a live feed gone stale).
        """
        if self.entries_held is not None:
            self.counts["entries_held_refused"] = self.counts.get("entries_held_refused", 0) + 1
            return False
        if self.killed_at is not None:
            self.counts["max_drawdown_refused"] += 1
            return False
        if self._blocked_day is not None and math.floor(timestamp / _DAY) == self._blocked_day:
            self.counts["max_daily_loss_refused"] += 1
            return False
        return True

    def cap(self, size: float, fill: float, equity: float, gross: float, symbol_value: float) -> float:
        """The entry's size within the exposure and position caps (0: refused), counting cuts."""
        cfg = self.config
        if cfg.max_position_fraction is not None:
            room = max(0.0, cfg.max_position_fraction * equity - symbol_value) / fill
            if size > room:
                self.counts["max_position_fraction"] += 1
                log.info("risk: entry cut from %.6g to %.6g units by max_position_fraction", size, room)
                size = room
        if cfg.max_gross_exposure is not None:
            room = max(0.0, cfg.max_gross_exposure * equity - gross) / fill
            if size > room:
                self.counts["max_gross_exposure"] += 1
                log.info("risk: entry cut from %.6g to %.6g units by max_gross_exposure", size, room)
                size = room
        return size

    # -- state --------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The hits so far, for ``summary.json``'s ``"risk"``."""
        return {**self.counts, "killed_at_tick": self.killed_at}

    def snapshot(self) -> dict[str, Any]:
        """The guard's state, for the engine's checkpoint."""
        return {
            "peak": self.peak,
            "killed_at": self.killed_at,
            "day": self._day,
            "day_start": self._day_start,
            "last_equity": self._last_equity,
            "blocked_day": self._blocked_day,
            "counts": dict(self.counts),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore :meth:`snapshot` output (an empty dict leaves a fresh guard)."""
        if not state:
            return
        self.peak = state["peak"]
        self.killed_at = state["killed_at"]
        self._day = state["day"]
        self._day_start = state["day_start"]
        self._last_equity = state["last_equity"]
        self._blocked_day = state["blocked_day"]
        self.counts.update(state["counts"])
