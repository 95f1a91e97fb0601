"""Summarise a loaded OHLCV data set as a JSON-ready dictionary (for ``tengri data info``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tengri.data._validation import OHLCVData

__all__ = ["GAP_FACTOR", "describe_ohlcv"]

GAP_FACTOR = 1.5
"""A spacing longer than this many median spacings counts as a gap."""


def describe_ohlcv(data: OHLCVData) -> dict[str, Any]:
    """Return a JSON-ready summary of validated bars.

    Parameters
    ----------
    data
        Bars from :func:`tengri.data.read_ohlcv`.

    Returns
    -------
    dict
        ``source``; ``rows``; ``first`` and ``last`` timestamps (ISO 8601, UTC);
        ``bar_interval`` (the median spacing as an ISO 8601 duration, None for one bar) and
        ``bar_interval_seconds``; ``price_range`` (``{"low", "high"}``: the lowest Low and the
        highest High); ``mean_volume``; ``gaps``, the number of spacings longer than
        ``GAP_FACTOR`` × the median (weekends and holidays count); ``repairs``; ``notes``.
    """
    frame = data.frame
    index = frame.index
    spacings = np.diff(index.as_unit("ns").asi8)
    if spacings.size:
        median = float(np.median(spacings))
        interval_ns = round(median)
        interval: str | None = _iso_duration(interval_ns)
        interval_seconds: float | None = interval_ns / 1e9
        gaps = int(np.count_nonzero(spacings > GAP_FACTOR * median))
    else:
        interval, interval_seconds, gaps = None, None, 0
    return {
        "source": data.source,
        "rows": len(index),
        "first": index[0].isoformat() if len(index) else None,
        "last": index[-1].isoformat() if len(index) else None,
        "bar_interval": interval,
        "bar_interval_seconds": interval_seconds,
        "price_range": {"low": float(frame["Low"].min()), "high": float(frame["High"].max())},
        "mean_volume": float(frame["Volume"].mean()),
        "gaps": gaps,
        "repairs": dict(data.repairs),
        "notes": list(data.notes),
    }


def _iso_duration(nanoseconds: int) -> str:
    """Format a duration as ISO 8601 (``P1D``, ``PT1H``, ``PT15M``, ``PT0.5S``)."""
    days, rest = divmod(nanoseconds, 86_400 * 10**9)
    hours, rest = divmod(rest, 3_600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = rest / 1e9
    time = "".join(
        [
            f"{hours}H" if hours else "",
            f"{minutes}M" if minutes else "",
            f"{seconds:g}S" if seconds else "",
        ]
    )
    date_part = f"{days}D" if days else ""
    time_part = f"T{time}" if time else ""
    return "P" + ((date_part + time_part) or "T0S")
