"""Build a run's ``report.html``: one self-contained page of charts and tables from its run folder.

The page needs no network: price and equity are interactive bokeh charts (zoom and pan) whose
JavaScript is inlined (:mod:`tengri.report.interactive`), the other charts inline base64 PNGs, the
style an inline ``<style>`` block; no element loads anything from elsewhere. Every section has a
stable ``id`` (``price``, ``equity``, ``statistics``, ``calibration``, ``confidence``, ``zones``,
``bursts``, ``trades``) that tests and links can address. A portfolio's report shows the account
(statistics, equity) and a panel per symbol in a ``symbols`` section (``id="symbol-<symbol>"``:
its price and trades, its own statistics).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tengri.report.calibration import (
    brier_score,
    calibration_chart,
    calibration_table,
    expected_calibration_error,
)
from tengri.report.charts import bursts_chart, confidence_chart, zones_chart
from tengri.report.interactive import embed, equity_figures, price_figure, script_tags
from tengri.report.portfolio import portfolio_timeline, symbol_timeline, symbols_of
from tengri.report.run_folder import RunFolder, load_run
from tengri.report.statistics import Statistic, compute_statistics

__all__ = ["SECTION_IDS", "build_report", "daily_budget_seconds"]

SECTION_IDS = ("price", "equity", "statistics", "calibration", "confidence", "zones", "bursts", "trades")
TRADES_SHOWN = 50
#: The timeline's columns one instrument's report reads (a portfolio's reads them all).
_TIMELINE_COLUMNS = (
    "timestamp",
    "close",
    "equity",
    "position",
    "profit_zone",
    "thermal_zone",
    "temperature",
    "in_burst",
    "symbol",
)

_LABELS = {
    "start": "Start",
    "end": "End",
    "duration": "Duration",
    "bars": "Bars",
    "exposure_pct": "Exposure time [%]",
    "equity_final": "Equity final",
    "equity_peak": "Equity peak",
    "return_pct": "Return [%]",
    "buy_and_hold_return_pct": "Buy & hold return [%]",
    "annualised_return_pct": "Annualised return [%]",
    "annualised_volatility_pct": "Annualised volatility [%]",
    "sharpe_ratio": "Sharpe ratio",
    "sortino_ratio": "Sortino ratio",
    "calmar_ratio": "Calmar ratio",
    "max_drawdown_pct": "Max. drawdown [%]",
    "average_drawdown_pct": "Average drawdown [%]",
    "max_drawdown_duration_bars": "Max. drawdown duration [bars]",
    "max_drawdown_duration": "Max. drawdown duration",
    "num_trades": "Trades",
    "total_costs": "Costs",
    "win_rate_pct": "Win rate [%]",
    "best_trade_pct": "Best trade [%]",
    "worst_trade_pct": "Worst trade [%]",
    "average_trade_pct": "Average trade [%] (geometric)",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "ruined": "Ruined (equity reached 0)",
}

_HEADLINE = (
    ("return_pct", "Return"),
    ("buy_and_hold_return_pct", "Buy & hold"),
    ("sharpe_ratio", "Sharpe"),
    ("max_drawdown_pct", "Max. drawdown"),
    ("num_trades", "Trades"),
    ("win_rate_pct", "Win rate"),
)

_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --panel:#f8f9fa; --accent:#2680c2; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 "DejaVu Sans", system-ui, sans-serif; color:var(--ink); background:#eef1f4; }
main { max-width:1160px; margin:0 auto; padding:24px 20px 48px; }
header { background:#fff; border-radius:8px; padding:20px 24px; margin-bottom:16px;
         border-top:4px solid var(--accent); }
h1 { margin:0 0 4px; font-size:22px; }
h2 { margin:0 0 12px; font-size:17px; }
.meta { color:var(--muted); margin:0; }
.cards { display:flex; flex-wrap:wrap; gap:10px; margin-top:14px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 14px;
        min-width:130px; }
.card .label { color:var(--muted); font-size:12px; }
.card .value { font-size:19px; font-weight:bold; }
.pos { color:#2b8a3e; } .neg { color:#c92a2a; }
nav { margin-top:12px; font-size:13px; }
nav a { color:var(--accent); margin-right:12px; text-decoration:none; }
section { background:#fff; border-radius:8px; padding:18px 24px; margin-bottom:16px; }
img { display:block; max-width:100%; height:auto; }
table { border-collapse:collapse; font-size:12.5px; }
th, td { padding:3px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th { background:var(--panel); color:var(--muted); font-weight:600; }
td:first-child, th:first-child { text-align:left; }
.stats { columns:2; column-gap:32px; }
.stats table { width:100%; break-inside:avoid; }
.scroll { overflow-x:auto; }
.note { color:var(--muted); font-style:italic; margin:6px 0; }
.panel { border-top:1px solid var(--line); padding-top:12px; margin-top:12px; }
"""


def daily_budget_seconds(config: Mapping[str, Any]) -> float | None:
    """Return the thermal burst budget per day in seconds from a run's config, or ``None``.

    Reads ``thermal.daily_budget_seconds`` or ``thermal.daily_budget_fraction`` × 86,400 s
    (DESIGN.md, Thermal zones: 10 % of 24 h), nested or at the top level.
    """
    for section in (config.get("thermal"), config):
        if not isinstance(section, Mapping):
            continue
        seconds = section.get("daily_budget_seconds")
        if isinstance(seconds, int | float) and seconds > 0:
            return float(seconds)
        fraction = section.get("daily_budget_fraction")
        if isinstance(fraction, int | float) and fraction > 0:
            return float(fraction) * 86_400.0
    return None


_ISO_DURATION = re.compile(r"-?P(?:\d+(?:\.\d+)?[DW])?(?:T(?:\d+(?:\.\d+)?[HMS])+)?")


def _format(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, pd.Timestamp):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, str) and _ISO_DURATION.fullmatch(value):
        return str(pd.Timedelta(value))  # ISO 8601 duration → "12 days 11:00:00"
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T":
        return str(pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC"))
    return str(value)


def _price(value: Any) -> str:
    """Format a price or size with six significant digits, enough for FX quotes and equities alike."""
    return "—" if value is None else f"{float(value):,.6g}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], classes: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_format(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    class_attribute = f' class="{classes}"' if classes else ""
    return f"<table{class_attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2>{body}</section>'


def _image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _header(
    run: RunFolder, statistics: Mapping[str, Statistic], sections: Sequence[str] = SECTION_IDS
) -> str:
    meta = run.meta
    title = f"Tengri run {meta.get('run_id', run.path.name)}"
    facts = " · ".join(
        html.escape(f"{name}: {meta[key]}")
        for key, name in (("data", "data"), ("model", "model"), ("bars", "bars"))
        if meta.get(key) not in (None, "")
    )
    period = html.escape(f"{_format(statistics['start'])} → {_format(statistics['end'])}")
    cards = []
    for key, label in _HEADLINE:
        value = statistics.get(key)
        tone = ""
        if isinstance(value, float) and key != "win_rate_pct":
            tone = " pos" if value > 0 else " neg" if value < 0 else ""
        suffix = " %" if key.endswith("_pct") and value is not None else ""
        cards.append(
            f'<div class="card"><div class="label">{label}</div>'
            f'<div class="value{tone}">{html.escape(_format(value))}{suffix}</div></div>'
        )
    links = "".join(f'<a href="#{s}">{s}</a>' for s in sections)
    notes = "".join(_note(str(text)) for text in meta.get("notes") or ())
    if meta.get("model") == "qlstm":
        facts += " · " + html.escape(
            "the QLSTM is experimental: a simulated quantum circuit, slow, not shown to beat the "
            "classical models"
        )
    return (
        f"<header><h1>{html.escape(title)}</h1><p class='meta'>{facts}</p>"
        f"<p class='meta'>{period} · replayed {html.escape(_format(meta.get('started_at')))}"
        f" – {html.escape(_format(meta.get('finished_at')))}</p>{notes}"
        f"<div class='cards'>{''.join(cards)}</div><nav>{links}</nav></header>"
    )


def _statistics_section(statistics: Mapping[str, Statistic]) -> str:
    rows = [(_LABELS.get(key, key), value) for key, value in statistics.items()]
    half = (len(rows) + 1) // 2
    tables = _table(["Figure", "Value"], rows[:half]) + _table(["Figure", "Value"], rows[half:])
    return _section("statistics", "Statistics", f'<div class="stats">{tables}</div>')


def _calibration_section(signals: pd.DataFrame) -> str:
    table = calibration_table(signals)
    if table.empty:
        return _section("calibration", "Signal calibration", _note("No model signals in this run."))
    rows = [
        (
            f"{r.lower:.1f}–{r.upper:.1f}",
            r.count,
            r.mean_stated,
            r.hit_rate,
            f"{r.hit_low:.2f}–{r.hit_high:.2f}",
        )
        for r in table.itertuples()
    ]
    summary = _note(
        f"{int(table['count'].sum()):,} signals · Brier score {_format(brier_score(signals), 3)}"
        f" · expected calibration error {_format(expected_calibration_error(table), 3)}"
        " · a well-calibrated model lies on the diagonal."
    )
    body = (
        _image(calibration_chart(table), "stated confidence against realised hit rate")
        + summary
        + _table(["Stated confidence", "Signals", "Mean stated", "Hit rate", "95 % interval"], rows)
    )
    return _section("calibration", "Signal calibration", body)


def _entries_note(entries: object) -> str:
    """What the agent's confidence gate did to the run's entries (``run.json``'s ``entries``)."""
    if not isinstance(entries, Mapping):
        return ""
    taken, exploring = int(entries.get("taken", 0)), int(entries.get("exploring", 0))
    refused = int(entries.get("refused_low_confidence", 0))
    return _note(
        f"Confidence gate: {taken:,} entries taken, {exploring:,} of them below the threshold while "
        f"their strategy explored (its first executions); {refused:,} refused for low confidence."
    )


def _compute_note(compute: object) -> str:
    """What the thermal manager granted and refused (``run.json``'s ``compute``), with its decisions."""
    if not isinstance(compute, Mapping) or not compute:
        return ""
    granted, refused = int(compute.get("bursts_granted", 0)), int(compute.get("bursts_refused", 0))
    seconds, paused = float(compute.get("burst_seconds", 0.0)), int(compute.get("work_paused", 0))
    parts = [
        f"{granted:,} bursts granted, {refused:,} refused, {seconds:,.1f} s, work paused {paused:,}×",
        f"hottest zone {compute.get('zone_max')}",
        f"device {compute.get('device')}",
    ]
    if compute.get("torch_threads_max") is not None:
        parts.append(f"at most {compute['torch_threads_max']} torch threads")
    if compute.get("retrains") or compute.get("retrains_skipped"):
        parts.append(f"{compute.get('retrains', 0)} retrains, {compute.get('retrains_skipped', 0)} skipped")
    text = "Compute: " + "; ".join(parts) + "."
    if compute.get("model_skipped"):
        text += f" No model in this run: {compute['model_skipped']}."
    return _note(text)


def _bursts_section(bursts: pd.DataFrame, budget: float | None, compute: object = None) -> str:
    budget_text = (
        f"daily budget {budget:,.0f} s" if budget is not None else "no daily budget in the run's config"
    )
    if bursts.empty:
        return _section(
            "bursts",
            "Thermal bursts",
            _note(f"No bursts were used in this run ({budget_text}).") + _compute_note(compute),
        )
    seconds = bursts["seconds"].astype(float)
    days = pd.DatetimeIndex(bursts["start"]).normalize().nunique()
    used = f"{len(bursts):,} bursts, {seconds.sum():,.0f} s in total over {days} day(s); {budget_text}"
    if budget is not None:
        per_day = seconds.groupby(pd.DatetimeIndex(bursts["start"]).normalize()).sum()
        used += f"; busiest day {per_day.max():,.0f} s ({per_day.max() / budget * 100:.1f} % of the budget)"
    body = _image(bursts_chart(bursts, budget), "burst seconds per day against the daily budget") + _note(
        used
    )
    return _section("bursts", "Thermal bursts", body + _compute_note(compute))


def _trades_section(trades: pd.DataFrame) -> str:
    if trades.empty:
        return _section("trades", "Trades", _note("No closed trades in this run."))
    last = trades.sort_values("exit_time", kind="stable").tail(TRADES_SHOWN)
    columns = [
        "execution_id",
        "strategy_id",
        "source",
        "direction",
        "size",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "profit",
        "return_pct",
        "costs",
        "reason",
        "confidence",
    ]
    display = {
        "direction": lambda v: "long" if v > 0 else "short",
        "entry_price": _price,
        "exit_price": _price,
        "size": _price,
    }
    rows = [
        [display[c](v) if c in display else v for c, v in zip(columns, row, strict=True)]
        for row in last[columns].astype(object).where(last[columns].notna(), None).itertuples(index=False)
    ]
    short_names = {"execution_id": "execution", "strategy_id": "strategy", "return_pct": "return [%]"}
    headers = [short_names.get(c, c.replace("_", " ")) for c in columns]
    note = _note(f"The last {len(last)} of {len(trades):,} closed trades; profit is net of costs.")
    return _section("trades", "Trades", note + f'<div class="scroll">{_table(headers, rows)}</div>')


def _symbol_id(symbol: str) -> str:
    return "symbol-" + re.sub(r"[^A-Za-z0-9_-]+", "-", symbol)


def _symbols_section(run: RunFolder, symbols: Sequence[str], divs: Sequence[str]) -> str:
    """A panel per symbol: its price and trades (interactive) and its own statistics."""
    panels = []
    for symbol, div in zip(symbols, divs, strict=True):
        own = symbol_timeline(run.timeline, symbol)
        trades = run.trades[run.trades["symbol"] == symbol]
        statistics = compute_statistics(own, trades, bars_per_year=run.bars_per_year)
        rows = [(_LABELS.get(key, key), statistics.get(key)) for key, _ in _HEADLINE]
        rows.append(("Equity final", statistics.get("equity_final")))
        panels.append(
            f'<div class="panel" id="{html.escape(_symbol_id(symbol))}"><h3>{html.escape(symbol)}</h3>'
            f"{div}{_table(['Figure', 'Value'], rows)}</div>"
        )
    note = _note(
        "Each symbol's equity is the initial cash plus its own realised and open profit; the "
        "account's is above. Drag to pan, scroll to zoom, double-click to reset."
    )
    return _section("symbols", "Symbols", note + "".join(panels))


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the run folder ``run_dir`` and return its path.

    Raises
    ------
    NotFoundError, DataValidationError
        When the run folder breaks its contract (see :func:`~tengri.report.run_folder.load_run`).
    """
    # The report shows no execution the trades do not: executions.csv is checked, not read.
    run = load_run(Path(run_dir), timeline_columns=_TIMELINE_COLUMNS, headers_only=("executions",))
    symbols = symbols_of(run.timeline)
    portfolio = len(symbols) > 1
    if portfolio:
        run = load_run(Path(run_dir), headers_only=("executions",))
    account = portfolio_timeline(run.timeline)
    statistics = compute_statistics(account, run.trades, bars_per_year=run.bars_per_year)
    config = run.meta.get("config")
    budget = daily_budget_seconds(config if isinstance(config, Mapping) else {})

    if run.confidences.empty:
        confidence = _note("No agent confidence was sampled in this run.")
    else:
        uri, shown = confidence_chart(run.confidences, run.trades)
        total = run.confidences["strategy_id"].nunique()
        confidence = _image(uri, "agent confidence by strategy") + _note(
            f"{len(shown)} of {total} strategies, those with the most trades."
        )
    confidence += _entries_note(run.meta.get("entries"))
    if portfolio:
        equity, depth = equity_figures(account)
        figures = [equity, depth] + [
            price_figure(symbol_timeline(run.timeline, s), run.trades[run.trades["symbol"] == s], s)
            for s in symbols
        ]
        price_body = _note("A portfolio: each symbol's price and trades are in its panel under Symbols.")
    else:
        price = price_figure(run.timeline, run.trades)
        equity, depth = equity_figures(account, price.x_range)  # zoom one, the others follow
        figures = [equity, depth, price]
    script, divs = embed(figures)
    if not portfolio:
        price_body = divs[2]
    zoom = _note("Drag to pan, scroll to zoom, double-click to reset.")
    sections = [
        _section("price", "Price and trades", price_body + (zoom if not portfolio else "")),
        _section("equity", "Equity and drawdown", divs[0] + divs[1] + zoom),
        _statistics_section(statistics),
    ]
    if portfolio:
        sections.append(_symbols_section(run, symbols, divs[2:]))
    sections += [
        _calibration_section(run.signals),
        _section("confidence", "Agent confidence", confidence),
        _section("zones", "Profit and thermal zones", _image(zones_chart(account), "zones over time")),
        _bursts_section(run.bursts, budget, run.meta.get("compute")),
        _trades_section(run.trades),
    ]
    ids = (*SECTION_IDS[:3], "symbols", *SECTION_IDS[3:]) if portfolio else SECTION_IDS
    title = html.escape(f"Tengri run {run.meta.get('run_id', run.path.name)}")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style>{script_tags()}</head>"
        f"<body><main>{_header(run, statistics, ids)}{''.join(sections)}</main>{script}</body></html>\n"
    )
    path = run.path / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
