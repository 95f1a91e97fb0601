"""The 16-bit pattern hash of a price path and the cursor state that goes with it (DESIGN.md, Pattern hash).

From the last 9 prices come 8 log returns. Each return ``r`` is quantised against the EWMA
volatility ``σ`` of returns into 2 bits::

    r ≤ −σ      → 0b00
    −σ < r ≤ 0  → 0b01
    0 < r < σ   → 0b10
    r ≥ σ       → 0b11

and the 8 codes, the newest in the lowest bits, make the hash. ``σ`` is the RiskMetrics-style
zero-mean EWMA of squared returns, ``σ²_t = (1 − a)·σ²_{t−1} + a·r_t²`` with ``a = 2 / (span + 1)``,
seeded by the first squared return; the σ after the newest return quantises all eight (it uses
nothing later than the newest price, so the hash has no look-ahead).

:class:`PatternEncoder` keeps that state for a stream of prices, one O(1) update a tick;
:func:`encode` computes the same from a whole price sequence.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

from tengri.errors import InvalidInputError

__all__ = ["HASH_RETURNS", "CursorState", "PatternEncoder", "encode", "quantise"]

HASH_RETURNS = 8
_SIGMA_FLOOR = 1e-12


class CursorState(NamedTuple):
    """Where the price cursor stands when a hash is taken (immutable; one is made per tick).

    Attributes
    ----------
    triplet
        The last three prices, oldest first.
    delta_idx
        0 when the first of the two moves in ``triplet`` is the larger in size, else 1.
    braid_angle
        Angle of the last move in volatility units, degrees: ``atan2(Δp / σ_price, 1)``
        with ``σ_price = σ · p`` (σ the EWMA return volatility).
    timestamp
        Time of the newest price, seconds since the epoch.
    """

    triplet: tuple[float, float, float]
    delta_idx: int
    braid_angle: float
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "triplet": list(self.triplet),
            "delta_idx": self.delta_idx,
            "braid_angle": self.braid_angle,
            "timestamp": self.timestamp,
        }


def quantise(r: float, sigma: float) -> int:
    """Return the 2-bit code of return ``r`` against volatility ``sigma``."""
    s = max(sigma, _SIGMA_FLOOR)
    if r <= -s:
        return 0b00
    if r <= 0.0:
        return 0b01
    if r < s:
        return 0b10
    return 0b11


class PatternEncoder:
    """Streaming pattern hash: feed prices one at a time, read the hash once 9 prices are in.

    Parameters
    ----------
    ewma_span
        Span of the EWMA volatility (``a = 2 / (span + 1)``).
    """

    def __init__(self, ewma_span: int = 20) -> None:
        if ewma_span < 1:
            raise ValueError("ewma_span must be at least 1")
        self.ewma_span = ewma_span
        self._alpha = 2.0 / (ewma_span + 1.0)
        self._prices: deque[float] = deque(maxlen=HASH_RETURNS + 1)
        self._codes: deque[float] = deque(maxlen=HASH_RETURNS)  # the last 8 returns
        self._variance: float | None = None

    @property
    def ready(self) -> bool:
        """Whether 9 prices have been seen, so that a hash exists."""
        return len(self._prices) == HASH_RETURNS + 1

    @property
    def sigma(self) -> float:
        """The current EWMA return volatility (0 before the first return)."""
        return math.sqrt(self._variance) if self._variance is not None else 0.0

    def push(self, price: float) -> None:
        """Add the next price (validated by the caller: finite and positive)."""
        if self._prices:
            r = math.log(price / self._prices[-1])
            self._codes.append(r)
            r2 = r * r
            self._variance = (
                r2 if self._variance is None else (1 - self._alpha) * self._variance + self._alpha * r2
            )
        self._prices.append(price)

    def current(self, timestamp: float) -> tuple[int, CursorState]:
        """Return ``(hash, cursor)`` for the prices seen so far.

        Raises
        ------
        InvalidInputError
            If fewer than 9 prices have been seen.
        """
        if not self.ready:
            raise InvalidInputError(
                f"a pattern hash needs {HASH_RETURNS + 1} prices, have {len(self._prices)}"
            )
        variance = self._variance
        sigma = math.sqrt(variance) if variance is not None else 0.0
        s = sigma if sigma > _SIGMA_FLOOR else _SIGMA_FLOOR
        value = 0
        for r in self._codes:  # oldest first: each newer code shifts the older ones up (quantise, inlined)
            code = (0b00 if r <= -s else 0b01) if r <= 0.0 else (0b10 if r < s else 0b11)
            value = ((value << 2) | code) & 0xFFFF
        prices = self._prices
        p0, p1, p2 = prices[-3], prices[-2], prices[-1]
        sigma_price = s * p2
        # For prices near the float minimum σ·p underflows to 0: a flat angle, not a division error.
        angle = math.degrees(math.atan2((p2 - p1) / sigma_price, 1.0)) if sigma_price > 0 else 0.0
        delta_idx = 0 if abs(p1 - p0) > abs(p2 - p1) else 1
        return value, CursorState((p0, p1, p2), delta_idx, angle, timestamp)

    def snapshot(self) -> dict[str, Any]:
        """Return the encoder's state as JSON-ready data."""
        return {
            "ewma_span": self.ewma_span,
            "prices": list(self._prices),
            "returns": list(self._codes),
            "variance": self._variance,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> PatternEncoder:
        """Rebuild an encoder from :meth:`snapshot` output."""
        encoder = cls(int(data["ewma_span"]))
        encoder._prices.extend(float(p) for p in data["prices"])
        encoder._codes.extend(float(r) for r in data["returns"])
        encoder._variance = None if data["variance"] is None else float(data["variance"])
        return encoder


def encode(prices: Sequence[float], timestamp: float = 0.0, ewma_span: int = 20) -> tuple[int, CursorState]:
    """Return the pattern hash and cursor state of a price path (at least 9 prices).

    The EWMA volatility runs over every return in ``prices``, so passing a longer history
    gives the same result as streaming it through :class:`PatternEncoder`.

    Raises
    ------
    InvalidInputError
        If fewer than 9 prices are given, or any is not finite and positive.
    """
    if len(prices) < HASH_RETURNS + 1:
        raise InvalidInputError(f"encode needs at least {HASH_RETURNS + 1} prices, got {len(prices)}")
    encoder = PatternEncoder(ewma_span)
    for i, p in enumerate(prices):
        price = float(p)
        if not math.isfinite(price) or price <= 0:
            raise InvalidInputError(f"price {i} must be finite and positive, got {p!r}")
        encoder.push(price)
    return encoder.current(timestamp)
