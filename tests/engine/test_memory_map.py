"""The memory map: key/value, typed tables, atomicity, backup, restore, cleanup (on real files)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tengri.config import TengriConfig
from tengri.engine.clock import ManualClock
from tengri.engine.store import BudgetRecord, ExecutionRecord, MemoryMap, TriggerRecord
from tengri.engine.store.schema import LATEST_VERSION
from tengri.errors import (
    ConflictError,
    ExecutionAlreadyCompletedError,
    ExecutionNotFoundError,
    InvalidInputError,
    StoreError,
    TriggerNotFoundError,
    UnitOfWorkLostError,
)


@pytest.fixture
def store(tmp_path: Path) -> MemoryMap:
    s = MemoryMap(data_dir=tmp_path, clock=ManualClock(1_700_000_000.0))
    yield s
    s.close()


def _execution(execution_id: str, opened_at: float = 1.0, agent_id: str = "a1") -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        agent_id=agent_id,
        strategy_id="S1",
        direction=1,
        entry_price=100.0,
        opened_at=opened_at,
        hash_triggers=("T1", "T2"),
        context={"thermal_state": "normal", "profit_zone": "surging"},
        confidence=0.8,
    )


def test_sqlite_file_is_durable_and_wal(store: MemoryMap, tmp_path: Path) -> None:
    assert store.path == tmp_path / "tengri.db"
    with store.engine.connect() as conn:
        pragmas = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous")}
    assert pragmas == {"journal_mode": "wal", "synchronous": 2}  # 2 = FULL
    assert store.integrity_check().ok


def test_key_value_round_trip_and_namespaces(store: MemoryMap) -> None:
    store.set("agent", "k1", {"a": [1, 2.5, None], "b": "x"})
    store.set("agent", "k0", 3)
    store.set("other", "k1", True)
    assert store.get("agent", "k1") == {"a": [1, 2.5, None], "b": "x"}
    assert store.get("agent", "missing", default="d") == "d"
    assert store.items("agent") == {"k0": 3, "k1": {"a": [1, 2.5, None], "b": "x"}}
    assert store.namespaces() == ["agent", "other"]
    assert store.delete("agent", "k0") is True
    assert store.delete("agent", "k0") is False
    store.set("agent", "none", None)
    assert store.items("agent")["none"] is None


def test_non_json_values_are_rejected_without_writing(store: MemoryMap) -> None:
    with pytest.raises(InvalidInputError):
        store.set("ns", "k", float("nan"))
    with pytest.raises(InvalidInputError):
        store.set("ns", "k", {"x": object()})
    assert store.get("ns", "k") is None


def test_update_is_atomic_across_threads(store: MemoryMap) -> None:
    def work() -> None:
        for _ in range(50):
            store.update("counters", "n", lambda v: v + 1, default=0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("counters", "n") == 200


def test_update_that_raises_writes_nothing(store: MemoryMap) -> None:
    store.set("ns", "k", 1)

    def boom(value: int) -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.update("ns", "k", boom)
    assert store.get("ns", "k") == 1


def test_executions_insert_query_close(store: MemoryMap) -> None:
    store.insert_execution(_execution("e1", 1.0))
    store.insert_execution(_execution("e2", 2.0, agent_id="a2"))
    with pytest.raises(ConflictError):
        store.insert_execution(_execution("e1"))
    assert [e.execution_id for e in store.open_executions()] == ["e1", "e2"]
    assert [e.execution_id for e in store.open_executions("a2")] == ["e2"]
    closed = store.close_execution("e1", exit_price=101.0, profit=1.0, closed_at=5.0)
    assert (closed.status, closed.success, closed.exit_price, closed.closed_at) == (
        "closed",
        True,
        101.0,
        5.0,
    )
    assert closed.hash_triggers == ("T1", "T2")
    assert closed.context["profit_zone"] == "surging"
    with pytest.raises(ExecutionAlreadyCompletedError):
        store.close_execution("e1", exit_price=102.0, profit=2.0)
    with pytest.raises(ExecutionNotFoundError):
        store.close_execution("nope", exit_price=1.0, profit=0.0)
    expired = store.close_execution("e2", exit_price=99.0, profit=-1.0, status="expired")
    assert (expired.status, expired.success) == ("expired", False)
    assert store.executions(status="closed")[0].execution_id == "e1"
    assert [e.execution_id for e in store.executions(limit=1)] == ["e2"]
    assert store.get_execution("e1").profit == 1.0


def test_concurrent_closes_have_one_winner(store: MemoryMap) -> None:
    store.insert_execution(_execution("e1"))
    results: list[str] = []

    def close() -> None:
        try:
            store.close_execution("e1", exit_price=101.0, profit=1.0)
            results.append("ok")
        except ExecutionAlreadyCompletedError:
            results.append("already")

    threads = [threading.Thread(target=close) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already"] * 7 + ["ok"]


def test_invalid_execution_is_rejected(store: MemoryMap) -> None:
    with pytest.raises(InvalidInputError):
        store.insert_execution(ExecutionRecord("x", "a", "s", 0, 1.0, 1.0))
    with pytest.raises(InvalidInputError):
        store.insert_execution(ExecutionRecord("x", "a", "s", 1, float("inf"), 1.0))
    assert store.executions() == []


def test_triggers_upsert_keeps_last_state(store: MemoryMap) -> None:
    store.upsert_trigger(TriggerRecord("T1", 0x1234, 0x00FF, "S1", 1, stats={"n": 1}))
    store.upsert_trigger(TriggerRecord("T1", 0x1234, 0x00FF, "S1", 1, state="dormant", state_until=500.0))
    store.upsert_trigger(TriggerRecord("T2", 0x0001, 0xFFFF, "S2", -1))
    t1 = store.get_trigger("T1")
    assert (t1.state, t1.state_until, t1.stats) == ("dormant", 500.0, {})
    assert [t.trigger_id for t in store.triggers(state="active")] == ["T2"]
    with pytest.raises(TriggerNotFoundError):
        store.get_trigger("T9")


def test_profit_points_and_budget(store: MemoryMap) -> None:
    store.append_profit_points("p", [(float(i), i * 2.0) for i in range(10)])
    store.append_profit_point("q", 1.0, 5.0)
    assert store.profit_points("p", limit=3) == [(7.0, 14.0), (8.0, 16.0), (9.0, 18.0)]
    assert len(store.profit_points("p")) == 10
    assert store.profit_points("q") == [(1.0, 5.0)]
    with pytest.raises(InvalidInputError):
        store.append_profit_points("p", [(11.0, 1.0), (12.0, float("nan"))])
    assert len(store.profit_points("p")) == 10
    assert store.get_budget() is None
    store.set_budget(BudgetRecord("thermal", "2024-01-01", 12.5, 99.0, {"burst_id": "b"}))
    got = store.get_budget()
    assert got is not None
    assert (got.day, got.used_seconds, got.cooldown_until, got.active_burst) == (
        "2024-01-01",
        12.5,
        99.0,
        {"burst_id": "b"},
    )


def test_state_survives_reopening(tmp_path: Path) -> None:
    with MemoryMap(data_dir=tmp_path) as first:
        first.set("ns", "k", [1, 2])
        first.insert_execution(_execution("e1"))
    with MemoryMap(data_dir=tmp_path) as second:
        assert second.get("ns", "k") == [1, 2]
        assert [e.execution_id for e in second.open_executions()] == ["e1"]
        assert second.integrity_check().schema_version == LATEST_VERSION


def test_from_config_and_in_memory(tmp_path: Path) -> None:
    config = TengriConfig.load(data_dir=tmp_path / "d", store={"backup_keep": 2})
    with MemoryMap.from_config(config) as store:
        assert store.path == tmp_path / "d" / "tengri.db"
        assert store.backups_dir == tmp_path / "d" / "backups"
        assert store.backup_keep == 2
    with MemoryMap.in_memory() as mem:
        mem.set("a", "b", 1)
        assert mem.get("a", "b") == 1
        assert mem.path is None


def test_checkpoint_wal_puts_the_logged_writes_into_the_database_file(
    store: MemoryMap, tmp_path: Path
) -> None:
    assert store.path is not None
    store.insert_execution(_execution("logged"))

    def rows_of_the_file_alone() -> int:
        """The executions a copy of the database file holds without its write-ahead log."""
        copy = tmp_path / "alone.db"
        copy.write_bytes(store.path.read_bytes())
        with sqlite3.connect(copy) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            count = (
                conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0] if "executions" in tables else 0
            )
        copy.unlink()
        return int(count)

    assert rows_of_the_file_alone() == 0  # the write is in the log only
    store.checkpoint_wal()
    assert rows_of_the_file_alone() == 1
    assert [e.execution_id for e in store.executions()] == ["logged"]  # the store carries on
    with MemoryMap.in_memory() as memory:
        memory.checkpoint_wal()  # nothing to copy: a no-op


def test_backup_rotation_and_restore(store: MemoryMap) -> None:
    clock = store.clock
    assert isinstance(clock, ManualClock)
    store.set("ns", "k", "v1")
    first = store.backup()
    for _ in range(6):
        clock.advance(1)
        store.backup()
    backups = store.backups()
    assert len(backups) == store.backup_keep == 5
    assert first not in backups
    keep = backups[0]
    store.set("ns", "k", "v2")
    store.insert_execution(_execution("late"))
    before = store.restore(keep)
    assert store.get("ns", "k") == "v1"
    assert store.executions() == []
    assert store.integrity_check().ok
    # The pre-restore backup holds what was replaced, and the restored backup was not rotated away.
    assert before is not None
    assert before.exists()
    assert keep.exists()
    store.restore(before)
    assert store.get("ns", "k") == "v2"


def test_restore_refuses_bad_backups(store: MemoryMap, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not found"):
        store.restore(tmp_path / "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    store.set("ns", "k", 1)
    with pytest.raises(StoreError):
        store.restore(junk)
    assert store.get("ns", "k") == 1


def test_backup_of_non_sqlite_store_names_pg_dump(store: MemoryMap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "is_sqlite", False)
    with pytest.raises(StoreError, match="pg_dump"):
        store.backup()


def test_cleanup_removes_only_expendable_rows_and_shrinks_the_file(tmp_path: Path) -> None:
    clock = ManualClock(1_700_000_000.0)
    store = MemoryMap(data_dir=tmp_path, clock=clock, protect_profit_points=100, retention_days=1.0)
    day = 86_400.0
    store.insert_execution(_execution("open-old", opened_at=clock.now() - 10 * day))
    for i in range(300):
        store.insert_execution(_execution(f"closed-{i:03d}", opened_at=clock.now() - 10 * day))
        closed_at = clock.now() - (5 * day if i < 200 else 0.5 * day)
        store.close_execution(f"closed-{i:03d}", exit_price=101.0, profit=1.0, closed_at=closed_at)
    store.upsert_trigger(TriggerRecord("T1", 1, 1, "S1", 1, state="collapsed"))
    store.append_profit_points("profit", [(float(i), float(i)) for i in range(60_000)])
    size_before = store.size_bytes()
    assert size_before is not None
    assert store.cleanup(limit_mb=size_before * 10 / 2**20).ran is False  # under the limit: nothing
    report = store.cleanup(limit_mb=0.25)
    assert report.ran
    assert report.profit_points_deleted > 0
    # The newest protected points, the open execution, recent closed ones and the trigger remain.
    points = store.profit_points("profit")
    assert len(points) >= 100
    assert points[-1] == (59_999.0, 59_999.0)
    assert store.get_execution("open-old").status == "open"
    assert len(store.executions(since=None, status="closed")) >= 100
    assert all(e.closed_at is not None for e in store.executions(status="closed"))
    assert store.get_trigger("T1").state == "collapsed"
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert store.path is not None
    assert store.path.stat().st_size < size_before
    assert store.integrity_check().ok
    store.close()


def test_cleanup_reaches_old_closed_executions(tmp_path: Path) -> None:
    clock = ManualClock(1_700_000_000.0)
    store = MemoryMap(data_dir=tmp_path, clock=clock, protect_profit_points=0, retention_days=1.0)
    for i in range(400):
        store.insert_execution(
            ExecutionRecord(f"e{i}", "a", "S", 1, 1.0, 0.0, context={"pad": "x" * 2000}, status="open")
        )
        store.close_execution(f"e{i}", exit_price=1.0, profit=0.0, closed_at=clock.now() - 2 * 86_400.0)
    store.insert_execution(_execution("open"))
    report = store.cleanup(limit_mb=0.2)
    assert report.executions_deleted > 0
    assert store.get_execution("open").status == "open"
    store.close()


def test_closed_store_refuses(tmp_path: Path) -> None:
    store = MemoryMap(data_dir=tmp_path)
    store.close()
    with pytest.raises(StoreError):
        store.get("a", "b")


def test_synchronous_normal_is_opt_in_and_checked(tmp_path: Path) -> None:
    with MemoryMap(data_dir=tmp_path, synchronous="normal") as store:
        store.set("ns", "k", 1)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # 1 = NORMAL
    with pytest.raises(InvalidInputError):
        MemoryMap(data_dir=tmp_path, synchronous="off")


def test_close_keeps_or_replaces_costs_and_values_round_trip(store: MemoryMap) -> None:
    store.insert_execution(
        ExecutionRecord("e1", "a", "S", -1, 10.0, 1.0, costs=0.5, context={"x": [1, None]})
    )
    store.insert_execution(ExecutionRecord("e2", "a", "S", 1, 10.0, 2.0, costs=0.5))
    kept = store.close_execution("e1", exit_price=9.0, profit=0.5)
    replaced = store.close_execution("e2", exit_price=9.0, profit=-1.5, costs=0.75, success=True)
    assert (kept.costs, kept.success, kept.context) == (0.5, True, {"x": [1, None]})
    assert (replaced.costs, replaced.success) == (0.75, True)
    assert store.get_execution("e1") == kept
    assert store.get_execution("e2") == replaced
    store.set_budget(BudgetRecord("thermal", "2024-01-01", 1.0, 2.0, None))
    budget = store.get_budget()
    assert budget is not None
    assert budget.active_burst is None
    assert store.update("ns", "n", lambda v: v + 1, default=41) == 42
    assert store.get("ns", "n") == 42


@pytest.mark.parametrize("returning", [True, False])
def test_sqlalchemy_write_path_as_for_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    # Databases other than SQLite run the prepared writes through SQLAlchemy; without a PostgreSQL
    # server at hand, drive that path on SQLite by dropping the store's SQLite writer.
    store = MemoryMap(data_dir=tmp_path)
    assert store._writer is not None
    store._writer.close()
    monkeypatch.setattr(store, "_writer", None)
    monkeypatch.setattr(store, "_raw", None)
    monkeypatch.setattr(store.engine.dialect, "update_returning", returning)
    store.set("ns", "k", {"a": [1, None]})
    store.set("ns", "k", None)
    assert store.items("ns") == {"k": None}
    assert store.update("ns", "n", lambda v: v + 1, default=0) == 1
    store.insert_execution(_execution("e1"))
    with pytest.raises(ConflictError):
        store.insert_execution(_execution("e1"))
    closed = store.close_execution("e1", exit_price=101.0, profit=1.0, costs=0.25)
    assert (closed.status, closed.costs, closed.hash_triggers, closed.success) == (
        "closed",
        0.25,
        ("T1", "T2"),
        True,
    )
    with pytest.raises(ExecutionAlreadyCompletedError):
        store.close_execution("e1", exit_price=101.0, profit=1.0)
    with pytest.raises(ExecutionNotFoundError):
        store.close_execution("nope", exit_price=101.0, profit=1.0)
    store.upsert_trigger(TriggerRecord("T1", 1, 1, "S1", 1))
    store.upsert_trigger(TriggerRecord("T1", 1, 1, "S1", 1, state="dormant"))
    assert [t.state for t in store.triggers()] == ["dormant"]
    store.set_budget(BudgetRecord("thermal", "2024-01-01", 1.0, 2.0, {"burst_id": "b"}))
    store.append_profit_points("p", [(1.0, 2.0), (2.0, 3.0)])
    assert store.profit_points("p") == [(1.0, 2.0), (2.0, 3.0)]
    store.close()


def _other_reader(store: MemoryMap) -> list[str]:
    """The execution ids another connection sees (what is committed)."""
    assert store.path is not None
    reader = sqlite3.connect(store.path)
    try:
        return [row[0] for row in reader.execute("SELECT execution_id FROM executions ORDER BY opened_at")]
    finally:
        reader.close()


def test_unit_of_work_commits_its_writes_together(store: MemoryMap) -> None:
    with store.unit_of_work():
        store.insert_execution(_execution("e1", 1.0))
        store.append_profit_point("p", 1.0, 2.0)
        assert _other_reader(store) == []  # not committed yet: nobody else sees it
        with store.unit_of_work():  # nested: the outer unit commits
            store.insert_execution(_execution("e2", 2.0))
        assert _other_reader(store) == []
    assert _other_reader(store) == ["e1", "e2"]
    assert store.profit_points("p") == [(1.0, 2.0)]


def test_a_failed_write_in_a_unit_rolls_back_alone(store: MemoryMap) -> None:
    with store.unit_of_work():
        store.insert_execution(_execution("e1"))
        with pytest.raises(ConflictError):
            store.insert_execution(_execution("e1"))  # fails inside: its savepoint is rolled back
        store.insert_execution(_execution("e2", 2.0))
    assert _other_reader(store) == ["e1", "e2"]


def test_a_read_in_a_unit_sees_its_writes(store: MemoryMap) -> None:
    with store.unit_of_work():
        store.insert_execution(_execution("e1"))
        assert store.get_execution("e1").execution_id == "e1"  # the read commits what came before
        store.insert_execution(_execution("e2", 2.0))
    assert _other_reader(store) == ["e1", "e2"]


@contextmanager
def _full_disk(store: MemoryMap) -> Iterator[None]:
    """The database may not grow by a page inside the block (SQLITE_FULL, as on a full disk)."""
    driver = store._driver()
    pages = driver.execute("PRAGMA page_count").fetchone()[0]
    driver.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        driver.execute("PRAGMA max_page_count = 1073741823")


def test_a_unit_the_database_rolls_back_is_reported_lost(store: MemoryMap) -> None:
    store.insert_execution(_execution("e0", 0.5))
    unit = store.unit_of_work()
    unit.__enter__()
    store.insert_execution(_execution("e1"))
    with _full_disk(store):
        with pytest.raises(StoreError, match="full"):
            store.set("big", "value", "x" * 200_000)  # a write that runs at the call
        with pytest.raises(UnitOfWorkLostError, match="rolled back"):
            unit.__exit__(None, None, None)
    assert _other_reader(store) == ["e0"]  # e1 went with the unit
    store.insert_execution(_execution("e2"))  # the store works on
    assert _other_reader(store) == ["e0", "e2"]


def _stored_rows(store: MemoryMap) -> list[tuple[object, ...]]:
    """Every execution row and profit point as another connection reads them (what is committed)."""
    assert store.path is not None
    reader = sqlite3.connect(store.path)
    try:
        executions = reader.execute("SELECT * FROM executions ORDER BY rowid").fetchall()
        points = reader.execute("SELECT * FROM profit_points ORDER BY id").fetchall()
        return [*executions, *points]
    finally:
        reader.close()


def _unit_writes(store: MemoryMap) -> list[ExecutionRecord]:
    """Open e1 and e2, close e1 (known) and e2 (by id only), append points; return the closed records."""
    store.insert_execution(_execution("e1", 1.0))
    store.append_profit_point("p", 1.0, 2.0)
    store.insert_execution(_execution("e2", 2.0))
    closed = [
        store.close_execution(
            "e1", exit_price=101.0, profit=0.9, closed_at=5.0, opened=_execution("e1", 1.0)
        ),
        store.close_execution("e2", exit_price=99.0, profit=-1.1, costs=0.1, closed_at=6.0),
    ]
    store.append_profit_points("p", [(2.0, 3.0), (3.0, 1.5)])
    return closed


def test_a_unit_defers_its_execution_rows_and_points_to_the_same_database_rows(tmp_path: Path) -> None:
    # The same calls, each committed at once and inside one unit (where the opens, the closes of
    # rows opened in the unit and the points wait for its end): the same rows, the same records.
    clock = ManualClock(1_700_000_000.0)
    at_once, in_unit = (
        MemoryMap(data_dir=tmp_path / "a", clock=clock),
        MemoryMap(data_dir=tmp_path / "b", clock=clock),
    )
    try:
        expected = _unit_writes(at_once)
        with in_unit.unit_of_work():
            closed = _unit_writes(in_unit)
            assert _stored_rows(in_unit) == []  # nothing reached the database yet
            assert in_unit._unit.deferred  # they wait as rows
        assert closed == expected
        assert _stored_rows(in_unit) == _stored_rows(at_once)
        assert len(_stored_rows(at_once)) == 5
        assert closed[1] == in_unit.get_execution("e2")
    finally:
        at_once.close()
        in_unit.close()


def test_a_deferred_execution_is_checked_at_the_call(store: MemoryMap) -> None:
    store.insert_execution(_execution("e0", 0.5))
    with store.unit_of_work():
        with pytest.raises(ConflictError):
            store.insert_execution(_execution("e0"))  # taken in the database
        store.insert_execution(_execution("e1"))
        with pytest.raises(ConflictError):
            store.insert_execution(_execution("e1"))  # taken by a row still waiting
        store.close_execution("e1", exit_price=101.0, profit=0.9)
        with pytest.raises(ExecutionAlreadyCompletedError):
            store.close_execution("e1", exit_price=101.0, profit=0.9)
    assert _other_reader(store) == ["e0", "e1"]
    assert store.get_execution("e1").status == "closed"


def test_deferred_rows_that_fail_at_the_units_end_lose_the_unit(store: MemoryMap) -> None:
    unit = store.unit_of_work()
    unit.__enter__()
    store.insert_execution(_execution("e1"))
    store.append_profit_points("p", [(float(i), 0.0) for i in range(5000)])  # waits: no error yet
    with _full_disk(store), pytest.raises(UnitOfWorkLostError, match="full"):
        unit.__exit__(None, None, None)  # a full disk when the rows go in
    assert _other_reader(store) == []
    assert store.profit_points("p") == []
    with store.unit_of_work():  # the next unit starts clean: nothing of the lost one is written
        store.insert_execution(_execution("e2"))
    assert _other_reader(store) == ["e2"]
    assert store.profit_points("p") == []


def test_close_of_a_known_execution_returns_the_row_as_stored(store: MemoryMap) -> None:
    opened = _execution("e1")
    store.insert_execution(opened)
    closed = store.close_execution("e1", exit_price=101.0, profit=0.9, closed_at=5.0, opened=opened)
    assert closed == store.get_execution("e1")
    with pytest.raises(ExecutionAlreadyCompletedError):
        store.close_execution("e1", exit_price=101.0, profit=0.9, opened=opened)


def test_a_unit_lost_before_a_read_is_still_reported_at_its_end(store: MemoryMap) -> None:
    unit = store.unit_of_work()
    unit.__enter__()
    store.insert_execution(_execution("e1"))
    with _full_disk(store), pytest.raises(StoreError, match="full"):
        store.set("big", "value", "x" * 200_000)
    assert store.executions() == []  # the read commits what the unit holds: nothing, it was lost
    with pytest.raises(UnitOfWorkLostError):
        unit.__exit__(None, None, None)
    with store.unit_of_work():  # the next unit starts clean
        store.insert_execution(_execution("e2"))
    assert _other_reader(store) == ["e2"]


def test_a_record_of_its_fields_is_the_dataclass_of_them() -> None:
    """``ExecutionRecord.of`` (the store's and agent's fast path) builds what the constructor builds."""
    import dataclasses

    fields = {
        "execution_id": "e1",
        "agent_id": "a",
        "strategy_id": "S",
        "direction": -1,
        "entry_price": 101.5,
        "opened_at": 1e9,
        "hash_triggers": ("T1",),
        "size": 2.0,
        "costs": 0.25,
        "confidence": None,
        "context": {"symbol": "X"},
        "status": "closed",
        "exit_price": 99.0,
        "profit": 4.75,
        "success": True,
        "closed_at": 1e9 + 60,
    }
    assert set(fields) == {f.name for f in dataclasses.fields(ExecutionRecord)}
    fast = ExecutionRecord.of(dict(fields))
    assert fast == ExecutionRecord(**fields)
    assert repr(fast) == repr(ExecutionRecord(**fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.profit = 0.0  # type: ignore[misc]
    assert dataclasses.replace(fast, profit=1.0).profit == 1.0


def test_the_store_guard_names_a_database_failure_and_lets_the_rest_through() -> None:
    """A database error inside a guarded call is a StoreError naming it; others pass as they are."""
    store = MemoryMap.in_memory()
    failure = "could not read a thing: OperationalError: disk I/O error"
    with pytest.raises(StoreError, match=failure) as caught, store._guard("read a thing"):
        raise sqlite3.OperationalError("disk I/O error")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    with pytest.raises(ExecutionNotFoundError), store._guard("read a thing"):
        raise ExecutionNotFoundError("no such execution")
    with pytest.raises(KeyError), store._guard("read a thing"):
        raise KeyError("not the database's")
    assert store._guard("read a thing") is store._guard("read a thing")  # one guard an action
