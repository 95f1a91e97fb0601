"""Uncertainty of evaluation figures: a stationary-bootstrap interval, paired differences, Holm's correction.

- :func:`bootstrap_interval` resamples bars by the stationary bootstrap (Politis & Romano 1994):
  blocks of geometric length (mean ``block``) starting at random bars, wrapping at the end, so
  serial dependence within a block is kept. The same resampled bar index is applied to every row
  of a ``(seeds, bars)`` array, so a statistic averaged over seeds gets the uncertainty of the bars,
  not of the seeds. The interval is the percentile interval.
- :func:`paired_difference` is the mean of a per-bar difference with a Newey–West (HAC) standard
  error, its 95% interval and a two-sided p-value (normal reference): the Diebold–Mariano idea for
  any per-bar score.
- :func:`holm` adjusts a family of p-values (Holm 1979): controls the family-wise error rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tengri.errors import InvalidInputError

__all__ = ["bootstrap_interval", "holm", "newey_west_lags", "paired_difference", "stationary_indices"]

_Z95: Final = 1.959963984540054


def stationary_indices(n: int, block: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """Return one stationary-bootstrap resample of ``range(n)`` with mean block length ``block``."""
    if n < 1 or block < 1:
        raise InvalidInputError(f"stationary_indices: need n ≥ 1 and block ≥ 1, got n={n}, block={block}")
    starts = rng.integers(0, n, size=n)
    new_block = rng.random(n) < 1.0 / block
    new_block[0] = True
    positions = np.arange(n)
    # Each bar continues the block that began at the latest bar flagged as a new block.
    first = np.maximum.accumulate(np.where(new_block, positions, 0))
    return np.asarray((starts[first] + positions - first) % n, dtype=np.int64)


def bootstrap_interval(
    values: ArrayLike,
    statistic: Callable[[NDArray[np.float64]], float],
    *,
    block: float = 10.0,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return the stationary-bootstrap percentile interval of ``statistic`` over bars.

    Parameters
    ----------
    values
        ``(bars,)`` or ``(rows, bars)``; a 2-D array is resampled along bars, the same bars for
        every row, and ``statistic`` receives the resampled 2-D array.
    statistic
        Maps the (resampled) values to a number; NaN results are left out.
    block
        Mean block length in bars.
    draws, level, seed
        Resamples, coverage, and the generator's seed (the interval is reproducible).
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim not in (1, 2) or data.shape[-1] < 2:
        raise InvalidInputError("bootstrap_interval: need a 1-D or 2-D array of at least 2 bars")
    rng = np.random.default_rng(seed)
    n = data.shape[-1]
    results = np.array([statistic(data[..., stationary_indices(n, block, rng)]) for _ in range(draws)])
    results = results[np.isfinite(results)]
    if results.size == 0:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(results, [tail, 1.0 - tail])
    return float(low), float(high)


def newey_west_lags(n: int) -> int:
    """Newey and West's (1994) rule of thumb for the HAC lag length, ``⌊4·(n/100)^{2/9}⌋``."""
    return int(4 * (n / 100.0) ** (2.0 / 9.0)) if n > 0 else 0


def paired_difference(a: ArrayLike, b: ArrayLike) -> tuple[float, float, float, float]:
    """Return ``(mean(a − b), 95% low, 95% high, two-sided p)`` with a Newey–West standard error.

    NaN throughout when the series are shorter than 10 bars; a difference that is identically zero
    has p = 1 and a zero-width interval.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim != 1:
        raise InvalidInputError("paired_difference: a and b must be 1-D and of equal length")
    n = d.size
    if n < 10:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(d.mean())
    centred = d - mean
    variance = float(centred @ centred) / n
    lags = newey_west_lags(n)
    for lag in range(1, lags + 1):
        variance += 2.0 * (1 - lag / (lags + 1)) * float(centred[lag:] @ centred[:-lag]) / n
    if variance <= 0:
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    error = math.sqrt(variance / n)
    p_value = math.erfc(abs(mean / error) / math.sqrt(2.0))
    return mean, mean - _Z95 * error, mean + _Z95 * error, p_value


def holm(p_values: Sequence[float]) -> list[float]:
    """Return Holm's step-down adjusted p-values (NaN stays NaN and does not count)."""
    order = [
        i for i in sorted(range(len(p_values)), key=lambda i: p_values[i]) if not math.isnan(p_values[i])
    ]
    adjusted = [math.nan] * len(p_values)
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
