"""The panel experiment: one model pooled across several stocks, scored by qlib's cross-sectional metrics.

Data: :func:`tengri.services.panel_data.stock_bars` (bokeh-sampledata's daily AAPL, GOOG, IBM,
MSFT), aligned on their common dates. Split by time: the first ``train_fraction`` of the dates
trains, the next ``validation_fraction`` early-stops, the rest is the test; one date of gap before
validation and before the test (the label's horizon). Each neural variant is fitted pooled
(:func:`tengri.predict.panel.fit_panel_model`) once per seed; baselines: ``flat`` (no score),
``previous_direction`` (the last day's excess return as the score) and ``logistic`` (a logistic
regression of the excess return's sign on the same cross-sectional features, pooled). On the test
dates: IC, ICIR, Rank IC, Rank ICIR, and the top-minus-bottom long-short portfolio's annualised
return and information ratio (:func:`tengri.predict.panel_metrics.cross_sectional_metrics`),
mean ± std over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from tengri.predict import PredictorSettings
from tengri.predict.panel import PanelData, fit_panel_model, panel_data
from tengri.predict.panel_metrics import cross_sectional_metrics
from tengri.services.panel_data import STOCKS, stock_bars

if TYPE_CHECKING:
    from tengri.config import TengriConfig

__all__ = ["PANEL_METRICS", "PanelSettings", "panel_table", "run_panel"]

PANEL_METRICS: Final = ("ic", "icir", "rank_ic", "rank_icir", "long_short_return", "long_short_ir")
BASELINES: Final = ("flat", "previous_direction", "logistic")


@dataclass(frozen=True)
class PanelSettings:
    """How the panel experiment runs; stated in its table."""

    models: tuple[str, ...] = ("lstm", "lstm+lif", "lstm+attention", "enhanced")
    seeds: int = 5
    epochs: int = 20
    patience: int = 3
    hidden_size: int = 32
    train_fraction: float = 0.6
    validation_fraction: float = 0.2
    stocks: tuple[str, ...] = STOCKS
    top: int = 1


def run_panel(config: TengriConfig, settings: PanelSettings) -> dict[str, Any]:
    """Run the panel experiment; return ``settings``, the split dates and one summary row per model."""
    data = panel_data({symbol: stock_bars(symbol) for symbol in settings.stocks})
    n = len(data.dates)
    train_stop = int(n * settings.train_fraction)
    validation = (train_stop + 1, int(n * (settings.train_fraction + settings.validation_fraction)))
    test = slice(validation[1] + 1, n - 1)  # the last date has no next return
    realised = pd.DataFrame(data.realised[test], index=data.dates[test], columns=list(data.instruments))
    scores: dict[str, list[np.ndarray]] = {name: [_baseline(name, data, train_stop)] for name in BASELINES}
    for name in settings.models:
        base = PredictorSettings.from_config(config, name)
        for k in range(settings.seeds):
            run = PredictorSettings(
                model=base.model,
                variant=name,
                epochs=settings.epochs,
                learning_rate=base.learning_rate,
                patience=settings.patience,
                torch_threads=base.torch_threads,
            ).with_model(hidden_size=settings.hidden_size, num_heads=4, seed=config.seed + k)
            score, _ = fit_panel_model(data, run, train_stop=train_stop, validation=validation)
            scores.setdefault(name, []).append(score)
    rows = []
    for name, runs in scores.items():
        metrics = [
            cross_sectional_metrics(
                pd.DataFrame(score[test], index=realised.index, columns=realised.columns),
                realised,
                top=settings.top,
            )
            for score in runs
        ]
        row: dict[str, Any] = {"model": name, "seeds": len(runs), "dates": int(metrics[0]["dates"])}
        for metric in PANEL_METRICS:
            values = np.array([m[metric] for m in metrics])
            finite = values[np.isfinite(values)]
            row[metric] = float(finite.mean()) if finite.size else math.nan
            row[f"{metric}_std"] = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
        rows.append(row)
    return {
        "instruments": list(data.instruments),
        "train": [data.dates[0].date().isoformat(), data.dates[train_stop - 1].date().isoformat()],
        "validation": [
            data.dates[validation[0]].date().isoformat(),
            data.dates[validation[1] - 1].date().isoformat(),
        ],
        "test": [data.dates[test][0].date().isoformat(), data.dates[test][-1].date().isoformat()],
        "rows": rows,
    }


def _baseline(name: str, data: PanelData, train_stop: int) -> np.ndarray:
    if name == "flat":
        return np.zeros(data.excess.shape)
    if name == "previous_direction":
        return np.vstack([np.full((1, data.excess.shape[1]), np.nan), data.excess[:-1]])
    from sklearn.linear_model import LogisticRegression

    features = data.features.reshape(-1, data.features.shape[2])
    rows = data.features[: train_stop - 1].reshape(-1, data.features.shape[2])
    labels = (data.excess[: train_stop - 1] > 0).reshape(-1)
    model = LogisticRegression(C=0.01, max_iter=2000).fit(rows, labels)
    return np.asarray(model.decision_function(features).reshape(data.excess.shape), dtype=np.float64)


def panel_table(result: dict[str, Any]) -> list[str]:
    """The panel's Markdown table: mean ± std over seeds of each metric."""
    header = [
        "model",
        "seeds",
        "IC",
        "ICIR",
        "Rank IC",
        "Rank ICIR",
        "long-short ann. return",
        "long-short IR",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result["rows"]:
        cells = [row["model"], str(row["seeds"])]
        for metric in PANEL_METRICS:
            mean, std = row[metric], row[f"{metric}_std"]
            cells.append(
                "—" if math.isnan(mean) else f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines
