"""Turn the command line's ``--feed`` and ``--broker`` into a :class:`Feed` and a :class:`Broker`.

Feeds: ``file:PATH``, ``stdin``, ``ccxt:EXCHANGE:SYMBOL:TIMEFRAME`` (e.g.
``ccxt:binance:BTC/USDT:1h``). Brokers: ``paper`` and ``ccxt:EXCHANGE``. A ccxt exchange's keys
come from the environment only: ``TENGRI_<EXCHANGE>_API_KEY`` and ``TENGRI_<EXCHANGE>_SECRET``
(and ``TENGRI_<EXCHANGE>_PASSWORD`` where the exchange wants one), read here, never logged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tengri.errors import InvalidInputError
from tengri.live.brokers import Broker, PaperBroker
from tengri.live.feeds import Feed, FileFeed, LineFeed

__all__ = ["ExchangeSettings", "exchange_credentials", "open_broker", "open_feed"]


@dataclass(frozen=True)
class ExchangeSettings:
    """How a ccxt exchange is reached: test network, URL overrides (the tests' emulator), options."""

    sandbox: bool = False
    urls: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    rate_limit_ms: float | None = None  # ccxt's limiter's spacing (default: the exchange's own)


def exchange_credentials(exchange: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The keys in ``TENGRI_<EXCHANGE>_API_KEY``, ``_SECRET``, ``_PASSWORD`` (those set)."""
    environ = os.environ if environ is None else environ
    prefix = f"TENGRI_{exchange.upper()}_"
    names = {"apiKey": "API_KEY", "secret": "SECRET", "password": "PASSWORD"}
    return {key: environ[prefix + name] for key, name in names.items() if environ.get(prefix + name)}


def open_feed(
    spec: str, *, interval: float | None = None, exchange: ExchangeSettings | None = None, warmup: int = 0
) -> Feed:
    """The feed ``spec`` names (see the module docstring).

    Raises
    ------
    InvalidInputError
        For a spec of no known kind, or a malformed ccxt spec or unknown exchange.
    """
    if spec == "stdin":
        return LineFeed(sys.stdin, interval=interval)
    kind, _, rest = spec.partition(":")
    if kind == "file" and rest:
        return FileFeed(Path(rest), interval=interval)
    if kind == "ccxt":
        parts = rest.split(":")
        if len(parts) != 3 or not all(parts):
            raise InvalidInputError(f"a ccxt feed is ccxt:EXCHANGE:SYMBOL:TIMEFRAME, got {spec!r}")
        from tengri.live.ccxt_feed import CcxtFeed

        name, symbol, timeframe = parts
        return CcxtFeed(name, symbol, timeframe, settings=exchange or ExchangeSettings(), warmup=warmup)
    raise InvalidInputError(f"--feed takes file:PATH, stdin or ccxt:EXCHANGE:SYMBOL:TIMEFRAME, got {spec!r}")


def open_broker(
    spec: str,
    *,
    book: Path | None = None,
    live_orders: bool = False,
    exchange: ExchangeSettings | None = None,
    symbol: str | None = None,
) -> Broker:
    """The broker ``spec`` names: ``paper`` (its book in ``book``) or ``ccxt:EXCHANGE``.

    Raises
    ------
    InvalidInputError
        For an unknown spec, an unknown exchange, or a ccxt broker without a market symbol.
    """
    if spec == "paper":
        return PaperBroker(book)
    kind, _, name = spec.partition(":")
    if kind == "ccxt" and name:
        if symbol is None:
            raise InvalidInputError(
                "a ccxt broker trades a ccxt feed's symbol: use --feed ccxt:... or --symbol"
            )
        from tengri.live.ccxt_broker import CcxtBroker

        return CcxtBroker(name, symbol, settings=exchange or ExchangeSettings(), live_orders=live_orders)
    raise InvalidInputError(f"--broker takes paper or ccxt:EXCHANGE, got {spec!r}")
