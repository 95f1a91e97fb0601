"""Calibration of the model's signals: stated confidence against the realised hit rate.

DESIGN.md (Predictor) promises that "a stated 0.8 wins about 80% of the time". This module
bins the signals of a run by stated confidence and measures, per bin, how often the direction
was right, with a Wilson score interval, and draws the reliability diagram.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tengri.report.figures import PALETTE, new_figure, render, styled

__all__ = ["brier_score", "calibration_chart", "calibration_table", "expected_calibration_error"]

_Z_95 = 1.959963984540054


def _wilson_interval(hits: int, count: int) -> tuple[float, float]:
    """Return the 95 % Wilson score interval of a proportion ``hits/count``.

    ``(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)``, z = 1.96 (Wilson 1927,
    "Probable inference, the law of succession, and statistical inference", JASA 22).
    """
    p = hits / count
    z2 = _Z_95**2
    centre = (p + z2 / (2 * count)) / (1 + z2 / count)
    half = _Z_95 * math.sqrt(p * (1 - p) / count + z2 / (4 * count**2)) / (1 + z2 / count)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def calibration_table(signals: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Bin signals by stated confidence into ``bins`` equal-width bins on [0, 1].

    Returns one row per non-empty bin: ``lower``, ``upper``, ``count``, ``mean_stated`` (mean
    stated confidence), ``hit_rate`` (share of ``hit == 1``) and its 95 % Wilson interval
    ``hit_low``, ``hit_high``. Rows with a missing confidence or hit are left out.
    """
    columns = ["lower", "upper", "count", "mean_stated", "hit_rate", "hit_low", "hit_high"]
    frame = signals[["stated_confidence", "hit"]].astype(float).dropna()
    if frame.empty:
        return pd.DataFrame(columns=columns)
    stated = frame["stated_confidence"].to_numpy().clip(0.0, 1.0)
    hits = frame["hit"].to_numpy() > 0
    index = np.minimum((stated * bins).astype(int), bins - 1)
    rows = []
    for b in np.unique(index):
        member = index == b
        count = int(member.sum())
        n_hits = int(hits[member].sum())
        low, high = _wilson_interval(n_hits, count)
        rows.append(
            [b / bins, (b + 1) / bins, count, float(stated[member].mean()), n_hits / count, low, high]
        )
    return pd.DataFrame(rows, columns=columns)


def brier_score(signals: pd.DataFrame) -> float | None:
    """Return the Brier score ``mean((c_i − h_i)²)`` of stated confidence against hits (Brier 1950)."""
    frame = signals[["stated_confidence", "hit"]].astype(float).dropna()
    if frame.empty:
        return None
    return float(np.mean((frame["stated_confidence"] - (frame["hit"] > 0)) ** 2))


def expected_calibration_error(table: pd.DataFrame) -> float | None:
    """Return ``Σ_b (n_b/n)·|hit_rate_b − mean_stated_b|`` over the bins (Naeini et al. 2015)."""
    total = int(table["count"].sum()) if not table.empty else 0
    if total == 0:
        return None
    gaps = (table["hit_rate"] - table["mean_stated"]).abs()
    return float((table["count"] * gaps).sum() / total)


def calibration_chart(table: pd.DataFrame) -> str:
    """Draw the reliability diagram and the signal count per bin; return a PNG data URI."""
    with styled():
        figure, (reliability, counts) = new_figure(
            3.8, 1, 2, width_ratios=[1.25, 1], sharex=False, width=11.0
        )
        reliability.plot([0, 1], [0, 1], linestyle="--", color=PALETTE["muted"], label="perfect calibration")
        error = np.vstack([table["hit_rate"] - table["hit_low"], table["hit_high"] - table["hit_rate"]]).clip(
            min=0
        )
        reliability.errorbar(
            table["mean_stated"],
            table["hit_rate"],
            yerr=error,
            fmt="o-",
            color=PALETTE["equity"],
            ecolor="#a5d8ff",
            elinewidth=2,
            capsize=3,
            label="realised hit rate (95 % Wilson interval)",
        )
        for row in table.itertuples():
            reliability.annotate(
                f"n={row.count}",
                (row.mean_stated, row.hit_rate),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=7.5,
                color=PALETTE["muted"],
            )
        reliability.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="stated confidence", ylabel="hit rate")
        reliability.set_title("Reliability diagram")
        reliability.legend(loc="upper left")
        width = float(table["upper"].iloc[0] - table["lower"].iloc[0]) if len(table) else 0.1
        counts.bar(
            table["lower"], table["count"], width=width, align="edge", color="#a5d8ff", edgecolor="white"
        )
        counts.set(xlim=(0, 1), xlabel="stated confidence", ylabel="signals")
        counts.set_title("Signals per confidence bin")
        return render(figure)
