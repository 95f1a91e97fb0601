"""Margin: the account's equity across symbols, and the margin call that closes everything.

Equity is the account's (:mod:`tengri.engine.account`): the initial cash plus the realised profit
plus every open position marked at its symbol's last price, net of its entry costs.
The account is in breach when, after a tick's fills, its equity is at most 0, or below
``trading.maintenance_margin`` times the open positions' value ``Σ |size| · price``. On a breach
every position closes at its symbol's last price (this tick's close for the ticking symbol),
pending decisions are dropped, and no entry opens again: the run is over, as backtesting.py's
broker ends a run whose equity reaches 0 (``_OutOfMoneyError``, checked at the bar's close
after its orders are filled). Unlike backtesting.py, which sets cash to 0, the realised loss
stays as it is: an account that lost more than it held owes the difference.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tengri.engine.agent import ExecutionOutcome
from tengri.engine.desk import ExecutionDesk
from tengri.engine.signals import Tick

__all__ = ["MarginCall", "account_equity", "gross_exposure", "liquidate", "margin_breach", "settle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MarginCall:
    """When and why the account was closed out."""

    index: int
    timestamp: float
    symbol: str
    equity: float
    exposure: float
    reason: str  # "equity" (equity ≤ 0) or "maintenance" (below the maintenance margin)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarginCall:
        """Rebuild a margin call from :meth:`to_dict` output."""
        return cls(**data)


def account_equity(desk: ExecutionDesk) -> float:
    """Cash + realised profit + every open position marked at its symbol's last price."""
    return desk.account.equity()


def gross_exposure(desk: ExecutionDesk) -> float:
    """The open positions' value ``Σ |size| · price`` at their symbols' last prices."""
    return desk.account.gross_exposure()


def margin_breach(desk: ExecutionDesk, tick: Tick, equity: float | None = None) -> MarginCall | None:
    """The margin call this tick triggers (see the module docstring), or None.

    ``equity`` is the account's equity now, when the caller has it.
    """
    if not desk.positions:
        return None
    if equity is None:
        equity = account_equity(desk)
    if equity <= 0:
        reason = "equity"
    else:
        margin = desk.config.maintenance_margin
        # At a margin of 0 (the default) only equity <= 0 calls: no exposure to sum on every tick.
        if margin == 0 or not equity < margin * gross_exposure(desk):
            return None
        reason = "maintenance"
    exposure = gross_exposure(desk)
    log.warning(
        "margin call at tick %d (%s): equity %.2f, exposure %.2f; trading stops",
        tick.index,
        reason,
        equity,
        exposure,
    )
    return MarginCall(tick.index, tick.timestamp, tick.symbol, equity, exposure, reason)


def liquidate(desk: ExecutionDesk, tick: Tick, reason: str = "margin_call") -> list[ExecutionOutcome]:
    """Close every open position at its symbol's last price and drop pending decisions."""
    log.warning("%s at tick %d: closing %d position(s)", reason, tick.index, len(desk.positions))
    desk.pending = []
    closed: list[ExecutionOutcome] = []
    for position in list(desk.positions.values()):
        price = desk.account.price_of(position)
        at = Tick(position.symbol, tick.timestamp, price, tick.index)
        closed.append(desk.close(position.execution_id, at, price, reason))
    return closed


def settle(
    desk: ExecutionDesk,
    tick: Tick,
    call: MarginCall | None,
    closed: list[ExecutionOutcome],
) -> MarginCall | None:
    """A tick's account checks after its fills: the margin call, then the risk guard's kill switch.

    Appends what they close to ``closed``; returns the margin call in force (``call`` when one
    already stopped trading).
    """
    equity = desk.account.equity()
    if call is None and desk.account.positions:  # flat, nothing can be called
        call = margin_breach(desk, tick, equity)
        if call is not None:
            closed.extend(liquidate(desk, tick))
            equity = account_equity(desk)  # after the closes' costs
    if desk.risk.mark(equity, tick.timestamp, tick.index):
        closed.extend(liquidate(desk, tick, "risk_kill"))
    return call
