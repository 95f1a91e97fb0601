"""Real orders through ccxt: market orders under Tengri's client order ids, dry-run unless told.

Without ``live_orders`` nothing is sent: each order is logged and reported as ``dry_run`` (the
desk still trades on paper, so the run's files say what would have happened). With it, each
order is first looked up by its client order id (an order a killed process sent is never sent
again), then sent as a market order carrying that id. A refusal by the exchange (insufficient
funds, an amount under the market's minimum, a bad symbol) is a ``rejected`` report; a network
failure or a bad key is a :class:`~tengri.errors.BrokerError`. A partial fill is reported as
``partial`` with the amount filled. ccxt's own rate limiter spaces the requests.
"""

from __future__ import annotations

import logging
from typing import Any

from tengri.errors import BrokerError, InvalidInputError
from tengri.live.brokers import Order, OrderReport, OrderStatus
from tengri.live.exchange import make_exchange
from tengri.live.specs import ExchangeSettings, exchange_credentials

__all__ = ["CcxtBroker"]

log = logging.getLogger(__name__)

_STATUS: dict[str, OrderStatus] = {
    "closed": "filled",
    "open": "open",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "expired": "cancelled",
    "rejected": "rejected",
}


class CcxtBroker:
    """Orders on ``symbol`` at ``exchange_id`` (see the module docstring)."""

    def __init__(
        self,
        exchange_id: str,
        symbol: str,
        *,
        settings: ExchangeSettings | None = None,
        live_orders: bool = False,
        client: Any = None,
    ) -> None:
        settings = settings or ExchangeSettings()
        credentials = exchange_credentials(exchange_id)
        if live_orders and not {"apiKey", "secret"} <= credentials.keys() and client is None:
            raise InvalidInputError(
                f"--live-orders needs TENGRI_{exchange_id.upper()}_API_KEY and _SECRET in the environment"
            )
        self.exchange = client or make_exchange(
            exchange_id,
            credentials=credentials,
            sandbox=settings.sandbox,
            urls=settings.urls,
            options=settings.options,
            rate_limit_ms=settings.rate_limit_ms,
        )
        self.symbol = symbol
        self.live_orders = live_orders
        self.name = f"ccxt:{exchange_id}" + ("" if live_orders else " (dry run)")
        self._dry: dict[str, OrderReport] = {}
        self._base: str | None = None

    # -- orders -------------------------------------------------------------------------------
    def submit(self, order: Order) -> OrderReport:
        """Send ``order`` as a market order (dry-run: log and report it); see the module docstring."""
        import ccxt

        if not self.live_orders:
            report = OrderReport(
                order.client_id, "dry_run", self.symbol, order.side, order.amount, reason="dry run"
            )
            self._dry[order.client_id] = report
            log.info(
                "dry run: would %s %g %s (order %s)", order.side, order.amount, self.symbol, order.client_id
            )
            return report
        known = self.find(order.client_id, self.symbol)
        if known is not None:
            log.warning("order %s was sent before (%s): not sent again", order.client_id, known.status)
            return known
        try:
            amount = float(self.exchange.amount_to_precision(self.symbol, order.amount))
            raw = self.exchange.create_order(
                self.symbol, "market", order.side, amount, None, {"clientOrderId": order.client_id}
            )
        except (
            ccxt.InsufficientFunds,
            ccxt.InvalidOrder,
            ccxt.BadSymbol,
            ccxt.OrderImmediatelyFillable,
        ) as exc:
            return OrderReport(
                order.client_id, "rejected", self.symbol, order.side, order.amount, reason=_reason(exc)
            )
        except ccxt.BaseError as exc:
            raise BrokerError(f"{self.name}: order {order.client_id} not sent: {_reason(exc)}") from None
        return self._report(raw, order.client_id)

    def find(self, client_id: str, symbol: str) -> OrderReport | None:
        """The order sent under ``client_id`` (None if the exchange never received it)."""
        import ccxt

        if not self.live_orders:
            return self._dry.get(client_id)
        try:
            raw = self.exchange.fetch_order("", self.symbol, {"clientOrderId": client_id})
        except ccxt.OrderNotFound:
            return None
        except ccxt.BaseError as exc:
            raise BrokerError(f"{self.name}: cannot look up order {client_id}: {_reason(exc)}") from None
        return self._report(raw, client_id)

    def cancel(self, client_id: str, symbol: str) -> OrderReport:
        """Cancel an open order by its client order id; return its final state."""
        import ccxt

        known = self.find(client_id, symbol)
        if known is None:
            raise BrokerError(f"{self.name}: no order {client_id} to cancel")
        if known.final or not self.live_orders:
            return known
        try:
            self.exchange.cancel_order(known.exchange_id or "", self.symbol, {"clientOrderId": client_id})
        except ccxt.OrderNotFound:
            pass  # filled meanwhile: the lookup below says so
        except ccxt.BaseError as exc:
            raise BrokerError(f"{self.name}: cannot cancel {client_id}: {_reason(exc)}") from None
        found = self.find(client_id, symbol)
        assert found is not None
        return found

    def open_orders(self, symbol: str) -> list[OrderReport]:
        """The exchange's open orders on the traded symbol."""
        import ccxt

        if not self.live_orders:
            return []
        try:
            rows = self.exchange.fetch_open_orders(self.symbol)
        except ccxt.BaseError as exc:
            raise BrokerError(f"{self.name}: cannot list open orders: {_reason(exc)}") from None
        return [self._report(row, row.get("clientOrderId") or "") for row in rows]

    def position(self, symbol: str) -> float:
        """The account's total of the traded symbol's base asset (holdings of any origin)."""
        import ccxt

        if not self.live_orders:
            return 0.0
        try:
            self.exchange.load_markets()
            base = self.exchange.market(self.symbol)["base"]
            balance = self.exchange.fetch_balance()
        except ccxt.BaseError as exc:
            raise BrokerError(f"{self.name}: cannot read the balance: {_reason(exc)}") from None
        return float((balance.get(base) or {}).get("total") or 0.0)

    def _report(self, raw: dict[str, Any], client_id: str) -> OrderReport:
        amount = float(raw.get("amount") or 0.0)
        filled = float(raw.get("filled") or 0.0)
        status = _STATUS.get(str(raw.get("status")), "open")
        if status == "open" and filled > 0:
            status = "partial"
        return OrderReport(
            client_id=str(raw.get("clientOrderId") or client_id),
            status=status,
            symbol=self.symbol,
            side="buy" if raw.get("side") == "buy" else "sell",
            amount=amount,
            filled=filled,
            average=float(raw["average"]) if raw.get("average") is not None else None,
            exchange_id=str(raw.get("id")) if raw.get("id") is not None else None,
        )

    def close(self) -> None:
        """Close ccxt's HTTP session."""
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()


def _reason(exc: BaseException) -> str:
    """An exchange error's kind and message, first line, bounded (ccxt puts the response in it)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}"
