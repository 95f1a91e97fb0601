"""A portfolio run's views: the account as one series per timestamp, and each symbol's own series.

A portfolio replay's ``timeline.csv`` has one row per tick, that is per symbol and bar, with the
account's equity after the tick and the symbol's own equity (``symbol_equity``: the initial cash
plus the symbol's realised and open profit). The statistics want one series per instrument:

- :func:`portfolio_timeline`: one row per timestamp, the account after the timestamp's last tick;
  ``close`` is the equal-weighted index of the symbols (each close over its first, averaged over
  the symbols trading by then, times 100), so that buy-and-hold is an equal-weighted portfolio's;
  ``position`` is the number of open executions (in the market or not);
- :func:`symbol_timeline`: the symbol's rows, with ``symbol_equity`` as ``equity``.

A run without a ``symbol`` column (one instrument, or a run folder from before portfolios) is its
own portfolio and its only symbol's timeline.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["first_bar_of", "is_portfolio", "portfolio_timeline", "symbol_timeline", "symbols_of"]


def symbols_of(frame: pd.DataFrame) -> list[str]:
    """The symbols of a timeline or trades frame, in order of first appearance ([] without any)."""
    if "symbol" not in frame.columns:
        return []
    return [str(s) for s in pd.unique(frame["symbol"].dropna())]


def is_portfolio(timeline: pd.DataFrame) -> bool:
    """Whether the timeline holds more than one symbol."""
    return len(symbols_of(timeline)) > 1


def portfolio_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    """One row per timestamp: the account after that timestamp's last tick (see the module docstring)."""
    if not is_portfolio(timeline):
        return timeline
    closes = timeline.pivot_table(
        index="timestamp", columns="symbol", values="close", aggfunc="last", sort=False
    )
    closes = closes.sort_index().ffill()
    index = closes.div(closes.bfill().iloc[0]).mean(axis=1, skipna=True) * 100.0
    last = timeline.groupby("timestamp", sort=True).tail(1).set_index("timestamp")
    out = last.assign(
        close=index.reindex(last.index).to_numpy(),
        position=last["open_executions"].to_numpy(),
    ).reset_index()
    for column in ("open", "high", "low"):
        out[column] = out["close"]
    return out


def symbol_timeline(timeline: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """The symbol's own rows, its equity as ``equity`` (see the module docstring)."""
    if "symbol" not in timeline.columns:
        return timeline
    rows = timeline[timeline["symbol"] == symbol].reset_index(drop=True)
    if "symbol_equity" in rows.columns:
        rows = rows.assign(equity=rows["symbol_equity"])
    return rows


def first_bar_of(view: pd.DataFrame, timeline: pd.DataFrame, entry_bars: pd.Series) -> int:
    """The row of ``view`` (a view of ``timeline``) at the earliest of the tick numbers ``entry_bars``."""
    if len(entry_bars) == 0:
        return 0
    first = int(entry_bars.min())
    stamp = timeline.loc[timeline["bar"] == first, "timestamp"]
    if stamp.empty:
        return 0
    times = pd.Series(view["timestamp"]).reset_index(drop=True)
    hits = times.index[times >= stamp.iloc[0]]
    return int(hits[0]) if len(hits) else 0
