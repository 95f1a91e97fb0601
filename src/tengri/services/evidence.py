"""``make evidence``: every variant × three real series × several seeds, and the panel, in docs/evidence.md.

Run as ``python -m tengri.services.evidence [--out PATH] [--seeds N]``. The series are the two
bundled samples (``sample:goog_d1``, ``sample:eurusd_h1``) and bokeh-sampledata's daily AAPL
(:mod:`tengri.services.panel_data`); each is a walk-forward :func:`tengri.services.evaluate.evaluate`
with :data:`EVIDENCE_SETTINGS` (scaled down to fit 60 minutes on 2 cores: the scale is printed in
the document). The document is rewritten after every finished part, headed "incomplete" until
the last, so an interrupted run still leaves an honest partial record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import torch

from tengri.config import TengriConfig
from tengri.services._evaluation_report import comparison_table, summary_table
from tengri.services.evaluate import NEURAL, EvaluationSettings, evaluate
from tengri.services.panel import PanelSettings, panel_table, run_panel
from tengri.services.panel_data import stock_csv

__all__ = ["EVIDENCE_SETTINGS", "SERIES", "main"]

SERIES: Final = ("sample:goog_d1", "AAPL", "sample:eurusd_h1")
"""The real series: two bundled samples and one a package ships (bokeh-sampledata's AAPL)."""


@dataclass(frozen=True)
class EvidenceScale:
    """What ``make evidence`` runs, scaled down from ``tengri evaluate``'s full settings to fit."""

    seeds: int = 5
    folds: int = 2
    epochs: int = 4
    patience: int = 2
    hidden_size: int = 16
    qlstm_bars: int = 700
    qlstm_epochs: int = 2
    panel: PanelSettings = field(
        default_factory=lambda: PanelSettings(seeds=5, epochs=8, patience=2, hidden_size=16)
    )


EVIDENCE_SETTINGS: Final = EvidenceScale()
PARTS: Final = (*SERIES[:2], "panel", *SERIES[2:])
"""Every part, in the order run: the hourly EURUSD, the slowest, last."""


def main(argv: list[str] | None = None) -> int:
    """Run the evidence and write the document; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tengri.services.evidence", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/evidence.md"))
    parser.add_argument("--seeds", type=int, default=EVIDENCE_SETTINGS.seeds)
    parser.add_argument("--work", type=Path, default=Path("build/evidence"), help="Reports and data go here.")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"Comma-separated parts to run, in this order (default all: {','.join(PARTS)}).",
    )
    args = parser.parse_args(argv)
    plan = [part for part in args.parts.split(",") if part]
    unknown = [part for part in plan if part not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    torch.set_num_threads(1)
    scale = replace(
        EVIDENCE_SETTINGS, seeds=args.seeds, panel=replace(EVIDENCE_SETTINGS.panel, seeds=args.seeds)
    )
    # A benchmark, not a live session: the thermal manager grants bursts without cooldowns (its
    # pauses change no result, only the wall clock; the default cooldown is twice each burst).
    config = TengriConfig(data_dir=args.work / "data").with_overrides(
        thermal={"cooldown_factor": 0.0, "max_burst_seconds": 3600.0}
    )
    command = "python -m tengri.services.evidence " + shlex.join(argv if argv is not None else sys.argv[1:])
    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    parts: list[tuple[str, list[str]]] = []
    total = len(plan)
    for series in plan:
        lines = _panel(config, scale) if series == "panel" else _series(config, series, scale, args.work)
        parts.append((series, lines))
        _write(args.out, command, scale, started, time.monotonic() - clock, parts, total)
    return 0


def _series(config: TengriConfig, series: str, scale: EvidenceScale, work: Path) -> list[str]:
    source = str(stock_csv(series, work / "csv")) if ":" not in series else series
    settings = replace(
        EvaluationSettings.from_config(config, quick=False, seeds=scale.seeds),
        folds=scale.folds,
        epochs=scale.epochs,
        patience=scale.patience,
        hidden_size=scale.hidden_size,
        qlstm_bars=scale.qlstm_bars,
        qlstm_epochs=scale.qlstm_epochs,
        train_fraction=0.5,
    )
    result = evaluate(config, source, quick=False, settings=settings)
    return [
        f"Report folder: `{result.directory}` (per-fold rows, training curves `curves.png`).",
        "",
        *summary_table(result.summary),
        "",
        "Each model against plain `lstm`, hit score paired by bar (Holm across the neural variants):",
        "",
        *comparison_table(result.comparisons),
    ]


def _panel(config: TengriConfig, scale: EvidenceScale) -> list[str]:
    panel = run_panel(config, scale.panel)
    train, validation, test = panel["train"], panel["validation"], panel["test"]
    split = (
        f"{', '.join(panel['instruments'])}; train {train[0]} – {train[1]}, validation {validation[0]} – "
        f"{validation[1]}, test {test[0]} – {test[1]}."
    )
    return [split, "", *panel_table(panel)]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    versions = f"Python {platform.python_version()}, torch {torch.__version__}"
    return f"{platform.node()}: {cpu}, {os.cpu_count()} logical cores, {system}, {versions}"


def _write(
    out: Path,
    command: str,
    scale: EvidenceScale,
    started: dt.datetime,
    seconds: float,
    parts: list[tuple[str, list[str]]],
    total: int,
) -> None:
    done = len(parts) == total
    panel = scale.panel
    status = (
        f"Generated by the command below ({total} part(s), all finished); do not edit by hand."
        if done
        else f"**Incomplete: {len(parts)} of {total} parts finished** when written; the rest had not run."
    )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    series = ", ".join(f"`{s}`" for s in SERIES)
    finished = ", ".join(f"`{name}`" for name, _ in parts)
    contents = (
        f"- Series: {series} (AAPL: bokeh-sampledata's daily bars, split-adjusted) and the panel; "
        f"finished in this document: {finished}."
    )
    scaled = (
        "- Scaled down to fit 60 minutes on 2 cores (`tengri evaluate`'s full settings are 4 folds, 30 "
        f"epochs, width 64): {scale.seeds} seeds, {scale.folds} walk-forward folds after the first 50% "
        f"(gap 1 bar), at most {scale.epochs} epochs with early stopping on validation loss (patience "
        f"{scale.patience}), width {scale.hidden_size}, QLSTM on the {scale.qlstm_bars} bars before each "
        f"test block for at most {scale.qlstm_epochs} epochs; panel: {', '.join(panel.models)} "
        f"(QLSTM and the quantum-attention and -memory variants left out for time), at most {panel.epochs} "
        f"epochs (patience {panel.patience}), width {panel.hidden_size}, {panel.seeds} seeds. Thermal "
        "bursts without cooldowns (pausing changes no result)."
    )
    reading = (
        "- Reading the tables: mean ± std over seeds, each seed pooled over the folds' test bars. Sharpe "
        "(next open): the signals filled at the next bar's open with commission and slippage, as "
        '`tengri backtest` fills them; its 95% interval is a stationary bootstrap over bars. "constant": '
        "the model's stated probability varied by less than 1e-4 on that many test blocks (no signal: the "
        "calibration's slope was clipped at 0), so its zeros are no result. Hit score: 1 right, 0 wrong, "
        "½ for a hold; the difference to plain `lstm` is paired by bar with a Newey–West interval."
    )
    lines: list[str] = [
        "# Evidence: does the predictor learn?",
        "",
        status,
        "",
        f"- Command: `{command}`",
        f"- Machine: {_machine()}; shared with other work while it ran (load average when written: {load}).",
        f"- Started {started.isoformat(timespec='seconds')}, {seconds / 60:.1f} minutes so far.",
        contents,
        f"- Models: {', '.join(NEURAL)}; baselines flat, buy_and_hold, previous_direction, logistic.",
        scaled,
        reading,
        "",
    ]
    for name, body in parts:
        title = (
            "Panel: one model pooled over four stocks (qlib's metrics, test dates)"
            if name == "panel"
            else name
        )
        lines += [f"## {title}", "", *body, ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print(
        f"evidence: {len(parts)} of {total} parts written to {out} after {seconds / 60:.1f} min", flush=True
    )


if __name__ == "__main__":
    raise SystemExit(main())
