"""The main job: replay market data bar by bar through the whole system and write the run's report.

One code path with live trading: every bar is a tick through
:meth:`~tengri.engine.orchestrator.SystemOrchestrator.handle_tick` (decisions fill at the next
bar's open). Entries come from the pattern triggers, the predictor (when a model is chosen; it is
fitted on the first ``model.train_fraction`` of the bars inside a thermal burst, and the replay
streams the rest) and a user's :class:`~tengri.engine.signals.Strategy`.

A portfolio (several sources, or one long-format file with a ``symbol`` column) is one stream
of ticks: its symbols' bars merged by time (:func:`tengri.data.merge_bars`), through one
account; ``trades.csv`` and the timeline say which symbol each row is. A model runs on one
instrument only.

Each run lives in ``<data_dir>/runs/<run_id>/``: its own store (``store.db``), the journal CSVs,
``summary.json``, ``executions.csv``, ``run.json`` and ``report.html``. ``resume=True`` continues
an interrupted run from its store's checkpoint and ends with the same files as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import re
import shutil
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from tengri.config import TengriConfig
from tengri.data import OHLCVSource, Panel, merge_bars, read_panel
from tengri.engine import (
    Clock,
    ComputeBudget,
    EndedBurst,
    ExecutionOutcome,
    ManualClock,
    MemoryMap,
    Strategy,
    StrategySource,
    SystemOrchestrator,
    _kernel,
)
from tengri.engine.orchestrator import TickOutcome
from tengri.engine.signals import Tick
from tengri.errors import BurstRefusedError, InvalidInputError, StoreError, UnitOfWorkLostError
from tengri.services.journal import RunJournal, iso, iso_column
from tengri.services.run_files import RunOutcome, write_run_files

if TYPE_CHECKING:
    from tengri.services.model_source import PredictorSignalSource

__all__ = ["ModelKind", "ProgressEvent", "RunOutcome", "bar_config", "load_strategy", "run_replay"]

log = logging.getLogger(__name__)

ModelKind = Literal["enhanced", "lstm", "qlstm", "none"]
MODEL_KINDS: tuple[str, ...] = ("enhanced", "lstm", "qlstm", "none")
DECAY_BARS = 168
_NEVER = 2**62


@dataclass(frozen=True)
class ProgressEvent:
    """What a progress display shows after a bar."""

    bar: int
    total: int
    equity: float
    open_executions: int
    thermal_zone: str
    profit_zone: str


def load_strategy(spec: str) -> Strategy:
    """Instantiate a user's strategy from ``module:Class`` or ``path/to/file.py:Class``.

    Raises
    ------
    InvalidInputError
        If the spec is malformed, the module or class cannot be found, or it is not a Strategy.
    """
    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name:
        raise InvalidInputError(f"--strategy takes module:Class or file.py:Class, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise InvalidInputError(f"strategy file not found: {path}")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None:
                raise InvalidInputError(f"cannot load strategy file {path}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[path.stem] = module
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"cannot import strategy module {module_name!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise InvalidInputError(f"{spec!r} is not a subclass of tengri.Strategy")
    return cls()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text.removeprefix("sample:")).strip("-").lower() or "data"


def _run_id(symbols: Sequence[str], model: str, strategy: Strategy | None, config: TengriConfig) -> str:
    digest = hashlib.sha256(config.model_dump_json(exclude={"data_dir", "api"}).encode()).hexdigest()[:8]
    parts = ["_".join(symbols)[:96], model]
    if strategy is not None:
        parts.append(_slug(strategy.name))
    return "-".join([*parts, digest])


def bar_config(config: TengriConfig, frame: pd.DataFrame, spacing: float | None = None) -> TengriConfig:
    """The engine's configuration for a stream of bars like ``frame``'s (a replay's or a live feed's).

    A bar stream's trading context leaves out the machine's temperature, which says nothing about
    the market and would make two runs of the same data differ. Unless set, the evidence decays
    over 168 bars (a week of hourly bars) rather than 7 calendar days, whatever the bar size
    (``spacing`` seconds, by default the median spacing of ``frame``'s bars). The stream's owner
    takes the engine's checkpoints itself, right after flushing its journal.
    """
    agent: dict[str, Any] = {"context_fields": ("profit_zone",)}
    if spacing is None and len(frame) > 1:
        spacing = float(pd.Series(frame.index).diff().median().total_seconds())
    if "decay_tau" not in config.agent.model_fields_set and spacing is not None:
        agent["decay_tau"] = DECAY_BARS * spacing
    return config.with_overrides(agent=agent, engine={"checkpoint_interval": _NEVER})


def run_store(config: TengriConfig, run_dir: Path, clock: Clock) -> MemoryMap:
    """A run's own store, ``<run_dir>/store.db``, with the replay's durability settings."""
    return MemoryMap(
        f"sqlite:///{(run_dir / 'store.db').as_posix()}",
        backups_dir=run_dir / "backups",
        backup_keep=config.store.backup_keep,
        memory_limit_mb=config.store.memory_limit_mb,
        protect_profit_points=config.engine.profit_window_size,
        synchronous=config.store.replay_synchronous,
        clock=clock,
    )


def _doubles(values: np.ndarray[Any, np.dtype[np.float64]]) -> array[float]:
    """``values`` as an array of unboxed doubles."""
    doubles = array("d")
    doubles.frombytes(np.ascontiguousarray(values, dtype=np.float64).data.cast("B"))  # one copy
    return doubles


class _Replay:
    """The state of one replay: orchestrator, journal, and the bars' bookkeeping."""

    def __init__(
        self,
        config: TengriConfig,
        frame: pd.DataFrame,
        bars: pd.DataFrame,
        run_dir: Path,
        strategy: Strategy | None,
        model_source: PredictorSignalSource | None,
        offset: int,
        machine_clock: Clock | None = None,
    ) -> None:
        self.model_source = model_source
        self.frame = frame  # the first symbol's bars: what a model fits on (none of them without one)
        self.run_dir = run_dir
        self.offset = offset
        self.clock = ManualClock(bars.index[0].timestamp())
        self.store = run_store(config, run_dir, self.clock)
        self.strategy_source = StrategySource(strategy) if strategy is not None else None
        self.orchestrator = SystemOrchestrator(
            config,
            store=self.store,
            clock=self.clock,
            predictor=model_source,
            signal_sources=[self.strategy_source] if self.strategy_source else [],
            mode="replay",
            machine_clock=machine_clock,
        )
        self.journal = RunJournal(run_dir)
        self.config = config
        self._cash = self.orchestrator.desk.config.cash  # the timeline's cash and equity start from it
        self._zone_of: tuple[object, str] = (None, "")  # the last profit vector and its zone's name
        self.sample_every = max(1, len(bars) // 250)
        self.strategies_seen: set[str] = set()
        # Unboxed doubles per column, read as Python floats: a pandas row lookup per bar would cost
        # more than the tick, and lists of floats would hold 32 bytes a value where these hold 8.
        # The prices are memoryviews of the bars' own float64 values (strided is fine): no copy of
        # them (a million bars' would be 40 MB more, the caller's frame being held anyway).
        self._columns: tuple[array[float] | memoryview, ...] = (
            memoryview(bars.index.asi8 / 1e9),
            *(memoryview(bars[c].to_numpy(dtype=float)) for c in ("Open", "High", "Low", "Close", "Volume")),
        )
        # Each bar's symbol as an index into the names: 4 bytes a bar, not a list's 8.
        codes, names = pd.factorize(bars["symbol"])
        self._symbol_names: list[str] = [str(name) for name in names]
        self._symbol_codes = array("I", codes.astype(np.uint32).tobytes())
        # The timeline's rows since the last flush, from bar _timeline_from on: only the engine's
        # columns, in a compiled block of columns; the bar's own (time, prices, symbol) join them
        # at the flush (:meth:`flush_journal`), sliced from the bars.
        self._timeline_from = 0
        self._timeline = _kernel.TimelineBlock()
        self._batch: AbstractContextManager[None] | None = None  # see begin_batch
        self.retrains = 0
        self.retrains_skipped = 0
        self.retrains_deferred = 0
        self.model_skipped: str | None = None  # why the model's fit was refused

    def extend(self, bars: pd.DataFrame) -> None:
        """Append one symbol's bars that arrived after the stream began (a live feed's), for :meth:`step`."""
        self.frame = pd.concat([self.frame, bars])
        self._symbol_codes.extend([self._symbol_codes[-1]] * len(bars))
        new = (
            bars.index.asi8 / 1e9,
            *(bars[c].to_numpy(dtype=float) for c in ("Open", "High", "Low", "Close", "Volume")),
        )
        columns = [c if isinstance(c, array) else _doubles(np.asarray(c)) for c in self._columns]
        for column, values in zip(columns, new, strict=True):  # growable from the first extension on
            column.extend(_doubles(values))
        self._columns = tuple(columns)

    def release(self, own_strategy: bool) -> None:
        """Free what only the bar loop needed, before the run files read the journal back.

        The journal is flushed first (its timeline rows need the bars). The bars' columns go, and
        the strategies' histories: every symbol's copy, and the first symbol's own when the replay
        made it (``own_strategy``; a caller's object stays whole).
        """
        self.flush_journal()
        self._columns = tuple(array("d") for _ in self._columns)
        self._symbol_codes = array("I")
        if self.strategy_source is not None:
            self.strategy_source.release(own_first=own_strategy)

    def tick(self, bar: int) -> Tick:
        times, opens, highs, lows, closes, volumes = self._columns
        return Tick(
            symbol=self._symbol_names[self._symbol_codes[bar]],
            timestamp=times[bar],
            price=closes[bar],
            index=bar - self.offset,
            volume=volumes[bar],
            open=opens[bar],
            high=highs[bar],
            low=lows[bar],
        )

    def iso(self, bar: int) -> str:
        """The bar's time in ISO 8601."""
        return iso(self._columns[0][bar])

    def flush_journal(self) -> None:
        """Write the journal's rows so far to the run folder (the timeline's with their bars' columns)."""
        if self._timeline:
            first, stop = self._timeline_from, self._timeline_from + len(self._timeline)
            times, opens, highs, lows, closes, _ = self._columns
            names = self._symbol_names
            engine = self._timeline.take()
            self.journal.append_columns(
                "timeline",
                (
                    np.arange(first, stop),
                    iso_column(times[first:stop]),
                    np.asarray(opens[first:stop]),
                    np.asarray(highs[first:stop]),
                    np.asarray(lows[first:stop]),
                    np.asarray(closes[first:stop]),
                    *engine[:-1],
                    [names[code] for code in self._symbol_codes[first:stop]],
                    engine[-1],
                ),
            )
        self.journal.flush()

    def step(self, bar: int) -> TickOutcome:
        times, opens, highs, lows, closes, volumes = self._columns
        t, close, open_, high, low = times[bar], closes[bar], opens[bar], highs[bar], lows[bar]
        symbol = self._symbol_names[self._symbol_codes[bar]]
        self.clock.set(t)
        orchestrator = self.orchestrator
        result = orchestrator.handle_tick(close, t, volumes[bar], symbol, open=open_, high=high, low=low)
        for outcome in result.closed:
            self._trade(outcome, bar)
        for opened in result.opened:
            self.strategies_seen.add(opened["strategy_id"])
        account = orchestrator.desk.account
        thermal = orchestrator.thermal_manager
        snapshot = thermal.snapshot
        vector = orchestrator.profit_coprocessor.last_vector
        if vector is not self._zone_of[0]:  # the vector changes with closes only: its zone's name, once
            self._zone_of = (vector, vector.zone_state.value)
        if not self._timeline or bar != self._timeline_from + len(self._timeline):
            if self._timeline:  # not the next bar of the block: the block goes first
                self.flush_journal()
            self._timeline_from = bar
        cash = self._cash
        position, pnl = account.holding(symbol)  # (0, the realised profit) when flat
        self._timeline.add(  # the bar's time, prices and symbol join these at the flush
            result.equity,
            cash + account.realised,
            position,
            len(account.positions),
            self._zone_of[1],
            snapshot.zone,
            snapshot.max_celsius,
            thermal.ledger.active is not None,
            cash + pnl,
        )
        if bar % self.sample_every == 0:
            self._sample_confidences(bar, t)
        return result

    def _trade(self, outcome: ExecutionOutcome, bar: int) -> None:
        """Journal a closed execution as a ``trades.csv`` row (from the outcome's fields: no dict of it)."""
        context = outcome.context
        entry_bar = int(context.get("opened_index", 0)) + self.offset
        notional = outcome.entry_price * outcome.size
        self.journal.append(
            "trades",
            (
                outcome.execution_id,
                outcome.strategy_id,
                context.get("source", ""),
                outcome.direction,
                outcome.size,
                iso(outcome.opened_at),
                outcome.entry_price,
                iso(outcome.closed_at),
                outcome.exit_price,
                entry_bar,
                bar,
                outcome.profit,
                100.0 * outcome.profit / notional if notional else None,
                outcome.costs,
                outcome.reason,
                outcome.confidence,
                context.get("symbol", ""),
            ),
        )

    def _sample_confidences(self, bar: int, t: float) -> None:
        agent = self.orchestrator.agent
        context = agent.current_context()
        stamp = self.iso(bar)
        for strategy_id in sorted(self.strategies_seen):
            confidence = agent.get_confidence_coefficient(strategy_id, (), context, now=t)
            self.journal.append("confidences", (bar, stamp, strategy_id, confidence))

    def begin_batch(self) -> None:
        """Open the store's transaction for the ticks up to the next checkpoint (``replay_commit``).

        A replay's ticks and its checkpoint then commit together: a kill leaves the store at the
        last checkpoint, and ``--resume`` re-processes the ticks since (a replay is deterministic),
        instead of each tick paying its own commit. The batch holds the store's write lock between
        bars, so only the replay's own thread may write meanwhile (its engine runs no duty thread).
        """
        if self.config.store.replay_commit == "checkpoint" and self._batch is None:
            self._batch = self.store.unit_of_work()
            self._batch.__enter__()

    def commit_batch(self) -> None:
        """Commit the open batch, if any (raises :class:`UnitOfWorkLostError` if the database lost it)."""
        batch, self._batch = self._batch, None
        if batch is not None:
            batch.__exit__(None, None, None)

    def checkpoint(self) -> None:
        # Journal first: after a kill before the store's commit, the store's older checkpoint
        # makes the resume drop the journal's newer rows and the engine re-process (and
        # re-journal) them.
        self.flush_journal()
        self.orchestrator.checkpoint()
        self.commit_batch()
        self.begin_batch()

    def record_burst(self, ended: EndedBurst, label: str) -> None:
        """Journal an ended burst as a ``bursts.csv`` row."""
        self.journal.add(
            "bursts",
            start=iso(ended.burst.started_at),
            end=iso(ended.ended_at),
            seconds=ended.length_s,
            label=label,
        )

    def budget(self, label: str) -> ComputeBudget:
        """A compute budget under the replay's policy: a cooldown is waited out, a refusal skips."""
        return self.orchestrator.thermal_manager.compute(label, policy="skip", on_burst_end=self.record_burst)

    def attach_model(self, model: str) -> None:
        """Fit (or, resuming, reload) the predictor inside bursts and make it a signal source.

        A burst refused for the zone or the budget leaves the replay without a model: it goes on
        with the other entries, and the summary's ``compute.model_skipped`` says so.
        """
        from tengri.services.model_source import fit_model_source

        thermal = self.orchestrator.thermal_manager
        try:
            with self.budget("training") as budget:
                source, offset = fit_model_source(
                    self.config,
                    self.frame,
                    model,
                    self.run_dir,
                    budget=budget,
                    thermal=thermal,
                    on_burst_end=self.record_burst,
                )
        except BurstRefusedError as refusal:
            log.warning("no model in this run: the burst for its fit was refused (%s)", refusal)
            self.model_skipped = str(refusal)
            return
        self.model_source = source
        self.offset = offset
        self.orchestrator.predictor = source

    def maybe_retrain(self, bar: int) -> None:
        """Refit the predictor on every bar so far, inside bursts, every ``model.retrain_every`` bars.

        The zone's retrain factor spaces retrains further apart (a deferred one is counted), and
        sets the fit's torch threads and batch. A refused burst keeps the current fit: the
        retrain is skipped and counted.
        """
        every = self.config.model.retrain_every
        if self.model_source is None or every <= 0 or (bar + 1 - self.offset) % every:
            return
        from tengri.predict import PredictorSettings
        from tengri.services.model_source import choose_device, governed

        predictor = self.model_source.predictor
        configured = PredictorSettings.from_config(self.config, predictor.settings.variant)
        thermal = self.orchestrator.thermal_manager
        allowed = thermal.compute_settings(
            max_threads=configured.torch_threads, max_segments=configured.segments
        )
        due = (bar + 1 - self.offset) // every
        if allowed.retrain_factor == 0 or due % allowed.retrain_factor:
            log.info("retrain at bar %d deferred: the zone allows one every %s", bar, allowed.retrain_factor)
            self.retrains_deferred += 1
            return
        predictor.settings = governed(
            predictor.settings,
            thermal,
            max_threads=configured.torch_threads,
            max_segments=configured.segments,
        )
        predictor.device = choose_device(self.config, thermal)  # the stream moves with the refit
        history = self.frame.iloc[: bar + 1]
        self.model_source.close()  # a burst held for quantum inference ends before the retrain's
        try:
            with self.budget("retraining") as budget:
                predictor.fit(history, budget=budget)
                predictor.predict(history, budget=budget)  # the stream continues from this bar
        except BurstRefusedError as refusal:
            log.info("retrain at bar %d skipped, the current fit is kept: %s", bar, refusal)
            self.retrains_skipped += 1
            return
        self.retrains += 1

    def compute_summary(self) -> dict[str, Any]:
        """The summary's ``compute`` section: what the thermal manager granted and refused."""
        thermal = self.orchestrator.thermal_manager
        stats = thermal.compute_stats
        return {
            "bursts_granted": stats.bursts_granted,
            "bursts_refused": stats.bursts_refused,
            "burst_seconds": round(stats.burst_seconds, 3),
            "work_paused": stats.work_paused,
            "zone_max": thermal.zone_max,
            # The device the model ran on (the CPU without one), not merely the zone's preference.
            "device": str(self.model_source.predictor.device) if self.model_source is not None else "cpu",
            "torch_threads_max": stats.torch_threads_max,
            "model_every_max": stats.model_every_max,
            "model_asks": self.model_source.asks if self.model_source is not None else 0,
            "retrains": self.retrains,
            "retrains_skipped": self.retrains_skipped,
            "retrains_deferred": self.retrains_deferred,
            "model_skipped": self.model_skipped,
        }


class _StoreEnd:
    """A replay's store at the run's end, on a thread while the run's files are written.

    The end-of-run backup, then the write-ahead log copied into the database file: copies and
    fsyncs that wait on SQLite and the disk, outside the interpreter's lock, which the backup and
    the close spent on the run's path (some 12 ms of a 5,000-bar run's 220). The run files read
    the store meanwhile (SQLite's readers do not wait for a backup or a checkpoint); the store is
    closed after :meth:`join`.
    """

    def __init__(self, replay: _Replay) -> None:
        self._replay = replay
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tengri-run-end")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._replay.orchestrator.backup("end of run")  # a failure is logged and marks health
            try:
                self._replay.store.checkpoint_wal()
            except StoreError as exc:  # the close copies the log then
                log.warning("%s", exc.message)
        except BaseException as exc:  # a bug: raised by join, in the caller's thread
            self._error = exc

    def join(self) -> None:
        """Wait for the backup and the checkpoint; raise what failed unexpectedly in them (once)."""
        self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


def run_replay(
    config: TengriConfig,
    data: OHLCVSource | Panel | Sequence[OHLCVSource] | Iterator[OHLCVSource | Panel] = "sample:eurusd_h1",
    *,
    model: str = "none",
    strategy: Strategy | str | None = None,
    resume: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    build_html: bool = True,
    machine_clock: Clock | None = None,
    progress_every: int = 1,
) -> RunOutcome:
    """Replay ``data`` through the system and write the run folder; return where it is and its summary.

    ``on_progress`` sees a :class:`ProgressEvent` every ``progress_every`` bars and after the last
    (a display needs far fewer than one a bar, and an event costs a few microseconds to gather).

    ``data`` is one source, several (a portfolio: one instrument each), a long-format file with a
    ``symbol`` column, or a :class:`~tengri.data.Panel` already read. Given as an iterator, the
    sources are taken from it: a caller that passes ``iter([panel])`` and drops its own reference
    leaves the replay the only holder of the bars, which it frees as soon as it has what it needs.

    ``machine_clock`` times bursts and their cooldowns (default the wall clock; tests pass a
    manual one, so a cooldown is waited out without sleeping).

    Raises
    ------
    InvalidInputError
        For an unknown model kind, a strategy that cannot be loaded, or a model with a portfolio.
    DataValidationError
        For bad market data.
    """
    if model not in MODEL_KINDS:
        raise InvalidInputError(f"model must be one of {', '.join(MODEL_KINDS)}, got {model!r}")
    if not (isinstance(progress_every, int) and progress_every >= 1):
        raise InvalidInputError(f"progress_every must be a whole number of bars >= 1, got {progress_every!r}")
    sources: list[OHLCVSource | Panel] = list(data) if isinstance(data, list | tuple | Iterator) else [data]
    panel = read_panel(sources)
    if len(panel.symbols) > 1 and model != "none":
        raise InvalidInputError(
            f"a model runs on one instrument; a portfolio ({', '.join(panel.symbols)}) takes --model none"
        )
    user_strategy = load_strategy(strategy) if isinstance(strategy, str) else strategy
    frame = next(iter(panel.data.values())).frame
    bars = merge_bars(panel)
    checkpoint_every = config.engine.checkpoint_interval
    config = bar_config(config, frame)
    run_id = _run_id(panel.symbols, model, user_strategy, config)
    run_dir = config.data_dir / "runs" / run_id
    notes: list[str] = []
    if resume and not (run_dir / "store.db").is_file():
        notes.append(f"nothing to resume (no run {run_id} under {config.data_dir / 'runs'}): started anew")
        log.warning(notes[-1])
        resume = False
    if not resume and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Without a model nothing fits on the frame: the replay's columns of doubles are then the only
    # copy of the bars it holds (a million bars' frame is some 50 MB more).
    fit_frame = frame if model != "none" else frame.iloc[:0].copy()  # a copy: a view would keep them
    replay = _Replay(config, fit_frame, bars, run_dir, user_strategy, None, 0, machine_clock)
    index, total = bars.index, len(bars)
    source, symbols = panel.source, panel.symbols
    del bars, panel, frame, sources  # the replay holds the bars' columns now
    started = time.time()
    # No duty thread: each bar runs the duties due (handle_tick does). A thread's write would
    # wait for the store while it held the engine's lock, which the next bar needs: the replay's
    # batch holds the store from one checkpoint to the next (see _Replay.begin_batch).
    replay.orchestrator.start(background=False)
    if model != "none":
        replay.attach_model(model)
    offset = replay.offset
    model_source = replay.model_source
    first = offset + replay.orchestrator.tick_index
    if first > offset:
        replay.journal.load(first)
        for bar in range(offset, first):
            if replay.strategy_source is not None:
                replay.strategy_source.warm(replay.tick(bar))
            if model_source is not None:
                model_source.warm(replay.tick(bar))
                replay.maybe_retrain(bar)
        log.info("resuming run %s at bar %d of %d", run_id, first, total)
    try:
        replay.begin_batch()
        retrains = replay.model_source is not None  # (without a model, no call a bar to find that out)
        for bar in range(first, total):
            result = replay.step(bar)
            if retrains:
                replay.maybe_retrain(bar)
            if (bar + 1 - offset) % checkpoint_every == 0:
                replay.checkpoint()
            if on_progress is not None and ((bar + 1) % progress_every == 0 or bar + 1 == total):
                orchestrator = replay.orchestrator
                on_progress(
                    ProgressEvent(
                        bar + 1,
                        total,
                        result.equity,
                        len(orchestrator.desk.positions),
                        orchestrator.thermal_manager.zone,
                        orchestrator.profit_coprocessor.last_vector.zone_state.value,
                    )
                )
        if replay.model_source is not None:
            replay.model_source.close()  # the burst quantum inference holds
        replay.orchestrator.shutdown(backup=False)
        replay.commit_batch()
    except UnitOfWorkLostError:
        # The database rolled back what the engine holds in memory: a checkpoint of that memory
        # would not match the store. The store stays at its last checkpoint, for --resume.
        replay.flush_journal()
        replay.store.close()
        raise
    except BaseException:
        try:
            if replay.model_source is not None:
                replay.model_source.close()
            replay.flush_journal()
            replay.orchestrator.shutdown(backup=False)
            replay.commit_batch()
        finally:
            replay.store.close()
        raise
    ending = _StoreEnd(replay)  # the backup, on a thread while the run files are written
    try:

        def statistics() -> dict[str, Any]:
            ending.join()  # a failed backup shows in the engine's health, as it did before the files
            return replay.orchestrator.get_statistics()

        replay.release(own_strategy=isinstance(strategy, str))
        if model_source is not None:
            # The source's records cover every streamed bar.
            replay.journal.replace("signals", model_source.signal_rows(fit_frame))
        replay.flush_journal()
        if model_source is not None:
            notes.extend(model_source.silence_notes())
        outcome = write_run_files(
            # run.json records the checkpoint interval the replay kept, not the engine's disabled one.
            config.with_overrides(engine={"checkpoint_interval": checkpoint_every}),
            replay.run_dir,
            journal=replay.journal,
            store=replay.store,
            engine_statistics=statistics,
            index=index,
            offset=replay.offset,
            source=source,
            symbols=symbols,
            model=model,
            strategy=user_strategy.name if user_strategy is not None else None,
            run_id=run_id,
            started=started,
            build_html=build_html,
            notes=tuple(notes),
            compute=replay.compute_summary(),
        )
    finally:
        ending.join()
        replay.store.close()
    return outcome
