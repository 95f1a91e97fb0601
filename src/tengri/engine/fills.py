"""The fill model: where a stop-loss or take-profit attached to a position fills inside a bar.

One model for the replay and for any broker that simulates fills (the paper broker): a position
carries optional price levels ``sl`` and ``tp``, and each tick (a bar with ``open``, ``high``,
``low``; a bare tick is a bar whose four prices are its price) is checked against them:

- a long position's stop is hit when ``low ≤ sl`` and fills at ``min(open, sl)``; its target is
  hit when ``high ≥ tp`` and fills at ``max(open, tp)``; a short's mirror those;
- so a gap through the level fills at the open, the price first tradable beyond it;
- a bar that touches both levels is taken as the stop's: its path inside the bar is unknown, and
  the pessimistic reading is backtesting.py's (its stop-loss order is processed before the
  take-profit), which keeps the two in step;
- a position opened at this bar's open is checked against the same bar (as backtesting.py does).

Entry orders (:class:`~tengri.engine.signals.Target`'s ``limit`` or ``stop``) follow
backtesting.py's rules: a buy limit fills when ``low ≤ limit`` at ``min(open, limit)``, a buy stop
when ``high ≥ stop`` at ``max(open, stop)`` (a sell's mirror those); an order not filled waits for
the next bar until its expiry. A stop and target attached to such an entry are checked from the
bar it fills in (backtesting.py defers them to the next bar, with a warning).

Levels come from the signal (:class:`~tengri.engine.signals.Target`'s ``sl`` and ``tp``) or, when
it gives none, from ``trading.stop_loss`` and ``trading.take_profit`` as fractions of the entry
fill: ``sl = entry·(1 − d·stop_loss)``, ``tp = entry·(1 + d·take_profit)`` for direction ``d``.
"""

from __future__ import annotations

__all__ = ["entry_fill", "level_fill", "levels"]


def levels(
    direction: int,
    entry: float,
    sl: float | None,
    tp: float | None,
    stop_loss: float | None,
    take_profit: float | None,
) -> tuple[float | None, float | None]:
    """The position's stop and target prices: the signal's, else the configured fractions of ``entry``."""
    if sl is None and stop_loss is not None:
        sl = entry * (1.0 - direction * stop_loss)
    if tp is None and take_profit is not None:
        tp = entry * (1.0 + direction * take_profit)
    return sl, tp


def level_fill(
    direction: int,
    sl: float | None,
    tp: float | None,
    open_: float,
    high: float,
    low: float,
) -> tuple[float, str] | None:
    """The price and reason (``stop_loss`` or ``take_profit``) at which this bar closes the position."""
    if sl is not None:
        if direction > 0 and low <= sl:
            return min(open_, sl), "stop_loss"
        if direction < 0 and high >= sl:
            return max(open_, sl), "stop_loss"
    if tp is not None:
        if direction > 0 and high >= tp:
            return max(open_, tp), "take_profit"
        if direction < 0 and low <= tp:
            return min(open_, tp), "take_profit"
    return None


def entry_fill(
    direction: int, limit: float | None, stop: float | None, open_: float, high: float, low: float
) -> float | None:
    """The price at which a limit or stop entry fills in this bar, or None (a market order: the open)."""
    if limit is not None:
        if direction > 0:
            return min(open_, limit) if low <= limit else None
        return max(open_, limit) if high >= limit else None
    if stop is not None:
        if direction > 0:
            return max(open_, stop) if high >= stop else None
        return min(open_, stop) if low <= stop else None
    return open_
