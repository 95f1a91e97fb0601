"""Bars from an exchange through ccxt: a bar is handed out only once it has closed.

The first poll backfills ``warmup`` closed bars (what the strategy's indicators or the model's
windows need); later polls fetch the bars since the last one. The bar still forming (its open
plus the timeframe is after the exchange's clock, ``fetch_time`` where it has one) is held back.
"""

from __future__ import annotations

import logging
from typing import Any

from tengri.errors import BrokerError, InvalidInputError
from tengri.live.exchange import make_exchange
from tengri.live.feeds import Bar
from tengri.live.specs import ExchangeSettings, exchange_credentials

__all__ = ["CcxtFeed"]

log = logging.getLogger(__name__)


class CcxtFeed:
    """OHLCV bars of ``symbol`` on ``exchange_id`` at ``timeframe`` (see the module docstring)."""

    finished = False

    def __init__(
        self,
        exchange_id: str,
        symbol: str,
        timeframe: str,
        *,
        settings: ExchangeSettings | None = None,
        warmup: int = 200,
        client: Any = None,
    ) -> None:
        import ccxt

        settings = settings or ExchangeSettings()
        self.exchange = client or make_exchange(
            exchange_id,
            credentials=exchange_credentials(exchange_id),
            sandbox=settings.sandbox,
            urls=settings.urls,
            options=settings.options,
            rate_limit_ms=settings.rate_limit_ms,
        )
        self.symbol = symbol
        self.timeframe = timeframe
        self.name = f"{exchange_id}-{symbol}-{timeframe}"
        try:
            self.interval: float | None = float(self.exchange.parse_timeframe(timeframe))
        except (ccxt.BaseError, ValueError, KeyError) as exc:
            raise InvalidInputError(f"unknown timeframe {timeframe!r}: {exc}") from None
        if timeframe not in (self.exchange.timeframes or {}):
            raise InvalidInputError(
                f"{exchange_id} has no timeframe {timeframe!r} "
                f"(it has {', '.join(self.exchange.timeframes or {})})"
            )
        self.warmup = warmup
        self.rejected: list[str] = []
        self.errors = 0
        self._last_ms: int | None = None

    def _now_ms(self) -> int:
        if self.exchange.has.get("fetchTime"):
            return int(self.exchange.fetch_time())
        return int(self.exchange.milliseconds())

    def poll(self) -> list[Bar]:
        """The bars closed since the last poll (the warm-up backfill on the first)."""
        import ccxt

        assert self.interval is not None
        step = int(self.interval * 1000)
        try:
            now = self._now_ms()
            since = now - (self.warmup + 1) * step if self._last_ms is None else self._last_ms + step
            rows = self.exchange.fetch_ohlcv(self.symbol, self.timeframe, since=since, limit=self.warmup + 2)
        except ccxt.BaseError as exc:
            self.errors += 1
            message = f"{self.name}: OHLCV request failed: {type(exc).__name__}"
            log.warning(message)
            if isinstance(exc, ccxt.AuthenticationError | ccxt.BadSymbol):
                raise BrokerError(message) from None
            return []
        bars = []
        for row in rows:
            opened = int(row[0])
            if opened + step > now:  # still forming
                continue
            if self._last_ms is not None and opened <= self._last_ms:
                continue
            try:
                bars.append(Bar(opened / 1000.0, *(float(v) for v in row[1:6])))
            except (TypeError, ValueError):
                self.rejected.append(f"{self.name}: bar refused: {row!r}")
                log.warning(self.rejected[-1])
                continue
            self._last_ms = opened
        return bars

    def close(self) -> None:
        """ccxt's synchronous client holds a requests session: close it."""
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()
