"""The P&L of positions filled at the next bar's open, with commission and slippage, as the backtest fills.

A position decided at bar t's close (+1 long, −1 short, 0 flat) is filled at bar t + 1's open,
as ``tengri backtest`` fills a strategy's signal: a buy at ``open·(1 + slippage)``, a sell at
``open·(1 − slippage)``; commission is ``commission`` of the traded value at the fill price. An
entry invests all the cash, ``size = cash / (price·(1 + commission))`` units (fractional units),
so a reversal first closes, then opens with the cash after closing. Equity is marked at each
bar's open after that open's fills; any position still open is closed at the open after the
last decision. An account whose equity reaches zero (a short through a doubling) is bust: −100%,
and it trades no more.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tengri.errors import InvalidInputError

__all__ = ["NextOpenResult", "next_open_returns"]


class NextOpenResult(NamedTuple):
    """Per-decision net returns, the equity marked at opens, and the trades."""

    returns: NDArray[np.float64]
    """``returns[t]``: equity at open ``t + 1`` (after its fills) over the equity at open ``t``
    (at ``t = 0``: over the starting cash), so the entry costs of decision t fall in ``returns[t]``."""
    equity: NDArray[np.float64]
    """Equity at opens ``1 … n`` (after fills), starting cash 1 before the first."""
    trades: list[tuple[int, int, int, float, float]]
    """``(direction, entry_open, exit_open, entry_price, exit_price)``; ``*_open`` index ``opens``."""


def next_open_returns(
    position: ArrayLike, opens: ArrayLike, *, commission: float, slippage: float
) -> NextOpenResult:
    """Fill ``position[t]`` at ``opens[t + 1]``; ``opens`` has one more bar than ``position``.

    The position of the last decision is not held: everything is closed at ``opens[n]``.

    Raises
    ------
    InvalidInputError
        If the lengths do not fit, a position is not −1, 0 or 1, or a price is not positive.
    """
    wanted = np.asarray(position, dtype=np.float64)
    price = np.asarray(opens, dtype=np.float64)
    n = wanted.size
    if price.size != n + 1:
        raise InvalidInputError(f"next_open_returns: need {n + 1} opens for {n} positions, got {price.size}")
    if not np.isin(wanted, (-1.0, 0.0, 1.0)).all():
        raise InvalidInputError("next_open_returns: positions must be -1, 0 or 1")
    if not (np.isfinite(price).all() and (price > 0).all()):
        raise InvalidInputError("next_open_returns: opens must be finite and positive")
    cash, units, held = 1.0, 0.0, 0
    entry_open, entry_price = 0, 0.0
    trades: list[tuple[int, int, int, float, float]] = []
    equity = np.empty(n)
    for t in range(n):
        k = t + 1
        target = 0 if t == n - 1 else int(wanted[t])
        if held not in (target, 0):  # close first
            fill = price[k] * (1 + slippage) if held < 0 else price[k] * (1 - slippage)
            cash += units * fill - abs(units) * fill * commission
            trades.append((held, entry_open, k, entry_price, float(fill)))
            units, held = 0.0, 0
        if target != held:
            fill = price[k] * (1 + slippage) if target > 0 else price[k] * (1 - slippage)
            size = cash / (fill * (1 + commission))
            units = target * size
            cash -= units * fill + size * fill * commission
            held, entry_open, entry_price = target, k, float(fill)
        equity[t] = cash + units * price[k]
        if equity[t] <= 0:  # bust: nothing left to trade with
            equity[t:] = 0.0
            break
    previous = np.concatenate([[1.0], equity[:-1]])
    returns = np.divide(equity, previous, out=np.ones(n), where=previous > 0) - 1.0
    return NextOpenResult(returns, equity, trades)
