"""``tengri status`` and ``tengri runs``: what a store says now, and which runs there are.

Tengri keeps two kinds of store. The live store (``store.url``, ``data/tengri.db`` by default) is
the one ``tengri serve`` and the Python API use. Each ``tengri run`` and ``tengri backtest`` keeps
its own store in its run folder (``<data_dir>/runs/<run_id>/store.db``), beside the run's files,
so that runs never mix and one can be resumed. ``status`` reads the live store unless asked for a
run, and falls back to the newest run, saying so, when the live store holds nothing yet.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tengri.config import TengriConfig
from tengri.engine import MemoryMap, ProfitTrajectoryCoprocessor
from tengri.engine.thermal.bursts import BurstLedger
from tengri.errors import InvalidInputError

__all__ = ["list_runs", "store_status"]


def _run_dirs(config: TengriConfig) -> list[Path]:
    """Run folders holding a store, newest first (by the store's last change)."""
    root = config.data_dir / "runs"
    if not root.is_dir():
        return []
    found = [d for d in root.iterdir() if (d / "store.db").is_file()]
    return sorted(found, key=lambda d: ((d / "store.db").stat().st_mtime, d.name), reverse=True)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def list_runs(config: TengriConfig) -> list[dict[str, Any]]:
    """Return one row per run folder, newest first: id, when it finished, data, model, results.

    A run that was interrupted has no ``summary.json`` yet: its results are ``None``.
    """
    rows = []
    for run_dir in _run_dirs(config):
        info = _read_json(run_dir / "run.json")
        summary = _read_json(run_dir / "summary.json")
        rows.append(
            {
                "run_id": run_dir.name,
                "finished_at": info.get("finished_at"),
                "data": info.get("data", summary.get("data")),
                "model": info.get("model", summary.get("model")),
                "strategy": info.get("strategy", summary.get("strategy")),
                "bars": info.get("bars"),
                "num_trades": summary.get("num_trades"),
                "return_pct": summary.get("return_pct"),
                "folder": str(run_dir),
            }
        )
    return rows


def _bursts_of_run(run_dir: Path) -> dict[str, Any]:
    """The bursts a run recorded in its ``bursts.csv``: how many, and their seconds in total."""
    path = run_dir / "bursts.csv"
    if not path.is_file():
        return {"count": 0, "seconds": 0.0, "labels": {}}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels: dict[str, int] = {}
    for row in rows:
        labels[row["label"]] = labels.get(row["label"], 0) + 1
    seconds = sum(float(row["seconds"]) for row in rows if row.get("seconds"))
    return {"count": len(rows), "seconds": round(seconds, 3), "labels": labels}


def _describe(store: MemoryMap, config: TengriConfig) -> dict[str, Any]:
    profit = ProfitTrajectoryCoprocessor(config, store=store)
    statistics = store.statistics()
    open_executions = store.open_executions()
    by_state: dict[str, int] = {}
    for trigger in store.triggers():
        by_state[trigger.state] = by_state.get(trigger.state, 0) + 1
    total = statistics["rows"]["executions"]
    return {
        "store": store.url,
        "integrity": store.integrity_check().ok,
        "executions": {"completed": total - len(open_executions), "open": len(open_executions)},
        "rows": statistics["rows"],
        "profit_zone": profit.last_vector.zone_state.value,
        "profit_points": profit.n_points,
        "open_executions": [
            {
                "execution_id": e.execution_id,
                "agent_id": e.agent_id,
                "strategy_id": e.strategy_id,
                "direction": e.direction,
                "entry_price": e.entry_price,
                "opened_at": e.opened_at,
            }
            for e in open_executions
        ],
        "triggers": by_state,
    }


def store_status(config: TengriConfig, *, run_id: str | None = None) -> dict[str, Any]:
    """Return a JSON-ready summary of the live store, or of run ``run_id``'s store.

    Without ``run_id``, when the live store holds no execution and no profit point and a run
    exists, the newest run's store is described instead and ``note`` says so. Reading changes
    nothing but the schema.

    Raises
    ------
    InvalidInputError
        If ``run_id`` names no run folder with a store (the message lists the runs there are).
    """
    runs = _run_dirs(config)
    if run_id is not None:
        run_dir = config.data_dir / "runs" / run_id
        if run_dir not in runs:
            known = ", ".join(d.name for d in runs[:10]) or "none"
            raise InvalidInputError(
                f"no run {run_id!r} under {config.data_dir / 'runs'} (runs there: {known}; see `tengri runs`)"
            )
        return _run_status(config, run_dir, note=None)
    store = MemoryMap.from_config(config)
    try:
        payload = _describe(store, config)
        payload["burst_budget"] = BurstLedger(config.thermal, store.clock, store).status()
    finally:
        store.close()
    if payload["rows"]["executions"] == 0 and payload["profit_points"] == 0 and runs:
        note = (
            f"the live store {payload['store']} is empty; showing the newest run, {runs[0].name} "
            "(each run keeps its own store; --run RUN_ID picks one, `tengri runs` lists them)"
        )
        return _run_status(config, runs[0], note=note)
    return payload


def _run_status(config: TengriConfig, run_dir: Path, note: str | None) -> dict[str, Any]:
    store = MemoryMap(f"sqlite:///{(run_dir / 'store.db').as_posix()}", backups_dir=run_dir / "backups")
    try:
        payload = _describe(store, config)
    finally:
        store.close()
    payload = {"run": run_dir.name, **payload, "bursts": _bursts_of_run(run_dir)}
    if note is not None:
        payload = {"note": note, **payload}
    return payload
