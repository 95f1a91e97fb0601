"""A new store's schema (DDL compiled once per process) and its reads on SQLite's driver."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tengri.engine.clock import ManualClock
from tengri.engine.store import MemoryMap, connection
from tengri.engine.store.schema import LATEST_VERSION, MIGRATIONS, metadata


def _schema(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's columns and every index's columns, as SQLite reports them."""
    with sqlite3.connect(path) as conn:
        names = conn.execute("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        found: dict[str, list[tuple[object, ...]]] = {}
        for kind, name, table in sorted(names):
            pragma = "table_info" if kind == "table" else "index_info"
            found[f"{kind} {name} on {table}"] = conn.execute(f"PRAGMA {pragma}({name})").fetchall()
        return found


def test_a_new_store_has_the_schema_sqlalchemy_creates(tmp_path: Path) -> None:
    MemoryMap(data_dir=tmp_path / "tengri").close()
    reference = sa.create_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    metadata.create_all(reference)
    reference.dispose()
    assert _schema(tmp_path / "tengri" / "tengri.db") == _schema(tmp_path / "reference.db")


def test_reopening_a_store_applies_no_migration(tmp_path: Path) -> None:
    MemoryMap(data_dir=tmp_path).close()
    MemoryMap(data_dir=tmp_path).close()
    with sqlite3.connect(tmp_path / "tengri.db") as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(version,) for version, _, _ in MIGRATIONS]
    assert versions[-1] == (LATEST_VERSION,)


def test_a_read_does_not_wait_for_another_threads_unit_of_work(tmp_path: Path) -> None:
    store = MemoryMap(data_dir=tmp_path, clock=ManualClock(1_700_000_000.0))
    store.set("ns", "k", 1)
    written, finish = threading.Event(), threading.Event()

    def writer() -> None:
        with store.unit_of_work():
            store.set("ns", "k", 2)  # holds the store's write lock until the unit ends
            store.append_profit_point("p", 1.0, 5.0)
            written.set()
            finish.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(10)
        # The uncommitted unit is not seen, and the reads return at once rather than wait for it.
        assert store.get("ns", "k") == 1
        assert store.profit_points("p") == []
        assert store.executions() == []
        assert store.size_bytes() is not None
    finally:
        finish.set()
        thread.join(10)
    assert store.get("ns", "k") == 2
    assert store.profit_points("p") == [(1.0, 5.0)]
    store.close()


def test_a_read_inside_a_write_sees_what_is_committed(tmp_path: Path) -> None:
    store = MemoryMap(data_dir=tmp_path, clock=ManualClock(1_700_000_000.0))
    store.set("ns", "k", 1)
    seen = []

    def bump(value: int) -> int:
        seen.append(store.get("ns", "k"))  # a read while update holds the write transaction
        return value + 1

    store.update("ns", "k", bump)
    assert seen == [1]
    assert store.get("ns", "k") == 2
    store.close()


def _synchronous_levels(store: MemoryMap) -> tuple[int, int]:
    """``PRAGMA synchronous`` of the store's writer and of a new connection (1 NORMAL, 2 FULL)."""
    assert store._raw is not None
    writer = store._raw.driver.execute("PRAGMA synchronous").fetchone()[0]
    with store.engine.connect() as conn:
        reader = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
    return writer, reader


def test_a_new_normal_store_is_set_up_unsynced_and_then_runs_at_its_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    levels: list[str] = []
    real = connection._on_connect
    monkeypatch.setattr(connection, "_on_connect", lambda level, *a: (levels.append(level), real(level, *a)))
    store = MemoryMap(data_dir=tmp_path, synchronous="normal")
    try:
        assert levels == ["off"]  # the writer's connection: the WAL switch and the schema
        assert _synchronous_levels(store) == (1, 1)  # then NORMAL, on it and on every other
        store.set("ns", "k", 1)
    finally:
        store.close()
    levels.clear()
    reopened = MemoryMap(data_dir=tmp_path, synchronous="normal")  # an existing file: its level throughout
    try:
        assert levels == ["normal"]
        assert reopened.get("ns", "k") == 1
    finally:
        reopened.close()


def test_a_full_store_is_synced_from_its_first_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    levels: list[str] = []
    real = connection._on_connect
    monkeypatch.setattr(connection, "_on_connect", lambda level, *a: (levels.append(level), real(level, *a)))
    store = MemoryMap(data_dir=tmp_path, synchronous="full")
    try:
        assert levels == ["full"]
        assert _synchronous_levels(store) == (2, 2)
    finally:
        store.close()
