"""Build a ccxt exchange client: keys from the environment, ccxt's rate limiter, sandbox, URL overrides.

Keys never appear in a message or a log line: ccxt is given them, and its logger, which logs
each request's headers at DEBUG, is kept at INFO or above.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tengri.errors import InvalidInputError

__all__ = ["make_exchange"]

log = logging.getLogger(__name__)


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_exchange(
    exchange_id: str,
    *,
    credentials: Mapping[str, str],
    sandbox: bool = False,
    urls: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    rate_limit_ms: float | None = None,
) -> Any:
    """A ccxt client of ``exchange_id`` with ccxt's own rate limiter on.

    Raises
    ------
    InvalidInputError
        For an exchange ccxt does not know, or ``sandbox`` where it has no test network.
    """
    import ccxt

    if exchange_id not in ccxt.exchanges:
        raise InvalidInputError(f"ccxt knows no exchange {exchange_id!r} (see ccxt.exchanges)")
    # Spot markets only: Tengri's orders are spot market orders, and loading the derivatives'
    # markets costs requests (binance, bybit and others load every type by default).
    defaults: dict[str, Any] = {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        "fetchMargins": False,
        "fetchCurrencies": False,
    }
    # ccxt logs every request's headers at DEBUG, the API key among them: its logger stays above.
    logging.getLogger("ccxt").setLevel(max(logging.INFO, logging.getLogger("ccxt").getEffectiveLevel()))
    client = getattr(ccxt, exchange_id)(
        {"enableRateLimit": True, **credentials, "options": _merged(defaults, options or {})}
    )
    if sandbox:
        try:
            client.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise InvalidInputError(
                f"{exchange_id} has no test network in ccxt: --sandbox cannot be used"
            ) from None
    if urls is not None:
        client.urls = _merged(client.urls, urls)
    if rate_limit_ms is not None:
        client.rateLimit = rate_limit_ms
    log.info(
        "ccxt %s %s (sandbox=%s, keys %s)",
        exchange_id,
        ccxt.__version__,
        sandbox,
        "set" if credentials else "absent",
    )
    return client
