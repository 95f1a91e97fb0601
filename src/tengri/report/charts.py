"""The report's still charts: agent confidence, profit and thermal zones, bursts (PNG).

Each function takes frames of a :class:`~tengri.report.run_folder.RunFolder` and returns a PNG
data URI (price and equity are interactive: :mod:`tengri.report.interactive`). They draw what
the run recorded; the only figures they derive are for display (runs of equal zones, burst
seconds per day).
"""

from __future__ import annotations

from typing import Any

import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.patches import Patch

from tengri.report.downsample import envelope
from tengri.report.figures import (
    PALETTE,
    PROFIT_ZONE_COLOURS,
    THERMAL_ZONE_COLOURS,
    as_datetimes,
    new_figure,
    render,
    styled,
)

__all__ = ["bursts_chart", "confidence_chart", "zones_chart"]

#: Thermal zone boundaries in °C (DESIGN.md, Thermal zones), drawn on the temperature panel.
_THERMAL_BOUNDS = (60.0, 70.0, 80.0, 90.0)


# matplotlib.dates ships without annotations on these callables; they are the only untyped calls.
def _date_axis(ax: Any) -> None:
    """Give ``ax`` concise date ticks (year once, then months, days or hours)."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _date_numbers(times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Return ``times`` in matplotlib date units (days since matplotlib's epoch)."""
    return np.asarray(mdates.date2num(times), dtype=np.float64)  # type: ignore[no-untyped-call]


def confidence_chart(confidences: pd.DataFrame, trades: pd.DataFrame, top: int = 8) -> tuple[str, list[str]]:
    """Draw the agent confidence of the ``top`` strategies with the most trades over time.

    Strategies without trades are ranked by their number of confidence samples. Returns the
    PNG data URI and the strategies drawn, in rank order.
    """
    samples = confidences["strategy_id"].astype(str).value_counts()
    traded = trades["strategy_id"].astype(str).value_counts()
    rank = pd.DataFrame({"trades": traded, "samples": samples}).fillna(0)
    chosen = list(rank.sort_values(["trades", "samples"], ascending=False).index[:top])
    with styled():
        figure, (ax,) = new_figure(3.8)
        colours = [f"C{i}" for i in range(10)]
        for i, strategy in enumerate(chosen):
            rows = confidences[confidences["strategy_id"].astype(str) == strategy]
            ax.plot(
                as_datetimes(rows["timestamp"]),
                rows["confidence"].astype(float),
                color=colours[i % len(colours)],
                linewidth=1.2,
                label=f"{strategy} ({int(rank.loc[strategy, 'trades'])} trades)",
            )
        ax.axhline(0.5, color=PALETTE["muted"], linestyle=":", linewidth=1)
        ax.set(ylim=(0, 1), ylabel="agent confidence")
        if chosen:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        _date_axis(ax)
        return render(figure), chosen


def _runs(labels: npt.NDArray[Any]) -> list[tuple[int, int, str]]:
    """Return the runs ``(first, last_exclusive, label)`` of equal consecutive labels."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, len(labels)]
    return [(int(s), int(e), str(labels[s])) for s, e in zip(starts, ends, strict=True)]


def _bands(ax: Any, edges: npt.NDArray[np.float64], labels: pd.Series, colours: dict[str, str]) -> None:
    """Fill each run of equal labels as one coloured band (one ``broken_barh`` per label)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    # Runs of the labels' codes, not of the labels as a million Python strings.
    codes, names = pd.factorize(labels, use_na_sentinel=False)
    for first, last, code in _runs(codes):
        label = str(names[int(code)])
        spans.setdefault(label, []).append((edges[first], edges[last] - edges[first]))
    for label, ranges in spans.items():
        ax.broken_barh(ranges, (0, 1), facecolors=colours.get(label, "#adb5bd"), linewidth=0)
    order = [name for name in colours if name in spans] + [n for n in spans if n not in colours]
    handles = [Patch(color=colours.get(name, "#adb5bd"), label=name) for name in order]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    ax.set(ylim=(0, 1), yticks=[])
    ax.grid(False)


def _bar_edges(times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Return ``n + 1`` band edges in matplotlib date units, the last one a median bar later."""
    x = _date_numbers(times)
    step = float(np.median(np.diff(x))) if len(x) > 1 else 1.0
    return np.append(x, x[-1] + step)


def zones_chart(timeline: pd.DataFrame) -> str:
    """Draw profit and thermal zones as coloured bands, and the temperature with burst shading."""
    with styled():
        figure, (profit, thermal, heat) = new_figure(4.6, 3, height_ratios=[0.6, 0.6, 2])
        times = as_datetimes(timeline["timestamp"])
        edges = _bar_edges(times)
        _bands(profit, edges, timeline["profit_zone"], PROFIT_ZONE_COLOURS)
        profit.set_ylabel("profit zone", rotation=0, ha="right", va="center")
        profit.set_xlim(edges[0], edges[-1])
        _bands(thermal, edges, timeline["thermal_zone"], THERMAL_ZONE_COLOURS)
        thermal.set_ylabel("thermal zone", rotation=0, ha="right", va="center")
        temperature = timeline["temperature"].astype(float)
        in_burst = timeline["in_burst"].fillna(0).astype(int).to_numpy()
        burst_ranges = [
            (edges[first], edges[last] - edges[first])
            for first, last, label in _runs(in_burst)
            if label == "1"
        ]
        if burst_ranges:
            low, high = float(np.nanmin(temperature)), float(np.nanmax(temperature))
            heat.broken_barh(
                burst_ranges, (low - 1, high - low + 2), facecolors="#ffe8cc", linewidth=0, label="in burst"
            )
        heat.plot(
            *envelope(times, temperature.to_numpy(dtype=np.float64)),
            color=PALETTE["short"],
            linewidth=1.0,
            label="temperature",
        )
        for bound in _THERMAL_BOUNDS:
            if float(np.nanmin(temperature)) - 5 <= bound <= float(np.nanmax(temperature)) + 5:
                heat.axhline(bound, color=PALETTE["muted"], linestyle=":", linewidth=0.8)
        heat.set(ylabel="temperature [°C]")
        heat.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        _date_axis(heat)
        return render(figure)


def bursts_chart(bursts: pd.DataFrame, daily_budget_seconds: float | None) -> str:
    """Draw burst seconds used per UTC day, stacked by label, against the daily budget."""
    frame = bursts.assign(
        day=pd.DatetimeIndex(bursts["start"]).tz_convert("UTC").normalize().tz_localize(None),
        seconds=bursts["seconds"].astype(float),
        label=bursts["label"].fillna("burst").astype(str),
    )
    per_day = frame.pivot_table(index="day", columns="label", values="seconds", aggfunc="sum").fillna(0.0)
    with styled():
        figure, (ax,) = new_figure(3.4)
        days = np.asarray(per_day.index.to_numpy(dtype="datetime64[ns]"))
        bottom = np.zeros(len(per_day))
        for i, label in enumerate(per_day.columns):
            values = per_day[label].to_numpy(dtype=float)
            ax.bar(days, values, bottom=bottom, width=0.8, color=f"C{i}", label=str(label))
            bottom += values
        if daily_budget_seconds is not None:
            ax.axhline(
                daily_budget_seconds,
                color=PALETTE["budget"],
                linestyle="--",
                label=f"daily budget ({daily_budget_seconds:,.0f} s)",
            )
        ax.set(ylabel="burst seconds per UTC day")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        _date_axis(ax)
        return render(figure)
