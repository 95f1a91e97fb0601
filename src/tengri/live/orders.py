"""Orders from the desk's fills, recorded in the store, and reconciliation with the broker on start.

Every tick's opened and closed executions become :class:`~tengri.live.brokers.Order` s (closes
first, as the desk fills them). The order of an execution is sent only after the tick that
made it is committed to the store, and its broker report is recorded in the store's
``live_orders`` namespace after it is sent. A kill between the two leaves an execution whose
order is not recorded; :func:`reconcile` finds it on the next start.

Reconciliation rule (documented in the README's "Live trading"):

1. The store is the book of record. For every stored execution, the order that opens it and,
   once closed, the order that closes it are expected.
2. An expected order not recorded is looked up at the broker by its client order id (derived
   from the execution, so the same every time): found, it is recorded as it stands (*adopted*,
   never sent twice); not found, it is sent now (*sent*), except an open and a close of the
   same execution that were both never sent, which cancel out (*skipped*).
3. The broker's position (a ccxt account's total of the base asset) is then compared with the
   store's open executions; a difference is reported (a holding Tengri did not make, or an
   order the exchange filled in part), never traded away. Open orders carrying Tengri's ids
   are reported too.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from tengri.engine import MemoryMap
from tengri.engine.store import ExecutionRecord
from tengri.errors import BrokerError
from tengri.live.brokers import Broker, Order, OrderReport, Purpose, client_order_id

__all__ = ["ORDERS_NAMESPACE", "OrderRouter", "Reconciliation", "reconcile"]

log = logging.getLogger(__name__)

ORDERS_NAMESPACE = "live_orders"


def _order(
    execution_id: str, purpose: Purpose, symbol: str, direction: int, size: float, price: float
) -> Order:
    side_sign = direction if purpose == "open" else -direction
    return Order(
        client_order_id(execution_id, purpose),
        execution_id,
        purpose,
        symbol,
        "buy" if side_sign > 0 else "sell",
        float(size),
        float(price),
    )


class OrderRouter:
    """Sends the desk's fills to a broker and records each report in the store."""

    def __init__(self, broker: Broker, store: MemoryMap, symbol: str) -> None:
        self.broker = broker
        self.store = store
        self.symbol = symbol
        self.in_flight: dict[str, Order] = {}  # sent, not final (a partial fill going on)
        self.unsent: dict[str, Order] = {}  # the broker could not be reached: tried again
        self.errors = 0
        self.last_error: str | None = None
        self.counts: dict[str, int] = {}

    def orders_for(self, result: dict[str, Any]) -> list[Order]:
        """The orders that carry a tick's fills (its closes first)."""
        orders = [
            _order(c["execution_id"], "close", self.symbol, c["direction"], c["size"], c["exit_price"])
            for c in result["closed"]
        ]
        orders += [
            _order(o["execution_id"], "open", self.symbol, o["direction"], o["size"], o["entry_price"])
            for o in result["opened"]
        ]
        return orders

    def route(self, result: dict[str, Any]) -> list[OrderReport]:
        """Send (and record) the orders of a committed tick's result."""
        return [report for order in self.orders_for(result) if (report := self.send(order)) is not None]

    def send(self, order: Order) -> OrderReport | None:
        """Send one order and record its report; a broker failure is counted and reported, not raised.

        An order the broker could not be reached for waits in :attr:`unsent` and is tried again by
        :meth:`refresh` (its client order id makes a second try safe).
        """
        self.unsent.pop(order.client_id, None)
        try:
            report = self.broker.submit(order)
        except BrokerError as exc:
            self.unsent[order.client_id] = order
            self.errors += 1
            self.last_error = exc.message
            log.error(
                "order %s (%s %s %s) failed: %s",
                order.client_id,
                order.side,
                order.amount,
                order.symbol,
                exc.message,
            )
            return None
        self.record(order, report)
        return report

    def record(self, order: Order, report: OrderReport) -> None:
        """Keep ``report`` in the store (the order is no longer in flight once final)."""
        row = {
            **asdict(report),
            "execution_id": order.execution_id,
            "purpose": order.purpose,
            "price": order.price,
        }
        previous = self.store.get(ORDERS_NAMESPACE, order.client_id)
        self.store.set(ORDERS_NAMESPACE, order.client_id, row)
        if report.final:
            self.in_flight.pop(order.client_id, None)
        else:
            self.in_flight[order.client_id] = order
        if previous == row:
            return  # nothing new (an order in flight asked about again)
        self.counts[report.status] = self.counts.get(report.status, 0) + 1
        if report.status == "rejected":
            self.errors += 1
            self.last_error = f"order {order.client_id} rejected: {report.reason}"
            log.error(self.last_error)
        else:
            log.info(
                "order %s %s %s %g %s: %s",
                order.client_id,
                order.purpose,
                order.side,
                order.amount,
                order.symbol,
                report.status,
            )

    def refresh(self) -> None:
        """Try unsent orders again; ask the broker about orders still in flight; record changes."""
        for order in list(self.unsent.values()):
            self.send(order)
        for client_id, order in list(self.in_flight.items()):
            try:
                report = self.broker.find(client_id, self.symbol)
            except BrokerError as exc:
                self.errors += 1
                self.last_error = exc.message
                log.error("order %s: %s", client_id, exc.message)
                continue
            if report is not None:
                self.record(order, report)

    def recorded(self) -> dict[str, dict[str, Any]]:
        """Every recorded order report, by client order id."""
        return self.store.items(ORDERS_NAMESPACE)


@dataclass
class Reconciliation:
    """What :func:`reconcile` found and did."""

    adopted: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    expected_position: float = 0.0
    broker_position: float = 0.0
    open_orders: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def position_difference(self) -> float:
        """The broker's position less the store's."""
        return self.broker_position - self.expected_position

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {**asdict(self), "position_difference": self.position_difference}


def _expected(row: ExecutionRecord, symbol: str) -> list[Order]:
    orders = [_order(row.execution_id, "open", symbol, row.direction, row.size, row.entry_price)]
    if row.status != "open":
        orders.append(
            _order(
                row.execution_id, "close", symbol, row.direction, row.size, row.exit_price or row.entry_price
            )
        )
    return orders


def reconcile(router: OrderRouter, agent_id: str) -> Reconciliation:
    """Bring the broker in line with the store by the module docstring's rule; return what was done."""
    found = Reconciliation()
    recorded = router.recorded()
    broker, symbol = router.broker, router.symbol
    for row in router.store.executions(agent_id=agent_id):
        missing: list[tuple[Order, OrderReport | None]] = []
        for order in _expected(row, symbol):
            if order.client_id in recorded:
                continue
            missing.append((order, broker.find(order.client_id, symbol)))
        unsent = [order for order, report in missing if report is None]
        if len(unsent) == 2:  # opened and closed while nothing was sent: they cancel out
            for order in unsent:
                router.record(
                    order,
                    OrderReport(
                        order.client_id,
                        "cancelled",
                        symbol,
                        order.side,
                        order.amount,
                        reason="never sent; its execution closed",
                    ),
                )
                found.skipped.append(order.client_id)
            continue
        for order, report in missing:
            if report is not None:
                router.record(order, report)
                found.adopted.append(order.client_id)
            else:
                router.send(order)
                found.sent.append(order.client_id)
    found.expected_position = sum(r.direction * r.size for r in router.store.open_executions(agent_id))
    found.broker_position = broker.position(symbol)
    ours = {
        client_order_id(r.execution_id, p)
        for r in router.store.executions(agent_id=agent_id)
        for p in ("open", "close")
    }
    found.open_orders = [o.client_id for o in broker.open_orders(symbol) if o.client_id in ours]
    if abs(found.position_difference) > 1e-9:
        found.notes.append(
            f"the broker holds {found.broker_position:g} {symbol}, the store's open executions "
            f"{found.expected_position:g}: the difference is reported, not traded"
        )
    if found.open_orders:
        found.notes.append(f"open orders of Tengri's at the broker: {', '.join(found.open_orders)}")
    for note in found.notes:
        log.warning("reconciliation: %s", note)
    log.info(
        "reconciliation: %d adopted, %d sent, %d skipped",
        len(found.adopted),
        len(found.sent),
        len(found.skipped),
    )
    return found
