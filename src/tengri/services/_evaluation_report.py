"""The report folder of a walk-forward evaluation: evaluation.csv, .json and .md, curves.csv and .png.

The CSV holds one row per model, seed and fold (:data:`COLUMNS`); the JSON the data source,
settings, fold boundaries, rows, the summary over seeds and the paired comparisons with plain
``lstm`` (NaN written as ``null``); the Markdown the settings in a sentence, the summary (mean ± std
over seeds, the Sharpe ratio's 95% interval, the "constant" flag), the comparisons (Holm-adjusted)
and the per-fold rows; ``curves.csv`` every fit's training and validation loss per epoch and
``curves.png`` their plot, one panel per neural model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tengri.config import TengriConfig
    from tengri.services.evaluate import EvaluationSettings

__all__ = ["COLUMNS", "EvaluationResult", "comparison_table", "summary_table", "write_report"]

COLUMNS: Final = (
    "model", "seed", "fold", "test_start", "test_end", "bars", "output_std", "constant", "coverage",
    "accuracy", "accuracy_low", "accuracy_high", "hit_score", "brier", "ece", "ic", "sharpe",
    "total_return", "max_drawdown", "sharpe_close",
)  # fmt: skip
SUMMARY_HEADER: Final = [
    "model", "flag", "coverage", "accuracy", "hit score", "Brier", "ECE", "IC", "Sharpe (next open)",
    "Sharpe 95% CI", "return", "max DD", "Sharpe (close, extra)", "DM p vs logistic",
    "edge vs logistic", "DM p vs flat", "edge vs chance",
]  # fmt: skip
COMPARISON_HEADER: Final = ["model", "hit score − lstm's", "95% CI", "p", "p (Holm)"]
FOLD_HEADER: Final = [
    "model", "seed", "fold", "bars", "flag", "output std", "coverage", "accuracy [95% CI]", "Brier", "IC",
    "Sharpe", "return", "max DD", "Sharpe (close)",
]  # fmt: skip


@dataclass(frozen=True)
class EvaluationResult:
    """Where the report went and what it says."""

    directory: Path
    markdown: Path
    csv: Path
    json: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    bursts: list[dict[str, Any]] = field(default_factory=list)
    """The thermal bursts the folds ran in: ``start``, ``end``, ``seconds``, ``label``."""


def write_report(
    config: TengriConfig,
    data: str,
    quick: bool,
    settings: EvaluationSettings,
    folds: list[tuple[int, int, int]],
    bars: pd.DataFrame,
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    comparisons: list[dict[str, Any]],
    curves: list[dict[str, Any]],
) -> EvaluationResult:
    """Write the report of an evaluation to ``<reports_dir>/evaluate-<data>-<quick|full>``.

    ``folds`` are ``(first test-block bar, first test bar after the gap, end)`` per fold;
    ``rows`` one per model, seed and fold, ``summary`` one per model over seeds, ``comparisons``
    one per model against ``lstm``, ``curves`` one per fit and epoch.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(data).stem if ":" not in data else data).strip("-")
    directory = config.reports_dir / f"evaluate-{slug}-{'quick' if quick else 'full'}"
    directory.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    csv_path, json_path, markdown_path = (directory / f"evaluation.{ext}" for ext in ("csv", "json", "md"))
    frame.to_csv(csv_path, index=False, float_format="%.6g")
    curve_frame = pd.DataFrame(
        curves, columns=["model", "seed", "fold", "epoch", "train_loss", "validation_loss", "best"]
    )
    curve_frame.to_csv(directory / "curves.csv", index=False, float_format="%.6g")
    plotted = _plot_curves(curve_frame, directory / "curves.png")
    document = {
        "data": data,
        "quick": quick,
        "settings": {**settings.__dict__, "models": list(settings.models)},
        "bars": len(bars),
        "folds": [
            {"fold": k, "train_end": bars.index[a - 1].isoformat(), "test_start": bars.index[b].isoformat(),
             "test_end": bars.index[c - 1].isoformat()}
            for k, (a, b, c) in enumerate(folds, start=1)
        ],
        "rows": _json_ready(rows),
        "summary": _json_ready(summary),
        "comparisons": _json_ready(comparisons),
    }  # fmt: skip
    json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    text = _markdown(data, settings, document, frame, summary, comparisons, plotted)
    markdown_path.write_text(text, encoding="utf-8")
    return EvaluationResult(directory, markdown_path, csv_path, json_path, rows, summary, comparisons)


def _json_ready(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in row.items()
        }
        for row in rows
    ]


def _plot_curves(curves: pd.DataFrame, path: Path) -> bool:
    """Plot train (solid) and validation (dashed) loss per epoch, a panel per model; False if none."""
    if curves.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(curves["model"]))
    columns = min(4, len(models))
    rows = math.ceil(len(models) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis, model in zip(axes.ravel(), models, strict=False):
        for (seed, fold), fit in curves[curves["model"] == model].groupby(["seed", "fold"]):
            line = axis.plot(fit["epoch"], fit["train_loss"], lw=1, label=f"fold {fold}, seed {seed}")
            axis.plot(fit["epoch"], fit["validation_loss"], lw=1, ls="--", color=line[0].get_color())
        axis.set_title(model, fontsize=9)
        axis.set_xlabel("epoch", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in axes.ravel()[len(models) :]:
        axis.set_visible(False)
    axes[0, 0].set_ylabel("loss (solid: train, dashed: validation)", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return True


def _cell(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool):
        return "constant" if value else ""
    if isinstance(value, float | np.floating):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _spread(row: dict[str, Any], metric: str) -> str:
    mean, std = row[metric], row.get(f"{metric}_std", math.nan)
    if math.isnan(mean):
        return "—"
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def summary_table(summary: list[dict[str, Any]]) -> list[str]:
    """The summary's Markdown table: mean ± std over seeds, the Sharpe interval, the flag, DM tests."""
    lines = [_header(SUMMARY_HEADER)]
    for row in summary:
        interval = (
            "—" if math.isnan(row["sharpe_low"]) else f"[{row['sharpe_low']:.2f}, {row['sharpe_high']:.2f}]"
        )
        cells = [row["model"], row["flag"]]
        cells += [
            _spread(row, m) for m in ("coverage", "accuracy", "hit_score", "brier", "ece", "ic", "sharpe")
        ]
        cells += [
            interval,
            _spread(row, "total_return"),
            _spread(row, "max_drawdown"),
            _spread(row, "sharpe_close"),
        ]
        cells += [row["dm_p"], row["edge_over_logistic"], row["dm_flat_p"], row["edge_over_chance"]]
        lines.append(_table_row(cells))
    return lines


def comparison_table(comparisons: list[dict[str, Any]]) -> list[str]:
    """The paired comparisons with ``lstm``: difference of hit scores, 95% interval, p, Holm's p."""
    lines = [_header(COMPARISON_HEADER)]
    for row in comparisons:
        interval = "—" if math.isnan(row["low"]) else f"[{row['low']:+.4f}, {row['high']:+.4f}]"
        difference = "—" if math.isnan(row["difference"]) else f"{row['difference']:+.4f}"
        lines.append(_table_row([row["model"], difference, interval, row["p"], row["p_holm"]]))
    return lines


def _markdown(
    data: str,
    s: EvaluationSettings,
    document: dict[str, Any],
    frame: pd.DataFrame,
    summary: list[dict[str, Any]],
    comparisons: list[dict[str, Any]],
    plotted: bool,
) -> str:
    qlstm_bars = f"the {s.qlstm_bars} bars before each test block" if s.qlstm_bars else "all training bars"
    seeds = (
        f"seeds {s.seed}–{s.seed + s.seeds - 1} (mean ± std over {s.seeds})"
        if s.seeds > 1
        else f"seed {s.seed}"
    )
    lines = [
        f"# Walk-forward evaluation: {data}",
        "",
        (
            f"{document['bars']} bars; {s.folds} expanding walk-forward folds after the first "
            f"{s.train_fraction:.0%}; gap {s.horizon} bar(s); neural models: {s.epochs} epochs max, early "
            f"stopping on validation loss (patience {s.patience}), hidden size {s.hidden_size}, {seeds}; "
            f"QLSTM: {s.qlstm_epochs} epochs on {qlstm_bars}. P&L: filled at the next bar's open, "
            f"commission {s.commission:g} of traded value and slippage {s.slippage:g} of price per fill, "
            "as `tengri backtest` fills (the close convention, position at the close with commission "
            "only, is the extra column). Sharpe 95% CI: stationary bootstrap over bars (mean block 10). "
            "Hit score: 1 right, 0 wrong, ½ for a hold. DM: Diebold–Mariano on per-bar Brier loss "
            "(mean over seeds) against the logistic regression (negative = better) and against always "
            f'stating 0.5. Flag: "constant" when the stated probability\'s std on a test block is below '
            "1e-4 (no signal: its zeros are no result)."
        ),
        "",
        "## Summary (each seed pooled over folds)",
        "",
        *summary_table(summary),
        "",
        "## Each model against plain lstm (paired by bar, Holm across the neural variants)",
        "",
        *comparison_table(comparisons),
    ]
    if plotted:
        lines += ["", "## Training curves", "", "![train and validation loss per epoch](curves.png)"]
    lines += ["", "## Per fold", "", _header(FOLD_HEADER)]
    for row in frame.to_dict("records"):
        accuracy = (
            "—"
            if math.isnan(row["accuracy"])
            else f"{row['accuracy']:.3f} [{row['accuracy_low']:.3f}, {row['accuracy_high']:.3f}]"
        )
        cells = [row["model"], row["seed"], row["fold"], row["bars"], bool(row["constant"])]
        cells += [f"{row['output_std']:.2g}", row["coverage"], accuracy]
        cells += [row[c] for c in ("brier", "ic", "sharpe", "total_return", "max_drawdown", "sharpe_close")]
        lines.append(_table_row(cells))
    return "\n".join(lines) + "\n"


def _header(names: list[str]) -> str:
    return "| " + " | ".join(names) + " |\n|" + "---|" * len(names)


def _table_row(cells: list[Any]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"
