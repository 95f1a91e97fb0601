"""Upkeep of a running engine: automatic backups, and a damaged store restored at restart by itself."""

from __future__ import annotations

from pathlib import Path

from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator

T0 = 1_700_000_000.0


def _engine(tmp_path: Path, clock: ManualClock, **store: float) -> SystemOrchestrator:
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        store=store,
        triggers={"auto_register_min_count": 5, "auto_register_t_stat": 0.5},
        trading={"min_confidence": 0.0, "holding_bars": 2},
    )
    return SystemOrchestrator(
        config,
        store=MemoryMap.from_config(config, clock=clock),
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 40.0})],
        mode="live",
    )


def _ticks(engine: SystemOrchestrator, clock: ManualClock, first: int, count: int) -> None:
    for i in range(first, first + count):
        clock.set(T0 + 60.0 * i)
        engine.process_tick(100.0 + (i % 7) - (i % 3), T0 + 60.0 * i, symbol="X")


def test_backups_every_interval_and_at_shutdown_keeping_backup_keep(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    engine = _engine(tmp_path, clock, backup_interval_hours=1.0, backup_keep=3)
    engine.start(background=False)
    _ticks(engine, clock, 0, 60 * 5 + 1)  # five hours of one-minute ticks: a backup each hour
    assert len(engine.store.backups()) == 3  # of 5 scheduled, the newest 3 are kept
    engine.shutdown()
    backups = engine.store.backups()
    assert len(backups) == 3
    engine.store.close()
    assert backups[-1].stat().st_size > 0


def _damage(path: Path) -> None:
    """Overwrite the middle of the file with garbage, as a bad disk would."""
    size = path.stat().st_size
    with path.open("r+b") as fh:
        for offset in range(4096, size - 4096, 8192):
            fh.seek(offset + 100)
            fh.write(b"\xde\xad\xbe\xef" * 64)


def test_a_damaged_store_is_restored_from_the_shutdown_backup_when_the_engine_restarts(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    engine = _engine(tmp_path, clock)
    engine.start(background=False)
    _ticks(engine, clock, 0, 400)
    executions = [e.execution_id for e in engine.store.executions()]
    assert executions
    engine.shutdown()  # the clean shutdown backs up
    engine.store.close()
    _damage(tmp_path / "tengri.db")
    clock.advance(60.0)
    restarted = _engine(tmp_path, clock)  # no hand step: opening the store restores it
    assert restarted.store.restored_from is not None
    assert restarted.store.integrity_check().ok
    restarted.start(background=False)
    assert [e.execution_id for e in restarted.store.executions()] == executions
    assert restarted.tick_index == 400
    _ticks(restarted, clock, 401, 10)  # and it goes on
    restarted.shutdown()
    restarted.store.close()
    assert list(tmp_path.glob("tengri.db.corrupt-*"))
