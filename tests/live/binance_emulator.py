"""A loopback emulator of Binance's spot REST API: the subset ccxt's ``binance`` class calls.

For the tests only (never a default): ``tengri live`` is pointed at it by overriding ccxt's
``urls["api"]["public"]`` and ``["private"]``. Endpoints, shaped as Binance documents them
(https://developers.binance.com/docs/binance-spot-api-docs/rest-api):

- ``GET /api/v3/time``, ``GET /api/v3/exchangeInfo`` (one market, e.g. ``GOOGUSDT``),
  ``GET /api/v3/klines`` (the recorded bars up to the current one, which is still forming);
- ``GET /api/v3/account`` (balances), ``POST /api/v3/order`` (MARKET orders, response type
  FULL), ``GET /api/v3/order`` and ``DELETE /api/v3/order`` (by ``orderId`` or
  ``origClientOrderId``), ``GET /api/v3/openOrders``, ``GET /api/v3/myTrades``.

Private requests need an ``X-MBX-APIKEY`` header (the signature is not checked). Market orders
fill at the current bar's open; ``liquidity`` caps what one order fills per bar, the rest
filling as the test moves the clock (:meth:`BinanceEmulator.advance`). Refusals are Binance's
errors: ``-2010`` for a balance too small, ``-1013`` for a LOT_SIZE failure, ``-2013`` for an
unknown order, ``-2011`` for a cancel of an order no longer open.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd


def _f(value: float) -> str:
    return f"{value:.8f}"


@dataclass
class _Order:
    order_id: int
    client_id: str
    side: str
    quantity: float
    time: int
    executed: float = 0.0
    quote: float = 0.0
    status: str = "NEW"
    fills: list[dict[str, Any]] = field(default_factory=list)


class BinanceEmulator:
    """The exchange's state (market, clock, balances, orders) behind a loopback HTTP server."""

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        base: str = "GOOG",
        quote: str = "USDT",
        start: int = 1,
        balances: dict[str, float] | None = None,
        liquidity: float | None = None,
    ) -> None:
        self.base, self.quote = base, quote
        self.market_id = base + quote
        self.times = [int(t) for t in frame.index.asi8 // 1_000_000]
        self.bars = frame[["Open", "High", "Low", "Close", "Volume"]].to_numpy(dtype=float).tolist()
        self.current = start  # the bar now forming
        self.balances = {quote: 100_000.0, base: 0.0, **(balances or {})}
        self.liquidity = liquidity
        self.orders: dict[int, _Order] = {}
        self.trades: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- the test's controls ------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL ccxt's ``public`` and ``private`` APIs are pointed at."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/v3"

    @property
    def urls(self) -> dict[str, Any]:
        """ccxt's ``urls`` override."""
        return {"api": {"public": self.url, "private": self.url}}

    def __enter__(self) -> BinanceEmulator:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def now(self) -> int:
        """The server's time: the current bar's opening millisecond."""
        return self.times[min(self.current, len(self.times) - 1)]

    def advance(self, bars: int = 1) -> None:
        """Move the clock ``bars`` bars on; open orders fill further at each new bar's open."""
        with self.lock:
            for _ in range(bars):
                if self.current >= len(self.times) - 1:
                    return
                self.current += 1
                for order in self.orders.values():
                    if order.status in ("NEW", "PARTIALLY_FILLED"):
                        self._fill(order)

    def posted_orders(self) -> int:
        """How many ``POST /order`` requests came (accepted or not)."""
        return sum(1 for method, path in self.requests if method == "POST" and path.endswith("/order"))

    # -- the exchange -------------------------------------------------------------------------
    def _fill(self, order: _Order) -> None:
        price = self.bars[self.current][0]
        quantity = order.quantity - order.executed
        if self.liquidity is not None:
            quantity = min(quantity, self.liquidity)
        if quantity <= 0:
            return
        sign = 1.0 if order.side == "BUY" else -1.0
        self.balances[self.base] += sign * quantity
        self.balances[self.quote] -= sign * quantity * price
        order.executed += quantity
        order.quote += quantity * price
        order.status = "FILLED" if order.executed >= order.quantity - 1e-12 else "PARTIALLY_FILLED"
        trade_id = len(self.trades) + 1
        order.fills.append(
            {
                "price": _f(price),
                "qty": _f(quantity),
                "commission": "0",
                "commissionAsset": self.quote,
                "tradeId": trade_id,
            }
        )
        self.trades.append(
            {
                "symbol": self.market_id,
                "id": trade_id,
                "orderId": order.order_id,
                "orderListId": -1,
                "price": _f(price),
                "qty": _f(quantity),
                "quoteQty": _f(quantity * price),
                "commission": "0",
                "commissionAsset": self.quote,
                "time": self.now(),
                "isBuyer": order.side == "BUY",
                "isMaker": False,
                "isBestMatch": True,
            }
        )

    def _order_json(self, order: _Order) -> dict[str, Any]:
        return {
            "symbol": self.market_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "price": "0.00000000",
            "origQty": _f(order.quantity),
            "executedQty": _f(order.executed),
            "cummulativeQuoteQty": _f(order.quote),
            "status": order.status,
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": order.side,
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": order.time,
            "updateTime": self.now(),
            "isWorking": True,
            "workingTime": order.time,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        }

    def _find(self, params: dict[str, str]) -> _Order | None:
        if "orderId" in params:
            return self.orders.get(int(params["orderId"]))
        client_id = params.get("origClientOrderId")
        return next((o for o in self.orders.values() if o.client_id == client_id), None)

    def handle(self, method: str, path: str, params: dict[str, str], keyed: bool) -> tuple[int, Any]:
        """Answer one request: (HTTP status, JSON body)."""
        with self.lock:
            self.requests.append((method, path))
            route = path.removeprefix("/api/v3")
            public = {
                ("GET", "/time"): lambda: {"serverTime": self.now()},
                ("GET", "/exchangeInfo"): self._exchange_info,
                ("GET", "/klines"): lambda: self._klines(params),
            }
            if (method, route) in public:
                return 200, public[(method, route)]()
            if not keyed:
                return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
            if (method, route) == ("GET", "/account"):
                balances = [
                    {"asset": a, "free": _f(v), "locked": "0.00000000"} for a, v in self.balances.items()
                ]
                return 200, {
                    "makerCommission": 0,
                    "takerCommission": 0,
                    "canTrade": True,
                    "canWithdraw": False,
                    "canDeposit": False,
                    "updateTime": self.now(),
                    "accountType": "SPOT",
                    "balances": balances,
                    "permissions": ["SPOT"],
                    "uid": 1,
                }
            if (method, route) == ("POST", "/order"):
                return self._new_order(params)
            if route == "/order" and method in ("GET", "DELETE"):
                order = self._find(params)
                if order is None:
                    return 400, {"code": -2013, "msg": "Order does not exist."}
                if method == "DELETE":
                    if order.status not in ("NEW", "PARTIALLY_FILLED"):
                        return 400, {"code": -2011, "msg": "Unknown order sent."}
                    order.status = "CANCELED"
                return 200, self._order_json(order)
            if (method, route) == ("GET", "/openOrders"):
                return 200, [
                    self._order_json(o)
                    for o in self.orders.values()
                    if o.status in ("NEW", "PARTIALLY_FILLED")
                ]
            if (method, route) == ("GET", "/myTrades"):
                return 200, list(self.trades)
            return 404, {"code": -1000, "msg": f"emulator: no {method} {path}"}

    def _new_order(self, params: dict[str, str]) -> tuple[int, Any]:
        if params.get("type") != "MARKET" or params.get("symbol") != self.market_id:
            return 400, {"code": -1013, "msg": "emulator: MARKET orders on its one symbol only"}
        quantity = float(params.get("quantity", "0"))
        if quantity < 1 or quantity != int(quantity):
            return 400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
        client_id = params.get("newClientOrderId") or f"emulator-{len(self.orders) + 1}"
        if any(
            o.client_id == client_id and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()
        ):
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        price = self.bars[self.current][0]
        side = params.get("side", "")
        short = (
            self.balances[self.quote] < quantity * price
            if side == "BUY"
            else self.balances[self.base] < quantity
        )
        if short:
            return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}
        order = _Order(len(self.orders) + 1, client_id, side, quantity, self.now())
        self.orders[order.order_id] = order
        self._fill(order)
        return 200, {**self._order_json(order), "transactTime": self.now(), "fills": order.fills}

    def _exchange_info(self) -> dict[str, Any]:
        filters = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "1.00000000",
                "maxQty": "900000.00000000",
                "stepSize": "1.00000000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ]
        symbol = {
            "symbol": self.market_id,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": filters,
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
        }
        return {
            "timezone": "UTC",
            "serverTime": self.now(),
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [symbol],
        }

    def _klines(self, params: dict[str, str]) -> list[list[Any]]:
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", 2**62))
        limit = int(params.get("limit", 500))
        rows = []
        for i in range(self.current + 1):
            t = self.times[i]
            if not start <= t <= end:
                continue
            o, h, lo, c, v = self.bars[i]
            if i == self.current:  # still forming: only its open is known
                h = lo = c = o
                v = 0.0
            rows.append([t, _f(o), _f(h), _f(lo), _f(c), _f(v), t + 86_399_999, _f(v * c), 1, "0", "0", "0"])
        return rows[:limit]


def _handler(emulator: BinanceEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                params.update(parse_qsl(self.rfile.read(length).decode()))
            status, body = emulator.handle(method, url.path, params, bool(self.headers.get("X-MBX-APIKEY")))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
            pass

    return Handler
