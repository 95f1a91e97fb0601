"""The memory map's foundation: one engine, its transactions, the error guard, shared checks.

Writers in this process are serialised by one re-entrant lock and, on SQLite, take the database's
write lock up front (``BEGIN IMMEDIATE``), so a read-modify-write inside :meth:`StoreBase._write`
is atomic across threads and processes. Readers get a consistent snapshot and, on a file, run
beside the writers (WAL). On a SQLite file the typed tables' reads run their SQL (built once) on a
driver connection, the writer's when no thread is writing (see :meth:`StoreBase._fetch`): a read
through SQLAlchemy costs some 200 µs, most of a new run's startup.

On SQLite every write runs on one long-lived connection of the store's (the lock serialises its
use), so that a write pays neither a pool checkout nor a connection reset; the frequent writes
run on its driver connection directly (see :mod:`.statements`). Other databases keep a
pre-pinged pool, where a connection per transaction survives the server dropping idle ones.

Each write commits on its own, unless the writing thread is inside :meth:`StoreBase.unit_of_work`:
there (on SQLite) the writes join one transaction, each in a savepoint, and commit together when
the unit ends. A tick of the orchestrator is one unit: one commit (one fsync) instead of one per
open, close, profit point and checkpoint, and a kill mid-tick leaves none of the tick's writes.

The most frequent writes of a unit wait for its end (:meth:`StoreBase._deferring`): an execution's
insert, its close while that insert still waits, and profit points. They are kept as rows and
written together (``executemany``) before anything else reads or writes the database and before
the unit commits, so the database sees the same rows in the same order, and nothing more is lost
to a kill. An execution that opens and closes within a unit is then one insert of the closed row
instead of an insert, an update and two savepoints each: a replay's unit spans a checkpoint's
ticks. Their checks still run at the call: a duplicate execution id is looked up in the unit's
transaction, which holds the write lock, so no other writer can take the id before the rows go in.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tengri.engine import _kernel
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.store.connection import (
    BEGIN_OPTION,
    SYNCHRONOUS_MODES,
    create_store_engine,
    database_url,
    dump_json,
    is_memory_sqlite,
    sqlite_path,
)
from tengri.engine.store.maintenance import check_file, live_size, recover_damaged, sqlite_live_size
from tengri.engine.store.schema import migrate
from tengri.engine.store.statements import CoreTransaction, SqliteTransaction, Statement, Transaction
from tengri.errors import InvalidInputError, StoreError, TengriError, UnitOfWorkLostError

__all__ = ["StoreBase", "check_finite", "check_json", "json_text"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


def json_text(value: Any, what: str) -> str:
    """Return ``value`` as the store's JSON text; raise :class:`InvalidInputError` if it is not JSON."""
    try:
        return dump_json(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not plain JSON (no NaN or infinity): {exc}") from None


def check_json(value: Any, what: str) -> None:
    json_text(value, what)


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
        synchronous: str = "full",
        check_on_open: bool = True,
    ) -> None:
        if url is None:
            url = f"sqlite:///{(Path(data_dir or 'data') / 'tengri.db').as_posix()}"
        if memory_limit_mb <= 0 or backup_keep < 1 or retention_days < 0 or protect_profit_points < 0:
            raise InvalidInputError(
                "memory_limit_mb must be > 0, backup_keep >= 1, retention_days and protect_profit_points >= 0"
            )
        if synchronous not in SYNCHRONOUS_MODES:
            raise InvalidInputError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
        try:
            self._url = database_url(url)
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
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self._unit = _UnitState()  # this thread's unit of work (see unit_of_work)
        self._closed = False
        #: The backup restored at start because the file failed its integrity check, if any.
        self.restored_from: Path | None = None
        exists = self.path is not None and self.path.is_file() and self.path.stat().st_size > 0
        if check_on_open and exists:
            assert self.path is not None
            problems = check_file(self.path)
            if problems:
                log.warning("store %s fails its integrity check: %s", self.path, "; ".join(problems[:5]))
                self.restored_from = recover_damaged(self.path, self.backups_dir, self.clock.now())
        # A new file at "normal" (which promises no more than surviving kill -9, which needs no
        # fsync) is switched to WAL and given its schema unsynced: that saves a millisecond of a
        # replay's startup. A power cut in that moment can lose only the empty file. "full"
        # syncs from the first write: its later commits must not rest on an unsynced header.
        unsynced_setup = self.path is not None and not exists and synchronous == "normal"
        self.engine = create_store_engine(self._url, synchronous, unsynced_setup=unsynced_setup)
        self._writer: Connection | None = None
        self._raw: SqliteTransaction | None = None  # the writer's driver connection, for the prepared writes
        self._open_writer()
        with self._guard("migrate the schema"), self._write() as conn:
            applied = migrate(conn, self.clock.now())
        if unsynced_setup:
            self._sync_writer()
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
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                self._raw = None
            self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryMap({self.url!r})"

    # -- transactions -------------------------------------------------------------------------

    def _open_writer(self) -> None:
        """(Re)open the long-lived SQLite write connection; a no-op for other databases."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                self._raw = None
            if self.is_sqlite:
                self._writer = self.engine.connect().execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
                driver = self._writer.connection.driver_connection
                assert isinstance(driver, sqlite3.Connection)
                self._raw = SqliteTransaction(driver)

    def _sync_writer(self) -> None:
        """Set the writer's connection to the store's ``synchronous`` (after an unsynced setup)."""
        if self._raw is not None:
            self._raw.driver.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: this process's writers serialised, SQLite's write lock taken up front."""
        self._flush_unit()
        with self._lock:
            if self._closed:
                raise StoreError("the memory map is closed")
            if self._writer is not None:
                with self._writer.begin():
                    yield self._writer
                return
            with self.engine.connect() as conn, conn.begin():
                yield conn

    # -- units of work ------------------------------------------------------------------------

    def unit_of_work(self) -> _kernel.UnitOfWork:
        """Group this thread's writes inside the block into one transaction, committed at its end.

        Each write runs in a savepoint: one that fails is rolled back alone and raises as it would
        outside, and the others stay. The deferred writes (executions' openings and closings,
        profit points; see the module docstring) are checked at the call and written before the
        next other statement: a database failure of theirs loses the unit. The transaction begins
        at the first write and holds the store's write lock until the block ends; a read inside
        the block, and a maintenance write, first commit what the block has written so far. Units
        nest (the outermost commits). On databases other than SQLite each write commits on its
        own, as outside a unit. A unit held across several of an orchestrator's ticks keeps the
        write lock between them: no other thread may then write through that engine (start it
        with ``background=False``, as a replay does, so that no duty thread does).

        Raises
        ------
        UnitOfWorkLostError
            At the end of the block, when the database rolled back the transaction (SQLite does on
            a full disk or an I/O error) or the commit failed: none of the block's writes since
            its last commit happened.
        """
        return _kernel.UnitOfWork(self)  # compiled: a tick enters one

    def _driver(self) -> sqlite3.Connection:
        assert self._raw is not None
        return self._raw.driver

    def _end_unit(self) -> None:
        """Commit this thread's unit of work, if it wrote; raise :class:`UnitOfWorkLostError` if it failed."""
        unit = self._unit
        lost = unit.lost
        if lost is not None:
            unit.lost = None
        if not unit.begun:
            unit.deferred = {}
            if lost is not None:  # a flush inside the unit failed, and nothing was written since
                raise UnitOfWorkLostError(f"a unit of work was rolled back ({lost})")
            return
        unit.begun = False
        try:
            if self._writer is None:
                unit.deferred = {}
                raise UnitOfWorkLostError("a unit of work was rolled back (the memory map was closed)")
            driver = self._driver()
            if lost is None and driver.in_transaction:
                try:
                    if unit.deferred:
                        self._write_deferred(driver)
                    driver.execute("COMMIT")
                    return
                except sqlite3.Error as exc:
                    lost = f"the commit failed: {exc.__class__.__name__}: {exc}"
            unit.deferred = {}
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise UnitOfWorkLostError(f"a unit of work was rolled back ({lost or 'the database ended it'})")
        finally:
            self._lock.release()  # taken when the unit began its transaction

    def _deferring(self) -> sqlite3.Connection | None:
        """The driver connection, its unit's transaction begun, when this thread's write may wait.

        On SQLite inside a unit of work, a write kept in :meth:`_deferred` waits for the unit's
        end (see the module docstring); elsewhere this returns None and the caller writes now.
        A database failure to begin the transaction propagates (the caller's guard names it).
        """
        raw = self._raw
        if raw is None or self._unit.depth == 0:
            return None
        _begin_unit(self, raw.driver)
        return raw.driver

    def _deferred(self, statement: Statement) -> dict[Any, dict[str, Any]]:
        """This thread's rows of ``statement`` waiting for its unit's end, by key (in call order)."""
        rows = self._unit.deferred.get(statement)
        if rows is None:
            rows = self._unit.deferred[statement] = {}
        return rows

    def _write_deferred(self, driver: sqlite3.Connection) -> None:
        """Write this thread's deferred rows in the unit's transaction, a statement's rows at a time."""
        unit = self._unit
        deferred, unit.deferred = unit.deferred, {}
        for statement, rows in deferred.items():
            literals = statement.literals
            driver.executemany(
                statement.sql, [{**literals, **row} for row in rows.values()] if literals else rows.values()
            )

    def _flush_unit(self) -> None:
        """Commit this thread's unit of work so far (before a read or a maintenance write)."""
        if self._unit.begun and self._unit.depth > 0:
            try:
                self._end_unit()
            except UnitOfWorkLostError as exc:
                self._unit.lost = exc.message  # reported when the unit ends

    def _transaction(self, action: str) -> _Write:
        """A write transaction for the prepared statements of :mod:`.statements`; ``action`` names it.

        The same guarantees as :meth:`_write`. On SQLite it runs on the writer's driver connection:
        ``BEGIN IMMEDIATE`` and ``COMMIT`` (fsynced as ``synchronous`` says) are the driver's. In a
        unit of work (:meth:`unit_of_work`) it is a savepoint of the unit's transaction. A database
        failure raises :class:`StoreError` ("could not <action>: …", the driver's error as its
        cause); any other exception rolls the write back and propagates as it is.
        """
        return _Write(self, action)

    def _json_param(self, value: Any, what: str) -> Any:
        """Check that ``value`` is JSON; return it as :meth:`_transaction` takes it (text on SQLite)."""
        text = json_text(value, what)
        return text if self._raw is not None else value

    @property
    def _empty_list(self) -> Any:
        """``_json_param([])`` without encoding it (a new list each time: the caller may keep it)."""
        return "[]" if self._raw is not None else []

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot); the one in-memory connection is shared, so locked."""
        self._flush_unit()
        guard: AbstractContextManager[Any] = self._lock if self._in_memory else nullcontext()
        with guard:
            if self._closed:
                raise StoreError("the memory map is closed")
            with self.engine.connect() as conn, conn.begin():
                yield conn

    def _fetch(self, statement: Statement, params: Mapping[str, Any], action: str) -> list[Mapping[str, Any]]:
        """Run the read ``statement`` (built once, see :mod:`.statements`); return its rows by column name.

        On a file-backed SQLite store the statement's SQL runs straight on a driver connection
        (see :meth:`_on_driver`), its values decoded as SQLAlchemy decodes them; elsewhere
        SQLAlchemy runs it in :meth:`_read`. ``action`` names the read in a :class:`StoreError`.
        """
        if self.path is None or self._raw is None:
            with self._guard(action), self._read() as conn:
                return [dict(row) for row in conn.execute(statement.core, dict(params)).mappings()]
        bound = {**statement.literals, **params} if statement.literals else params
        return self._on_driver(
            lambda driver: _decoded(statement, driver.execute(statement.sql, bound).fetchall()), action
        )

    def _stream(
        self, statement: Statement, params: Mapping[str, Any], batch: int, action: str
    ) -> Iterator[Mapping[str, Any]]:
        """Yield the rows of the read ``statement`` by column name, fetched ``batch`` at a time.

        One statement, so one consistent snapshot, however slowly the rows are consumed; they
        are decoded as :meth:`_fetch` decodes them. On a file-backed SQLite store a pooled driver
        connection runs the statement's SQL (the writer's connection stays free for writes while
        the caller consumes the rows); elsewhere SQLAlchemy runs it in :meth:`_read`. Stop early
        and the read ends when the iterator is closed or collected.
        """
        if self.path is None or self._raw is None:
            with self._guard(action), self._read() as conn:
                for rows in conn.execute(statement.core, dict(params)).mappings().partitions(batch):
                    yield from cast(Sequence[Mapping[str, Any]], rows)
            return
        self._flush_unit()
        bound = {**statement.literals, **params} if statement.literals else params
        with self._guard(action):
            if self._closed:
                raise StoreError("the memory map is closed")
            pooled = self.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            with self._guard(action):
                cursor = driver.execute(statement.sql, bound)
                decoded = _decoded(statement, cursor.fetchmany(batch))
            while decoded:
                yield from decoded
                with self._guard(action):
                    decoded = _decoded(statement, cursor.fetchmany(batch))
        finally:
            pooled.close()

    def _on_driver(self, read: Callable[[sqlite3.Connection], _T], action: str) -> _T:
        """Run ``read`` on a driver connection of this file-backed SQLite store, outside a transaction.

        The writer's connection when no thread is using it (the read needs no second connection),
        else a pooled one, so that a read never waits for a writer (WAL). One statement in SQLite's
        autocommit mode reads one consistent snapshot, as :meth:`_read`'s transaction does.
        """
        self._flush_unit()
        with self._guard(action):
            if self._closed:
                raise StoreError("the memory map is closed")
            if self._lock.acquire(blocking=False):
                try:
                    raw = self._raw
                    if raw is not None and not raw.driver.in_transaction:
                        return read(raw.driver)
                finally:
                    self._lock.release()
            pooled = self.engine.raw_connection()
            try:
                driver = pooled.driver_connection
                assert isinstance(driver, sqlite3.Connection)
                return read(driver)
            finally:
                pooled.close()

    def _live_size(self) -> int | None:
        """Bytes of live database pages (see :func:`.maintenance.live_size`)."""
        if self.path is not None and self._raw is not None:
            return self._on_driver(sqlite_live_size, "measure the store")
        with self._guard("measure the store"), self._read() as conn:
            return live_size(conn)

    def _guard(self, action: str) -> _Guard:
        """Turn a database failure into a :class:`StoreError` naming ``action``."""
        guard = _GUARDS.get(action)
        if guard is None:
            guard = _Guard(action)
            if len(_GUARDS) < 1_000:  # the actions are the store's own few words
                _GUARDS[action] = guard
        return guard


class _Guard:
    """The context manager of :meth:`StoreBase._guard` (a class: the store enters one on every call).

    A database error raised inside becomes a :class:`StoreError` naming the action (its cause
    the database's error); Tengri's own errors and anything else pass through as they are.
    """

    __slots__ = ("_action",)

    def __init__(self, action: str) -> None:
        self._action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, TengriError) or not isinstance(exc, _DATABASE_ERRORS):
            return  # nothing to turn: whatever was raised goes on as it is
        raise _store_error(self._action, exc) from exc


def _decoded(statement: Statement, rows: list[Any]) -> list[Mapping[str, Any]]:
    """``rows`` of ``statement`` from the driver, by column name, decoded as SQLAlchemy decodes them."""
    columns, decoders = statement.columns, statement.decoders
    found: list[Mapping[str, Any]] = []
    for row in rows:
        values = list(row)
        for i, decode in decoders:
            values[i] = decode(values[i])
        found.append(dict(zip(columns, values, strict=True)))
    return found


# A guard holds nothing but its action's words: one per action serves every call, in any thread.
_GUARDS: dict[str, _Guard] = {}

# sqlite3's own errors come from the statements run on the driver (see StoreBase._transaction).
_DATABASE_ERRORS = (sa.exc.SQLAlchemyError, sqlite3.Error)


def _store_error(action: str, exc: BaseException) -> StoreError:
    return StoreError(f"could not {action}: {exc.__class__.__name__}: {exc}")


class _Write:
    """The context manager of :meth:`StoreBase._transaction` (a class: entered on every write).

    On SQLite outside a unit of work: the store's lock, ``BEGIN IMMEDIATE`` … ``COMMIT`` on the
    writer's driver connection. Inside a unit: the unit's transaction (begun by its first write,
    which takes the store's lock until the unit ends) and a savepoint, so that a write that fails
    is rolled back alone. Elsewhere: a pooled SQLAlchemy connection and its transaction.
    """

    __slots__ = ("_action", "_core", "_mode", "_store")

    def __init__(self, store: StoreBase, action: str) -> None:
        self._store = store
        self._action = action
        self._mode = ""
        self._core: Connection | None = None

    def __enter__(self) -> Transaction:
        store = self._store
        try:
            raw = store._raw
            if raw is not None and store._unit.depth > 0:
                self._mode = "unit"
                self._begin_unit_write(raw.driver)
                return raw
            store._lock.acquire()
            try:
                if store._closed:
                    raise StoreError("the memory map is closed")
                if raw is not None:
                    raw.driver.execute("BEGIN IMMEDIATE")
                    self._mode = "sqlite"
                    return raw
                conn = store.engine.connect()
                try:
                    conn.begin()
                except BaseException:
                    conn.close()
                    raise
                self._core, self._mode = conn, "core"
                return CoreTransaction(conn)
            except BaseException:
                store._lock.release()
                raise
        except _DATABASE_ERRORS as exc:
            raise _store_error(self._action, exc) from exc

    def _begin_unit_write(self, driver: sqlite3.Connection) -> None:
        store = self._store
        _begin_unit(store, driver)
        unit = store._unit
        if unit.deferred:  # the unit's waiting rows go first: the database sees the calls' order
            try:
                store._write_deferred(driver)
            except sqlite3.Error as exc:
                unit.lost = f"its deferred writes failed: {exc.__class__.__name__}: {exc}"
                raise
        driver.execute("SAVEPOINT tengri_write")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        store, mode = self._store, self._mode
        try:
            if mode == "unit":
                self._end_unit_write(exc)
            elif mode == "sqlite":
                try:
                    driver = store._driver()
                    if exc is None:
                        driver.execute("COMMIT")
                    elif driver.in_transaction:
                        driver.execute("ROLLBACK")
                finally:
                    store._lock.release()
            else:
                conn = self._core
                assert conn is not None
                try:
                    if exc is None:
                        conn.commit()
                    else:
                        conn.rollback()
                finally:
                    conn.close()
                    store._lock.release()
        except _DATABASE_ERRORS as error:  # the commit, or the rollback after ``exc``, failed
            raise _store_error(self._action, error) from error
        if isinstance(exc, _DATABASE_ERRORS):
            raise _store_error(self._action, exc) from exc

    def _end_unit_write(self, exc: BaseException | None) -> None:
        store = self._store
        driver = store._driver()
        if exc is None:
            driver.execute("RELEASE tengri_write")
            return
        unit = store._unit
        try:
            if driver.in_transaction:
                driver.execute("ROLLBACK TO tengri_write")
                driver.execute("RELEASE tengri_write")
            else:
                unit.lost = f"{exc.__class__.__name__}: {exc}"
        except sqlite3.Error as rollback_error:
            unit.lost = f"{rollback_error.__class__.__name__}: {rollback_error}"


def _begin_unit(store: StoreBase, driver: sqlite3.Connection) -> None:
    """Begin this thread's unit's transaction on ``driver`` if it has not begun (taking the store's lock)."""
    unit = store._unit
    if not unit.begun:
        store._lock.acquire()  # held until the unit ends (StoreBase._end_unit releases it)
        try:
            if store._closed:
                raise StoreError("the memory map is closed")
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            store._lock.release()
            raise
        unit.begun = True
    elif not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")  # the database ended it after a failure; go on in a new one


class _UnitState(threading.local):
    """One thread's unit of work: its nesting depth, whether its transaction began, why it was lost."""

    depth = 0
    begun = False
    lost: str | None = None

    def __init__(self) -> None:
        #: Rows whose writes wait for the unit's end (:meth:`StoreBase._deferring`), by statement.
        self.deferred: dict[Statement, dict[Any, dict[str, Any]]] = {}
