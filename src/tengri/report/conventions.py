"""backtesting.py's statistics convention (``report.stats_convention = "backtesting.py"``).

Reproduces ``backtesting/_stats.py`` ``compute_stats`` (v0.6) for the figures whose definitions
differ from Tengri's (:func:`tengri.report.compute_statistics`):

- returns are those of the equity resampled to calendar days (weeks, months or years when the
  bars are that far apart: the median spacing of the last 100 bars), ``d_i``, with ``A`` periods
  a year (252, or 365 when more than 60 % of 2/7 of the bars fall on weekends; 52, 12, 1);
- ``g`` their geometric mean (0 when any ``1 + d_i ≤ 0``); annualised return ``(1 + g)^A − 1``;
  annualised volatility ``√((var(d, ddof=1) + (1 + g)²)^A − (1 + g)^(2A))``;
- Sharpe: annualised return over annualised volatility; Sortino: annualised return over
  ``√(mean(min(d_i, 0)²))·√A``; Calmar: annualised return over the maximum drawdown;
- profit factor on trade returns ``Σρ⁺ / |Σρ⁻|``; buy-and-hold from ``first_trading_bar`` (its
  indicators' warm-up, for backtesting.py); exposure as Tengri counts it already (the bars from
  entry to exit, both included).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tengri.report.statistics import Statistic, drawdown

__all__ = ["backtesting_py_figures"]


def _geometric_mean(returns: pd.Series) -> float:
    growth = returns.fillna(0) + 1
    if np.any(growth <= 0):
        return 0.0
    return float(np.exp(np.log(growth).sum() / (len(growth) or np.nan)) - 1)


def _finite(value: float) -> float | None:
    return float(value) + 0.0 if math.isfinite(value) else None


def backtesting_py_figures(
    times: pd.DatetimeIndex,
    equity: np.ndarray,
    close: np.ndarray,
    trade_returns_pct: np.ndarray,
    first_trading_bar: int = 0,
) -> dict[str, Statistic]:
    """The figures of backtesting.py's ``compute_stats`` that Tengri defines otherwise (module docstring)."""
    index = times.tz_localize(None) if times.tz is not None else times
    period = pd.Series(index[-100:]).diff().dropna().median()
    freq_days = period.days if isinstance(period, pd.Timedelta) else 0
    have_weekends = index.day_of_week.to_series().between(5, 6).mean() > 2 / 7 * 0.6
    annual = {7: 52, 31: 12, 365: 1}.get(freq_days, 365 if have_weekends else 252)
    freq = {7: "W", 31: "ME", 365: "YE"}.get(freq_days, "D")
    day_returns = pd.Series(equity, index=index).resample(freq).last().dropna().pct_change().dropna()
    g = _geometric_mean(day_returns)
    annual_return = (1 + g) ** annual - 1
    variance = day_returns.var(ddof=int(bool(day_returns.shape)))
    volatility = math.sqrt((variance + (1 + g) ** 2) ** annual - (1 + g) ** (2 * annual))
    downside = math.sqrt(float(np.mean(day_returns.clip(-np.inf, 0) ** 2))) * math.sqrt(annual)
    max_dd = float(np.max(drawdown(equity)))
    returns = trade_returns_pct / 100.0
    losses = abs(returns[returns < 0].sum())
    start = close[first_trading_bar]
    return {
        "annualised_return_pct": _finite(annual_return * 100),
        "annualised_volatility_pct": _finite(volatility * 100),
        "sharpe_ratio": _finite(annual_return / volatility) if volatility else None,
        "sortino_ratio": _finite(annual_return / downside) if downside else None,
        "calmar_ratio": _finite(annual_return / max_dd) if max_dd else None,
        "profit_factor": _finite(returns[returns > 0].sum() / losses) if losses else None,
        "buy_and_hold_return_pct": _finite((close[-1] - start) / start * 100) if start else None,
    }
