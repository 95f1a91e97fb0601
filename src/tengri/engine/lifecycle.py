"""The engine's life cycle: start and shutdown, the duties on the machine clock, backups, thermal polling.

Mixed into :class:`~tengri.engine.orchestrator.SystemOrchestrator`. :meth:`EngineLifecycle.start`
restores the engine from its store and starts the duties (thermal monitoring, the statistics
log, trigger flushes, store cleanup; live, execution timeouts and scheduled backups), in a thread
on the wall clock or run by each tick on any other clock; :meth:`EngineLifecycle.shutdown`
checkpoints and backs up.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from tengri.config import TengriConfig
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.duties import DutyScheduler, Health
from tengri.engine.store import MemoryMap
from tengri.engine.symbols import SymbolPatterns
from tengri.engine.thermal import ThermalZoneManager
from tengri.errors import TengriError

__all__ = ["EngineLifecycle"]

log = logging.getLogger("tengri.engine.orchestrator")


class EngineLifecycle:
    """Start, shutdown, duties and backups of the orchestrator (see the module docstring)."""

    config: TengriConfig
    store: MemoryMap
    mode: Literal["live", "replay"]
    machine_clock: Clock
    health: Health
    duties: DutyScheduler
    thermal_manager: ThermalZoneManager
    patterns: SymbolPatterns
    _lock: threading.RLock
    _started: bool
    _stop: threading.Event
    _loop: threading.Thread | None
    _processing: dict[str, Any]

    if TYPE_CHECKING:  # the other parts of the orchestrator

        def _restore(self) -> bool: ...
        def checkpoint(self) -> None: ...
        def _expire_executions(self, now: float) -> None: ...
        def _log_statistics(self, _now: float) -> None: ...
        def _open_count(self) -> int: ...

    def _add_duties(self) -> None:
        cfg = self.config.engine
        if cfg.enable_thermal_management:
            self.duties.add("thermal", cfg.thermal_monitoring_interval, lambda _now: self._update_thermal())
        self.duties.add("statistics", cfg.system_monitoring_interval, self._log_statistics)
        self.duties.add("triggers", cfg.system_monitoring_interval, lambda _now: self._flush_triggers())
        self.duties.add("cleanup", cfg.memory_cleanup_interval, lambda _now: self._cleanup())
        if self.mode == "live":
            self.duties.add("timeouts", 1.0, self._expire_executions)
            if self.store.is_sqlite and self.store.path is not None:
                # A replay backs up at its end instead: its batch holds the store between bars.
                every = self.config.store.backup_interval_hours * 3_600.0
                self.duties.add("backup", every, self._scheduled_backup)

    def _scheduled_backup(self, _now: float) -> None:
        self.backup("scheduled")

    def backup(self, reason: str) -> Path | None:
        """Back up a SQLite file store (rotating to ``store.backup_keep``); health says if it fails.

        Returns the backup, or ``None`` for a store that is not a SQLite file or a failed backup.
        """
        if not (self.store.is_sqlite and self.store.path is not None):
            return None
        try:
            path = self.store.backup()
        except TengriError as exc:
            log.error("%s backup of the store failed: %s", reason, exc.message)
            self.health.fail("backup", exc.message)
            return None
        self.health.ok("backup")
        log.info("%s backup of the store: %s", reason, path.name)
        return path

    def _update_thermal(self) -> None:
        self.thermal_manager.update_thermal_state()
        # What the zone now allows (logged when it changes; its extremes go to the run's summary).
        self.thermal_manager.compute_settings(max_threads=self.config.model.torch_threads)
        self._refresh_processing()
        # The manager skips a failing sensor and an implausible reading (NaN, below absolute zero,
        # hotter than any chip survives) and carries on; health says so.
        problems = self.thermal_manager.sensor_problems()
        if problems:
            self.health.fail("sensors", "; ".join(problems))
        else:
            self.health.ok("sensors")

    def _refresh_processing(self) -> None:
        """Cache the thermal part of the processing decision; it changes when the duty reads sensors."""
        thermal = self.thermal_manager
        self._processing = {
            "thermal_zone": thermal.zone,
            "device": thermal.inference_device(),
            "gpu_allocation": thermal.gpu_allocation,
            "reduce_gpu_load": thermal.should_reduce_gpu_load(),
        }

    def _flush_triggers(self) -> None:
        with self._lock:
            self.patterns.flush()

    def _cleanup(self) -> None:
        self.store.cleanup()

    def start(self, *, background: bool | None = None) -> Self:
        """Restore state from the store and start the duties (a thread when ``background``).

        ``background`` defaults to True on the wall clock and False on any other clock, whose
        owner calls :meth:`run_pending_duties` (each tick does).
        """
        with self._lock:
            if self._started:
                return self
            if not self._restore():
                # The first checkpoint, at once: a kill before the first interval's checkpoint
                # then restarts from here, and re-processing adopts what the store already holds.
                self.checkpoint()
            self._started = True
            self._stop.clear()
        self.run_pending_duties()
        if background is None:
            background = isinstance(self.machine_clock, SystemClock)
        if background:
            self._loop = threading.Thread(target=self._live_loop, name="tengri-duties", daemon=True)
            self._loop.start()
        log.info("orchestrator started (mode=%s, store=%s)", self.mode, self.store.url)
        return self

    def _live_loop(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:  # duties write through the components, as ticks do (see `lock`)
                self.run_pending_duties()

    def run_pending_duties(self) -> list[str]:
        """Run every duty that is due on the machine clock; return their names."""
        return self.duties.run_due(self.machine_clock.now())

    def install_signal_handlers(self) -> None:
        """Shut down gracefully on SIGINT and SIGTERM (call from the main thread)."""

        def handler(signum: int, _frame: object) -> None:
            log.info("signal %d: shutting down", signum)
            self.shutdown()
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def shutdown(self, *, backup: bool = True) -> None:
        """Stop the duties, write the engine's state and (``backup``) back the store up.

        Open executions stay open in the store. A replay passes ``backup=False`` and backs up
        once its batch is committed.
        """
        with self._lock:
            if not self._started:
                return
            self._started = False
            self._stop.set()
            self.checkpoint()
        if self._loop is not None and self._loop is not threading.current_thread():
            self._loop.join(timeout=5.0)
        if backup:
            self.backup("shutdown")
        log.info("orchestrator shut down with %d open execution(s)", self._open_count())
