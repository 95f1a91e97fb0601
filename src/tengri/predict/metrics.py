"""Forecast and strategy metrics for walk-forward evaluation: hit rate, Brier, IC, Sharpe, Diebold–Mariano.

Conventions: ``prob_up`` is a predicted probability of an up move, ``up`` the 0/1 outcome,
``next_return`` the realised log return of the bar after the prediction, and ``position`` the
held exposure during that bar (+1 long, −1 short, 0 flat).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "accuracy_interval",
    "brier_score",
    "diebold_mariano",
    "information_coefficient",
    "max_drawdown",
    "periods_per_year",
    "sharpe_ratio",
    "strategy_returns",
]

_Z95: Final = 1.959963984540054


def accuracy_interval(hits: ArrayLike) -> tuple[float, float, float]:
    """Return the hit rate and its 95% Wilson score interval ``(rate, low, high)``; NaN if empty."""
    values = np.asarray(hits, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        return math.nan, math.nan, math.nan
    rate = float(values.mean())
    denominator = 1.0 + _Z95**2 / n
    centre = (rate + _Z95**2 / (2 * n)) / denominator
    half = _Z95 * math.sqrt(rate * (1 - rate) / n + _Z95**2 / (4 * n * n)) / denominator
    return rate, centre - half, centre + half


def brier_score(prob_up: ArrayLike, up: ArrayLike) -> float:
    """Return the mean squared error of the probability, ``mean((p − y)²)`` (0.25 at chance)."""
    p, y = np.asarray(prob_up, dtype=np.float64), np.asarray(up, dtype=np.float64)
    return float(np.mean((p - y) ** 2)) if p.size else math.nan


def information_coefficient(score: ArrayLike, next_return: ArrayLike) -> float:
    """Return the Spearman rank correlation of a score with the realised return; NaN if constant."""
    a, b = np.asarray(score, dtype=np.float64), np.asarray(next_return, dtype=np.float64)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def strategy_returns(position: ArrayLike, next_return: ArrayLike, commission: float) -> NDArray[np.float64]:
    """Return the net simple return per bar of holding ``position``, after commission.

    ``net_t = position_t·(e^{r_t} − 1) − commission·|position_t − position_{t−1}|``, starting
    flat; the commission is a fraction of traded value per unit of position changed.
    """
    held = np.asarray(position, dtype=np.float64)
    gross = held * np.expm1(np.asarray(next_return, dtype=np.float64))
    turnover = np.abs(np.diff(held, prepend=0.0))
    return np.asarray(gross - commission * turnover, dtype=np.float64)


def sharpe_ratio(returns: ArrayLike, periods: float) -> float:
    """Return the annualised Sharpe ratio ``mean/std·√periods`` (no risk-free rate); 0 when flat."""
    values = np.asarray(returns, dtype=np.float64)
    if values.size < 2:
        return math.nan
    deviation = values.std(ddof=1)
    if deviation == 0:
        return 0.0
    return float(values.mean() / deviation * math.sqrt(periods))


def max_drawdown(returns: ArrayLike) -> float:
    """Return the largest peak-to-trough fall of compounded equity, as a negative fraction (0 if none)."""
    equity = np.cumprod(1.0 + np.asarray(returns, dtype=np.float64))
    if equity.size == 0:
        return math.nan
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return float(np.min(equity / peaks - 1.0, initial=0.0))


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Return bars per year as observed: bar count over the span in years (weekends included)."""
    span = (index[-1] - index[0]).total_seconds() / (365.25 * 86400)
    return (len(index) - 1) / span if span > 0 else math.nan


def diebold_mariano(loss_a: ArrayLike, loss_b: ArrayLike, horizon: int = 1) -> tuple[float, float]:
    """Test equal predictive accuracy of two forecasts (Diebold & Mariano 1995, with HLN 1997).

    ``d_t = loss_a − loss_b``; the statistic is ``mean(d)/√(V/n)`` with ``V`` the Newey–West
    long-run variance over ``horizon − 1`` lags, scaled by Harvey–Leybourne–Newbold's
    small-sample factor and referred to Student's t with ``n − 1`` degrees of freedom.

    Returns
    -------
    tuple of float
        ``(statistic, two-sided p-value)``; negative statistics favour forecast a. NaN when the
        differential is constant or too short.
    """
    d = np.asarray(loss_a, dtype=np.float64) - np.asarray(loss_b, dtype=np.float64)
    n = d.size
    if n < 10:
        return math.nan, math.nan
    centred = d - d.mean()
    variance = float(centred @ centred) / n
    for lag in range(1, horizon):
        variance += 2.0 * (1 - lag / horizon) * float(centred[lag:] @ centred[:-lag]) / n
    if variance <= 0:
        return math.nan, math.nan
    statistic = d.mean() / math.sqrt(variance / n)
    statistic *= math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    from scipy.stats import t as student

    return float(statistic), float(2 * student.sf(abs(statistic), df=n - 1))
