"""The memory map's foundation: one engine, its transactions, the error guard, shared checks.

Writers in this process are serialised by one re-entrant lock and, on SQLite, take the database's
write lock up front (``BEGIN IMMEDIATE``), so a read-modify-write inside :meth:`StoreBase._write`
is atomic across threads and processes. Readers get a consistent snapshot and, on a file, run
beside the writers (WAL).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tengri.engine.clock import Clock, SystemClock
from tengri.engine.store.connection import BEGIN_OPTION, create_store_engine, is_memory_sqlite, sqlite_path
from tengri.engine.store.schema import migrate
from tengri.errors import InvalidInputError, StoreError, TengriError

__all__ = ["StoreBase", "check_finite", "check_json"]

log = logging.getLogger(__name__)


def check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not plain JSON (no NaN or infinity): {exc}") from None


def check_finite(what: str, *values: float | None) -> None:
    for value in values:
        if value is not None and not math.isfinite(value):
            raise InvalidInputError(f"{what} must be finite, got {value!r}")


class StoreBase:
    """Connection, transactions and settings of a memory map; see :class:`MemoryMap` for the parameters."""

    def __init__(
        self,
        url: str | None = None,
        *,
        data_dir: str | Path | None = None,
        backups_dir: str | Path | None = None,
        memory_limit_mb: float = 100.0,
        backup_keep: int = 5,
        retention_days: float = 30.0,
        protect_profit_points: int = 10_000,
        clock: Clock | None = None,
    ) -> None:
        if url is None:
            url = f"sqlite:///{(Path(data_dir or 'data') / 'tengri.db').as_posix()}"
        if memory_limit_mb <= 0 or backup_keep < 1 or retention_days < 0 or protect_profit_points < 0:
            raise InvalidInputError(
                "memory_limit_mb must be > 0, backup_keep >= 1, retention_days and protect_profit_points >= 0"
            )
        try:
            self._url = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"invalid store URL: {exc}") from None
        self.clock: Clock = clock or SystemClock()
        self.memory_limit_mb = float(memory_limit_mb)
        self.backup_keep = int(backup_keep)
        self.retention_days = float(retention_days)
        self.protect_profit_points = int(protect_profit_points)
        self.path = sqlite_path(self._url)
        self.is_sqlite = self._url.get_backend_name() == "sqlite"
        self._in_memory = is_memory_sqlite(self._url)
        if backups_dir is not None:
            self.backups_dir = Path(backups_dir)
        elif self.path is not None:
            self.backups_dir = self.path.parent / "backups"
        else:
            self.backups_dir = Path(data_dir or "data") / "backups"
        self._lock = threading.RLock()
        self._closed = False
        self.engine = create_store_engine(self._url)
        with self._guard("migrate the schema"), self._write() as conn:
            applied = migrate(conn, self.clock.now())
        if applied:
            log.info("store %s: applied %d migration(s)", self.url, applied)

    @property
    def url(self) -> str:
        """The store's URL with any password hidden."""
        return self._url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release every connection; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryMap({self.url!r})"

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: this process's writers serialised, SQLite's write lock taken up front."""
        with self._lock:
            if self._closed:
                raise StoreError("the memory map is closed")
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
                with conn.begin():
                    yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot); the one in-memory connection is shared, so locked."""
        guard: AbstractContextManager[Any] = self._lock if self._in_memory else nullcontext()
        with guard:
            if self._closed:
                raise StoreError("the memory map is closed")
            with self.engine.connect() as conn, conn.begin():
                yield conn

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn a database failure into a :class:`StoreError` naming ``action``."""
        try:
            yield
        except TengriError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"could not {action}: {exc.__class__.__name__}: {exc}") from exc

    def _upsert(
        self, conn: Connection, table: sa.Table, values: Mapping[str, Any], keys: tuple[str, ...]
    ) -> None:
        where = [table.c[k] == values[k] for k in keys]
        changes = {k: v for k, v in values.items() if k not in keys}
        if conn.execute(sa.update(table).where(*where).values(changes)).rowcount == 0:
            # Inside the (on SQLite: immediate) transaction no other writer can insert in between.
            conn.execute(sa.insert(table).values(dict(values)))
