"""The files that end a replay's run folder: executions, summary, run description and report.

The replay service (:mod:`tengri.services.replay`) writes the journal's CSVs as it goes; once
the last bar is in, :func:`write_run_files` adds every execution as stored, the statistics the
report shows (:mod:`tengri.report`), the run's description, and the HTML report. A portfolio's
statistics are the account's (one row per timestamp) and, under ``"symbols"``, each symbol's
(:mod:`tengri.report.portfolio`).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tengri.config import TengriConfig
from tengri.engine import MemoryMap
from tengri.report.run_folder import read_account_columns
from tengri.services.journal import FILES, RunJournal, iso, iso_times

__all__ = ["RunOutcome", "bars_per_year", "write_executions", "write_run_files"]


@dataclass(frozen=True)
class RunOutcome:
    """Where a run's files are and what it measured."""

    run_id: str
    run_dir: Path
    report_path: Path | None
    summary: dict[str, Any]
    notes: tuple[str, ...] = ()


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year of ``index`` (its length when it spans no time): the statistics' annualisation."""
    years = (index[-1] - index[0]).total_seconds() / (365.25 * 86_400)
    return float(len(index) / years) if years > 0 else float(len(index))


def write_executions(store: MemoryMap, trades: pd.DataFrame, offset: int, path: Path) -> None:
    """Write ``executions.csv``: every execution, open ones too, with the trade columns where closed.

    The store's executions are read and written a batch at a time
    (:meth:`MemoryMap.iter_execution_fields`: the fields shown, no record a row), each batch's
    times formatted in one call: a long run's executions are never all in memory. The file is
    byte for byte what pandas' ``to_csv`` of one frame of every row writes (the csv module
    writes a float as its ``repr``, as pandas does; ``None`` as an empty field, as pandas writes a
    missing value), without a frame per batch. Only one column's type depends on rows outside a
    batch: ``exit_bar``, empty for an execution that did not close as a trade, makes pandas write
    every other one as a float (``12.0``); the executions' ids decide it first.
    """
    closed = {
        execution_id: (exit_bar, reason)
        for execution_id, exit_bar, reason in zip(
            trades["execution_id"].tolist(),
            trades["exit_bar"].tolist(),
            trades["reason"].tolist(),
            strict=True,
        )
    }
    columns = [*FILES["trades"], "status", "hash_triggers"]
    gaps = any(execution_id not in closed for execution_id in store.execution_ids())
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        batch: list[tuple[Any, ...]] = []
        for fields in store.iter_execution_fields(batch=_BATCH):
            batch.append(fields)
            if len(batch) == _BATCH:
                writer.writerows(_execution_rows(batch, closed, offset, gaps))
                batch = []
        writer.writerows(_execution_rows(batch, closed, offset, gaps))


_BATCH = 1_000


def _execution_rows(
    batch: Sequence[tuple[Any, ...]], closed: dict[Any, tuple[Any, Any]], offset: int, gaps: bool
) -> list[tuple[Any, ...]]:
    """The rows of :func:`write_executions` for ``batch`` (``gaps``: every exit bar as a float)."""
    opened = iso_times([fields[4] for fields in batch])
    closed_iso = iter(iso_times([fields[6] for fields in batch if fields[6] is not None]))
    rows = []
    for fields, opened_iso in zip(batch, opened, strict=True):
        (
            execution_id,
            strategy_id,
            direction,
            size,
            _,
            entry_price,
            closed_at,
            exit_price,
            profit,
            costs,
            confidence,
            status,
            hash_triggers,
            source,
            symbol,
            opened_index,
        ) = fields
        exit_bar, reason = closed.get(execution_id, (None, None))
        if gaps and exit_bar is not None:
            exit_bar = float(exit_bar)
        notional = entry_price * size
        rows.append(
            (
                execution_id,
                strategy_id,
                source,
                direction,
                size,
                opened_iso,
                entry_price,
                next(closed_iso) if closed_at is not None else None,
                exit_price,
                opened_index + offset,
                exit_bar,
                profit,
                100.0 * profit / notional if profit is not None and notional else None,
                costs,
                reason,
                confidence,
                symbol,
                status,
                " ".join(hash_triggers),
            )
        )
    return rows


def _margin_call(call: dict[str, Any] | None, index: pd.DatetimeIndex, offset: int) -> dict[str, Any]:
    """``summary.json``'s margin call: whether one ended the trading, at which bar and why."""
    if call is None:
        return {"margin_call": False, "margin_call_bar": None}
    bar = int(call["index"]) + offset
    return {
        "margin_call": True,
        "margin_call_bar": bar,
        "margin_call_time": iso(index[bar].timestamp()),
        "margin_call_reason": call["reason"],
    }


def _account_notes(engine_statistics: dict[str, Any], index: pd.DatetimeIndex, offset: int) -> list[str]:
    """The margin call and the risk limits' hits, as notes for the summary and the report's header."""
    notes = []
    call = engine_statistics.get("margin_call")
    if call is not None:
        bar = int(call["index"]) + offset
        notes.append(
            f"margin call at bar {bar} ({iso(index[bar].timestamp())}, {call['reason']}): "
            "every position closed at the close, trading stopped"
        )
    risk = engine_statistics.get("risk") or {}
    if risk.get("killed_at_tick") is not None:
        notes.append(
            f"risk: drawdown kill switch at bar {int(risk['killed_at_tick']) + offset}; "
            f"{risk['max_drawdown_refused']} entries refused after it"
        )
    if risk.get("max_daily_loss"):
        notes.append(
            f"risk: daily loss limit hit on {risk['max_daily_loss']} day(s); "
            f"{risk['max_daily_loss_refused']} entries refused"
        )
    cuts = {k: risk.get(k, 0) for k in ("max_gross_exposure", "max_position_fraction") if risk.get(k)}
    if cuts:
        notes.append("risk: entries cut by " + ", ".join(f"{k} ({n})" for k, n in cuts.items()))
    return notes


def write_run_files(
    config: TengriConfig,
    run_dir: Path,
    *,
    journal: RunJournal,
    store: MemoryMap,
    engine_statistics: dict[str, Any] | Callable[[], dict[str, Any]],
    index: pd.DatetimeIndex,
    offset: int,
    source: str,
    model: str,
    strategy: str | None,
    run_id: str,
    started: float,
    build_html: bool,
    notes: tuple[str, ...] = (),
    compute: dict[str, Any] | None = None,
    symbols: Sequence[str] = (),
) -> RunOutcome:
    """Write the run's closing files from its journal and store; return where they are.

    ``engine_statistics`` is :meth:`SystemOrchestrator.get_statistics` at the run's end (or what
    returns it, called once the statistics, the timeline and ``executions.csv`` are done),
    ``index`` the bars' times, ``offset`` the bar the stream began at (after the model's fit),
    ``notes`` what the run has to say beyond its figures (why a model never traded, a resume
    that found nothing): in ``summary.json``, ``run.json`` and the report's header; ``compute``
    what the thermal manager granted (the summary's ``compute`` section); ``symbols`` the
    instruments (more than one: a portfolio, whose summary adds ``"symbols"``, each one's statistics).
    """
    from tengri.report import compute_statistics, write_summary

    # One instrument's statistics read four of the timeline's columns back by Arrow, a block at a
    # time (never all held as text); a portfolio's split it by symbol and tick
    # (tengri.report.portfolio), so they read it whole.
    if len(symbols) <= 1:
        journal.flush()
        timeline = read_account_columns(run_dir / "timeline.csv")
    else:
        timeline = journal.frame("timeline")
    # What the statistics and executions.csv read of the trades (a long run's are read back).
    trades = journal.frame(
        "trades",
        ("execution_id", "entry_bar", "exit_bar", "profit", "return_pct", "costs", "reason", "symbol"),
    )
    convention = config.report.stats_convention
    per_symbol: dict[str, Any] = {}
    if len(symbols) > 1:
        from tengri.report.portfolio import first_bar_of, portfolio_timeline, symbol_timeline

        account = portfolio_timeline(timeline)
        per_year = bars_per_year(index.unique())
        statistics = compute_statistics(
            account,
            trades,
            bars_per_year=per_year,
            convention=convention,
            first_trading_bar=first_bar_of(account, timeline, trades["entry_bar"]),
        )
        for symbol in symbols:
            own = symbol_timeline(timeline, symbol)
            own_trades = trades[trades["symbol"] == symbol]
            per_symbol[symbol] = compute_statistics(
                own,
                own_trades,
                bars_per_year=bars_per_year(pd.DatetimeIndex(index[own["bar"].to_numpy()])),
                convention=convention,
                first_trading_bar=first_bar_of(own, timeline, own_trades["entry_bar"]),
            )
    else:
        per_year = bars_per_year(index)
        # Buy-and-hold under backtesting.py's convention starts at the first traded bar.
        first_traded = int(trades["entry_bar"].min()) - offset if len(trades) else 0
        statistics = compute_statistics(
            timeline,
            trades,
            bars_per_year=per_year,
            convention=convention,
            first_trading_bar=first_traded,
        )
    bars_replayed = len(timeline)
    del timeline  # not held while the executions are read
    write_executions(store, trades, offset, run_dir / "executions.csv")
    if callable(engine_statistics):
        engine_statistics = engine_statistics()
    notes = (*notes, *_account_notes(engine_statistics, index, offset))
    summary = {
        **statistics,
        "run_id": run_id,
        "data": source,
        "model": model,
        "strategy": strategy,
        "bars": len(index),
        "bars_replayed": bars_replayed,
        "executions_completed": engine_statistics["executions"]["completed"],
        "executions_open": engine_statistics["executions"]["open"],
        "triggers": engine_statistics["triggers"]["triggers"],
        "system_health": engine_statistics["system_state"]["system_health"],
        "notes": list(notes),
        "compute": compute or {},
        "entries": engine_statistics["entries"],
        **_margin_call(engine_statistics.get("margin_call"), index, offset),
        "risk": engine_statistics.get("risk"),
    }
    if per_symbol:
        summary["symbols"] = per_symbol
    write_summary(run_dir, summary)
    run_info = {
        "run_id": run_id,
        "data": source,
        "model": model,
        "strategy": strategy,
        "bars": len(index),
        "started_at": iso(started),
        "finished_at": iso(time.time()),
        "bars_per_year": per_year,
        "notes": list(notes),
        "config": json.loads(config.model_dump_json(exclude={"api"})),
        "compute": summary["compute"],
        "entries": summary["entries"],
    }
    (run_dir / "run.json").write_text(json.dumps(run_info, indent=2, sort_keys=True) + "\n")
    del trades  # the report reads what it needs from the folder
    report = None
    if build_html:
        from tengri.report import build_report  # bokeh and matplotlib: imported for the report only

        report = build_report(run_dir)
    return RunOutcome(run_id=run_id, run_dir=run_dir, report_path=report, summary=summary, notes=notes)
