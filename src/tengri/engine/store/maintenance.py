"""Keeping the memory map healthy: online backup with rotation, restore, cleanup, integrity check.

Backups use SQLite's own online backup API (``sqlite3.Connection.backup``): a consistent copy taken
while writers carry on. For other databases the store refuses and names the database's own tool.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tengri.engine.store.connection import make_private_dir, make_private_file
from tengri.engine.store.records import CleanupReport, IntegrityReport
from tengri.engine.store.schema import (
    LATEST_VERSION,
    executions,
    metadata,
    migrate,
    profit_points,
    stored_version,
)
from tengri.errors import StoreError

if TYPE_CHECKING:
    from tengri.engine.store.memory_map import MemoryMap

__all__ = [
    "backup",
    "check_file",
    "checkpoint_wal",
    "cleanup",
    "integrity",
    "list_backups",
    "live_size",
    "recover_damaged",
    "restore",
    "sqlite_live_size",
]

log = logging.getLogger(__name__)

_PREFIX = "tengri-"
_SUFFIX = ".db"
_BATCH = 5_000
#: Cleanup stops once live pages fall under this share of the limit, so it does not run every time.
_TARGET_SHARE = 0.9


def _sqlite_only(store: MemoryMap, action: str) -> None:
    if not store.is_sqlite:
        raise StoreError(
            f"cannot {action} a {store.engine.dialect.name} store from Tengri: use the database's own "
            "tools (for PostgreSQL: pg_dump and pg_restore)"
        )


def list_backups(backups_dir: Path) -> list[Path]:
    """Return the backups in ``backups_dir``, oldest first (names sort by time)."""
    if not backups_dir.is_dir():
        return []
    return sorted(p for p in backups_dir.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX))


def _backup_path(store: MemoryMap) -> Path:
    stamp = dt.datetime.fromtimestamp(store.clock.now(), tz=dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for n in range(1000):
        path = store.backups_dir / f"{_PREFIX}{stamp}-{n:03d}{_SUFFIX}"
        if not path.exists():
            return path
    raise StoreError(f"too many backups with time stamp {stamp} in {store.backups_dir}")


def _copy_into(source: sqlite3.Connection, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    make_private_file(tmp)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target)
        # A backup is one self-contained file: no WAL beside it.
        target.execute("PRAGMA journal_mode = DELETE").fetchall()
    finally:
        target.close()
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)


def backup(store: MemoryMap, *, rotate: bool) -> Path:
    """Copy the live database into a new file under ``store.backups_dir``; rotate if asked."""
    _sqlite_only(store, "back up")
    make_private_dir(store.backups_dir)
    with store._lock:  # a name per call, and the one in-memory connection is shared
        path = _backup_path(store)
        raw = store.engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            _copy_into(source, path)
        finally:
            raw.close()
    if rotate:
        for old in list_backups(store.backups_dir)[: -store.backup_keep]:
            old.unlink(missing_ok=True)
    return path


def checkpoint_wal(store: MemoryMap) -> None:
    """Copy a SQLite file store's write-ahead log into its database file now (a no-op elsewhere).

    What closing the store's last connection would otherwise do, fsync included; done ahead (on
    another thread while the caller still reads, say) the close has little left. ``PASSIVE``: it
    never waits for a reader or a writer, and copies what it can.
    """
    if not (store.is_sqlite and store.path is not None):
        return
    raw = store.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        raw.close()


def _check_backup(path: Path) -> None:
    if not path.is_file():
        raise StoreError(f"backup not found: {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open backup {path}: {exc}") from None
    try:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = 0
        if "schema_version" in tables:
            version = int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a Tengri store backup: {exc}") from None
    finally:
        conn.close()
    if result != ["ok"]:
        raise StoreError(f"backup {path} is damaged: {'; '.join(result[:5])}")
    if version == 0:
        raise StoreError(f"{path} is not a Tengri store backup (no schema version)")
    if version > LATEST_VERSION:
        raise StoreError(
            f"backup {path} has schema version {version}, newer than this Tengri's {LATEST_VERSION}"
        )


def check_file(path: Path) -> list[str]:
    """Return the problems ``PRAGMA integrity_check`` finds in the SQLite file ``path`` (none: good).

    The file is opened as the store would open it, so that a WAL beside it is checked too.
    """
    try:
        conn = sqlite3.connect(path)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
    except sqlite3.DatabaseError as exc:
        return [f"{type(exc).__name__}: {exc}"]
    finally:
        conn.close()


def recover_damaged(path: Path, backups_dir: Path, now: float) -> Path:
    """Move a damaged store file aside and put the newest good backup in its place.

    The file (and its ``-wal`` and ``-shm`` companions) becomes ``<name>.corrupt-<timestamp>``;
    nothing is deleted. Returns the backup restored.

    Raises
    ------
    StoreError
        If no backup in ``backups_dir`` passes its integrity check (the damaged file stays moved
        aside, and the store does not start empty).
    """
    stamp = dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, aside.with_name(aside.name + suffix))
    rejected: list[str] = []
    for candidate in reversed(list_backups(backups_dir)):
        try:
            _check_backup(candidate)
        except StoreError as exc:
            rejected.append(exc.message)
            continue
        tmp = path.with_name(path.name + ".restoring")
        shutil.copyfile(candidate, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        log.warning(
            "store %s failed its integrity check: moved aside to %s and restored the backup %s "
            "(writes after that backup are only in the damaged file)",
            path,
            aside,
            candidate,
        )
        return candidate
    raise StoreError(
        f"store {path} failed its integrity check and was moved aside to {aside}; no good backup in "
        f"{backups_dir} to restore"
        + (f" ({'; '.join(rejected)})" if rejected else "")
        + ": restore one by hand or start a new store deliberately"
    )


def restore(store: MemoryMap, path: Path) -> Path | None:
    """Replace the live content by the backup at ``path``; return the pre-restore backup."""
    _sqlite_only(store, "restore")
    _check_backup(path)
    with store._lock:
        before = backup(store, rotate=False)
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        raw = store.engine.raw_connection()
        try:
            target = raw.driver_connection
            assert isinstance(target, sqlite3.Connection)
            source.backup(target)
        except sqlite3.Error as exc:
            raise StoreError(f"restore from {path} failed; the store is unchanged: {exc}") from None
        finally:
            raw.close()
            source.close()
        if not store._in_memory:
            # Pooled connections may cache the old schema; new ones re-apply the pragmas.
            store.engine.dispose()
            store._open_writer()
        with store._write() as conn:
            migrate(conn, store.clock.now())
    return before


def sqlite_live_size(driver: sqlite3.Connection) -> int:
    """Bytes of a SQLite database's live pages, read on its driver connection."""
    page_size = int(driver.execute("PRAGMA page_size").fetchone()[0])
    pages = int(driver.execute("PRAGMA page_count").fetchone()[0])
    free = int(driver.execute("PRAGMA freelist_count").fetchone()[0])
    return (pages - free) * page_size


def live_size(conn: Connection) -> int | None:
    """Bytes of live pages (SQLite) or of the database (PostgreSQL); ``None`` elsewhere."""
    name = conn.dialect.name
    if name == "sqlite":
        page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
        return (pages - free) * page_size
    if name == "postgresql":
        return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())
    return None


def _delete_profit_batch(conn: Connection, protect: int) -> int:
    deleted = 0
    streams = list(conn.execute(sa.select(profit_points.c.stream).distinct()).scalars())
    for stream in streams:
        # The id of the newest point that may go: everything at or below it is expendable.
        last_expendable = conn.execute(
            sa.select(profit_points.c.id)
            .where(profit_points.c.stream == stream)
            .order_by(profit_points.c.id.desc())
            .limit(1)
            .offset(protect)
        ).scalar()
        if last_expendable is None:
            continue
        oldest = (
            sa.select(profit_points.c.id)
            .where(profit_points.c.stream == stream, profit_points.c.id <= last_expendable)
            .order_by(profit_points.c.id)
            .limit(_BATCH)
        )
        deleted += int(conn.execute(sa.delete(profit_points).where(profit_points.c.id.in_(oldest))).rowcount)
    return deleted


def _delete_execution_batch(conn: Connection, cutoff: float) -> int:
    oldest = (
        sa.select(executions.c.execution_id)
        .where(executions.c.status != "open", executions.c.closed_at < cutoff)
        .order_by(executions.c.closed_at)
        .limit(_BATCH)
    )
    return int(conn.execute(sa.delete(executions).where(executions.c.execution_id.in_(oldest))).rowcount)


def cleanup(store: MemoryMap, limit_bytes: int) -> CleanupReport:
    """Delete expendable rows in batches, oldest first, until under 90% of ``limit_bytes``."""
    before = store._live_size()
    if before is None or before <= limit_bytes:
        return CleanupReport(limit_bytes=limit_bytes, size_before=before, size_after=before)
    target = int(limit_bytes * _TARGET_SHARE)
    cutoff = store.clock.now() - store.retention_days * 86_400.0
    size: int | None = before
    points = rows = 0
    while size is not None and size > target:
        with store._write() as conn:
            batch = _delete_profit_batch(conn, store.protect_profit_points)
            points += batch
            if batch == 0:
                batch = _delete_execution_batch(conn, cutoff)
                rows += batch
        size = store._live_size()
        if batch == 0:
            break
    if store.is_sqlite:
        with store._lock:
            # Hand the freed pages back to the file system (auto_vacuum is INCREMENTAL). The pragma
            # frees one page per step; executescript (sqlite3_exec) steps it to the end.
            raw = store.engine.raw_connection()
            try:
                driver = raw.driver_connection
                assert isinstance(driver, sqlite3.Connection)
                driver.executescript("PRAGMA incremental_vacuum;")
            finally:
                raw.close()
    return CleanupReport(
        limit_bytes=limit_bytes,
        size_before=before,
        size_after=size,
        profit_points_deleted=points,
        executions_deleted=rows,
        ran=True,
    )


def integrity(conn: Connection, is_sqlite: bool) -> IntegrityReport:
    """Check pages (SQLite), expected tables and schema version."""
    problems: list[str] = []
    if is_sqlite:
        result: list[Any] = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
        if result != ["ok"]:
            problems.extend(str(r) for r in result)
    present = set(sa.inspect(conn).get_table_names())
    problems.extend(f"missing table {name}" for name in metadata.tables if name not in present)
    version = stored_version(conn)
    if version != LATEST_VERSION:
        problems.append(f"schema version {version}, expected {LATEST_VERSION}")
    return IntegrityReport(ok=not problems, problems=tuple(problems), schema_version=version)
