"""Live and paper trading: a feed's closed bars through the replay's own code path, fills to a broker.

:func:`run_live` composes the engine exactly as a replay does (:class:`~tengri.services.replay._Replay`:
the same orchestrator, strategy source, model source, journal and run files) and steps it on
each bar a :class:`~tengri.live.feeds.Feed` hands out, once the
:class:`~tengri.live.watch.FeedWatch` admits it. Each bar is committed and checkpointed before
its fills go to the :class:`~tengri.live.brokers.Broker` (see :mod:`tengri.live.orders` for why
that order makes a restart safe). The run folder (``<data_dir>/runs/<run_id>/``) is kept up to
date: the journal's CSVs and the store at every bar, ``summary.json``, ``executions.csv`` and the
report whenever the feed has caught up (at most every ``report_every`` seconds) and at the end.

A restart on the same run folder continues it: the bars the store has already seen are warm-up
(the feed gives them again, e.g. a file from its start), and reconciliation with the broker
runs before the first new bar.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tengri.config import TengriConfig
from tengri.data import symbol_of
from tengri.engine import Clock, Strategy, SystemClock
from tengri.errors import InvalidInputError
from tengri.live.brokers import Broker, PaperBroker
from tengri.live.feeds import Bar, Feed
from tengri.live.orders import OrderRouter, Reconciliation, reconcile
from tengri.live.specs import ExchangeSettings, open_broker, open_feed
from tengri.live.watch import FeedWatch
from tengri.services.replay import (
    MODEL_KINDS,
    ProgressEvent,
    _Replay,
    _run_id,
    bar_config,
    load_strategy,
)
from tengri.services.run_files import RunOutcome, write_run_files

__all__ = ["LiveOptions", "LiveSession", "LiveStatus", "run_live", "start_live"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveOptions:
    """How :func:`run_live` trades and when it stops."""

    model: str = "none"
    strategy: Strategy | str | None = None
    run_id: str | None = None  # default: derived from the feed, model, strategy and config
    idle_exit: float | None = None  # stop after this many seconds without a new bar
    flatten_on_exit: bool = False
    poll_seconds: float = 1.0
    stale_intervals: float = 3.0
    max_gap: float = 1.5
    report_every: float = 60.0
    build_html: bool = True
    fresh: bool = False  # start the run folder anew instead of continuing it


@dataclass
class LiveStatus:
    """What the status page and ``/metrics`` show of a live run (read from other threads)."""

    feed: str = ""
    broker: str = ""
    run_id: str = ""
    bars: int = 0
    last_bar_time: float | None = None
    feed_lag_seconds: float | None = None
    feed_stale: bool = False
    feed_events: dict[str, int] = field(default_factory=dict)
    orders_in_flight: int = 0
    orders_unsent: int = 0
    orders: dict[str, int] = field(default_factory=dict)
    broker_errors: int = 0
    last_broker_error: str | None = None
    reconciliation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def _frame(bars: list[Bar]) -> pd.DataFrame:
    # Nanoseconds, as tengri.data reads bars: the replay reads the index's integers as such.
    index = pd.to_datetime([b.timestamp for b in bars], unit="s", utc=True).as_unit("ns").rename("timestamp")
    return pd.DataFrame(
        {
            "Open": [b.open for b in bars],
            "High": [b.high for b in bars],
            "Low": [b.low for b in bars],
            "Close": [b.close for b in bars],
            "Volume": [b.volume for b in bars],
        },
        index=index,
    )


class LiveSession:
    """One live run: the replay's state, a feed's watch, the order router; see the module docstring."""

    def __init__(
        self,
        config: TengriConfig,
        feed: Feed,
        broker: Broker,
        options: LiveOptions,
        *,
        machine_clock: Clock | None = None,
    ) -> None:
        if options.model not in MODEL_KINDS:
            raise InvalidInputError(f"model must be one of {', '.join(MODEL_KINDS)}, got {options.model!r}")
        if not isinstance(broker, PaperBroker) and "fill_policy" not in config.trading.model_fields_set:
            # A real order goes out when its bar closes, so the desk books it at that close (the
            # exchange's own fill price is in the order's report), not at an open to come.
            config = config.with_overrides(trading={"fill_policy": "this_tick"})
            log.info("a real broker: the desk fills at the bar's close (trading.fill_policy = this_tick)")
        self.config = config
        self.feed = feed
        self.broker = broker
        self.options = options
        self.machine_clock: Clock = machine_clock or SystemClock()
        self.strategy = (
            load_strategy(options.strategy) if isinstance(options.strategy, str) else options.strategy
        )
        self.watch = FeedWatch(feed.interval, options.stale_intervals, options.max_gap)
        self.status = LiveStatus(feed=feed.name, broker=broker.name)
        # A file feed's symbol is its stem, as the backtest of that file names it; an exchange's
        # feed (``binance-BTC/USDT-1h``) keeps its market whole.
        self.symbol = symbol_of(feed.name.replace("/", "-"))
        self.replay: _Replay | None = None
        self.router: OrderRouter | None = None
        self.reconciliation: Reconciliation | None = None
        self.checkpoint_every = config.engine.checkpoint_interval
        self.started = time.time()
        self.bars_seen = 0  # bars admitted, warm-up included
        self.first_new = 0  # the first bar the store has not seen
        self.last_report = -math.inf
        self.run_id = ""
        self.run_dir = Path()
        self.engine_config = config

    # -- start --------------------------------------------------------------------------------
    def begin(self, bars: list[Bar]) -> None:
        """Build the engine on the first bars (warm-up of a restart included) and reconcile."""
        frame = _frame(bars)
        config = bar_config(self.config, frame, self.watch.interval if self.feed.interval else None)
        self.engine_config = config
        self.run_id = self.options.run_id or "live-" + _run_id(
            [self.symbol], self.options.model, self.strategy, config
        )
        self.run_dir = config.data_dir / "runs" / self.run_id
        if self.options.fresh and self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.status.run_id = self.run_id
        replay = _Replay(
            config,
            frame,
            frame.assign(symbol=self.symbol),
            self.run_dir,
            self.strategy,
            None,
            0,
            self.machine_clock,
        )
        replay.orchestrator.start(background=False)
        if self.options.model != "none":
            replay.attach_model(self.options.model)
        self.replay = replay
        self.first_new = replay.offset + replay.orchestrator.tick_index
        if self.first_new > replay.offset:
            replay.journal.load(self.first_new)
            log.info("continuing live run %s after %d bar(s) it has seen", self.run_id, self.first_new)
        for bar in range(replay.offset, min(self.first_new, len(frame))):
            self._warm(bar)
        if isinstance(self.broker, PaperBroker) and self.broker.book is None:
            self.broker.open_book(self.run_dir / "paper_orders.jsonl")
        self.router = OrderRouter(self.broker, replay.store, self.symbol)
        self.reconciliation = reconcile(self.router, replay.orchestrator.agent.agent_id)
        self.status.reconciliation = self.reconciliation.to_dict()
        self.bars_seen = len(frame)
        for bar in range(max(self.first_new, replay.offset), len(frame)):
            self._step(bar)

    def _warm(self, bar: int) -> None:
        replay = self.replay
        assert replay is not None
        if replay.strategy_source is not None:
            replay.strategy_source.warm(replay.tick(bar))
        if replay.model_source is not None:
            replay.model_source.warm(replay.tick(bar))

    # -- each bar -----------------------------------------------------------------------------
    def admit(self, bars: list[Bar]) -> list[Bar]:
        """The bars the watch lets through (reporting the others)."""
        now = self.machine_clock.now()
        return [bar for bar in bars if self.watch.admit(bar, now)]

    def feed_bars(self, bars: list[Bar]) -> None:
        """Step the engine on admitted bars (warm-up ones of a restart only warm)."""
        replay = self.replay
        assert replay is not None
        start = len(replay.frame)
        replay.extend(_frame(bars))
        for bar in range(start, len(replay.frame)):
            self.bars_seen += 1
            if bar < self.first_new or bar < replay.offset:
                self._warm(bar)
                continue
            self._step(bar)

    def _step(self, bar: int) -> None:
        replay, router = self.replay, self.router
        assert replay is not None
        assert router is not None
        desk = replay.orchestrator.desk
        desk.risk.entries_held = None if self.watch.entries_allowed else "the feed was stale"
        result = replay.step(bar)
        replay.maybe_retrain(bar)
        # The tick is committed; its journal rows and a checkpoint go before its orders, so a
        # kill after an order leaves a store that knows the order's execution.
        replay.flush_journal()
        replay.orchestrator.checkpoint()
        router.route({"opened": result.opened, "closed": [c.to_dict() for c in result.closed]})
        self._refresh_status()
        desk.risk.entries_held = None

    def idle(self) -> None:
        """Between polls: staleness, and orders still filling."""
        if self.router is not None and (self.router.in_flight or self.router.unsent):
            self.router.refresh()
        stale = self.watch.check(self.machine_clock.now())
        if self.replay is not None:
            health = self.replay.orchestrator.health
            if stale:
                health.fail(
                    "feed", f"no bar from {self.feed.name} for {self.options.stale_intervals:g} intervals"
                )
                self.replay.orchestrator.desk.risk.entries_held = "the feed is stale"
            else:
                health.ok("feed")
        self._refresh_status()

    def _refresh_status(self) -> None:
        status, watch = self.status, self.watch
        status.bars = watch.counts["bars"]
        status.last_bar_time = watch.last_bar.timestamp if watch.last_bar is not None else None
        status.feed_lag_seconds = watch.lag(self.machine_clock.now())
        status.feed_stale = watch.stale
        status.feed_events = {k: v for k, v in watch.counts.items() if k != "bars"}
        if self.router is not None:
            status.orders_in_flight = len(self.router.in_flight)
            status.orders_unsent = len(self.router.unsent)
            status.orders = dict(self.router.counts)
            status.broker_errors = self.router.errors
            status.last_broker_error = self.router.last_error

    # -- end ----------------------------------------------------------------------------------
    def flatten(self) -> None:
        """Close every open execution at the last price and send the closing orders."""
        replay, router = self.replay, self.router
        if replay is None or router is None:
            return
        orchestrator = replay.orchestrator
        for position in list(orchestrator.desk.positions.values()):
            outcome = orchestrator.complete(position.execution_id, float(replay.frame["Close"].iloc[-1]))
            replay._trade(outcome, len(replay.frame) - 1)
            log.info("flattened %s at exit", position.execution_id)
            router.route({"opened": [], "closed": [outcome.to_dict()]})

    def write_files(self) -> RunOutcome | None:
        """Write summary, executions and report from the journal and store so far."""
        replay = self.replay
        if replay is None:
            return None
        replay.flush_journal()
        self.last_report = self.machine_clock.now()
        notes = [*self.feed.rejected[-5:]]
        if self.reconciliation is not None:
            notes.extend(self.reconciliation.notes)
        outcome = write_run_files(
            self.engine_config.with_overrides(engine={"checkpoint_interval": self.checkpoint_every}),
            replay.run_dir,
            journal=replay.journal,
            store=replay.store,
            engine_statistics=replay.orchestrator.get_statistics(),
            index=replay.frame.index,
            offset=replay.offset,
            source=f"live:{self.feed.name}",
            model=self.options.model,
            strategy=self.strategy.name if self.strategy is not None else None,
            run_id=self.run_id,
            started=self.started,
            build_html=self.options.build_html,
            notes=tuple(notes),
            compute=replay.compute_summary(),
        )
        (replay.run_dir / "live.json").write_text(json.dumps(self.status.to_dict(), indent=2, default=str))
        return outcome

    def finish(self) -> RunOutcome | None:
        """Flatten if asked, shut the engine down, write the run's files and close the store."""
        replay = self.replay
        if replay is None:
            return None
        try:
            if self.options.flatten_on_exit:
                self.flatten()
            if replay.model_source is not None:
                replay.model_source.close()
            replay.orchestrator.shutdown(backup=False)
            return self.write_files()
        finally:
            replay.store.close()
            self.broker.close()
            self.feed.close()


def run_live(
    config: TengriConfig,
    feed: Feed,
    broker: Broker,
    options: LiveOptions | None = None,
    *,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stop: threading.Event | None = None,
    machine_clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    session_ready: Callable[[LiveSession], None] | None = None,
    on_begin: Callable[[LiveSession], None] | None = None,
) -> RunOutcome | None:
    """Trade ``feed``'s bars through the engine and ``broker`` until stopped; return the run's files.

    It stops when ``stop`` is set (the CLI sets it on SIGTERM and Ctrl-C), when the feed has
    finished, or when no bar came for ``options.idle_exit`` seconds of ``machine_clock``. It
    returns None when it stopped before any bar came. ``sleep`` waits between polls (tests pass
    one that moves a manual clock). ``on_begin`` is called once the engine exists (the CLI
    starts the status page's server there).
    """
    options = options or LiveOptions()
    stop = stop or threading.Event()
    session = LiveSession(config, feed, broker, options, machine_clock=machine_clock)
    clock = session.machine_clock
    if session_ready is not None:
        session_ready(session)
    pending: list[Bar] = []
    last_bar_at = clock.now()
    try:
        while not stop.is_set():
            bars = session.admit(feed.poll())
            now = clock.now()
            if bars:
                last_bar_at = now
                if session.replay is None:
                    pending.extend(bars)  # the engine begins once the feed has caught up
                else:
                    session.feed_bars(bars)
                if on_progress is not None and session.replay is not None:
                    _progress(session, on_progress)
                continue  # poll again at once: more may be waiting
            if session.replay is None and (len(pending) >= 2 or (pending and feed.finished)):
                # Caught up: the bars so far are the history the engine begins on (and give the
                # bars' spacing when the feed does not know it).
                session.begin(pending)
                pending = []
                if on_begin is not None:
                    on_begin(session)
            session.idle()
            if session.replay is not None and now - session.last_report >= options.report_every:
                session.write_files()
            if feed.finished or (options.idle_exit is not None and now - last_bar_at >= options.idle_exit):
                log.info(
                    "live run stops: %s", "the feed has finished" if feed.finished else "the feed is idle"
                )
                break
            sleep(options.poll_seconds)
    except KeyboardInterrupt:
        log.info("live run interrupted: stopping cleanly")
    if session.replay is None and pending:
        session.begin(pending)
    return session.finish()


def _progress(session: LiveSession, on_progress: Callable[[ProgressEvent], None]) -> None:
    replay = session.replay
    assert replay is not None
    orchestrator = replay.orchestrator
    last = float(replay.frame["Close"].iloc[-1])
    on_progress(
        ProgressEvent(
            session.bars_seen,
            session.bars_seen,
            orchestrator.desk.equity(last, session.symbol),
            len(orchestrator.desk.positions),
            orchestrator.thermal_manager.zone,
            orchestrator.profit_coprocessor.last_vector.zone_state.value,
        )
    )


def start_live(
    config: TengriConfig,
    feed_spec: str,
    broker_spec: str,
    options: LiveOptions,
    *,
    live_orders: bool = False,
    sandbox: bool = False,
    interval: float | None = None,
    symbol: str | None = None,
    exchange: ExchangeSettings | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_begin: Callable[[LiveSession], None] | None = None,
) -> RunOutcome | None:
    """Open the feed and broker the specs name (:mod:`tengri.live.specs`) and :func:`run_live` them.

    A paper broker keeps its book in the run folder; a ccxt broker trades ``symbol``, by default
    the ccxt feed's.
    """
    settings = exchange or ExchangeSettings(sandbox=sandbox)
    if sandbox and not settings.sandbox:
        settings = dataclasses.replace(settings, sandbox=True)
    # The warm-up a ccxt feed backfills: a model's windows, or a strategy's indicators.
    warmup = config.model.seq_len * 4 if options.model != "none" else 200
    feed = open_feed(feed_spec, interval=interval, exchange=settings, warmup=warmup)
    if symbol is None and feed_spec.startswith("ccxt:") and feed_spec.count(":") == 3:
        symbol = feed_spec.split(":")[2]
    broker = open_broker(broker_spec, live_orders=live_orders, exchange=settings, symbol=symbol)
    return run_live(config, feed, broker, options, on_progress=on_progress, stop=stop, on_begin=on_begin)
