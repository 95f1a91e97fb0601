"""How the memory map connects: one SQLAlchemy engine per store, SQLite tuned for durability.

SQLite runs in WAL mode with ``synchronous=FULL`` by default (a commit that returned survives kill -9
and power loss; ``NORMAL`` skips the fsync per commit and survives kill -9 but may lose the last
commits to a power cut), a busy timeout, ``check_same_thread=False`` and incremental auto-vacuum
(so that cleanup can return pages to the file system). pysqlite's own transaction handling is
switched off and Tengri emits ``BEGIN`` itself, as SQLAlchemy's documentation recommends, so that
writers can take the write lock up front with ``BEGIN IMMEDIATE``: a read-modify-write is then
atomic across processes.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import StaticPool

__all__ = [
    "BEGIN_OPTION",
    "BUSY_TIMEOUT_MS",
    "SYNCHRONOUS_MODES",
    "create_store_engine",
    "database_url",
    "dump_json",
    "is_memory_sqlite",
    "make_private_dir",
    "make_private_file",
    "sqlite_path",
]

BUSY_TIMEOUT_MS = 30_000
#: Execution option naming the SQLite ``BEGIN`` mode of a transaction (``DEFERRED`` or ``IMMEDIATE``).
BEGIN_OPTION = "tengri_sqlite_begin"

#: SQLite ``synchronous`` settings a store accepts.
SYNCHRONOUS_MODES = ("full", "normal")

#: The store's JSON text: compact, no NaN or infinity (raises ``ValueError``). One encoder, built
#: once: ``json.dumps`` with options builds a new one per call.
dump_json = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


def database_url(url: str | URL) -> URL:
    """Parse ``url``, naming psycopg (version 3, a dependency) as the driver of a plain ``postgresql://``.

    SQLAlchemy's default PostgreSQL driver is psycopg2 before 2.1 and psycopg from 2.1 on; Tengri
    installs psycopg, so a URL without a driver must mean it whichever SQLAlchemy is installed.
    A URL that names its driver (``postgresql+psycopg2://``) is kept as it is.
    """
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` names an in-memory SQLite database."""
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def sqlite_path(url: URL) -> Path | None:
    """The file of a file-backed SQLite URL, else ``None``."""
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url):
        return None
    return Path(str(url.database))


def _on_connect(synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    # Tengri emits BEGIN itself (see _on_begin); pysqlite must not open transactions on its own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Before the switch to WAL, which writes a new file's first page: synced as the store is
        # (or not at all: see create_store_engine's unsynced_setup).
        cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        # WAL is a property of the file, kept once set: a database in WAL mode has been set up (and
        # auto_vacuum takes effect only on a database without tables). Setting either again would
        # wait for the write lock, so a new reader would wait for a writer's transaction to end.
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


class _ConnectHook:
    """:func:`_on_connect` at ``synchronous``; the first connection at ``OFF`` when ``unsynced_first``."""

    def __init__(self, synchronous: str, unsynced_first: bool) -> None:
        self.synchronous = synchronous
        self.unsynced_first = unsynced_first

    def __call__(self, dbapi_connection: Any, record: Any) -> None:
        level, self.unsynced_first = ("off" if self.unsynced_first else self.synchronous), False
        _on_connect(level, dbapi_connection, record)


def _on_begin(conn: sa.Connection) -> None:
    mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if needed; a directory created here is 0700 (owner only)."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_DIR_MODE)  # the umask can only take bits away from 0700


def make_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist; an existing one is made 0600 (best effort).

    The store holds strategies, executions and profit: only its owner reads it. SQLite creates
    the WAL and shared-memory files with the database file's mode, so they are 0600 too.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    with contextlib.suppress(OSError):
        for name in (path.name, path.name + "-wal", path.name + "-shm", path.name + "-journal"):
            sibling = path.with_name(name)
            if sibling.exists() and sibling.stat().st_mode & 0o077:
                sibling.chmod(PRIVATE_FILE_MODE)


def create_store_engine(url: URL, synchronous: str = "full", *, unsynced_setup: bool = False) -> Engine:
    """Create the one engine of a memory map for ``url``.

    An in-memory SQLite database lives in a single connection shared by every thread
    (``StaticPool``); the store serialises access to it. A file-backed one gets its directory
    created (0700, the file 0600), and ``synchronous`` (one of :data:`SYNCHRONOUS_MODES`) on
    every connection. Other databases (PostgreSQL) get a pre-pinged connection pool.

    ``unsynced_setup`` opens the engine's first connection with ``synchronous = OFF``, for a new
    file's switch to WAL and its schema, which then skip their fsyncs; the caller sets the level
    on that connection once they are done (see :class:`~tengri.engine.store.base.StoreBase`).
    """
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, json_serializer=dump_json, pool_pre_ping=True)
    connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    if is_memory_sqlite(url):
        engine = sa.create_engine(
            url, connect_args=connect_args, poolclass=StaticPool, json_serializer=dump_json
        )
    else:
        path = sqlite_path(url)
        if path is not None:
            make_private_dir(path.parent)
            make_private_file(path)
        engine = sa.create_engine(url, connect_args=connect_args, json_serializer=dump_json)
    event.listen(engine, "connect", _ConnectHook(synchronous, unsynced_setup))
    event.listen(engine, "begin", _on_begin)
    return engine
