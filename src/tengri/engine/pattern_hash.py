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

:class:`PatternEncoder` keeps that state for a stream of prices, one O(1) update a tick (it is
compiled: :mod:`tengri.engine._kernel`, the same arithmetic in C); :func:`encode` computes the
same from a whole price sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from tengri.engine import _kernel
from tengri.errors import InvalidInputError

PatternEncoder = _kernel.PatternEncoder

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
