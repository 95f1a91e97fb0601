"""Turn matplotlib figures into inline PNG data URIs, with the report's style and palette.

Figures are built from :class:`matplotlib.figure.Figure` and rendered by the Agg canvas
directly, never through ``pyplot``: no global backend is selected, no figure registry grows,
and the style lives in a :func:`matplotlib.rc_context` that is undone on exit. The PNG carries
no ``Software`` metadata, so the same data renders to the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "PROFIT_ZONE_COLOURS",
    "THERMAL_ZONE_COLOURS",
    "as_datetimes",
    "new_figure",
    "render",
    "styled",
]

DPI = 100

PALETTE = {
    "ink": "#1f2933",
    "muted": "#7b8794",
    "grid": "#e4e7eb",
    "price": "#334e68",
    "equity": "#2680c2",
    "hold": "#9aa5b1",
    "long": "#2f9e44",
    "short": "#e03131",
    "exit": "#495057",
    "drawdown": "#e03131",
    "budget": "#f08c00",
}

#: Profit zones of DESIGN.md ("Profit trajectory"), coloured from good to bad.
PROFIT_ZONE_COLOURS = {
    "surging": "#2f9e44",
    "stable": "#74c0fc",
    "drawdown": "#e03131",
    "volatile": "#f59f00",
    "unknown": "#ced4da",
}

#: Thermal zones of DESIGN.md ("Thermal zones"), coloured from cool to critical.
THERMAL_ZONE_COLOURS = {
    "cool": "#4dabf7",
    "normal": "#69db7c",
    "warm": "#ffd43b",
    "hot": "#ff922b",
    "critical": "#c92a2a",
}

_STYLE: dict[Any, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": PALETTE["ink"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": PALETTE["grid"],
    "grid.linewidth": 0.8,
    "xtick.color": "#52606d",
    "ytick.color": "#52606d",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "date.autoformatter.day": "%Y-%m-%d",
    "date.autoformatter.hour": "%m-%d %H:%M",
}


@contextmanager
def styled() -> Iterator[None]:
    """Apply the report's matplotlib style for the duration of the block only."""
    with matplotlib.rc_context(_STYLE):
        yield


def new_figure(
    height: float,
    rows: int = 1,
    columns: int = 1,
    *,
    height_ratios: list[float] | None = None,
    width_ratios: list[float] | None = None,
    sharex: bool = True,
    width: float = 11.0,
) -> tuple[Figure, list[Any]]:
    """Return a figure of ``width × height`` inches and its axes as a flat list."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(
        rows,
        columns,
        sharex=sharex,
        squeeze=False,
        gridspec_kw={"height_ratios": height_ratios, "width_ratios": width_ratios},
    )
    return figure, list(axes.flat)


def render(figure: Figure) -> str:
    """Render ``figure`` as a PNG and return it as a ``data:image/png;base64,…`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    figure.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def as_datetimes(values: pd.Series | pd.DatetimeIndex) -> npt.NDArray[np.datetime64]:
    """Return UTC timestamps as naive ``datetime64[ns]`` values, which matplotlib plots natively."""
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(index.to_numpy(dtype="datetime64[ns]"))
