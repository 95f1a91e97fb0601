"""The report folder of a walk-forward evaluation: ``evaluation.csv``, ``evaluation.json``, ``evaluation.md``.

The CSV holds one row per model and fold (:data:`COLUMNS`); the JSON the data source, settings,
fold boundaries, rows and pooled summary (NaN written as ``null``); the Markdown the settings in a
sentence and two tables, the summary pooled over folds and the per-fold rows.
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

__all__ = ["COLUMNS", "EvaluationResult", "write_report"]

COLUMNS: Final = (
    "model", "fold", "test_start", "test_end", "bars", "coverage", "accuracy", "accuracy_low",
    "accuracy_high", "brier", "ece", "ic", "sharpe", "total_return", "max_drawdown", "dm_stat", "dm_p",
)  # fmt: skip
SUMMARY_HEADER: Final = [
    "model", "bars", "coverage", "accuracy", "Brier", "ECE", "IC", "Sharpe", "return", "max DD",
    "DM stat", "DM p", "edge vs logistic", "DM p vs flat", "edge vs chance",
]  # fmt: skip
FOLD_HEADER: Final = [
    "model", "fold", "bars", "coverage", "accuracy [95% CI]", "Brier", "ECE", "IC", "Sharpe", "return",
    "max DD", "DM p",
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
) -> EvaluationResult:
    """Write the report of an evaluation to ``<reports_dir>/evaluate-<data>-<quick|full>``.

    ``folds`` are ``(first test-block bar, first test bar after the gap, end)`` per fold;
    ``rows`` one per model and fold, ``summary`` one per model, pooled over folds.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(data).stem if ":" not in data else data).strip("-")
    directory = config.reports_dir / f"evaluate-{slug}-{'quick' if quick else 'full'}"
    directory.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    csv_path, json_path, markdown_path = (directory / f"evaluation.{ext}" for ext in ("csv", "json", "md"))
    frame.to_csv(csv_path, index=False, float_format="%.6g")
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
    }  # fmt: skip
    json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    markdown_path.write_text(_markdown(data, settings, document, frame, summary), encoding="utf-8")
    return EvaluationResult(directory, markdown_path, csv_path, json_path, rows, summary)


def _json_ready(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in row.items()
        }
        for row in rows
    ]


def _cell(value: Any, digits: int = 3) -> str:
    if isinstance(value, float | np.floating):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _markdown(
    data: str,
    s: EvaluationSettings,
    document: dict[str, Any],
    frame: pd.DataFrame,
    summary: list[dict[str, Any]],
) -> str:
    qlstm_bars = f"the {s.qlstm_bars} bars before each test block" if s.qlstm_bars else "all training bars"
    lines = [
        f"# Walk-forward evaluation: {data}",
        "",
        (
            f"{document['bars']} bars; {s.folds} expanding folds after the first {s.train_fraction:.0%}; "
            f"gap {s.horizon} bar(s); neural models: {s.epochs} epochs max (patience {s.patience}), "
            f"hidden size {s.hidden_size}, seed {s.seed}; QLSTM: {s.qlstm_epochs} epochs on {qlstm_bars}; "
            f"commission {s.commission:g} per unit traded. DM: Diebold–Mariano on per-bar Brier loss "
            "against the logistic regression (negative = better), and against always stating 0.5 (flat: "
            "is there any edge over chance?)."
        ),
        "",
        "## Summary (pooled over folds)",
        "",
        _header(SUMMARY_HEADER),
    ]
    summary_columns = ("coverage", "accuracy", "brier", "ece", "ic", "sharpe", "total_return", "max_drawdown")
    for row in summary:
        cells = [row["model"], row["bars"], *(row[c] for c in summary_columns)]
        cells += [
            row["dm_stat"],
            row["dm_p"],
            row["edge_over_logistic"],
            row["dm_flat_p"],
            row["edge_over_chance"],
        ]
        lines.append(_table_row(cells))
    lines += ["", "## Per fold", ""]
    lines.append(_header(FOLD_HEADER))
    fold_columns = ("brier", "ece", "ic", "sharpe", "total_return", "max_drawdown", "dm_p")
    for row in frame.to_dict("records"):
        accuracy = (
            "—"
            if math.isnan(row["accuracy"])
            else f"{row['accuracy']:.3f} [{row['accuracy_low']:.3f}, {row['accuracy_high']:.3f}]"
        )
        lines.append(
            _table_row(
                [
                    row["model"],
                    row["fold"],
                    row["bars"],
                    row["coverage"],
                    accuracy,
                    *(row[c] for c in fold_columns),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def _header(names: list[str]) -> str:
    return "| " + " | ".join(names) + " |\n|" + "---|" * len(names)


def _table_row(cells: list[Any]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"
