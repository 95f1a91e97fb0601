"""The report's interactive charts: price with trades and equity with drawdown, zoomed and panned in the page.

Drawn with bokeh and embedded with its JavaScript inlined (the ``bokeh`` bundle of
:class:`bokeh.resources.Resources` in ``inline`` mode), so that the one-file report opens without a
network. A long series is downsampled for drawing (:func:`tengri.report.downsample.kept`): each
bucket of bars keeps its lowest and highest point, so that every spike a screen could show is
kept; every trade is drawn. Bokeh names its objects with counters and random UUIDs; :func:`embed` renumbers
them in order of appearance, so the same run gives the same page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from bokeh.embed import components
from bokeh.models import ColumnDataSource, HoverTool, Range, Range1d
from bokeh.plotting import figure
from bokeh.resources import Resources

from tengri.report.downsample import kept
from tengri.report.statistics import drawdown

__all__ = ["embed", "equity_figures", "price_figure", "script_tags"]

_TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"
_WIDTH = 1_100
_COLOURS = {
    "price": "#1f2933",
    "equity": "#2680c2",
    "drawdown": "#c92a2a",
    "long": "#2b8a3e",
    "short": "#c92a2a",
}

FloatArray = npt.NDArray[np.float64]


def _millis(times: pd.Series) -> FloatArray:
    """UTC timestamps as milliseconds since the epoch (bokeh's datetime axis unit)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ms")
    return np.asarray(stamps.asi8, dtype=np.float64)


def _figure(title: str, height: int, x_range: Range) -> figure:
    plot = figure(
        title=title,
        height=height,
        width=_WIDTH,
        x_axis_type="datetime",
        tools=_TOOLS,
        active_scroll="xwheel_zoom",
        sizing_mode="stretch_width",
        x_range=x_range,
    )
    plot.toolbar.logo = None
    return plot


def _x_range(x: FloatArray) -> Range1d:
    low, high = (float(x[0]), float(x[-1])) if len(x) else (0.0, 1.0)
    return Range1d(start=low, end=high if high > low else low + 1.0)


def price_figure(timeline: pd.DataFrame, trades: pd.DataFrame, title: str = "Price and trades") -> figure:
    """The close (downsampled) with every trade: ▲ a long entry, ▼ a short one, ● its exit, joined."""
    x = _millis(timeline["timestamp"])
    close = timeline["close"].to_numpy(dtype=np.float64)
    shown = kept(len(x), close)
    plot = _figure(title, 320, _x_range(x))
    plot.line(x[shown], close[shown], color=_COLOURS["price"], line_width=1.2, legend_label="close")
    if len(trades):
        entry_x, exit_x = _millis(trades["entry_time"]), _millis(trades["exit_time"])
        entry_y = trades["entry_price"].to_numpy(dtype=np.float64)
        exit_y = trades["exit_price"].to_numpy(dtype=np.float64)
        long = trades["direction"].to_numpy() > 0
        colour = np.where(
            trades["profit"].to_numpy(dtype=np.float64) > 0, _COLOURS["long"], _COLOURS["short"]
        )
        plot.segment(entry_x, entry_y, exit_x, exit_y, color=list(colour), line_width=1.5, alpha=0.7)
        source = ColumnDataSource(
            {
                "x": entry_x,
                "y": entry_y,
                "marker": np.where(long, "triangle", "inverted_triangle").tolist(),
                "side": np.where(long, "long", "short").tolist(),
                "profit": trades["profit"].to_numpy(dtype=np.float64),
                "id": trades["execution_id"].astype(str).tolist(),
            }
        )
        entries = plot.scatter(
            "x", "y", source=source, marker="marker", size=9, color=_COLOURS["price"], legend_label="entry"
        )
        plot.scatter(exit_x, exit_y, marker="circle", size=6, color=list(colour), legend_label="exit")
        plot.add_tools(
            HoverTool(
                renderers=[entries],
                tooltips=[("trade", "@id"), ("side", "@side"), ("profit", "@profit{0,0.00}")],
            )
        )
    plot.legend.location = "top_left"
    plot.legend.click_policy = "hide"
    return plot


def equity_figures(timeline: pd.DataFrame, x_range: Range | None = None) -> tuple[figure, figure]:
    """Equity, and its drawdown below it on the same (linked) time axis; both downsampled."""
    x = _millis(timeline["timestamp"])
    equity = timeline["equity"].to_numpy(dtype=np.float64)
    shared = x_range if x_range is not None else _x_range(x)
    depth = -drawdown(equity) * 100.0
    top = _figure("Equity", 260, shared)
    shown = kept(len(x), equity, depth)
    top.line(x[shown], equity[shown], color=_COLOURS["equity"], line_width=1.3)
    bottom = _figure("Drawdown [%]", 160, shared)
    bottom.varea(x=x[shown], y1=depth[shown], y2=0.0, fill_color=_COLOURS["drawdown"], fill_alpha=0.35)
    return top, bottom


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OBJECT_ID = re.compile(r'(?<=["\\])p\d+(?=["\\])')


def _renumber(text: str, pattern: re.Pattern[str], prefix: str) -> str:
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{prefix}{len(names) + 1}")

    return pattern.sub(name, text)


def embed(figures: Sequence[figure]) -> tuple[str, list[str]]:
    """The page's ``<script>`` block and one ``<div>`` per figure, with ids renumbered (deterministic)."""
    script, divs = components(list(figures))
    joined = "\x00".join([script, *divs])
    joined = _renumber(_renumber(joined, _UUID, "tengri-doc-"), _OBJECT_ID, "q")
    script, *rest = joined.split("\x00")
    return script, rest


# The one address in bokeh's core bundle: MathJax, fetched from a CDN only to typeset a TeX label.
# The report has none; pointing it at an empty inline script keeps the page from ever asking.
_MATHJAX_CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/mathjax@[^\"']*")


def script_tags() -> str:
    """Bokeh's own JavaScript, inlined (its core bundle: the charts here need no widgets)."""
    return _MATHJAX_CDN.sub(
        "data:text/javascript,", str(Resources(mode="inline", components=["bokeh"]).render_js())
    )
