"""The ``tengri`` command line: parse, call one service, format; nothing else lives here.

Heavy libraries (torch, pennylane, Flask, and pydantic with the config) are imported inside the
commands that need them, so ``tengri --help`` stays fast. Every
:class:`tengri.errors.TengriError` becomes one line on stderr and exit status 2; so does every
usage mistake (an unknown command or option, a missing value),
after the command's usage line, as click prints it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from tengri.errors import TengriError

if TYPE_CHECKING:
    from tengri.config import TengriConfig

__all__ = ["app", "main"]

EXIT_ERROR = 2

app = typer.Typer(
    name="tengri",
    # Click's formatter re-wraps docstring paragraphs to the terminal; rich keeps their line breaks.
    rich_markup_mode=None,
    help=(
        "Tengri turns market data into trading signals and learns from their outcomes.\n\n"
        "Data arguments take a CSV or Parquet file of OHLCV bars, or a bundled sample: "
        "sample:eurusd_h1 (EURUSD hourly, 5,000 bars) or sample:goog_d1 (GOOG daily, 2,148 bars)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect market data files and the bundled samples.", no_args_is_help=True)
app.add_typer(data_app, name="data")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML configuration file; TENGRI_* environment variables override it.",
        dir_okay=False,
    ),
]
DataArgument = Annotated[
    str,
    typer.Argument(help="OHLCV file (CSV/Parquet) or sample:NAME.", show_default=True, metavar="DATA"),
]
ReportOption = Annotated[
    bool,
    typer.Option(
        "--report/--no-report",
        help="Write report.html (--no-report: the run's CSV and JSON files only, as a sweep wants).",
    ),
]
RepairOption = Annotated[
    bool,
    typer.Option(
        "--repair",
        help="Drop rows with a duplicate timestamp (keeping the first) and sort the rows, "
        "instead of refusing such data; says how many rows changed.",
    ),
]
MODELS = ("enhanced", "lstm", "lstm+lif", "lstm+attention", "qlstm")
QLSTM_EXPERIMENTAL = (
    "the QLSTM (--model qlstm) is experimental: a simulated quantum circuit, slow, and not shown "
    "to beat the classical models (see the README's evaluation)"
)
PortfolioArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="OHLCV file(s) (CSV/Parquet) or sample:NAME(s): several make a portfolio, as does one "
        "file with a symbol column.",
        show_default=False,
        metavar="DATA...",
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Model: enhanced (LIF + attention), lstm, lstm+lif, lstm+attention, qlstm, none.",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


_LOG_LEVEL: list[str] = []  # the global --log-level, if given


def _load_config(config_file: Path | None) -> TengriConfig:
    from tengri.config import TengriConfig
    from tengri.logs import configure_logging

    config = TengriConfig.load(config_file)
    token = config.api.token.get_secret_value() if config.api.token is not None else ""
    configure_logging(_LOG_LEVEL[0] if _LOG_LEVEL else config.log_level, secrets=[token])
    return config


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"tengri {version('tengri')}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit."),
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="DEBUG, INFO, WARNING or ERROR, to stderr (default: log_level, or TENGRI_LOG_LEVEL).",
            case_sensitive=False,
        ),
    ] = None,
) -> None:
    """Options for every command."""
    from tengri.logs import LEVELS, configure_logging

    _LOG_LEVEL.clear()
    if log_level is not None:
        if log_level.upper() not in LEVELS:
            _fail(f"--log-level must be one of {', '.join(LEVELS)} (got {log_level!r})")
        _LOG_LEVEL.append(log_level.upper())
        configure_logging(log_level)


def _bursts_line(bursts: list[dict[str, Any]]) -> str:
    seconds = sum(float(row["seconds"]) for row in bursts)
    return f"thermal bursts: {len(bursts)}, {seconds:.1f} s"


def _read_data(data: str, repair: bool) -> Any:
    """Read and validate ``data`` once (an :class:`~tengri.data.OHLCVData` the services take).

    With ``repair``, say on stderr how many rows the repair changed.
    """
    from tengri.data import read_ohlcv

    loaded = read_ohlcv(data, repair=repair)
    if repair:
        changed = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in loaded.repairs.items())
        typer.echo(f"repaired {data}: {changed or 'nothing to repair'}", err=True)
    return loaded


def _print_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def _print_summary(payload: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in payload.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list | tuple) else str(value)
        table.add_row(key, shown)
    Console().print(table)


_SYMBOL_KEYS = (
    "return_pct",
    "buy_and_hold_return_pct",
    "sharpe_ratio",
    "max_drawdown_pct",
    "num_trades",
    "win_rate_pct",
    "profit_factor",
    "exposure_pct",
)


def _print_symbols(per_symbol: dict[str, dict[str, Any]]) -> None:
    """A portfolio's statistics per symbol, one row each."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="per symbol")
    table.add_column("symbol", style="bold")
    for key in _SYMBOL_KEYS:
        table.add_column(key, justify="right")
    for symbol, stats in per_symbol.items():
        cells = [stats.get(key) for key in _SYMBOL_KEYS]
        table.add_row(
            symbol, *("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in cells)
        )
    Console(width=160).print(table)


# Bars between two updates of a replay's progress display (an update a bar cost a few percent).
_PROGRESS_EVERY = 100


def _progress_printer(label: str) -> tuple[Any, Any]:
    """Return (callback, context manager): a live bar on a terminal, log lines otherwise."""
    import contextlib

    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        state = {"next": 0}

        def plain(event: Any) -> None:
            if event.bar >= state["next"] or event.bar == event.total:
                state["next"] = event.bar + max(1, event.total // 10)
                typer.echo(
                    f"{label}: bar {event.bar}/{event.total} equity {event.equity:,.2f} "
                    f"open {event.open_executions} thermal {event.thermal_zone}",
                    err=True,
                )

        return plain, contextlib.nullcontext()
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} bars"),
        TextColumn("equity {task.fields[equity]}"),
        TextColumn("open {task.fields[open]}"),
        TextColumn("thermal {task.fields[zone]}"),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task(label, total=None, equity="-", open=0, zone="-")

    def live(event: Any) -> None:
        progress.update(
            task,
            total=event.total,
            completed=event.bar,
            equity=f"{event.equity:,.2f}",
            open=event.open_executions,
            zone=event.thermal_zone,
        )

    return live, progress


_SUMMARY_KEYS = (
    "data",
    "model",
    "strategy",
    "bars",
    "start",
    "end",
    "return_pct",
    "buy_and_hold_return_pct",
    "annualised_return_pct",
    "annualised_volatility_pct",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "max_drawdown_pct",
    "max_drawdown_duration",
    "num_trades",
    "win_rate_pct",
    "profit_factor",
    "expectancy",
    "exposure_pct",
    "equity_final",
    "system_health",
    "entries",
    "compute",
)


# `tengri backtest`'s trading defaults, those of backtesting.py's quick start (a config file's win).
BACKTEST_TRADING: dict[str, Any] = {
    "commission": 0.002,
    "slippage": 0.0,
    "position_fraction": 1.0,  # all of the equity: backtesting.py's default size, 1 − 2⁻⁵²
    "max_open_executions": 1,
    "whole_units": True,
}


def _read_portfolio(data: list[str], repair: bool) -> Any:
    """Read one or more instruments once (a :class:`~tengri.data.Panel`); say what a repair changed."""
    from tengri.data import read_panel

    panel = read_panel(data, repair=repair)
    if repair:
        for loaded in panel.data.values():
            changed = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in loaded.repairs.items())
            typer.echo(f"repaired {loaded.source}: {changed or 'nothing to repair'}", err=True)
    return panel


def _strategy_trading(settings: TengriConfig, symbols: int = 1) -> TengriConfig:
    """A user strategy's trading settings (`backtest` and `live --strategy` alike).

    backtesting.py's quick start where the config file says nothing: one position of all of the
    equity in whole units, commission 0.2 %, no slippage (a portfolio of `symbols` instruments: one
    such position per symbol); the strategy's signals taken as they come.
    """
    chosen = settings.trading.model_fields_set
    quick_start = {k: v for k, v in BACKTEST_TRADING.items() if k not in chosen}
    if "max_open_executions" in quick_start:
        quick_start["max_open_executions"] = symbols
    return settings.with_overrides(
        trading={**quick_start, "trade_patterns": False, "min_confidence": 0.0, "holding_bars": None},
        engine={"defensive_margin": 0.0},
    )


def _replay_command(
    data: list[str],
    model: str,
    config: Path | None,
    resume: bool,
    strategy: str | None,
    label: str,
    repair: bool,
    report: bool = True,
) -> None:
    from tengri.services.replay import run_replay

    settings = _load_config(config)
    bars = _read_portfolio(data, repair)
    if strategy is not None:
        settings = _strategy_trading(settings, len(bars.symbols))
    # Handed over in an iterator the replay empties: it then holds the only reference to the bars
    # and frees them once it has them as columns (a million bars' frame is some 50 MB).
    handed_over = iter([bars])
    del bars
    callback, display = _progress_printer(label)
    try:
        with display:
            outcome = run_replay(
                settings,
                handed_over,
                model=model,
                strategy=strategy,
                resume=resume,
                on_progress=callback,
                build_html=report,
                progress_every=_PROGRESS_EVERY,
            )
    except KeyboardInterrupt:
        _fail("interrupted: the run is saved; continue it with --resume", 130)
    for note in outcome.notes:
        typer.echo(f"note: {note}", err=True)
    shown = {k: outcome.summary.get(k) for k in _SUMMARY_KEYS if k in outcome.summary}
    for key, value in shown.items():
        if isinstance(value, float):
            shown[key] = round(value, 4)
    _print_summary(shown, title=f"tengri {label}: {outcome.run_id}")
    if "symbols" in outcome.summary:
        _print_symbols(outcome.summary["symbols"])
    typer.echo(f"report: {outcome.report_path or outcome.run_dir}")


@app.command()
def run(
    data: PortfolioArgument = None,
    model: ModelOption = "enhanced",
    config: ConfigOption = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from its store.")] = False,
    repair: RepairOption = False,
    report: ReportOption = True,
) -> None:
    """Replay DATA through the whole system: predictor, triggers, agent, profit and thermal steering.

    Fits the predictor on the first part of the data inside a thermal burst, streams the rest bar
    by bar through the orchestrator, trades on paper with commission and slippage, and writes a
    report folder under the data directory's runs/ (summary.json, trades.csv, executions.csv,
    report.html, and the run's own store, store.db). Default DATA: sample:eurusd_h1. Several DATA
    (or one file with a symbol column) replay a portfolio through one account, with --model none.
    """
    if model not in (*MODELS, "none"):
        _fail(f"--model must be one of {', '.join(MODELS)}, none (got {model!r})")
    if model == "qlstm":
        typer.echo(f"warning: {QLSTM_EXPERIMENTAL}", err=True)
    _replay_command(data or ["sample:eurusd_h1"], model, config, resume, None, "run", repair, report)


@app.command()
def train(
    data: DataArgument = "sample:eurusd_h1",
    model: ModelOption = "enhanced",
    config: ConfigOption = None,
    repair: RepairOption = False,
) -> None:
    """Fit a predictor on DATA (walk-forward validation, early stopping) and save it.

    The model goes to the models directory, <data_dir>/models/NAME (data/models/ by default).
    """
    from tengri.services.train import train as run_train

    if model not in MODELS:
        _fail(f"--model must be one of {', '.join(MODELS)} (got {model!r})")
    result = run_train(_load_config(config), _read_data(data, repair), model)
    metrics = {k: int(v) if k == "best_epoch" else v for k, v in result.metrics.items()}
    _print_summary(metrics, title=f"tengri train: {result.name}")
    typer.echo(f"saved: {result.directory}")
    typer.echo(_bursts_line(result.bursts))


@app.command(no_args_is_help=True)
def evaluate(
    data: Annotated[
        str,
        typer.Argument(
            help="OHLCV file (CSV/Parquet) or sample:NAME, e.g. sample:eurusd_h1.", metavar="DATA"
        ),
    ],
    config: ConfigOption = None,
    quick: Annotated[
        bool, typer.Option(help="A few minutes on 2 CPU cores (fewer folds and epochs).")
    ] = False,
    seeds: Annotated[
        int,
        typer.Option(min=1, help="Fits per model and fold (seeds from the config's); mean ± std over them."),
    ] = 1,
    repair: RepairOption = False,
) -> None:
    """Walk-forward evaluation of every model variant against honest baselines, with significance tests."""
    from tengri.services.evaluate import evaluate as run_evaluate

    result = run_evaluate(_load_config(config), _read_data(data, repair), quick=quick, seeds=seeds)
    typer.echo(result.markdown.read_text())
    typer.echo(f"written: {result.directory}")
    typer.echo(_bursts_line(result.bursts))


@app.command()
def tune(
    data: DataArgument = "sample:eurusd_h1",
    trials: Annotated[
        int, typer.Option(min=1, help="Number of trials (shared by every worker of the study).")
    ] = 20,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: SQLite file under the data directory).")
    ] = None,
    study: Annotated[
        str, typer.Option(help="Study name; workers with the same storage and name cooperate.")
    ] = "tengri",
    config: ConfigOption = None,
    repair: RepairOption = False,
) -> None:
    """Particle-swarm hyperparameter search (an Optuna sampler) on walk-forward validation loss."""
    from tengri.services.tune import tune as run_tune

    bars = _read_data(data, repair)
    _print_json(run_tune(_load_config(config), bars, trials=trials, storage=storage, study=study))


@app.command()
def backtest(
    data: PortfolioArgument = None,
    strategy: Annotated[
        str, typer.Option(help="Your strategy as module:Class or path/to/file.py:Class (a tengri.Strategy).")
    ] = "tengri.strategies:SmaCross",
    config: ConfigOption = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted backtest from its store.")] = False,
    repair: RepairOption = False,
    report: ReportOption = True,
) -> None:
    """Run a user's strategy through the same replay as `run`, without a model.

    The strategy's signals are taken as they come: pattern triggers do not trade, positions are
    held until the strategy changes its mind (no holding period) and the agent's confidence gate
    is off (the agent still learns each strategy's confidence from its outcomes). Unless the
    config file sets them, trading is backtesting.py's quick start: one position of all of the
    equity in whole units, commission 0.2 %, no slippage (a portfolio: one such position per
    symbol, each of 1/N of equity). Default DATA: sample:goog_d1; several DATA (or one file with a
    symbol column) trade a portfolio through one account.
    """
    _replay_command(data or ["sample:goog_d1"], "none", config, resume, strategy, "backtest", repair, report)


@app.command()
def live(
    feed: Annotated[
        str,
        typer.Option(
            help="Bars: file:PATH (CSV or JSON lines, followed as it grows), stdin (JSON lines), "
            "or ccxt:EXCHANGE:SYMBOL:TIMEFRAME."
        ),
    ],
    broker: Annotated[str, typer.Option(help="paper (fills as the replay does) or ccxt:EXCHANGE.")] = "paper",
    strategy: Annotated[
        str | None, typer.Option(help="Your strategy as module:Class or path/to/file.py:Class.")
    ] = None,
    model: ModelOption = "none",
    config: ConfigOption = None,
    live_orders: Annotated[
        bool, typer.Option("--live-orders", help="Send real orders through a ccxt broker (else it dry-runs).")
    ] = False,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Use the exchange's test network (ccxt).")
    ] = False,
    flatten_on_exit: Annotated[
        bool, typer.Option("--flatten-on-exit", help="Close open positions before stopping.")
    ] = False,
    idle_exit: Annotated[
        float | None, typer.Option(min=0.0, help="Stop once no bar came for this many seconds.")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(min=1.0, help="Seconds between bars (default: the feed's, else inferred).")
    ] = None,
    stale_intervals: Annotated[
        float, typer.Option(min=1.0, help="Intervals without a bar before the feed is stale.")
    ] = 3.0,
    max_gap: Annotated[
        float, typer.Option(min=1.0, help="Intervals between bars beyond which a gap is reported.")
    ] = 1.5,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between polls of the feed.")] = 1.0,
    symbol: Annotated[
        str | None, typer.Option(help="The market a ccxt broker trades (default: the ccxt feed's).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="The run folder's name (default: derived).")
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Start the run folder anew instead of continuing it.")] = False,
    serve: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Serve the status page, /metrics and the REST API on this port."),
    ] = None,
) -> None:
    """Trade a feed's bars live through the replay's own engine; orders go to a broker.

    Composes the engine as `run` (--model), `backtest` (--strategy, with backtest's trading
    defaults) or the pattern triggers alone compose it. Keeps a run folder up to date; a
    restart on the same folder continues it and reconciles with the broker first. Ctrl-C and
    SIGTERM stop cleanly. Broker keys come from TENGRI_<EXCHANGE>_API_KEY and _SECRET only.
    """
    import signal
    import threading

    from tengri.services.live import LiveOptions, start_live

    if model not in ("none", *MODELS):
        _fail(f"--model must be none or one of {', '.join(MODELS)}, got {model!r}")
    settings = _load_config(config)
    if strategy is not None:
        settings = _strategy_trading(settings)
    stop = threading.Event()

    def stop_on(signum: int, _frame: object) -> None:
        typer.echo(f"tengri live: signal {signum}, stopping", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    options = LiveOptions(
        model=model,
        strategy=strategy,
        run_id=run_id,
        idle_exit=idle_exit,
        flatten_on_exit=flatten_on_exit,
        poll_seconds=poll,
        stale_intervals=stale_intervals,
        max_gap=max_gap,
        fresh=fresh,
    )

    def progress(event: Any) -> None:
        typer.echo(
            f"live: bar {event.bar} equity {event.equity:,.2f} open {event.open_executions} "
            f"thermal {event.thermal_zone}",
            err=True,
        )

    servers: list[Any] = []

    def serve_status(session: Any) -> None:
        from tengri.api import make_server
        from tengri.services.serve import check_bind, resolve_token

        host = settings.api.host
        check_bind(host, resolve_token(settings))
        server = make_server(session.replay.orchestrator, host, serve or 0, live=session.status.to_dict)
        threading.Thread(target=server.run, name="tengri-live-api", daemon=True).start()
        servers.append(server)
        typer.echo(f"tengri live: status page on http://{host}:{server.port}/", err=True)

    try:
        outcome = start_live(
            settings,
            feed,
            broker,
            options,
            live_orders=live_orders,
            sandbox=sandbox,
            interval=interval,
            symbol=symbol,
            stop=stop,
            on_progress=progress,
            on_begin=serve_status if serve is not None else None,
        )
    finally:
        for server in servers:
            server.close()
    if outcome is None:
        typer.echo("tengri live: stopped before any bar came", err=True)
        return
    shown = {k: outcome.summary.get(k) for k in _SUMMARY_KEYS if k in outcome.summary}
    for key, value in shown.items():
        if isinstance(value, float):
            shown[key] = round(value, 4)
    _print_summary(shown, title=f"tengri live: {outcome.run_id}")
    typer.echo(f"report: {outcome.report_path or outcome.run_dir}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 5000).")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the REST gateway and status page under a production WSGI server (waitress).

    Binds 127.0.0.1 unless --host says otherwise; a non-loopback address needs an API token
    (TENGRI_API_TOKEN or api.token), and with a token every route but /health needs it.
    Prints the address it listens on, and a line when it stops. SIGINT/SIGTERM shut down gracefully.
    """
    from tengri.api import make_server
    from tengri.services.serve import reads_protected
    from tengri.services.serve import serve as serve_api

    cfg = _load_config(config)

    def ready(bound: str, bound_port: int) -> None:
        shown = f"[{bound}]" if ":" in bound else bound
        if cfg.api.token is None:
            access = "no token: open to local clients only"
        elif reads_protected(cfg):
            access = "token required on every route but /health"
        else:
            access = "token required on writes"
        typer.echo(f"tengri serve: listening on http://{shown}:{bound_port} ({access}); Ctrl-C stops")

    serve_api(cfg, host=host, port=port, server_factory=make_server, on_ready=ready)
    typer.echo("tengri serve: stopped; open executions persisted")


@app.command()
def status(
    config: ConfigOption = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run", help="Show a run's own store (see `tengri runs`) instead of the live store."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show a store's state: integrity, executions, bursts, profit zone, open executions, triggers.

    The live store (the one `tengri serve` uses) by default. Each `tengri run` and `tengri
    backtest` keeps its own store in its run folder: --run RUN_ID shows it, and when the live
    store holds nothing, the newest run's store is shown, saying so.
    """
    from tengri.services.status import store_status

    payload = store_status(_load_config(config), run_id=run_id)
    note = payload.get("note")
    if note:
        typer.echo(f"note: {note}", err=True)
    if as_json:
        _print_json(payload)
    else:
        _print_summary(payload, title="tengri status")


@app.command()
def runs(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the runs under the data directory, newest first (their id is what --run takes)."""
    from tengri.services.status import list_runs

    rows = list_runs(_load_config(config))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        typer.echo("no runs yet: `tengri run` or `tengri backtest` makes one")
        return
    from rich.console import Console
    from rich.table import Table

    columns = ("run_id", "finished_at", "data", "model", "strategy", "num_trades", "return_pct")
    table = Table(title="tengri runs")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("-" if row.get(c) is None else str(row[c]) for c in columns))
    Console().print(table)


@app.command("check-lookahead")
def check_lookahead(
    data: DataArgument = "sample:eurusd_h1",
    config: ConfigOption = None,
    cuts: Annotated[int, typer.Option(min=1, help="Cut points checked (evenly spread).")] = 20,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Also check a quickly fitted model's predictions; 'all' checks every variant.",
        ),
    ] = None,
    repair: RepairOption = False,
) -> None:
    """Check that the predictor's features (and predictions) at bar t are the same on data[:t+1] and all."""
    from tengri.services.lookahead import check_data

    reports = check_data(_load_config(config), _read_data(data, repair), cuts=cuts, model=model)
    failed = False
    for name, report in reports.items():
        typer.echo(f"{name}: {report.message}")
        failed = failed or not report.ok
    if failed:
        raise typer.Exit(1)


@app.command("config")
def show_config(
    config: ConfigOption = None,
    bare: Annotated[bool, typer.Option("--bare", help="Leave out the descriptions.")] = False,
) -> None:
    """Print the effective configuration as TOML (every key; defaults, file and TENGRI_* applied).

    The output is a valid --config file; the API token is never printed.
    """
    typer.echo(_load_config(config).to_toml(with_descriptions=not bare), nl=False)


@data_app.command("info")
def data_info(
    data: DataArgument,
    repair: Annotated[
        bool, typer.Option(help="Drop duplicate timestamps and sort; report how many rows changed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Validate an OHLCV file or sample and print a summary."""
    from tengri.data import describe_ohlcv, read_ohlcv

    summary = describe_ohlcv(read_ohlcv(data, repair=repair))
    if as_json:
        _print_json(summary)
    else:
        _print_summary(summary, title=f"tengri data info: {data}")


@data_app.command("repair")
def data_repair(
    data: DataArgument,
    out: Annotated[
        Path,
        typer.Argument(
            help="Where to write the repaired bars (.csv or .parquet).", dir_okay=False, metavar="OUT"
        ),
    ],
) -> None:
    """Write DATA to OUT with duplicate timestamps dropped (the first kept) and the rows sorted."""
    from tengri.data import write_ohlcv

    loaded = _read_data(data, repair=True)
    write_ohlcv(loaded.frame, out)
    typer.echo(f"written: {out} ({len(loaded.frame)} bars)")


@data_app.command("samples")
def data_samples() -> None:
    """List the bundled sample data sets."""
    from tengri.data import list_samples

    for name in list_samples():
        typer.echo(name)


@app.command("reset-time")
def reset_time(
    symbol: Annotated[str, typer.Argument(help="The symbol whose last tick time to forget.")] = "default",
    url: Annotated[str, typer.Option(help="Base URL of the running server.")] = "http://127.0.0.1:5000",
    config: ConfigOption = None,
) -> None:
    """Forget a symbol's last tick time on a running server, after a wrong (future) timestamp got in.

    Calls POST /tick/reset-time with the configured token (TENGRI_API_TOKEN or api.token).
    """
    from tengri.services.serve import reset_symbol_time, resolve_token

    result = reset_symbol_time(url, symbol, token=resolve_token(_load_config(config)))
    previous = result.get("previous_timestamp")
    shown = "not set" if previous is None else f"forgotten (it was {previous})"
    typer.echo(f"{symbol}: last tick time {shown}")


def _is_click_error(exc: BaseException) -> bool:
    """Whether ``exc`` is click's ``ClickException``, from click itself or from the copy typer bundles."""
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)


def _usage_context(command: Any, args: list[str]) -> Any:
    """The context of the (sub)command ``args`` name, for an error click raised without one.

    Click's parser raises some usage errors (an option missing its value) without a context, and
    then prints no usage line; this gives them the usage of the command they were meant for.
    """
    context = command.context_class(command, info_name="tengri")
    name = next((a for a in args if not a.startswith("-")), None)
    while name is not None and hasattr(command, "commands") and name in command.commands:
        command = command.commands[name]
        context = command.context_class(command, info_name=name, parent=context)
        args = args[args.index(name) + 1 :]
        name = next((a for a in args if not a.startswith("-")), None)
    return context


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status.

    A usage mistake (an unknown command or option, a missing value, an extra argument) prints the
    command's usage line and one error line, status 2, whichever click typer bundles; a
    :class:`TengriError` becomes one line on stderr, status 2.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        # Outside standalone mode click returns typer.Exit's status instead of raising it.
        status = command.main(args=args, prog_name="tengri", standalone_mode=False)
    except TengriError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        if type(exc).__name__ == "Abort":
            typer.echo("aborted", err=True)
            return 130
        if not _is_click_error(exc):
            raise
        if getattr(exc, "ctx", False) is None:
            exc.ctx = _usage_context(command, args)  # type: ignore[attr-defined]
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    return status if isinstance(status, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


store_app = typer.Typer(help="Back up, list, restore and check the store.", no_args_is_help=True)
app.add_typer(store_app, name="store")
RunOption = Annotated[
    str | None,
    typer.Option("--run", help="A run's own store (its id under data/runs) instead of the main one."),
]


@store_app.command("backup")
def store_backup(config: ConfigOption = None, run: RunOption = None) -> None:
    """Back up the store now (SQLite's online backup; the oldest beyond store.backup_keep go)."""
    from tengri.services.upkeep import backup_store

    typer.echo(f"backup: {backup_store(_load_config(config), run)}")


@store_app.command("list")
def store_list(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """List every backup: the main store's and each run's, oldest first."""
    from tengri.services.upkeep import list_store_backups

    rows = list_store_backups(_load_config(config))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no backups")
    for row in rows:
        typer.echo(f"{row['store']}  {row['name']}  {row['bytes']:,} bytes  {row['modified']}")


@store_app.command("restore")
def store_restore(
    name: Annotated[str, typer.Argument(help="A backup's name, as `tengri store list` shows it.")],
    config: ConfigOption = None,
    run: RunOption = None,
) -> None:
    """Restore a backup into the store; the current content is backed up first."""
    from tengri.services.upkeep import restore_store

    _print_json(restore_store(_load_config(config), name, run))


@store_app.command("check")
def store_check(config: ConfigOption = None, run: RunOption = None) -> None:
    """Check the store's integrity (a damaged SQLite store is restored from its newest good backup)."""
    from tengri.services.upkeep import check_store

    report = check_store(_load_config(config), run)
    _print_json(report)
    if not report["ok"]:
        raise typer.Exit(EXIT_ERROR)
