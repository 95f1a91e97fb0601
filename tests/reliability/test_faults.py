"""Fault injection: the store failing, sensors lying, the model raising, clocks jumping back.

Each scenario replays EURUSD through the orchestrator on a SQLite file, injects one fault for a
stretch of ticks, clears it, and checks: health went to degraded with a reason; every execution
confirmed before the fault is still there as it was; nothing is half-written (the store agrees
with the engine's memory, and with a fresh engine opened on it); ticks went on during the fault
where they could; health came back when the fault cleared. A tick whose writes the database rolls
back whole (SQLite does on a full disk) raises UnitOfWorkLostError and counts as lost: nothing it
opened or closed is confirmed, and the engine's memory is brought back to the store's. Each
outcome is a row of the table in docs/reliability.md.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tengri.config import TengriConfig
from tengri.data import load_ohlcv
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, Signal, SystemOrchestrator, Tick
from tengri.errors import OutOfOrderError, UnitOfWorkLostError

T0 = 1_700_000_000.0
HEADER = [
    "fault",
    "how it is injected",
    "health during the fault",
    "ticks processed / refused or lost",
    "after clearing",
]
CALM, FAULT, AFTER = 1000, 600, 600


@pytest.fixture(scope="module")
def bars() -> list[tuple[float, float, float, float, float, float]]:
    frame = load_ohlcv("sample:eurusd_h1").iloc[: CALM + FAULT + AFTER]
    return [
        (ts.timestamp(), r.Open, r.High, r.Low, r.Close, r.Volume)
        for ts, r in zip(frame.index, frame.itertuples(), strict=True)
    ]


class _Model:
    """A signal source standing for the model: raises during inference while told to."""

    name = "model"

    def __init__(self) -> None:
        self.error: Exception | None = None

    def on_tick(self, tick: Tick) -> list[Signal]:
        if self.error is not None:
            raise self.error
        return []


@dataclass
class _Rig:
    orchestrator: SystemOrchestrator
    store: MemoryMap
    sensor: ScriptedSensor
    model: _Model
    machine: ManualClock
    data_dir: Path
    refused: int = 0
    lost: int = 0
    processed: int = 0
    reasons: dict[str, str] = field(default_factory=dict)


def _config(data_dir: Path) -> TengriConfig:
    return TengriConfig.load(data_dir=data_dir).with_overrides(
        trading={"holding_bars": 6, "max_open_executions": 4},
        agent={"context_fields": ("profit_zone",)},
        triggers={"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
        engine={"checkpoint_interval": 50, "thermal_monitoring_interval": 1.0},
        store={"synchronous": "normal"},
    )


def _engine(
    data_dir: Path, sensor: ScriptedSensor, model: _Model, machine: ManualClock
) -> SystemOrchestrator:
    clock = ManualClock(T0)
    config = _config(data_dir)
    return SystemOrchestrator(
        config,
        store=MemoryMap.from_config(config, clock=clock),
        clock=clock,
        sensors=[sensor],
        mode="replay",
        machine_clock=machine,
        signal_sources=[model],
    )


def _feed(rig: _Rig, bars: list[Any], *, watch: bool = False) -> None:
    for t, o, h, low, c, v in bars:
        rig.machine.advance(1.0)
        try:
            rig.orchestrator.process_tick(c, t, v, "EURUSD", open=o, high=h, low=low)
        except OutOfOrderError:
            rig.refused += 1
            continue
        except UnitOfWorkLostError:
            rig.lost += 1
            continue
        rig.processed += 1
        if watch:
            rig.reasons.update(rig.orchestrator.health.reasons())


def _rows(store: MemoryMap) -> dict[str, tuple[Any, ...]]:
    return {e.execution_id: (e.status, e.profit, e.exit_price, e.closed_at) for e in store.executions()}


def _check_consistent(rig: _Rig) -> None:
    """Nothing half-written: store and memory agree, every closed row is whole, the file is sound."""
    o, store = rig.orchestrator, rig.store
    assert store.integrity_check().ok
    rows = store.executions(agent_id=o.agent.agent_id)
    open_ids = {e.execution_id for e in rows if e.status == "open"}
    closed = [e for e in rows if e.status != "open"]
    assert set(o.desk.positions) == open_ids
    assert all(e.profit is not None and e.exit_price is not None and e.closed_at is not None for e in closed)
    assert o.desk.closed_count == len(closed) == o.agent.statistics()["completed"]
    assert math.isclose(o.desk.realised, sum(e.profit or 0.0 for e in closed), abs_tol=1e-9)
    times = [t for t, _ in store.profit_points("profit")]
    assert times == sorted(set(times))


@contextmanager
def _failing_writes(store: MemoryMap, fails: Callable[[int], bool]) -> Iterator[None]:
    """Make the n-th write from now fail at its end with a disk I/O error when ``fails(n)``.

    Inside the orchestrator's per-tick unit of work a write is a savepoint: the failure rolls back
    that write alone, as a failed commit did when each write was its own transaction.
    """
    real = store._transaction
    count = 0

    @contextmanager
    def transaction(action: str) -> Iterator[Any]:
        nonlocal count
        with real(action) as txn:
            yield txn
            count += 1
            if fails(count):
                raise sqlite3.OperationalError("disk I/O error")

    store._transaction = transaction  # type: ignore[method-assign]
    try:
        yield
    finally:
        del store._transaction


def _driver(store: MemoryMap) -> sqlite3.Connection:
    assert store._writer is not None
    driver = store._writer.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


@contextmanager
def _read_only(store: MemoryMap) -> Iterator[None]:
    _driver(store).execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        _driver(store).execute("PRAGMA query_only = OFF")


@contextmanager
def _disk_full(store: MemoryMap) -> Iterator[None]:
    # A size cap: the database may not grow by a page (SQLITE_FULL, as on a full disk).
    driver = _driver(store)
    pages = driver.execute("PRAGMA page_count").fetchone()[0]
    driver.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        driver.execute("PRAGMA max_page_count = 1073741823")


@contextmanager
def _sensor(rig: _Rig, value: float | None) -> Iterator[None]:
    if value is None:
        rig.sensor.fail(RuntimeError("sensor unplugged"))
    else:
        rig.sensor.set("cpu", value)
    try:
        yield
    finally:
        rig.sensor.fail(None)
        rig.sensor.set("cpu", 50.0)


@contextmanager
def _model_raises(rig: _Rig) -> Iterator[None]:
    rig.model.error = RuntimeError("CUDA error: an illegal memory access")
    try:
        yield
    finally:
        rig.model.error = None


FAULTS: dict[str, tuple[str, Callable[[_Rig], Any], str]] = {
    "store write fails once": (
        "disk I/O error at the end of the 5th write (its savepoint rolls back)",
        lambda rig: _failing_writes(rig.store, lambda n: n == 5),
        "",
    ),
    "store writes fail persistently": (
        "disk I/O error at the end of every write from the 5th",
        lambda rig: _failing_writes(rig.store, lambda n: n >= 5),
        "disk I/O error",
    ),
    "database read-only": (
        "PRAGMA query_only on the write connection",
        lambda rig: _read_only(rig.store),
        "readonly",
    ),
    "disk full": ("PRAGMA max_page_count at the current size", lambda rig: _disk_full(rig.store), "full"),
    "sensor raises": ("the only sensor raises", lambda rig: _sensor(rig, None), "sensor"),
    "sensor returns NaN": ("cpu = NaN °C", lambda rig: _sensor(rig, math.nan), "implausible"),
    "sensor below absolute zero": ("cpu = -300 °C", lambda rig: _sensor(rig, -300.0), "implausible"),
    "sensor absurdly hot": ("cpu = 5000 °C", lambda rig: _sensor(rig, 5000.0), "implausible"),
    "model raises during inference": ("the model's on_tick raises", _model_raises, "CUDA error"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_degrades_then_recovers(
    fault: str, bars: list[Any], tmp_path: Path, reliability_report: Any
) -> None:
    how, inject, reason = FAULTS[fault]
    sensor, model, machine = ScriptedSensor({"cpu": 50.0}), _Model(), ManualClock(T0)
    orchestrator = _engine(tmp_path, sensor, model, machine).start()
    rig = _Rig(orchestrator, orchestrator.store, sensor, model, machine, tmp_path)
    _feed(rig, bars[:CALM])
    before = _rows(rig.store)
    assert before, "no execution before the fault: nothing to protect"
    assert rig.orchestrator.health.status == "healthy", rig.orchestrator.health.reasons()
    processed = rig.processed
    with inject(rig):
        _feed(rig, bars[CALM : CALM + FAULT], watch=True)
    during = rig.processed - processed
    _feed(rig, bars[CALM + FAULT :])
    after = _rows(rig.store)
    health = rig.orchestrator.health
    # Executions confirmed before the fault are all there; closed ones unchanged.
    for execution_id, row in before.items():
        assert execution_id in after
        if row[0] != "open":
            assert after[execution_id] == row
    _check_consistent(rig)
    if reason:
        assert any(reason in r for r in rig.reasons.values()), rig.reasons
    else:
        assert rig.reasons, "a failed write must show in health"
    assert health.status == "healthy", health.reasons()
    # A fresh engine on the same store sees the same positions and realised profit.
    realised, positions = rig.orchestrator.desk.realised, set(rig.orchestrator.desk.positions)
    rig.orchestrator.shutdown()
    rig.store.close()
    again = _engine(tmp_path, ScriptedSensor({"cpu": 50.0}), _Model(), ManualClock(T0)).start()
    assert set(again.desk.positions) == positions
    assert math.isclose(again.desk.realised, realised, abs_tol=1e-9)
    again.store.close()
    degraded = "; ".join(f"{k}: {v}" for k, v in sorted(rig.reasons.items()))
    reliability_report.row(
        "faults",
        HEADER,
        [
            fault,
            how,
            f"degraded ({degraded[:160]})",
            f"{during} / {rig.lost}",
            "healthy; nothing lost or half-written",
        ],
    )
    print(
        f"\nfault {fault!r}: degraded with {rig.reasons}; {during} ticks processed during it, "
        f"{rig.lost} lost; recovered"
    )


@pytest.mark.slow
def test_clocks_jumping_backwards(bars: list[Any], tmp_path: Path, reliability_report: Any) -> None:
    sensor, model, machine = ScriptedSensor({"cpu": 50.0}), _Model(), ManualClock(T0)
    orchestrator = _engine(tmp_path, sensor, model, machine).start()
    rig = _Rig(orchestrator, orchestrator.store, sensor, model, machine, tmp_path)
    _feed(rig, bars[:CALM])
    snapshot = (orchestrator.tick_index, _rows(rig.store), orchestrator.hash_trigger_engine.snapshot())
    # Market time going backwards: each such tick is refused with a specific error, nothing changes.
    back = [(t - 86_400.0 * 30, o, h, low, c, v) for t, o, h, low, c, v in bars[CALM : CALM + 50]]
    _feed(rig, back)
    assert rig.refused == 50
    assert (
        orchestrator.tick_index,
        _rows(rig.store),
        orchestrator.hash_trigger_engine.snapshot(),
    ) == snapshot
    # Machine time jumping back a day: duties keep running, ticks go on.
    machine.set(T0 - 86_400.0)
    runs = orchestrator.duties.duties["thermal"].runs
    _feed(rig, bars[CALM : CALM + FAULT])
    assert orchestrator.duties.duties["thermal"].runs > runs
    _check_consistent(rig)
    assert orchestrator.health.status == "healthy"
    reliability_report.row(
        "faults",
        HEADER,
        [
            "market clock jumps back 30 days",
            "ticks stamped 30 days before the last",
            "healthy (each tick refused with OutOfOrderError; state unchanged)",
            "0 / 50",
            "next in-order tick processed",
        ],
    )
    reliability_report.row(
        "faults",
        HEADER,
        [
            "machine clock jumps back a day",
            "ManualClock.set(now − 1 day)",
            "healthy (duties due at once, then on the new time)",
            f"{FAULT} / 0",
            "duties and ticks go on",
        ],
    )
    print(f"\nclocks: {rig.refused} backward ticks refused, state unchanged; machine clock jump absorbed")
