"""The orchestrator's edge: turn what a caller passes for a tick into a validated :class:`Tick`.

Every check raises a specific error and changes nothing: a price (and a bar's open, high, low)
must be a finite positive number, a volume finite and non-negative, a symbol a short non-empty
string (one of the configured symbols, when any are), and the timestamp a number, a datetime or an
ISO 8601 string that does not go back before the symbol's last tick. :func:`live_timestamp` adds
the bound of a live feed: not further ahead of the server clock than the allowed skew.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Mapping

from tengri.engine import _kernel
from tengri.engine.signals import Tick
from tengri.errors import InvalidInputError, OutOfOrderError, TimestampAheadError

__all__ = ["coerce_timestamp", "live_timestamp", "validate_tick"]


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


_INF = math.inf


def _positive(name: str, value: object) -> float:
    if value.__class__ is float and 0.0 < value < _INF:  # the common case, checked without calls
        return value
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise InvalidInputError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def coerce_timestamp(value: float | dt.datetime | str | None, default: float | Callable[[], float]) -> float:
    """Return ``value`` as seconds since the epoch (``default``, or its result, when None).

    Naive datetimes are UTC.
    """
    if value.__class__ is float and -_INF < value < _INF:
        return value
    if value is None:
        return default() if callable(default) else default
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(f"timestamp {value!r} is not ISO 8601") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"timestamp must be a number, a datetime or an ISO string, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInputError(f"timestamp must be finite, got {value!r}")
    return float(value)


def live_timestamp(value: float | dt.datetime | str | None, now: float, max_ahead: float) -> float:
    """Return a live timestamp as seconds since the epoch (``now`` when None), at most ``max_ahead`` ahead.

    The bound is checked on the instant (after any UTC offset is applied), so an offset cannot carry
    a date-time past it.

    Raises
    ------
    InvalidInputError
        If the value is not a finite number, a datetime or an ISO 8601 string.
    TimestampAheadError
        If it is more than ``max_ahead`` seconds after ``now``; a later tick with a sane time would
        otherwise be refused as out of order for good.
    """
    t = coerce_timestamp(value, now)
    if not math.isfinite(t):
        raise InvalidInputError(f"timestamp must be finite, got {value!r}")
    if t > now + max_ahead:
        raise TimestampAheadError(
            f"timestamp {t:.3f} is {t - now:.0f} s ahead of the server clock; at most {max_ahead:g} s "
            "ahead is accepted"
        )
    return t


def validate_tick(
    price: float,
    timestamp: float | dt.datetime | str | None,
    volume: float | None,
    symbol: str | None,
    open: float | None = None,  # a bar's open, high and low, when the tick is a bar
    high: float | None = None,
    low: float | None = None,
    *,
    index: int,
    now: float | Callable[[], float],
    allowed_symbols: Collection[str],
    last_time: Mapping[str, float],
) -> Tick:
    """Return the validated tick, or raise :class:`InvalidInputError` / :class:`OutOfOrderError`.

    ``now`` is the default timestamp, or the clock to read it from (only when none is given).
    """
    # The common tick, accepted with comparisons only (compiled): every number a float in range
    # (NaN fails every comparison), a known symbol, time not going back. Anything else takes the
    # checks below, which name what is wrong.
    tick = _kernel.quick_tick(
        price, timestamp, volume, symbol, open, high, low, index, allowed_symbols, last_time
    )
    if tick is not None:
        return tick
    px = _positive("price", price)
    sym = symbol if symbol is not None else "default"
    if not isinstance(sym, str) or not sym or len(sym) > 64:
        raise InvalidInputError("symbol must be a non-empty string of at most 64 characters")
    if allowed_symbols and sym not in allowed_symbols:
        raise InvalidInputError(f"unknown symbol {sym!r}; configured symbols: {', '.join(allowed_symbols)}")
    t = coerce_timestamp(timestamp, now)
    last = last_time.get(sym)
    if last is not None and t < last:
        raise OutOfOrderError(f"timestamp {t} goes backwards (last tick of {sym!r} at {last})")
    if (
        volume is not None
        and not (volume.__class__ is float and 0.0 <= volume < _INF)
        and (not _is_number(volume) or volume < 0)
    ):
        raise InvalidInputError(f"volume must be a finite non-negative number, got {volume!r}")
    return Tick(
        symbol=sym,
        timestamp=t,
        price=px,
        index=index,
        volume=None if volume is None else float(volume),
        open=None if open is None else _positive("open", open),
        high=None if high is None else _positive("high", high),
        low=None if low is None else _positive("low", low),
    )
