"""Read a replay's run folder (the files the replay service writes) into typed pandas frames.

The folder contract is fixed by the replay service: ``timeline.csv``, ``trades.csv``,
``executions.csv``, ``confidences.csv``, ``signals.csv``, ``bursts.csv`` (CSV with a header,
timestamps as ISO 8601 UTC strings) and ``run.json``. This module checks that each file and
column is there, parses timestamps to UTC, and returns them as one :class:`RunFolder`; it never
changes a value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tengri.errors import DataValidationError, NotFoundError

__all__ = ["RunFolder", "load_run", "parse_timestamps"]

_TRADE_COLUMNS = (
    "execution_id",
    "strategy_id",
    "source",
    "direction",
    "size",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "entry_bar",
    "exit_bar",
    "profit",
    "return_pct",
    "costs",
    "reason",
    "confidence",
)

#: Every CSV of the contract, its required columns, and which of them are timestamps.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "timeline": (
        (
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "equity",
            "cash",
            "position",
            "open_executions",
            "profit_zone",
            "thermal_zone",
            "temperature",
            "in_burst",
        ),
        ("timestamp",),
    ),
    "trades": (_TRADE_COLUMNS, ("entry_time", "exit_time")),
    "executions": ((*_TRADE_COLUMNS, "status"), ("entry_time", "exit_time")),
    "confidences": (("timestamp", "strategy_id", "confidence"), ("timestamp",)),
    "signals": (("timestamp", "stated_confidence", "hit"), ("timestamp",)),
    "bursts": (("start", "end", "seconds", "label"), ("start", "end")),
}


@dataclass(frozen=True)
class RunFolder:
    """One replay's results, as written by the replay service and read back unchanged."""

    path: Path
    meta: dict[str, Any]
    timeline: pd.DataFrame
    trades: pd.DataFrame
    executions: pd.DataFrame
    confidences: pd.DataFrame
    signals: pd.DataFrame
    bursts: pd.DataFrame

    @property
    def bars_per_year(self) -> float:
        """Bars in one year for annualisation, from ``run.json`` (252 when absent)."""
        value = self.meta.get("bars_per_year")
        return float(value) if isinstance(value, int | float) and value > 0 else 252.0


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Return ``values`` (ISO 8601 strings or datetimes) as tz-aware UTC timestamps."""
    if len(values) == 0:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=values.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _read_csv(run_dir: Path, name: str) -> pd.DataFrame:
    columns, time_columns = COLUMNS[name]
    path = run_dir / f"{name}.csv"
    if not path.is_file():
        raise NotFoundError(f"run folder {run_dir} has no {path.name}")
    if path.stat().st_size == 0:
        # "may be empty": a zero-byte file is read as the header alone.
        frame = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    else:
        frame = pd.read_csv(path)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataValidationError(f"{path} lacks the column(s) {', '.join(missing)}", column=missing[0])
    for column in time_columns:
        frame[column] = parse_timestamps(frame[column])
    return frame


def load_run(run_dir: Path) -> RunFolder:
    """Read every file of the run folder ``run_dir``.

    Raises
    ------
    NotFoundError
        When the folder or one of its files is missing.
    DataValidationError
        When a CSV lacks a contracted column, ``run.json`` is not a JSON object, or the
        timeline has no bars.
    """
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise NotFoundError(f"run folder {run_dir} has no run.json")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise DataValidationError(f"{meta_path} must hold a JSON object")
    frames = {name: _read_csv(run_dir, name) for name in COLUMNS}
    if frames["timeline"].empty:
        raise DataValidationError(f"{run_dir / 'timeline.csv'} has no bars", row=0)
    return RunFolder(path=run_dir, meta=meta, **frames)
