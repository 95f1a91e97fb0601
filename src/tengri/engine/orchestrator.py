"""The system orchestrator: one tick through the whole pipeline, for live ticks and replays alike.

Per tick (:meth:`SystemOrchestrator.process_tick`):

1. validate at the edge (finite positive price, time not going backwards, known symbol) — a
   rejected tick changes no state;
2. fill the decisions taken on the previous tick at this tick's open (see :mod:`desk`);
3. run due duties on the clock (thermal monitoring, statistics log, store cleanup, timeouts);
4. exits: stop-loss and take-profit inside the bar (:mod:`tengri.engine.fills`), holding period,
   and (live) executions open past ``strategy_execution_timeout``;
   then the margin check (:mod:`tengri.engine.margin`): at equity ≤ 0 or below the maintenance
   margin every position closes at the last price and no entry opens again; then the risk
   limits (:mod:`tengri.engine.risk`): the drawdown kill switch flattens the same way;
5. hash the price path, fire triggers, ask the signal sources (pattern triggers, the predictor,
   a user's strategies); an opposite signal exits; an entry needs the memory agent's confidence in
   the current context to reach ``min_confidence`` (plus ``defensive_margin`` in a drawdown or
   volatile profit zone) once the strategy has ``explore_outcomes`` executions — before that the
   agent has too little evidence to judge by, and the entry is taken to gather it (age moves
   evidence back toward the prior; it never re-opens exploration);
6. feed realised profit to the profit trajectory and outcomes to the triggers.

All of a tick's writes are one transaction of the store (:meth:`MemoryMap.unit_of_work`). A
component that raises degrades health with the reason and is retried; tick processing goes on.

Every symbol's ticks go through one account (:mod:`tengri.engine.account`): a tick marks its
symbol, and equity, margin and risk limits count every symbol's positions. Each symbol has its own
pattern encoder and triggers (:mod:`tengri.engine.symbols`).

The parts live apart: the decisions of steps 2, 4 and 5 are :mod:`tengri.engine.decisions`'s;
checkpoints and crash recovery :mod:`tengri.engine.recovery`'s (docs/reliability.md); start,
shutdown and the duties :mod:`tengri.engine.lifecycle`'s; statistics :mod:`tengri.engine.reporting`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from tengri.config import EngineConfig, TengriConfig
from tengri.engine import _kernel
from tengri.engine.account import Account
from tengri.engine.agent import ExecutionOutcome, MemoryAgent
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.decisions import TradingDecisions
from tengri.engine.desk import ExecutionDesk, OpenPosition
from tengri.engine.duties import DutyScheduler, Health
from tengri.engine.lifecycle import EngineLifecycle
from tengri.engine.margin import MarginCall, settle
from tengri.engine.pattern_hash import CursorState, PatternEncoder
from tengri.engine.profit import ProfitTrajectoryCoprocessor
from tengri.engine.recovery import CheckpointRecovery
from tengri.engine.reporting import EngineReporting
from tengri.engine.signals import SignalSource, Tick
from tengri.engine.store import MemoryMap
from tengri.engine.symbols import SymbolPatterns
from tengri.engine.thermal import Sensor, ThermalZoneManager
from tengri.engine.tick_input import validate_tick
from tengri.engine.triggers import HashTriggerEngine
from tengri.errors import InvalidInputError, TengriError, UnitOfWorkLostError

__all__ = ["SystemOrchestrator", "TickOutcome"]

log = logging.getLogger(__name__)
_quick_tick = _kernel.quick_tick


def _coerce_config(config: TengriConfig | Mapping[str, Any] | None) -> TengriConfig:
    """Accept a TengriConfig, the seed's flat engine dictionary, or nothing (defaults + environment)."""
    if isinstance(config, TengriConfig):
        return config
    base = TengriConfig.load()
    if config is None:
        return base
    engine_keys = set(EngineConfig.model_fields)
    engine = {k: v for k, v in config.items() if k in engine_keys}
    rest = {k: v for k, v in config.items() if k not in engine_keys}
    return base.with_overrides(engine={**base.engine.model_dump(), **engine}, **rest)


_new_tuple = tuple.__new__


class TickOutcome(NamedTuple):
    """What :meth:`SystemOrchestrator.handle_tick` did with one tick."""

    tick: Tick
    """The validated tick."""
    hash_value: int | None
    """Its pattern hash (None until the symbol's encoder has 9 prices)."""
    cursor: CursorState | None
    """The cursor state that goes with the hash."""
    fired: list[str]
    """The ids of the triggers the hash fired."""
    triggered: list[dict[str, Any]]
    """Each signal of the tick and what became of it (see ``TradingDecisions._entries``)."""
    opened: list[dict[str, Any]]
    """The executions the tick opened."""
    closed: list[ExecutionOutcome]
    """The executions the tick closed."""
    equity: float
    """The account's equity after the tick."""
    latency: float
    """Seconds the tick took."""


class SystemOrchestrator(TradingDecisions, CheckpointRecovery, EngineLifecycle, EngineReporting):
    """Coordinates triggers, agent, profit trajectory, thermal manager and store.

    Parameters
    ----------
    config
        A :class:`TengriConfig`, or the engine seed's flat configuration dictionary.
    store
        The memory map (default: the SQLite file under ``config.data_dir``).
    clock
        Market time: the default timestamp of a tick (default the wall clock).
    machine_clock
        Machine time: duties, thermal monitoring and bursts (default ``clock`` live, the wall
        clock in a replay, whose bars pass faster than the machine heats).
    predictor
        A signal source for model entries (the predictor's adapter), optional.
    signal_sources
        More signal sources, e.g. :class:`StrategySource` around a user's strategy.
    sensors
        Temperature sensors (default: NVML, psutil, sysfs, else the estimating model).
    mode
        ``live`` closes executions past ``strategy_execution_timeout``; ``replay`` does not.
    """

    def __init__(
        self,
        config: TengriConfig | Mapping[str, Any] | None = None,
        store: MemoryMap | None = None,
        clock: Clock | None = None,
        predictor: SignalSource | None = None,
        *,
        signal_sources: Sequence[SignalSource] = (),
        sensors: Sequence[Sensor] | None = None,
        mode: Literal["live", "replay"] = "live",
        machine_clock: Clock | None = None,
    ) -> None:
        if mode not in ("live", "replay"):
            raise InvalidInputError(f"mode must be 'live' or 'replay', got {mode!r}")
        self.config = _coerce_config(config)
        self.clock: Clock = clock or (store.clock if store is not None else SystemClock())
        self.machine_clock: Clock = machine_clock or (self.clock if mode == "live" else SystemClock())
        self.store = store if store is not None else MemoryMap.from_config(self.config, clock=self.clock)
        self.mode = mode
        cfg = self.config.engine
        self.health = Health()
        # An engine under another agent id than the default shares its store with others: its
        # profit stream and auto-registered triggers carry that id.
        default_agent = EngineConfig.model_fields["default_agent_id"].default
        namespace = None if cfg.default_agent_id == default_agent else cfg.default_agent_id
        self.profit_coprocessor = ProfitTrajectoryCoprocessor(
            self.config,
            store=self.store,
            clock=self.clock,
            stream="profit" if namespace is None else f"profit@{namespace}",
        )
        self.thermal_manager = ThermalZoneManager(
            self.profit_coprocessor,
            sensors=sensors,
            clock=self.machine_clock,
            store=self.store,
            config=self.config,
        )
        self.hash_trigger_engine = HashTriggerEngine(
            self.config.triggers,
            store=self.store,
            auto_register=cfg.auto_register_triggers,
            namespace=namespace,
        )
        self.agents: dict[str, MemoryAgent] = {}
        self._agents_lock = threading.Lock()
        self.agent = self.get_agent(cfg.default_agent_id)
        self.patterns = SymbolPatterns(
            self.hash_trigger_engine,
            self.config.triggers,
            auto_register=cfg.auto_register_triggers,
            namespace=namespace,
        )
        self.account: Account[OpenPosition] = Account(self.config.trading.cash)
        self.desk = ExecutionDesk(self.agent, self.config.trading, self.config.risk, self.account)
        self.margin_call: MarginCall | None = None  # once set, trading has stopped (engine.margin)
        self.predictor = predictor
        self.signal_sources: list[SignalSource] = list(signal_sources)
        self.duties = DutyScheduler(self.health)
        self._last_time: dict[str, float] = {}
        self._index = 0
        self._lock = threading.RLock()
        self._started = False
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self._tick_seconds = 0.0
        self._ticks_processed = 0
        self._latencies: deque[float] = deque(maxlen=10_000)  # the newest, for the statistics
        self._slow_ticks = 0
        self._processing: dict[str, Any] = {}
        self.entries = {"taken": 0, "exploring": 0, "refused_low_confidence": 0}
        # Crash recovery: the time of the newest stored event past the checkpoint (None: not
        # recovering) and the stored profit points past it, by time.
        self._recovery_until: float | None = None
        self._recovery_points: dict[float, float] = {}
        self._needs_adoption = False
        if not self.config.engine.enable_thermal_management:
            self._refresh_processing()
        # else the thermal duty, due at start, reads the sensors and sets it: one read, not two.
        self._add_duties()

    @property
    def lock(self) -> threading.RLock:
        """The engine's lock, held by every tick; hold it to drive its components from another thread.

        A tick holds the store's write transaction from its first write to its end, and takes the
        components' locks meanwhile. A thread that wrote through a component (``agent``,
        ``profit_coprocessor``, ``thermal_manager``, ``hash_trigger_engine``) while ticks run
        could wait for that transaction while holding the component's lock the tick waits for; so
        while ticks run, such a thread holds this lock around its calls (the REST gateway does).
        """
        return self._lock

    @property
    def _encoders(self) -> dict[str, PatternEncoder]:
        """Each symbol's pattern encoder."""
        return self.patterns.encoders

    @property
    def _last_price(self) -> dict[str, float]:
        """Each symbol's last price: the account's marks."""
        return self.account.marks

    def _open_count(self) -> int:
        return len(self.desk.positions)

    @property
    def tick_index(self) -> int:
        """Ticks processed by this engine over its life (restored on restart)."""
        return self._index

    def reset_symbol_time(self, symbol: str) -> float | None:
        """Forget ``symbol``'s last tick time, so that its next tick may carry any time; checkpoint.

        The operator's way out when a wrong (future) timestamp got in: every later tick would be
        out of order otherwise. Returns the forgotten time (None when the symbol had none).
        """
        with self._lock:
            previous = self._last_time.pop(symbol, None)
            if previous is not None:
                self.checkpoint()
        return previous

    # -- life cycle ---------------------------------------------------------------------------
    def get_agent(self, agent_id: str) -> MemoryAgent:
        """Return the agent with this id, creating it (on the shared store) if new; thread-safe."""
        with self._agents_lock:
            return self._get_agent(agent_id)

    def _get_agent(self, agent_id: str) -> MemoryAgent:
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = MemoryAgent(
                agent_id,
                store=self.store,
                thermal_manager=self.thermal_manager,
                clock=self.clock,
                config=self.config.agent,
            )
            self.agents[agent_id] = agent
        return agent

    # -- the tick -----------------------------------------------------------------------------
    def process_tick(
        self,
        price: float,
        timestamp: float | dt.datetime | str | None = None,
        volume: float | None = None,
        symbol: str | None = None,
        *,
        open: float | None = None,
        high: float | None = None,
        low: float | None = None,
    ) -> dict[str, Any]:
        """Process one tick and return what happened (see the module docstring), as JSON-ready data.

        :meth:`handle_tick` does the processing; this adds the tick's hash, cursor and the
        engine's zones and decisions to its outcome.

        Raises
        ------
        InvalidInputError
            For a non-finite or non-positive price, a timestamp going backwards, an unknown
            symbol, or a bad volume or bar price; nothing changes.
        UnitOfWorkLostError
            When the database rolled back the tick's writes (a full disk, an I/O error): nothing
            the tick opened or closed is confirmed, and the engine has brought its executions,
            desk and profit window back to what the store holds.
        StoreError
            When the store cannot be read back after that; the next tick tries again first.
        """
        with self._lock:
            done = self.handle_tick(price, timestamp, volume, symbol, open=open, high=high, low=low)
            tick, hash_value, cursor = done.tick, done.hash_value, done.cursor
            profit_zone = self.profit_coprocessor.last_vector.zone_state.value
            if not self._processing:  # the thermal duty failed before it was ever set
                self._refresh_processing()
            return {
                "tick": tick.index,
                "symbol": tick.symbol,
                "timestamp": tick.timestamp,
                "price": tick.price,
                "hash": hash_value,
                "hash_hex": None if hash_value is None else f"0x{hash_value:04X}",
                "cursor_state": None if cursor is None else cursor.to_dict(),
                "fired_triggers": done.fired,
                "triggered_strategies": done.triggered,
                "opened": done.opened,
                "closed": [o.to_dict() for o in done.closed],
                "profit_zone": profit_zone,
                "thermal_zone": self._processing["thermal_zone"],
                "processing_decision": {
                    **self._processing,
                    "min_confidence": self._min_confidence(profit_zone),
                },
                "open_executions": len(self.desk.positions),
                "equity": done.equity,
                "latency_ms": done.latency * 1000.0,
            }

    def handle_tick(
        self,
        price: float,
        timestamp: float | dt.datetime | str | None = None,
        volume: float | None = None,
        symbol: str | None = None,
        *,
        open: float | None = None,
        high: float | None = None,
        low: float | None = None,
    ) -> TickOutcome:
        """Process one tick (see the module docstring); return its outcome as objects, not JSON.

        What a replay or a live feed calls for every bar: :meth:`process_tick` without the
        formatting a REST client needs. Raises as :meth:`process_tick` does.
        """
        started = time.perf_counter()
        if not self._started:
            self.start()
        with self._lock:  # validate under the lock: the default timestamp and the last one must not race
            allowed = self.config.engine.symbols
            # The common tick's test (compiled), else the checks that name what is wrong.
            tick = _quick_tick(
                price, timestamp, volume, symbol, open, high, low, self._index, allowed, self._last_time
            ) or validate_tick(
                price,
                timestamp,
                volume,
                symbol,
                open,
                high,
                low,
                index=self._index,
                now=self.clock.now,
                allowed_symbols=allowed,
                last_time=self._last_time,
            )
            sym, px, t = tick.symbol, tick.price, tick.timestamp
            if self._needs_adoption:
                self._adopt_store()  # a StoreError here refuses the tick before anything changed
            opened: list[dict[str, Any]] = []
            closed: list[ExecutionOutcome] = []
            try:
                # One transaction for the tick's writes: one commit, and none of them after a kill.
                with self.store.unit_of_work():
                    if self._recovery_until is not None and (
                        t > self._recovery_until or not (self.agent.recovering or self._recovery_points)
                    ):
                        self._finish_recovery()
                    self._index += 1
                    self._last_time[sym] = t
                    account = self.account
                    account.mark(sym, px)  # the whole account is marked with every tick
                    # (Each step's own test of whether it has work, made here on the quiet tick's
                    # path: no call without pending decisions, positions or closes.)
                    if self.desk.pending:
                        self._fill_pending(tick, opened, closed)
                    self.run_pending_duties()
                    if account.positions:
                        self._decide_exits(tick, closed)
                    self.desk.sizer.observe(tick)  # after this tick's fills: sizing never sees ahead
                    self.margin_call = settle(self.desk, tick, self.margin_call, closed)
                    hash_value, cursor, fired = self._hash(tick)
                    triggered = [] if self.margin_call else self._entries(tick, fired, opened, closed)
                    if closed:
                        self._after_closes(tick, closed)
                    self._ticks_processed += 1  # before the checkpoint, which records it
                    if self._index % self.config.engine.checkpoint_interval == 0:
                        self._checkpoint_safely()
            except UnitOfWorkLostError as exc:
                self.health.fail("store", exc.message)
                self._needs_adoption = True
                try:
                    self._adopt_store()
                except TengriError as adopt_error:
                    log.error("could not read the store back after a lost unit: %s", adopt_error.message)
                raise
            self.health.ok("store")
            latency = time.perf_counter() - started
            self._tick_seconds += latency
            self._latencies.append(latency)
            if latency > self.config.engine.tick_processing_timeout:
                self._slow_ticks += 1
                self.health.fail("ticks", f"a tick took {latency:.3f} s")
            # tuple.__new__: the named tuple without its Python __new__ (0.5 us a tick; 0.2 this way).
            return _new_tuple(
                TickOutcome,
                (tick, hash_value, cursor, fired, triggered, opened, closed, self.account.equity(), latency),
            )

    def _expire_executions(self, now: float) -> None:
        timeout = self.config.engine.strategy_execution_timeout
        closed: list[ExecutionOutcome] = []
        with self._lock:
            for position in list(self.desk.positions.values()):
                last = self._last_price.get(position.symbol)
                if last is None or now - position.opened_at < timeout:
                    continue
                tick = Tick(position.symbol, now, last, self._index)
                closed.append(self.desk.close(position.execution_id, tick, last, "expired"))
            if closed:
                self._after_closes(Tick("default", now, 1.0, self._index), closed)

    def _hash(self, tick: Tick) -> tuple[int | None, Any, list[str]]:
        stepped = self.patterns.step(tick)
        if stepped is None:
            return None, None, []
        hash_value, cursor, fired, error = stepped
        if error is not None:
            self.health.fail("triggers", error.message)
            return hash_value, cursor, []
        self.health.ok("triggers")
        return hash_value, cursor, fired

    def _after_closes(self, tick: Tick, closed: list[ExecutionOutcome]) -> None:
        if not closed:
            return
        for outcome in closed:
            for trigger_id in outcome.hash_triggers:
                try:
                    self.patterns.record_outcome(
                        str(outcome.context.get("symbol", "")), trigger_id, outcome.success
                    )
                except TengriError as exc:
                    self.health.fail("triggers", exc.message)
        if self.config.engine.enable_profit_tracking:
            try:
                self._update_profit(tick.timestamp)
            except TengriError as exc:
                self.health.fail("profit", exc.message)
            else:
                self.health.ok("profit")

    # -- the seed's other calls ---------------------------------------------------------------
    def complete_strategy(self, execution_id: str, exit_price: float) -> dict[str, Any]:
        """Close an open execution of the default agent at ``exit_price`` now; return the outcome."""
        return self.complete(execution_id, exit_price).to_dict()

    def complete(self, execution_id: str, exit_price: float) -> ExecutionOutcome:
        """:meth:`complete_strategy`, its outcome as the object (a live run's flattening journals it)."""
        with self._lock:
            if not self._started:
                self.start()
            now = self.clock.now()
            if execution_id in self.desk.positions:
                position = self.desk.positions[execution_id]
                tick = Tick(position.symbol, now, exit_price, self._index)
                outcome = self.desk.close(execution_id, tick, exit_price, "manual")
            else:
                outcome = self.agent.complete_strategy(execution_id, exit_price, reason="manual")
            self._after_closes(Tick("default", now, exit_price, self._index), [outcome])
            return outcome
