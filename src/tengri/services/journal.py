"""A run's journal: the rows a replay records bar by bar, flushed to its folder with each checkpoint.

The folder holds ``timeline.csv`` (one row per bar), ``trades.csv`` (closed executions),
``confidences.csv`` (agents' confidences sampled over time), ``signals.csv`` (model signals and
whether their direction was right) and ``bursts.csv``; the report reads exactly these. A resumed
run loads them and drops the rows past its checkpoint, so that nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from tengri.report.run_folder import COLUMNS

__all__ = ["FILES", "RunJournal", "iso"]

# The columns are the report's folder contract; the journal adds a bar number where rows are per bar.
FILES: dict[str, tuple[str, ...]] = {
    "timeline": ("bar", *COLUMNS["timeline"][0]),
    "trades": COLUMNS["trades"][0],
    "confidences": ("bar", *COLUMNS["confidences"][0]),
    "signals": ("bar", "timestamp", "direction", *COLUMNS["signals"][0][1:]),
    "bursts": COLUMNS["bursts"][0],
}


def iso(t: float) -> str:
    """Return the ISO 8601 UTC form of an epoch time."""
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def _float_format(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunJournal:
    """Rows of one run, kept in memory and written as CSV files on :meth:`flush`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in FILES}

    def add(self, table: str, **row: Any) -> None:
        """Append one row to ``table`` (keys are that table's columns)."""
        self.rows[table].append({k: _float_format(v) for k, v in row.items()})

    def frame(self, table: str) -> pd.DataFrame:
        """Return a table as a DataFrame with its columns in order."""
        return pd.DataFrame(self.rows[table], columns=list(FILES[table]))

    def flush(self) -> None:
        """Write every table to ``<run_dir>/<table>.csv`` (atomically: write then rename)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for table in FILES:
            path = self.run_dir / f"{table}.csv"
            tmp = path.with_suffix(".csv.tmp")
            self.frame(table).to_csv(tmp, index=False, lineterminator="\n")  # shortest exact floats
            tmp.replace(path)

    def load(self, upto_bar: int) -> None:
        """Load the tables from disk, keeping only rows of bars before ``upto_bar``."""
        for table in FILES:
            path = self.run_dir / f"{table}.csv"
            if not path.is_file():
                continue
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
            if table == "timeline" or table in ("confidences", "signals"):
                frame = frame[frame["bar"] < upto_bar]
            elif table == "trades":
                frame = frame[frame["exit_bar"] < upto_bar]
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            self.rows[table] = [{str(k): v for k, v in r.items()} for r in records]
