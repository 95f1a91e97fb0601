"""Performance statistics of one run, from its equity timeline and its closed trades.

The figures and their names follow backtesting.py's ``compute_stats`` (``backtesting/_stats.py``,
v0.6) wherever that library defines them, so that a Tengri run and a backtesting.py run of the
same trades read the same. Where Tengri's definition differs, the docstring of
:func:`compute_statistics` says how and why. Every undefined figure (no trades, flat equity,
a single bar) is ``None``, never NaN or infinity, so the result serialises as strict JSON.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tengri.errors import InvalidInputError
from tengri.report.run_folder import parse_timestamps

__all__ = ["Statistic", "compute_statistics", "drawdown", "drawdown_episodes"]

Statistic = float | int | str | None
FloatArray = npt.NDArray[np.float64]


def _finite(value: float | np.floating | None) -> float | None:
    """Return ``value`` as a Python float, or ``None`` when it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return number + 0.0  # turns -0.0 into 0.0


def drawdown(equity: FloatArray) -> FloatArray:
    """Return the drawdown ``DD_t = 1 − E_t / max_{s≤t} E_s`` of each bar (a fraction ≥ 0).

    Bars whose running peak is not positive have no defined drawdown and get 0.
    Source: backtesting.py ``compute_stats`` (``dd = 1 - equity / np.maximum.accumulate(equity)``).
    """
    # In place where it can be: a long run's equity is copied once, not three times.
    peak = np.maximum.accumulate(np.asarray(equity, dtype=np.float64))
    positive = peak > 0
    ratio = np.divide(equity, peak, out=peak, where=positive)
    ratio[~positive] = 1.0
    return np.subtract(1.0, ratio, out=ratio)


def drawdown_episodes(dd: FloatArray) -> list[tuple[int, int, float]]:
    """Split a drawdown series into episodes ``(peak_bar, end_bar, depth)``.

    An episode runs from a bar at its running peak (``DD = 0``) to the next bar at a new peak,
    or to the last bar when the equity never recovers, and spans at least one bar under water;
    ``depth`` is its largest drawdown. Source: backtesting.py ``compute_drawdown_duration_peaks``.
    """
    at_peak = np.unique(np.r_[np.flatnonzero(dd == 0), len(dd) - 1])
    episodes = []
    for previous, current in itertools.pairwise(at_peak):
        if current > previous + 1:
            depth = float(np.max(dd[previous : current + 1]))
            episodes.append((int(previous), int(current), depth))
    return episodes


def _exposure_pct(position: npt.NDArray[Any]) -> float:
    """Share of bars in the market: a position held into the bar or out of it."""
    held_after = position != 0
    held_before = np.r_[False, held_after[:-1]]
    return float(np.mean(held_after | held_before) * 100)


def _bar_returns(equity: FloatArray) -> FloatArray:
    """Return the simple per-bar returns ``E_t / E_{t−1} − 1`` where ``E_{t−1} > 0``."""
    previous, current = equity[:-1], equity[1:]
    valid = previous > 0
    if valid.all():  # the usual case, without two copies of the equity (a long run's memory)
        returns = np.divide(current, previous, dtype=np.float64)
    else:
        returns = np.asarray(current[valid] / previous[valid], dtype=np.float64)
    returns -= 1.0
    return returns


def _trade_statistics(trades: pd.DataFrame) -> dict[str, Statistic]:
    profit = trades["profit"].to_numpy(dtype=np.float64)
    returns = trades["return_pct"].to_numpy(dtype=np.float64)
    n_trades = len(profit)
    stats: dict[str, Statistic] = {"num_trades": n_trades}
    stats["total_costs"] = _finite(trades["costs"].astype(float).sum()) if n_trades else 0.0
    if n_trades == 0:
        for key in (
            "win_rate_pct",
            "best_trade_pct",
            "worst_trade_pct",
            "average_trade_pct",
            "profit_factor",
            "expectancy",
            "expectancy_pct",
            "sqn",
        ):
            stats[key] = None
        return stats
    stats["win_rate_pct"] = _finite(np.mean(profit > 0) * 100)
    stats["best_trade_pct"] = _finite(np.max(returns))
    stats["worst_trade_pct"] = _finite(np.min(returns))
    growth = 1.0 + returns / 100.0
    stats["average_trade_pct"] = (
        _finite((np.exp(np.mean(np.log(growth))) - 1.0) * 100) if np.all(growth > 0) else None
    )
    gross_profit = float(profit[profit > 0].sum())
    gross_loss = float(-profit[profit < 0].sum())
    stats["profit_factor"] = _finite(gross_profit / gross_loss) if gross_loss > 0 else None
    stats["expectancy"] = _finite(np.mean(profit))
    stats["expectancy_pct"] = _finite(np.mean(returns))
    spread = float(np.std(profit, ddof=1)) if n_trades > 1 else 0.0
    stats["sqn"] = _finite(math.sqrt(n_trades) * np.mean(profit) / spread) if spread > 0 else None
    return stats


def compute_statistics(
    timeline: pd.DataFrame,
    trades: pd.DataFrame,
    *,
    bars_per_year: float,
    risk_free: float = 0.0,
    convention: str = "tengri",
    first_trading_bar: int = 0,
) -> dict[str, Statistic]:
    """Compute the performance statistics of a run.

    Notation: ``E_t`` equity after bar ``t`` (``t = 0 … n−1``), ``C_t`` close, ``N`` =
    ``bars_per_year``, ``r_t = E_t/E_{t−1} − 1`` the per-bar returns (``n − 1`` of them),
    ``r_f = risk_free/N`` the per-bar risk-free rate, ``DD_t`` the drawdown of :func:`drawdown`;
    per trade ``π_i`` its ``profit`` (net of costs) and ``ρ_i`` its ``return_pct``.

    - ``start``, ``end``: first and last timestamp (ISO 8601); ``duration``: ``end − start``
      as an ISO 8601 duration; ``bars``: ``n``.
    - ``exposure_pct``: share of bars in the market, where bar ``t`` counts when a position is
      held after bar ``t − 1`` or after bar ``t`` (held into or out of the bar). On
      backtesting.py's trades this equals its "Exposure Time [%]" (``EntryBar … ExitBar``
      inclusive).
    - ``equity_final`` ``E_{n−1}``; ``equity_peak`` ``max E_t``.
    - ``return_pct`` ``(E_{n−1} − E_0)/E_0 · 100`` (backtesting.py "Return [%]").
    - ``buy_and_hold_return_pct`` ``(C_{n−1} − C_0)/C_0 · 100``. backtesting.py starts at the
      first bar after its indicators' warm-up instead of bar 0.
    - ``annualised_return_pct`` ``((E_{n−1}/E_0)^(N/(n−1)) − 1) · 100``, the geometric mean
      per-bar return compounded over ``N`` bars. backtesting.py compounds the geometric mean
      *daily* return over 252 (or 365) days; on daily bars without gaps the two coincide.
    - ``annualised_volatility_pct`` ``std(r_t, ddof=1) · √N · 100``. backtesting.py uses the
      volatility of compounded daily returns, ``√((σ² + (1+g)²)^N − (1+g)^(2N))``.
    - ``sharpe_ratio`` ``(mean(r_t) − r_f)/std(r_t, ddof=1) · √N`` (arithmetic, as empyrical).
      backtesting.py divides its annualised return by its annualised volatility instead.
    - ``sortino_ratio`` ``(mean(r_t) − r_f)/√(mean(min(r_t − r_f, 0)²)) · √N``. backtesting.py
      puts its geometric annualised return in the numerator.
    - ``ruined``: whether equity reached 0 or less (a margin call, :mod:`tengri.engine.margin`).
      A ruined run's ``r_t`` end at the first bar ``k`` with ``E_k ≤ 0``, whose return is taken
      as −100 % (all the capital; a debt beyond it is not a return), and its Sharpe and Sortino
      ratios are ``min(ratio, 0)``: the arithmetic mean of earlier gains can outweigh the one
      −100 % bar, but a run that lost everything never reports a positive risk-adjusted return.
    - ``calmar_ratio`` annualised return (fraction) over ``|max drawdown|`` (as backtesting.py).
    - ``max_drawdown_pct`` ``−max DD_t · 100``, ≤ 0 (backtesting.py's sign convention);
      ``average_drawdown_pct`` ``−mean(depth) · 100`` over :func:`drawdown_episodes`.
    - ``max_drawdown_duration_bars`` longest episode in bars; ``max_drawdown_duration`` longest
      episode in time (ISO 8601 duration), as backtesting.py "Max. Drawdown Duration"; both 0
      when equity never falls.
    - ``num_trades``; ``win_rate_pct`` share of trades with ``π_i > 0``.
    - ``best_trade_pct``, ``worst_trade_pct`` ``max ρ_i``, ``min ρ_i``.
    - ``average_trade_pct`` geometric mean ``(exp(mean(ln(1 + ρ_i/100))) − 1) · 100`` (as
      backtesting.py; ``None`` when a trade lost 100 % or more, where backtesting.py gives 0).
    - ``profit_factor`` gross profit over gross loss in currency, ``Σπ⁺ / |Σπ⁻|``, the usual
      definition. backtesting.py sums percentage returns ``Σρ⁺ / |Σρ⁻|`` instead; the two agree
      only when every trade has the same notional. ``None`` without losing trades.
    - ``expectancy`` ``mean(π_i)`` in currency; ``expectancy_pct`` ``mean(ρ_i)`` (backtesting.py
      "Expectancy [%]").
    - ``sqn`` Van Tharp's system quality number ``√n_trades · mean(π_i)/std(π_i, ddof=1)``.
    - ``total_costs`` ``Σ costs``.

    Parameters
    ----------
    timeline
        One row per bar with at least ``timestamp``, ``close``, ``equity`` and ``position``.
    trades
        One row per closed execution with at least ``profit``, ``return_pct`` and ``costs``.
    bars_per_year
        Bars in one year, for annualisation (252 for daily equities).
    risk_free
        Annual risk-free rate as a fraction.
    convention
        ``"tengri"`` (the definitions above) or ``"backtesting.py"``: annualised return and
        volatility, Sharpe, Sortino, Calmar, profit factor and buy-and-hold as backtesting.py's
        ``compute_stats`` defines them (:mod:`tengri.report.conventions`; ``risk_free`` unused).
    first_trading_bar
        Under ``"backtesting.py"``, the bar buy-and-hold starts at (its indicators' warm-up).

    Returns
    -------
    dict
        The figures above by snake_case name; ``None`` where a figure is undefined.

    Raises
    ------
    InvalidInputError
        When the timeline has no bars or ``bars_per_year`` is not positive.
    """
    if len(timeline) == 0:
        raise InvalidInputError("the timeline has no bars; statistics need at least one")
    if not (math.isfinite(bars_per_year) and bars_per_year > 0):
        raise InvalidInputError(f"bars_per_year must be positive, got {bars_per_year}")
    # The columns as they are where they can be (a long run's are tens of megabytes each).
    times = pd.DatetimeIndex(parse_timestamps(timeline["timestamp"]), copy=False)
    equity = timeline["equity"].to_numpy(dtype=np.float64)
    close = timeline["close"].to_numpy(dtype=np.float64)
    n_bars = len(equity)
    start, end = times[0], times[-1]

    stats: dict[str, Statistic] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "duration": (end - start).isoformat(),
        "bars": n_bars,
        "exposure_pct": _exposure_pct(timeline["position"].to_numpy()),
        "equity_final": _finite(equity[-1]),
        "equity_peak": _finite(np.max(equity)),
    }
    first = float(equity[0])
    stats["return_pct"] = _finite((equity[-1] - first) / first * 100) if first > 0 else None
    stats["buy_and_hold_return_pct"] = _finite((close[-1] - close[0]) / close[0] * 100) if close[0] else None

    annual_return: float | None = None
    if n_bars > 1 and first > 0:
        growth = float(equity[-1]) / first
        if growth <= 0:
            annual_return = -1.0
        else:
            log_annual = math.log(growth) * bars_per_year / (n_bars - 1)
            # Beyond e^700 a float overflows: such a figure is meaningless anyway.
            annual_return = math.expm1(log_annual) if log_annual < 700 else None
    stats["annualised_return_pct"] = None if annual_return is None else annual_return * 100

    ruin = np.flatnonzero(equity <= 0) if first > 0 else np.empty(0, dtype=np.intp)
    ruined = bool(ruin.size)
    stats["ruined"] = ruined
    # A ruined run's returns end at ruin, whose return is −100 % (whatever debt lies beyond).
    returns = _bar_returns(np.r_[equity[: ruin[0]], 0.0] if ruined else equity)
    per_bar_risk_free = risk_free / bars_per_year
    spread = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    excess = float(np.mean(returns)) - per_bar_risk_free if len(returns) else 0.0
    root_n = math.sqrt(bars_per_year)
    stats["annualised_volatility_pct"] = spread * root_n * 100 if len(returns) > 1 else None
    sharpe = _finite(excess / spread * root_n) if spread > 0 else None
    downside = 0.0
    if len(returns):
        shortfall = np.subtract(returns, per_bar_risk_free)
        del returns  # the last use: not held beside the drawdown's arrays below
        np.minimum(shortfall, 0.0, out=shortfall)
        downside = math.sqrt(float(np.mean(np.square(shortfall, out=shortfall))))
        del shortfall
    sortino = _finite(excess / downside * root_n) if downside > 0 else None
    if ruined:  # a run that lost everything earned nothing for its risk, however it began
        sharpe = None if sharpe is None else min(sharpe, 0.0)
        sortino = None if sortino is None else min(sortino, 0.0)
    stats["sharpe_ratio"], stats["sortino_ratio"] = sharpe, sortino

    dd = drawdown(equity)
    max_dd = float(np.max(dd))
    episodes = drawdown_episodes(dd)
    stats["calmar_ratio"] = (
        _finite(annual_return / max_dd) if annual_return is not None and max_dd > 0 else None
    )
    stats["max_drawdown_pct"] = _finite(-max_dd * 100)
    stats["average_drawdown_pct"] = _finite(-np.mean([d for _, _, d in episodes]) * 100) if episodes else 0.0
    stats["max_drawdown_duration_bars"] = max((e - p for p, e, _ in episodes), default=0)
    longest = max((times[e] - times[p] for p, e, _ in episodes), default=pd.Timedelta(0))
    stats["max_drawdown_duration"] = longest.isoformat()

    stats.update(_trade_statistics(trades))
    if convention == "backtesting.py":
        from tengri.report.conventions import backtesting_py_figures

        figures = backtesting_py_figures(
            times, equity, close, trades["return_pct"].to_numpy(dtype=np.float64), first_trading_bar
        )
        if stats["ruined"]:  # the rule of a ruined run holds under either convention
            for key in ("sharpe_ratio", "sortino_ratio"):
                value = figures[key]
                figures[key] = None if value is None else min(float(value), 0.0)
        stats.update(figures)
    elif convention != "tengri":
        raise InvalidInputError(f"convention must be 'tengri' or 'backtesting.py', got {convention!r}")
    return stats
