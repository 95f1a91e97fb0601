"""The memory map's tables and their versioned migrations (DESIGN.md, Memory map).

The schema is versioned in the ``schema_version`` table: one row per applied migration.
:func:`migrate` applies, in one transaction each, every migration newer than the stored version;
a store written by a newer Tengri (a version this code does not know) is refused rather than
guessed at. Alembic would do the same with more machinery; seven tables and a linear history do not
need it.

Times are seconds since the Unix epoch (UTC) as doubles; JSON columns hold plain JSON (no NaN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, CreateTable

from tengri.errors import StoreError

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "executions",
    "kv",
    "metadata",
    "migrate",
    "pattern_stats",
    "profit_points",
    "schema_version",
    "stored_version",
    "thermal_budget",
    "triggers",
]

metadata = sa.MetaData()

_Id = sa.String(128)
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Double, nullable=False),
)

kv = sa.Table(
    "kv",
    metadata,
    sa.Column("namespace", _Id, primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.JSON(none_as_null=False), nullable=True),
    sa.Column("updated_at", sa.Double, nullable=False),
)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("execution_id", _Id, primary_key=True),
    sa.Column("agent_id", _Id, nullable=False),
    sa.Column("strategy_id", _Id, nullable=False),
    sa.Column("hash_triggers", sa.JSON, nullable=False),
    sa.Column("direction", sa.Integer, nullable=False),
    sa.Column("entry_price", sa.Double, nullable=False),
    sa.Column("exit_price", sa.Double, nullable=True),
    sa.Column("size", sa.Double, nullable=False),
    sa.Column("costs", sa.Double, nullable=False),
    sa.Column("profit", sa.Double, nullable=True),
    sa.Column("success", sa.Boolean, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("confidence", sa.Double, nullable=True),
    sa.Column("opened_at", sa.Double, nullable=False),
    sa.Column("closed_at", sa.Double, nullable=True),
    sa.CheckConstraint("status IN ('open', 'closed', 'expired')", name="ck_executions_status"),
    sa.CheckConstraint("direction IN (-1, 1)", name="ck_executions_direction"),
)
sa.Index("ix_executions_agent_status", executions.c.agent_id, executions.c.status)
sa.Index("ix_executions_strategy_closed", executions.c.strategy_id, executions.c.closed_at)
sa.Index("ix_executions_status_closed", executions.c.status, executions.c.closed_at)

triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("trigger_id", _Id, primary_key=True),
    sa.Column("pattern", sa.Integer, nullable=False),
    sa.Column("mask", sa.Integer, nullable=False),
    sa.Column("strategy_id", _Id, nullable=False),
    sa.Column("direction", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_until", sa.Double, nullable=True),
    sa.Column("stats", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
sa.Index("ix_triggers_state", triggers.c.state)

profit_points = sa.Table(
    "profit_points",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("t", sa.Double, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
)
sa.Index("ix_profit_points_stream_id", profit_points.c.stream, profit_points.c.id)

thermal_budget = sa.Table(
    "thermal_budget",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("used_seconds", sa.Double, nullable=False),
    sa.Column("cooldown_until", sa.Double, nullable=False),
    sa.Column("active_burst", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# The pattern statistics of a trigger engine (``owner``): every code seen with the count, mean and
# sum of squared deviations of its next move (Welford's), packed as little-endian doubles
# (:meth:`tengri.engine.pattern_stats.PatternTable.to_bytes`). Written with each checkpoint as raw
# bytes (at most 2 MiB: 65,536 codes of 32 bytes), not inside the checkpoint's JSON, where base64 and
# JSON encoding cost more than the write.
pattern_stats = sa.Table(
    "pattern_stats",
    metadata,
    sa.Column("owner", sa.String(256), primary_key=True),
    sa.Column("packed", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)


#: Each dialect's ``CREATE … IF NOT EXISTS`` statements of a table and its indexes, compiled once
#: per process: compiling DDL costs milliseconds, and every new store (every run) creates its tables.
_DDL: dict[tuple[str, str], tuple[str, ...]] = {}


def _create(conn: Connection, table: sa.Table) -> None:
    """Create ``table`` and its indexes where they do not exist (as ``table.create(checkfirst=True)``).

    On SQLite the statements are compiled once per process and run as they are; elsewhere
    SQLAlchemy checks the catalogue first.
    """
    dialect = conn.dialect
    if dialect.name != "sqlite":
        table.create(conn, checkfirst=True)
        return
    key = (dialect.name, table.name)
    statements = _DDL.get(key)
    if statements is None:
        statements = (
            str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)),
            *(
                str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect))
                for index in sorted(table.indexes, key=lambda index: str(index.name))
            ),
        )
        _DDL[key] = statements
    driver = _sqlite_driver(conn)  # in the caller's transaction, without SQLAlchemy's steps
    for statement in statements:
        driver.execute(statement)


def _v1_initial(conn: Connection) -> None:
    for table in (kv, executions, triggers, profit_points, thermal_budget):
        _create(conn, table)


def _v2_pattern_stats(conn: Connection) -> None:
    _create(conn, pattern_stats)


Migration = tuple[int, str, Callable[[Connection], None]]

#: The linear migration history: (version, description, apply). Append; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "kv, executions, triggers, profit points, thermal budget", _v1_initial),
    (2, "pattern statistics, packed by owner", _v2_pattern_stats),
)

LATEST_VERSION = MIGRATIONS[-1][0]


def _has_version_table(conn: Connection) -> bool:
    if conn.dialect.name == "sqlite":  # one query, where an inspector costs a dozen
        found = (
            _sqlite_driver(conn)
            .execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (schema_version.name,))
            .fetchone()
        )
        return found is not None
    return bool(sa.inspect(conn).has_table(schema_version.name))


_SQLITE = sqlite_dialect.dialect(paramstyle="named")
#: SQLite's text of the version's read and write: a new store's engine has an empty compiled cache.
_SELECT_VERSION = str(sa.select(sa.func.max(schema_version.c.version)).compile(dialect=_SQLITE))
_INSERT_VERSION = str(
    sa.insert(schema_version)
    .values(
        version=sa.bindparam("version"),
        description=sa.bindparam("description"),
        applied_at=sa.bindparam("applied_at"),
    )
    .compile(dialect=_SQLITE)
)


def _sqlite_driver(conn: Connection) -> Any:
    """The driver connection under ``conn`` (a SQLite one), in the caller's transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver


def stored_version(conn: Connection) -> int:
    """Return the highest applied migration, 0 for an empty database."""
    if not _has_version_table(conn):
        return 0
    if conn.dialect.name == "sqlite":
        found = _sqlite_driver(conn).execute(_SELECT_VERSION).fetchone()[0]
    else:
        found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar_one()
    return int(found or 0)


#: PostgreSQL advisory lock key of schema migrations (any constant; "TENGRI" in ASCII).
_MIGRATION_LOCK = 0x54454E475249


def migrate(conn: Connection, now: float) -> int:
    """Bring the schema up to :data:`LATEST_VERSION` inside the caller's transaction.

    Parameters
    ----------
    conn
        A connection with an open (on SQLite: immediate) transaction.
    now
        The time recorded as ``applied_at``.

    Returns
    -------
    int
        The number of migrations applied.

    Raises
    ------
    StoreError
        If the store was written by a newer schema than this code knows.
    """
    if conn.dialect.name == "postgresql":
        # Serialise migrations of processes starting together on one database (SQLite's immediate
        # transaction already does): creating the same table twice at once breaks PostgreSQL's
        # catalogue constraints. The lock ends with the transaction.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    if conn.dialect.name == "sqlite":
        _create(conn, schema_version)
    else:
        schema_version.create(conn, checkfirst=True)
    current = stored_version(conn)
    if current > LATEST_VERSION:
        raise StoreError(
            f"the store's schema version {current} is newer than this Tengri's ({LATEST_VERSION}); "
            "upgrade Tengri or restore an older backup"
        )
    applied = 0
    for version, description, apply in MIGRATIONS:
        if version <= current:
            continue
        apply(conn)
        row = {"version": version, "description": description, "applied_at": now}
        if conn.dialect.name == "sqlite":
            _sqlite_driver(conn).execute(_INSERT_VERSION, row)
        else:
            conn.execute(sa.insert(schema_version).values(row))
        applied += 1
    return applied
