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
from typing import Any

from tengri.config import RiskConfig
from tengri.engine import _kernel

__all__ = ["RiskGuard"]

log = logging.getLogger(__name__)

_NO_LIMITS = RiskConfig()


class RiskGuard(_kernel.RiskCore):
    """Watches the account's equity each tick and gates and caps entries (see the module docstring).

    The marks and positions it judges by are the account's (:mod:`tengri.engine.account`). Its
    per-tick :meth:`mark` is compiled (:class:`tengri.engine._kernel.RiskCore`, which keeps the
    peak, the UTC day and the day's starting equity); the limits' hits are counted and logged here.
    """

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        self._limits: tuple[RiskConfig, bool] | None = None  # see limits
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

    # -- the account, each tick (mark, compiled) ----------------------------------------------
    def _daily_limit_hit(self, index: int, equity: float, day_start: float) -> None:
        self.counts["max_daily_loss"] += 1
        log.warning(
            "risk: daily loss limit at tick %d (equity %.2f from %.2f): no entries until the next day",
            index,
            equity,
            day_start,
        )

    def _drawdown_hit(self, index: int, equity: float, peak: float) -> None:
        self.counts["max_drawdown"] += 1
        log.warning(
            "risk: drawdown kill switch at tick %d (equity %.2f, peak %.2f): flattening, no more entries",
            index,
            equity,
            peak,
        )

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
        if self.blocked_on(timestamp):
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
            "day": self._day_number,
            "day_start": self._day_start_equity,
            "last_equity": self._last_equity_seen,
            "blocked_day": self._blocked_day_number,
            "counts": dict(self.counts),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore :meth:`snapshot` output (an empty dict leaves a fresh guard)."""
        if not state:
            return
        self.peak = state["peak"]
        self.killed_at = state["killed_at"]
        self._day_number = state["day"]
        self._day_start_equity = state["day_start"]
        self._last_equity_seen = state["last_equity"]
        self._blocked_day_number = state["blocked_day"]
        self.counts.update(state["counts"])
