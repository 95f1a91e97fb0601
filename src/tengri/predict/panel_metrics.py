"""qlib's cross-sectional metrics of a score against the next return, per date over instruments.

``IC`` is the mean over dates of the Pearson correlation, across instruments, of the score with the
realised next return; ``ICIR`` that mean over its standard deviation; ``Rank IC`` the same with
Spearman's correlation. The long-short portfolio holds, each date, the top ``k`` instruments by
score long and the bottom ``k`` short, equally weighted: its return is the mean next return of the
top minus that of the bottom; annualised return ``mean·periods`` and information ratio
``mean/std·√periods`` (qlib's ``risk_analysis`` with the sum convention).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tengri.errors import InvalidInputError

__all__ = ["cross_sectional_metrics"]


def cross_sectional_metrics(
    score: pd.DataFrame, realised: pd.DataFrame, *, top: int = 1, periods: float = 252.0
) -> dict[str, float]:
    """Return ``ic``, ``icir``, ``rank_ic``, ``rank_icir``, ``long_short_return``, ``long_short_ir``.

    Parameters
    ----------
    score, realised
        Dates × instruments, the same shape, index and columns; a date with fewer than 3 finite
        pairs or a constant score is left out of the ICs.
    top
        Instruments held long (and short) each date.
    periods
        Dates per year.
    """
    if score.shape != realised.shape or not score.index.equals(realised.index):
        raise InvalidInputError("cross_sectional_metrics: score and realised must be aligned frames")
    if not 1 <= top <= score.shape[1] // 2:
        raise InvalidInputError(f"cross_sectional_metrics: top must be 1 … {score.shape[1] // 2}, got {top}")
    s, r = score.to_numpy(dtype=np.float64), realised.to_numpy(dtype=np.float64)
    ics, rank_ics, spreads = [], [], []
    for values, outcome in zip(s, r, strict=True):
        keep = np.isfinite(values) & np.isfinite(outcome)
        if keep.sum() < 3:
            continue
        a, b = values[keep], outcome[keep]
        order = np.argsort(a, kind="stable")
        spreads.append(float(b[order[-top:]].mean() - b[order[:top]].mean()) if np.ptp(a) > 0 else 0.0)
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        ics.append(float(np.corrcoef(a, b)[0, 1]))
        rank_ics.append(float(np.corrcoef(_ranks(a), _ranks(b))[0, 1]))
    ls = np.asarray(spreads)
    return {
        "ic": _mean(ics),
        "icir": _ratio(ics),
        "rank_ic": _mean(rank_ics),
        "rank_icir": _ratio(rank_ics),
        "long_short_return": float(ls.mean() * periods) if ls.size else math.nan,
        "long_short_ir": _ratio(spreads) * math.sqrt(periods),
        "dates": float(len(spreads)),
    }


def _ranks(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.Series(values).rank().to_numpy(), dtype=np.float64)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _ratio(values: list[float]) -> float:
    if len(values) < 2:
        return math.nan
    deviation = float(np.std(values, ddof=1))
    return float(np.mean(values)) / deviation if deviation > 0 else math.nan
