"""The memory map: the persistent, thread-safe store every engine component shares.

SQLAlchemy Core over SQLite (WAL, ``synchronous=FULL``) by default, any SQLAlchemy URL otherwise
(PostgreSQL for several processes or hosts). A namespaced key/value API with JSON values, typed
tables for executions, triggers, profit points and the thermal budget (see :mod:`.schema`), and
maintenance (backup, restore, cleanup, integrity check; see :mod:`.maintenance`).

Durability: every method that writes commits before it returns, so a write that returned survives
kill -9 (and, with ``synchronous=FULL``, power loss). A method that raises wrote nothing.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from tengri.config import TengriConfig
from tengri.engine.clock import Clock
from tengri.engine.store import maintenance
from tengri.engine.store.records import CleanupReport, IntegrityReport
from tengri.engine.store.schema import executions, kv, profit_points, thermal_budget, triggers
from tengri.engine.store.statements import (
    LOCK_KEY,
    SELECT_KV,
    SELECT_KV_FOR_UPDATE,
    UPSERT_KV,
    Transaction,
)
from tengri.engine.store.tables import StoreTables

__all__ = ["MemoryMap"]

log = logging.getLogger(__name__)


class MemoryMap(StoreTables):
    """The engine's persistent store; every public method is thread-safe.

    Parameters
    ----------
    url
        A SQLAlchemy URL. ``None`` means the SQLite file ``<data_dir>/tengri.db``.
    data_dir
        Directory of the default SQLite file (default ``data``).
    backups_dir
        Where :meth:`backup` writes (default ``backups`` next to the SQLite file).
    memory_limit_mb
        Size of live database pages above which :meth:`cleanup` removes expendable rows.
    backup_keep
        How many backups :meth:`backup` keeps (oldest removed first).
    retention_days
        Closed or expired executions younger than this are never removed by cleanup.
    protect_profit_points
        Newest profit points per stream that cleanup never removes (the profit window).
    clock
        Source of every time the store records (default :class:`SystemClock`).
    synchronous
        SQLite's ``synchronous`` setting: ``"full"`` (default) fsyncs every commit, so a write
        that returned survives a power cut; ``"normal"`` fsyncs only at WAL checkpoints: a write
        that returned still survives kill -9 of the process, but the last ones may be lost to a
        power cut or an OS crash.
    check_on_open
        Run ``PRAGMA integrity_check`` on an existing SQLite file before using it (default). A
        damaged file is moved aside to ``<name>.corrupt-<timestamp>`` and the newest backup that
        passes its own check is restored in its place, with a warning naming both files; with no
        good backup, :class:`StoreError` is raised (the store never starts empty in its place).
    """

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: TengriConfig, *, clock: Clock | None = None) -> Self:
        """Open the store that ``config`` describes (``store`` section and ``data_dir``)."""
        return cls(
            config.store_url,
            data_dir=config.data_dir,
            backups_dir=config.backups_dir,
            memory_limit_mb=config.store.memory_limit_mb,
            backup_keep=config.store.backup_keep,
            retention_days=config.store.retention_days,
            protect_profit_points=config.engine.profit_window_size,
            synchronous=config.store.synchronous,
            clock=clock,
        )

    @classmethod
    def in_memory(cls, *, clock: Clock | None = None, **options: Any) -> Self:
        """Open a private in-memory SQLite store: the store's fake for tests, never persisted."""
        return cls("sqlite://", clock=clock, **options)

    # -- key/value ----------------------------------------------------------------------------

    def get(self, namespace: str, key: str, default: Any = None) -> Any:
        """Return the JSON value at ``namespace``/``key``, or ``default`` when there is none."""
        rows = self._fetch(SELECT_KV, {"namespace": namespace, "key": key}, "read a key")
        return default if not rows else rows[0]["value"]

    def set(self, namespace: str, key: str, value: Any) -> None:
        """Store ``value`` (plain JSON: tuples come back as lists) at ``namespace``/``key``."""
        stored = self._json_param(value, f"value of {namespace}/{key}")
        with self._transaction("write a key") as txn:
            self._put_kv(txn, namespace, key, stored)

    def update(self, namespace: str, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        """Replace the value at ``namespace``/``key`` by ``fn(value)`` atomically and return it.

        ``fn`` receives a copy of the current value (``default`` when there is none) while the
        store's write lock is held, so concurrent updates from threads or processes never lose one
        another's change. If ``fn`` raises, nothing is written and the exception propagates.
        """
        with self._transaction("update a key") as txn:
            if self.engine.dialect.name == "postgresql":
                # FOR UPDATE locks no row that is not there yet: two first updates would both
                # start from the default. A lock on the key's name serialises them.
                txn.execute(LOCK_KEY, {"name": f"{namespace}\x1f{key}"})
            row = txn.first(SELECT_KV_FOR_UPDATE, {"namespace": namespace, "key": key})
            new = fn(copy.deepcopy(default) if row is None else row["value"])
            self._put_kv(txn, namespace, key, self._json_param(new, f"value of {namespace}/{key}"))
        return new

    def delete(self, namespace: str, key: str) -> bool:
        """Remove ``namespace``/``key``; return whether it existed."""
        with self._guard("delete a key"), self._write() as conn:
            result = conn.execute(sa.delete(kv).where(kv.c.namespace == namespace, kv.c.key == key))
        return bool(result.rowcount)

    def items(self, namespace: str) -> dict[str, Any]:
        """Return every key of ``namespace`` with its value, in key order."""
        with self._guard("read a namespace"), self._read() as conn:
            rows = conn.execute(
                sa.select(kv.c.key, kv.c.value).where(kv.c.namespace == namespace).order_by(kv.c.key)
            ).all()
        return {row.key: row.value for row in rows}

    def namespaces(self) -> list[str]:
        """Return the namespaces that hold at least one key."""
        with self._guard("list namespaces"), self._read() as conn:
            return list(conn.execute(sa.select(kv.c.namespace).distinct().order_by(kv.c.namespace)).scalars())

    def _put_kv(self, txn: Transaction, namespace: str, key: str, stored: Any) -> None:
        """Write ``stored`` (as :meth:`_json_param` returned it) at ``namespace``/``key``."""
        txn.upsert(
            UPSERT_KV, {"namespace": namespace, "key": key, "value": stored, "updated_at": self.clock.now()}
        )

    # -- maintenance --------------------------------------------------------------------------

    def size_bytes(self) -> int | None:
        """Bytes of live (non-free) database pages; ``None`` where the database cannot say."""
        return self._live_size()

    def backup(self) -> Path:
        """Write an online backup into :attr:`backups_dir`, keep the newest ``backup_keep``; return it.

        Raises
        ------
        StoreError
            For a database other than SQLite: use its own tools (``pg_dump``).
        """
        with self._guard("back up the store"):
            path = maintenance.backup(self, rotate=True)
        log.info("store backed up to %s", path)
        return path

    def checkpoint_wal(self) -> None:
        """Copy a SQLite file store's write-ahead log into the database file now (a no-op elsewhere).

        The work (and fsync) closing the store would otherwise do, done ahead: a replay does it
        on a thread while it writes its run files, so its close is quick.

        Raises
        ------
        StoreError
            If the database fails.
        """
        with self._guard("checkpoint the write-ahead log"):
            maintenance.checkpoint_wal(self)

    def backups(self) -> list[Path]:
        """Return the backups in :attr:`backups_dir`, oldest first."""
        return maintenance.list_backups(self.backups_dir)

    def restore(self, backup: str | Path) -> Path | None:
        """Replace the store's content by ``backup`` online; return the pre-restore backup.

        The current content is backed up first (without rotation, so the backup being restored
        is never rotated away); the backup is checked for integrity and schema version before
        anything changes, and migrated after.

        Raises
        ------
        StoreError
            If the backup is missing, damaged, from a newer schema, or the store is not SQLite.
        """
        with self._guard("restore the store"):
            return maintenance.restore(self, Path(backup))

    def cleanup(self, limit_mb: float | None = None) -> CleanupReport:
        """Remove the oldest expendable rows while the store is over its memory limit.

        Expendable, oldest first: profit points beyond the newest ``protect_profit_points`` of each
        stream, then closed or expired executions closed more than ``retention_days`` ago. Never
        an open execution, a trigger (its row is its last state), a key or the budget. Stops at
        90% of the limit. On SQLite the freed pages go back to the file system.
        """
        limit = self.memory_limit_mb if limit_mb is None else limit_mb
        with self._guard("clean up the store"):
            report = maintenance.cleanup(self, int(limit * 1024 * 1024))
        if report.ran:
            log.info("store cleanup: %s", report)
            if not report.under_limit:
                log.warning("store still over %.1f MB after removing every expendable row", limit)
        return report

    def integrity_check(self) -> IntegrityReport:
        """Check the database (SQLite ``PRAGMA integrity_check``), its tables and schema version."""
        with self._guard("check the store"), self._read() as conn:
            return maintenance.integrity(conn, self.is_sqlite)

    def statistics(self) -> dict[str, Any]:
        """Return a JSON-ready summary: URL, row counts per table, size, schema version."""
        counts: dict[str, int] = {}
        with self._guard("count rows"), self._read() as conn:
            for table in (kv, executions, triggers, profit_points, thermal_budget):
                counts[table.name] = int(
                    conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
            open_count = conn.execute(
                sa.select(sa.func.count()).select_from(executions).where(executions.c.status == "open")
            ).scalar_one()
        return {
            "url": self.url,
            "rows": counts,
            "open_executions": int(open_count),
            "size_bytes": self.size_bytes(),
            "memory_limit_mb": self.memory_limit_mb,
            "backups": len(self.backups()),
        }
