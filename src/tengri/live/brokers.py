"""Brokers for live trading: one protocol; the paper broker fills as the replay does.

The engine's desk (:mod:`tengri.engine.desk`, :mod:`tengri.engine.fills`) decides every fill,
live as in a replay: an execution opens and closes at the prices the replay's rules give. A
:class:`Broker` carries those fills to a market: each opened or closed execution becomes one
market :class:`Order` whose client order id is derived from the execution (so sending it twice
is recognised, see :func:`client_order_id`).

- :class:`PaperBroker` (``paper``, the default) fills every order at once at the desk's price:
  the replay's fills and costs, nothing else; its book is kept in a JSON-lines file so that a
  restart reconciles against it;
- :class:`~tengri.live.ccxt_broker.CcxtBroker` (``ccxt:EXCHANGE``) sends real orders.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

__all__ = ["Broker", "Order", "OrderReport", "PaperBroker", "client_order_id"]

log = logging.getLogger(__name__)

Side = Literal["buy", "sell"]
Purpose = Literal["open", "close"]
OrderStatus = Literal["filled", "partial", "open", "cancelled", "rejected", "dry_run"]
FINAL_STATUSES = frozenset({"filled", "cancelled", "rejected", "dry_run"})


def client_order_id(execution_id: str, purpose: Purpose) -> str:
    """The order id a broker is given for opening or closing ``execution_id``: the same every time.

    34 characters of ``[a-z0-9]`` (exchanges allow 32 to 36 and restrict the alphabet).
    """
    digest = hashlib.sha256(f"{execution_id}:{purpose}".encode()).hexdigest()[:32]
    return f"t{purpose[0]}{digest}"


@dataclass(frozen=True, slots=True)
class Order:
    """A market order carrying one fill of the desk: open or close ``execution_id``."""

    client_id: str
    execution_id: str
    purpose: Purpose
    symbol: str
    side: Side
    amount: float
    price: float  # the desk's fill price (the paper fill; a reference for a real market)


@dataclass(frozen=True, slots=True)
class OrderReport:
    """What a broker says of an order."""

    client_id: str
    status: OrderStatus
    symbol: str
    side: Side
    amount: float
    filled: float = 0.0
    average: float | None = None
    exchange_id: str | None = None
    reason: str = ""

    @property
    def final(self) -> bool:
        """Whether the order can change no more."""
        return self.status in FINAL_STATUSES


@runtime_checkable
class Broker(Protocol):
    """Where the desk's fills go (see the module docstring)."""

    name: str

    def submit(self, order: Order) -> OrderReport:
        """Send ``order``; an id already sent returns that order's state instead of a second order.

        Raises :class:`~tengri.errors.BrokerError` when the broker cannot be reached; a refused
        order is a report with status ``rejected``.
        """
        ...

    def find(self, client_id: str, symbol: str) -> OrderReport | None:
        """The order sent under ``client_id``, or None if the broker never received it."""
        ...

    def cancel(self, client_id: str, symbol: str) -> OrderReport:
        """Cancel an open order; return its final state."""
        ...

    def open_orders(self, symbol: str) -> list[OrderReport]:
        """Orders on ``symbol`` still open."""
        ...

    def position(self, symbol: str) -> float:
        """The net amount of ``symbol``'s base asset the account holds through Tengri's orders."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


class PaperBroker:
    """Fills every order at once at the desk's price, as the replay does; keeps a book.

    Parameters
    ----------
    book
        A JSON-lines file of the orders filled (kept across restarts), or None for memory only.
    """

    name = "paper"

    def __init__(self, book: Path | None = None) -> None:
        self.book: Path | None = None
        self._orders: dict[str, OrderReport] = {}
        if book is not None:
            self.open_book(book)

    def open_book(self, book: Path) -> None:
        """Keep the book in ``book`` from now on, reading the fills it already holds."""
        self.book = book
        if book.is_file():
            for line in book.read_text().splitlines():
                if line.strip():  # a kill mid-line leaves a partial last line: not a fill
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    self._orders[row["client_id"]] = OrderReport(**row)

    def submit(self, order: Order) -> OrderReport:
        """Fill ``order`` at its price (a repeated id returns the first fill)."""
        known = self._orders.get(order.client_id)
        if known is not None:
            return known
        report = OrderReport(
            order.client_id,
            "filled",
            order.symbol,
            order.side,
            order.amount,
            filled=order.amount,
            average=order.price,
            exchange_id=f"paper-{len(self._orders) + 1}",
        )
        self._orders[order.client_id] = report
        if self.book is not None:
            with self.book.open("a") as handle:
                handle.write(json.dumps(asdict(report)) + "\n")
        return report

    def find(self, client_id: str, symbol: str) -> OrderReport | None:
        """The paper fill under ``client_id``, if any."""
        return self._orders.get(client_id)

    def cancel(self, client_id: str, symbol: str) -> OrderReport:
        """Paper orders fill at once: nothing is ever open to cancel."""
        known = self._orders.get(client_id)
        if known is None:
            return OrderReport(client_id, "rejected", symbol, "buy", 0.0, reason="unknown order")
        return replace(known)

    def open_orders(self, symbol: str) -> list[OrderReport]:
        """Always empty: paper orders fill at once."""
        return []

    def position(self, symbol: str) -> float:
        """The net filled amount of ``symbol``."""
        return sum(
            (r.filled if r.side == "buy" else -r.filled) for r in self._orders.values() if r.symbol == symbol
        )

    def close(self) -> None:
        """The book is written as it goes."""
