"""The memory map's frequent writes: statements built once, and the transactions that run them.

Building, caching and executing a SQLAlchemy Core statement costs some 50–100 µs of Python per
call, which capped the store at about a thousand writes a second. The statements that run per
tick (executions, profit points, keys, triggers, the budget) are therefore built once here, with a
bound parameter per value. On SQLite, :class:`SqliteTransaction` runs their SQL text, compiled
once by SQLAlchemy's SQLite dialect, straight on the driver connection; on any other database,
:class:`CoreTransaction` hands the same statements to SQLAlchemy (whose compiled cache then
applies). Either way SQLAlchemy writes the SQL; only the execution path differs.

On SQLite's path JSON values are passed as the text that :func:`~.base.json_text` produced
while validating them (the same text SQLAlchemy's JSON type would write), so they are encoded
once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from tengri.engine.store.schema import executions, kv, pattern_stats, profit_points, thermal_budget, triggers

__all__ = [
    "CLOSE_EXECUTION",
    "CLOSE_EXECUTION_RETURNING",
    "DELETE_PATTERN_STATS",
    "EXECUTION_EXISTS",
    "INSERT_EXECUTION",
    "INSERT_PROFIT_POINT",
    "LOCK_KEY",
    "SELECT_EXECUTION",
    "SELECT_KV",
    "SELECT_KV_FOR_UPDATE",
    "UPSERT_BUDGET",
    "UPSERT_KV",
    "UPSERT_PATTERN_STATS",
    "UPSERT_TRIGGER",
    "CoreTransaction",
    "SqliteTransaction",
    "Statement",
    "Transaction",
    "Upsert",
]

# Named parameters: the driver then takes the parameter mapping as it is.
_SQLITE = sqlite_dialect.dialect(paramstyle="named")


def _decoder(column: sa.ColumnElement[Any]) -> Callable[[Any], Any] | None:
    """SQLAlchemy's own conversion of a raw SQLite value of ``column`` (``None``: kept as it is).

    A JSON column's text is parsed by the json module's compiled scanner directly; anything it
    does not take whole (whitespace around the value, a bare number, an error) goes the way
    SQLAlchemy's own conversion does, which is ``json.loads`` with three Python calls around it.
    """
    processor = cast(
        Callable[[Any], Any] | None, column.type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)
    )
    if processor is None or not isinstance(column.type, sa.JSON):
        return processor
    general = processor

    def decode(value: Any) -> Any:
        if value.__class__ is str:
            try:
                found, end = _scan_json(value, 0)
            except (StopIteration, ValueError):
                return general(value)
            if end == len(value):
                return found
        return general(value)

    return decode


_scan_json = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__


class Statement:
    """One write (or the read a write needs), built once with SQLAlchemy Core.

    Parameters
    ----------
    core
        The statement, with a :func:`sqlalchemy.bindparam` for every value a call supplies.
    """

    __slots__ = ("columns", "core", "decoders", "literals", "sql")

    def __init__(self, core: sa.Executable) -> None:
        self.core = core
        compiled = core.compile(dialect=_SQLITE)  # type: ignore[attr-defined]
        #: The statement's SQLite text, with named parameters.
        self.sql: str = compiled.string
        #: Values SQLAlchemy bound itself (literals in the statement, such as ``status = 'open'``).
        self.literals: dict[str, Any] = {
            name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required
        }
        returned = list(getattr(core, "exported_columns", ()))
        #: Names of the returned columns, in order; empty for a statement that returns nothing.
        self.columns: tuple[str, ...] = tuple(column.key for column in returned)
        self.decoders: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (i, decode) for i, column in enumerate(returned) if (decode := _decoder(column)) is not None
        )

    def __repr__(self) -> str:
        return f"Statement({self.sql!r})"


class Upsert:
    """Insert-or-update of one row by its key: ``UPDATE``, then ``INSERT`` when nothing matched.

    Inside the writer's transaction (on SQLite: immediate) no other writer can insert in between.
    """

    __slots__ = ("insert", "keys", "on_conflict", "update")

    def __init__(self, table: sa.Table, keys: tuple[str, ...]) -> None:
        self.keys = keys
        # On PostgreSQL two transactions can both find no row to update and both insert (read
        # committed does not lock what is absent): there the upsert is one INSERT … ON CONFLICT.
        insert = postgresql.insert(table).values({c.key: sa.bindparam(c.key) for c in table.c})
        self.on_conflict = insert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c.key: insert.excluded[c.key] for c in table.c if c.key not in keys},
        )
        # SQLAlchemy reserves a column's name for its value in SET, so the key's parameters are
        # named key_<column> in the WHERE clause.
        where = [table.c[k] == sa.bindparam(f"key_{k}") for k in keys]
        changes: dict[str, Any] = {c.key: sa.bindparam(c.key) for c in table.c if c.key not in keys}
        self.update = Statement(sa.update(table).where(*where).values(changes))
        self.insert = Statement(sa.insert(table).values({c.key: sa.bindparam(c.key) for c in table.c}))

    def update_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters of :attr:`update` for the row ``params`` (every column by name)."""
        keys = self.keys
        found = {k: v for k, v in params.items() if k not in keys}
        for k in keys:
            found[f"key_{k}"] = params[k]
        return found


class Transaction(Protocol):
    """A write transaction of the memory map; see :meth:`StoreBase._transaction`."""

    #: Whether JSON values are passed as text (:func:`~.base.json_text`) rather than as objects.
    json_as_text: bool
    #: Whether ``UPDATE … RETURNING`` is available.
    returning: bool

    def execute(self, statement: Statement, params: Mapping[str, Any]) -> int:
        """Run ``statement`` once; return the number of rows it changed."""

    def execute_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run ``statement`` once per parameter set in ``rows``."""

    def first(self, statement: Statement, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """Run ``statement`` and return its first row by column name, or ``None``."""

    def upsert(self, upsert: Upsert, params: Mapping[str, Any]) -> None:
        """Insert or update the row that ``params`` describes (every column given)."""


class SqliteTransaction:
    """Runs statements on SQLite's driver connection; the caller begins and ends the transaction."""

    json_as_text = True
    returning = sqlite3.sqlite_version_info >= (3, 35)

    __slots__ = ("driver",)

    def __init__(self, driver: sqlite3.Connection) -> None:
        self.driver = driver

    def _params(self, statement: Statement, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**statement.literals, **params} if statement.literals else params

    def execute(self, statement: Statement, params: Mapping[str, Any]) -> int:
        return self.driver.execute(statement.sql, self._params(statement, params)).rowcount

    def execute_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        self.driver.executemany(statement.sql, [self._params(statement, row) for row in rows])

    def first(self, statement: Statement, params: Mapping[str, Any]) -> dict[str, Any] | None:
        # fetchall(), not fetchone(): a RETURNING statement must run to its end before COMMIT.
        rows = self.driver.execute(statement.sql, self._params(statement, params)).fetchall()
        if not rows:
            return None
        values = list(rows[0])
        for i, decode in statement.decoders:
            values[i] = decode(values[i])
        return dict(zip(statement.columns, values, strict=True))

    def upsert(self, upsert: Upsert, params: Mapping[str, Any]) -> None:
        if self.execute(upsert.update, upsert.update_params(params)) == 0:
            self.execute(upsert.insert, params)


class CoreTransaction:
    """Runs statements through SQLAlchemy on a connection inside its transaction."""

    json_as_text = False

    __slots__ = ("conn", "returning")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.returning = bool(conn.dialect.update_returning)

    def execute(self, statement: Statement, params: Mapping[str, Any]) -> int:
        return int(self.conn.execute(statement.core, dict(params)).rowcount)

    def execute_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        self.conn.execute(statement.core, [dict(row) for row in rows])

    def first(self, statement: Statement, params: Mapping[str, Any]) -> dict[str, Any] | None:
        row = self.conn.execute(statement.core, dict(params)).mappings().first()
        return None if row is None else dict(row)

    def upsert(self, upsert: Upsert, params: Mapping[str, Any]) -> None:
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(upsert.on_conflict, dict(params))
        elif self.execute(upsert.update, upsert.update_params(params)) == 0:
            self.execute(upsert.insert, params)


def _all_values(table: sa.Table) -> dict[str, sa.BindParameter[Any]]:
    return {c.key: sa.bindparam(c.key) for c in table.c}


INSERT_EXECUTION = Statement(sa.insert(executions).values(_all_values(executions)))


def _close() -> sa.Update:
    # Built afresh per use: a generative copy would share the memoised (empty) exported columns.
    return (
        sa.update(executions)
        .where(executions.c.execution_id == sa.bindparam("closing_id"), executions.c.status == "open")
        .values(
            exit_price=sa.bindparam("exit_price"),
            profit=sa.bindparam("profit"),
            success=sa.bindparam("success"),
            status=sa.bindparam("status"),
            closed_at=sa.bindparam("closed_at"),
            # ``None`` keeps the costs recorded at opening.
            costs=sa.func.coalesce(
                sa.bindparam("new_costs", type_=executions.c.costs.type), executions.c.costs
            ),
        )
    )


#: Close an open execution; parameters ``closing_id`` (its id), ``exit_price``, ``profit``,
#: ``success``, ``status``, ``closed_at`` and ``new_costs`` (``None`` to keep). Names other than a
#: column's where SQLAlchemy reserves the column's name for its SET value.
CLOSE_EXECUTION = Statement(_close())
#: :data:`CLOSE_EXECUTION` returning the closed row.
CLOSE_EXECUTION_RETURNING = Statement(_close().returning(*executions.c))
SELECT_EXECUTION = Statement(
    sa.select(executions).where(executions.c.execution_id == sa.bindparam("execution_id"))
)

#: Whether an execution id is taken (an insert deferred to its unit's end checks it at the call).
EXECUTION_EXISTS = Statement(
    sa.select(sa.literal(1)).where(executions.c.execution_id == sa.bindparam("execution_id"))
)

INSERT_PROFIT_POINT = Statement(
    sa.insert(profit_points).values(
        stream=sa.bindparam("stream"), t=sa.bindparam("t"), value=sa.bindparam("value")
    )
)

SELECT_KV = Statement(
    sa.select(kv.c.value).where(kv.c.namespace == sa.bindparam("namespace"), kv.c.key == sa.bindparam("key"))
)
SELECT_KV_FOR_UPDATE = Statement(
    sa.select(kv.c.value)
    .where(kv.c.namespace == sa.bindparam("namespace"), kv.c.key == sa.bindparam("key"))
    .with_for_update()
)
UPSERT_KV = Upsert(kv, ("namespace", "key"))
#: PostgreSQL only: a transaction-scoped advisory lock on a name (parameter ``name``).
LOCK_KEY = Statement(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.bindparam("name")))))
UPSERT_TRIGGER = Upsert(triggers, ("trigger_id",))
UPSERT_BUDGET = Upsert(thermal_budget, ("name",))
UPSERT_PATTERN_STATS = Upsert(pattern_stats, ("owner",))
DELETE_PATTERN_STATS = Statement(
    sa.delete(pattern_stats).where(pattern_stats.c.owner == sa.bindparam("owner"))
)
