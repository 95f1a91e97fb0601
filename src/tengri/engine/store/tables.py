"""The memory map's typed tables: executions, triggers, profit points and the thermal budget.

Every method is parameterised SQLAlchemy Core and runs in one transaction; the writes use the
statements built once in :mod:`.statements`, and the reads statements built once per combination
of filters (run on SQLite's driver, see :meth:`StoreBase._fetch`). See :mod:`.schema` for the columns and
:mod:`.records` for the dataclasses they map to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from tengri.engine.store.base import StoreBase, check_finite
from tengri.engine.store.records import BudgetRecord, ExecutionRecord, ExecutionStatus, TriggerRecord
from tengri.engine.store.schema import executions, pattern_stats, profit_points, thermal_budget, triggers
from tengri.engine.store.statements import (
    CLOSE_EXECUTION,
    CLOSE_EXECUTION_RETURNING,
    DELETE_PATTERN_STATS,
    EXECUTION_EXISTS,
    INSERT_EXECUTION,
    INSERT_PROFIT_POINT,
    SELECT_EXECUTION,
    UPSERT_BUDGET,
    UPSERT_PATTERN_STATS,
    UPSERT_TRIGGER,
    Statement,
)
from tengri.errors import (
    ConflictError,
    ExecutionAlreadyCompletedError,
    ExecutionNotFoundError,
    InvalidInputError,
    StoreError,
    TriggerNotFoundError,
)

__all__ = ["StoreTables"]


class StoreTables(StoreBase):
    """Typed access to the engine's tables (mixed into :class:`MemoryMap`)."""

    # -- executions ---------------------------------------------------------------------------

    def insert_execution(self, execution: ExecutionRecord) -> None:
        """Record a new execution.

        Raises
        ------
        ConflictError
            If an execution with this id exists.
        InvalidInputError
            If the direction is not ±1, a number is not finite, or the context is not JSON.
        """
        if execution.direction not in (-1, 1):
            raise InvalidInputError(f"direction must be 1 or -1, got {execution.direction!r}")
        check_finite(
            "execution prices, size, costs and confidence",
            execution.entry_price,
            execution.size,
            execution.costs,
            execution.confidence,
            execution.exit_price,
            execution.profit,
        )
        values = {
            "execution_id": execution.execution_id,
            "agent_id": execution.agent_id,
            "strategy_id": execution.strategy_id,
            "hash_triggers": self._json_param(list(execution.hash_triggers), "execution hash triggers")
            if execution.hash_triggers
            else self._empty_list,
            "direction": execution.direction,
            "entry_price": execution.entry_price,
            "exit_price": execution.exit_price,
            "size": execution.size,
            "costs": execution.costs,
            "profit": execution.profit,
            "success": execution.success,
            "status": execution.status,
            "context": self._json_param(execution.context, "execution context"),
            "confidence": execution.confidence,
            "opened_at": execution.opened_at,
            "closed_at": execution.closed_at,
        }
        with self._guard("insert an execution"):
            driver = self._deferring()
            if driver is not None:  # the row waits for the unit's end; the id is checked now
                waiting = self._deferred(INSERT_EXECUTION)
                taken = execution.execution_id in waiting or (
                    driver.execute(
                        EXECUTION_EXISTS.sql,
                        {**EXECUTION_EXISTS.literals, "execution_id": execution.execution_id},
                    ).fetchone()
                    is not None
                )
                if taken:
                    raise ConflictError(f"execution {execution.execution_id!r} already exists")
                waiting[execution.execution_id] = values
                return
        try:
            with self._transaction("insert an execution") as txn:
                txn.execute(INSERT_EXECUTION, values)
        except StoreError as exc:
            if isinstance(exc.__cause__, sa.exc.IntegrityError | sqlite3.IntegrityError):
                raise ConflictError(f"execution {execution.execution_id!r} already exists") from None
            raise

    def close_execution(
        self,
        execution_id: str,
        *,
        exit_price: float,
        profit: float,
        success: bool | None = None,
        costs: float | None = None,
        closed_at: float | None = None,
        status: ExecutionStatus = "closed",
        opened: ExecutionRecord | None = None,
    ) -> ExecutionRecord:
        """Close an open execution atomically and return it as stored.

        A conditional ``UPDATE … WHERE status = 'open'`` does the work, so of two concurrent
        closes (threads, processes or hosts) exactly one succeeds. ``success`` defaults to
        ``profit > 0``; ``status`` is ``closed`` or ``expired``. ``opened``, the row as the caller
        inserted it, spares reading the closed row back: the result is built from it.

        Raises
        ------
        ExecutionNotFoundError
            If no execution has this id.
        ExecutionAlreadyCompletedError
            If it was closed before: closing twice is an error, never a no-op.
        """
        if status not in ("closed", "expired"):
            raise InvalidInputError(f"an execution closes as 'closed' or 'expired', not {status!r}")
        check_finite("exit price, profit and costs", exit_price, profit, costs)
        success = profit > 0 if success is None else success
        closed_at = self.clock.now() if closed_at is None else closed_at
        params = {
            "closing_id": execution_id,
            "exit_price": exit_price,
            "profit": profit,
            "success": success,
            "status": status,
            "closed_at": closed_at,
            "new_costs": costs,
        }
        waiting = self._unit.deferred.get(INSERT_EXECUTION, {}).get(execution_id)
        if waiting is not None:  # opened in this unit, its insert still waiting: the row closes in place
            if waiting["status"] != "open":
                raise ExecutionAlreadyCompletedError(
                    f"execution {execution_id!r} is already {waiting['status']}"
                )
            if opened is None or opened.execution_id != execution_id:
                opened = _execution(
                    {
                        **waiting,
                        "hash_triggers": json.loads(waiting["hash_triggers"]),
                        "context": json.loads(waiting["context"]),
                    }
                )
            if costs is not None:
                waiting["costs"] = costs
            waiting.update(
                exit_price=exit_price, profit=profit, success=success, status=status, closed_at=closed_at
            )
            return _closed(opened, status, exit_price, profit, success, closed_at, costs)
        with self._transaction("close an execution") as txn:
            if opened is not None and opened.execution_id == execution_id:
                if txn.execute(CLOSE_EXECUTION, params) == 1:
                    return _closed(opened, status, exit_price, profit, success, closed_at, costs)
                updated, row = False, txn.first(SELECT_EXECUTION, {"execution_id": execution_id})
            # With RETURNING the update hands back the row; the row is read separately only where
            # the database cannot, or to tell a missing execution from a completed one.
            elif txn.returning:
                row = txn.first(CLOSE_EXECUTION_RETURNING, params)
                updated = row is not None
            else:
                updated = txn.execute(CLOSE_EXECUTION, params) > 0
                row = None
            if row is None:
                row = txn.first(SELECT_EXECUTION, {"execution_id": execution_id})
        if row is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r}")
        if not updated:
            raise ExecutionAlreadyCompletedError(f"execution {execution_id!r} is already {row['status']}")
        return _execution(row)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return one execution; raise :class:`ExecutionNotFoundError` if there is none."""
        with self._guard("read an execution"), self._read() as conn:
            row = (
                conn.execute(sa.select(executions).where(executions.c.execution_id == execution_id))
                .mappings()
                .first()
            )
        if row is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r}")
        return _execution(row)

    def open_executions(self, agent_id: str | None = None) -> list[ExecutionRecord]:
        """Return the open executions (of one agent, if given), oldest first."""
        return self.executions(agent_id=agent_id, status="open")

    def executions(
        self,
        *,
        agent_id: str | None = None,
        strategy_id: str | None = None,
        status: ExecutionStatus | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        """Return executions matching every given filter, by opening time (``since`` on it).

        With ``limit``, the newest ``limit`` matches are returned, still oldest first.
        """
        given = {
            "agent_id": agent_id,
            "strategy_id": strategy_id,
            "status": status,
            "since": since,
            "limit": limit,
        }
        params = {name: value for name, value in given.items() if value is not None}
        rows = self._fetch(_select_executions(tuple(params)), params, "read executions")
        found = [_execution(row) for row in rows]
        return found[::-1] if limit is not None else found

    def execution_ids(self) -> list[str]:
        """Every execution's id, in the order of :meth:`iter_executions` (cheap: the ids alone)."""
        return [row["execution_id"] for row in self._stream(_EXECUTION_IDS, {}, 10_000, "read executions")]

    def iter_executions(self, batch: int = 1_000) -> Iterator[ExecutionRecord]:
        """Yield every execution in the order of :meth:`executions`, fetching ``batch`` rows at a time.

        One read (a consistent snapshot) whose rows are turned into records as they are consumed:
        a long run's executions are never all in memory at once. Stop early and the read ends
        when the iterator is closed or collected.
        """
        for row in self._stream(_select_executions(()), {}, batch, "read executions"):
            yield _execution(row)

    def iter_execution_fields(self, batch: int = 1_000) -> Iterator[tuple[Any, ...]]:
        """Yield every execution's :data:`EXECUTION_FIELDS` as a tuple, in :meth:`iter_executions`' order.

        What a run's ``executions.csv`` shows, without a record a row or its context decoded: the
        context's ``source``, ``symbol`` (``""`` without one) and ``opened_index`` (0) are read
        out by the database. ``hash_triggers`` is a tuple; the numbers are as records hold them.
        """
        for row in self._stream(_EXECUTION_FIELDS, {}, batch, "read executions"):
            opened_index = row["opened_index"]
            yield (
                row["execution_id"],
                row["strategy_id"],
                int(row["direction"]),
                float(row["size"]),
                float(row["opened_at"]),
                float(row["entry_price"]),
                row["closed_at"],
                row["exit_price"],
                row["profit"],
                float(row["costs"]),
                row["confidence"],
                row["status"],
                tuple(row["hash_triggers"]),
                row["source"] if row["source"] is not None else "",
                row["symbol"] if row["symbol"] is not None else "",
                int(float(opened_index)) if opened_index is not None else 0,
            )

    # -- triggers -----------------------------------------------------------------------------

    def upsert_trigger(self, trigger: TriggerRecord) -> None:
        """Insert or replace the last state of a trigger (``updated_at`` 0 means now)."""
        self.upsert_triggers([trigger])

    def upsert_triggers(self, triggers: Iterable[TriggerRecord]) -> None:
        """Insert or replace the last state of several triggers in one transaction."""
        rows = []
        for trigger in triggers:
            check_finite("state_until", trigger.state_until)
            rows.append(
                {
                    "trigger_id": trigger.trigger_id,
                    "pattern": trigger.pattern,
                    "mask": trigger.mask,
                    "strategy_id": trigger.strategy_id,
                    "direction": trigger.direction,
                    "state": trigger.state,
                    "state_until": trigger.state_until,
                    "stats": self._json_param(trigger.stats, "trigger stats"),
                    "updated_at": trigger.updated_at or self.clock.now(),
                }
            )
        if not rows:
            return
        with self._transaction("write a trigger") as txn:
            for values in rows:
                txn.upsert(UPSERT_TRIGGER, values)

    def get_trigger(self, trigger_id: str) -> TriggerRecord:
        """Return one trigger; raise :class:`TriggerNotFoundError` if there is none."""
        with self._guard("read a trigger"), self._read() as conn:
            row = (
                conn.execute(sa.select(triggers).where(triggers.c.trigger_id == trigger_id))
                .mappings()
                .first()
            )
        if row is None:
            raise TriggerNotFoundError(f"no trigger {trigger_id!r}")
        return _trigger(row)

    def triggers(self, *, state: str | None = None, strategy_id: str | None = None) -> list[TriggerRecord]:
        """Return the triggers (in one state or of one strategy, if given), by id."""
        params = {
            name: value
            for name, value in (("state", state), ("strategy_id", strategy_id))
            if value is not None
        }
        return [
            _trigger(row) for row in self._fetch(_select_triggers(tuple(params)), params, "read triggers")
        ]

    # -- pattern statistics -------------------------------------------------------------------

    def put_pattern_stats(self, owner: str, packed: bytes) -> None:
        """Replace ``owner``'s packed pattern statistics (see :mod:`.schema`, ``pattern_stats``)."""
        if not isinstance(packed, bytes):
            raise InvalidInputError(f"packed pattern statistics are bytes, got {type(packed).__name__}")
        with self._transaction("write pattern statistics") as txn:
            txn.upsert(
                UPSERT_PATTERN_STATS, {"owner": owner, "packed": packed, "updated_at": self.clock.now()}
            )

    def delete_pattern_stats(self, owners: Iterable[str]) -> None:
        """Delete the packed pattern statistics of ``owners`` (those that exist), in one transaction."""
        rows = [{"owner": owner} for owner in owners]
        if rows:
            with self._transaction("delete pattern statistics") as txn:
                txn.execute_many(DELETE_PATTERN_STATS, rows)

    def pattern_stats(self, owner: str) -> bytes | None:
        """``owner``'s packed pattern statistics, None when it wrote none."""
        query = sa.select(pattern_stats.c.packed).where(pattern_stats.c.owner == owner)
        with self._guard("read pattern statistics"), self._read() as conn:
            found = conn.execute(query).scalar_one_or_none()
        return None if found is None else bytes(found)

    # -- profit points ------------------------------------------------------------------------

    def append_profit_point(self, stream: str, t: float, value: float) -> None:
        """Append one (time, cumulative profit) point to ``stream``."""
        self.append_profit_points(stream, [(t, value)])

    def append_profit_points(self, stream: str, points: Iterable[tuple[float, float]]) -> None:
        """Append several points to ``stream`` in one transaction (all or none)."""
        pairs = [(float(t), float(v)) for t, v in points]
        for t, v in pairs:
            check_finite("profit point", t, v)
        rows = [{"stream": stream, "t": t, "value": v} for t, v in pairs]
        if not rows:
            return
        with self._guard("append profit points"):
            if self._deferring() is not None:  # the points wait for the unit's end
                waiting = self._deferred(INSERT_PROFIT_POINT)
                for row in rows:
                    waiting[len(waiting)] = row
                return
        with self._transaction("append profit points") as txn:
            if len(rows) == 1:
                txn.execute(INSERT_PROFIT_POINT, rows[0])
            else:
                txn.execute_many(INSERT_PROFIT_POINT, rows)

    def profit_points(
        self,
        stream: str,
        limit: int | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[tuple[float, float]]:
        """Return the newest ``limit`` points of ``stream`` (all when ``None``), oldest first.

        ``since`` keeps only points after that time, ``until`` only points at or before it.
        """
        given = {"stream": stream, "since": since, "until": until, "limit": limit}
        params = {name: value for name, value in given.items() if value is not None}
        rows = self._fetch(_select_profit_points(tuple(params)), params, "read profit points")
        return [(float(row["t"]), float(row["value"])) for row in reversed(rows)]

    def clear_profit_points(self, stream: str) -> int:
        """Delete every point of ``stream``; return how many there were."""
        with self._guard("clear profit points"), self._write() as conn:
            return int(
                conn.execute(sa.delete(profit_points).where(profit_points.c.stream == stream)).rowcount
            )

    # -- thermal budget -----------------------------------------------------------------------

    def get_budget(self, name: str = "thermal") -> BudgetRecord | None:
        """Return the stored budget ``name``, or ``None`` before the first :meth:`set_budget`."""
        rows = self._fetch(SELECT_BUDGET, {"name": name}, "read the budget")
        if not rows:
            return None
        row = rows[0]
        return BudgetRecord(
            name=row["name"],
            day=row["day"],
            used_seconds=float(row["used_seconds"]),
            cooldown_until=float(row["cooldown_until"]),
            active_burst=row["active_burst"],
            updated_at=float(row["updated_at"]),
        )

    def set_budget(self, record: BudgetRecord) -> None:
        """Store the budget ``record.name`` (``updated_at`` set to now)."""
        check_finite("budget", record.used_seconds, record.cooldown_until)
        burst = record.active_burst
        values = {
            "name": record.name,
            "day": record.day,
            "used_seconds": record.used_seconds,
            "cooldown_until": record.cooldown_until,
            # The column keeps no burst as SQL NULL, not as JSON null.
            "active_burst": None if burst is None else self._json_param(burst, "active burst"),
            "updated_at": self.clock.now(),
        }
        with self._transaction("write the budget") as txn:
            txn.upsert(UPSERT_BUDGET, values)


# The reads, built once per combination of filters given (see StoreBase._fetch): a query built
# per call costs SQLAlchemy's cache-key and compile steps each time.
_READS: dict[tuple[str, ...], Statement] = {}


def _select_executions(given: tuple[str, ...]) -> Statement:
    """Executions by opening time, filtered by ``given`` (parameters of :meth:`StoreTables.executions`)."""
    key = ("executions", *given)
    statement = _READS.get(key)
    if statement is None:
        query = sa.select(executions)
        for name in ("agent_id", "strategy_id", "status"):
            if name in given:
                query = query.where(executions.c[name] == sa.bindparam(name))
        if "since" in given:
            query = query.where(executions.c.opened_at >= sa.bindparam("since"))
        order = (executions.c.opened_at, executions.c.execution_id)
        if "limit" in given:
            query = query.order_by(*(c.desc() for c in order)).limit(
                sa.bindparam("limit", type_=sa.Integer())
            )
        else:
            query = query.order_by(*order)
        statement = _READS[key] = Statement(query)
    return statement


def _select_triggers(given: tuple[str, ...]) -> Statement:
    """Triggers by id, filtered by ``given`` (``state``, ``strategy_id``)."""
    key = ("triggers", *given)
    statement = _READS.get(key)
    if statement is None:
        query = sa.select(triggers).order_by(triggers.c.trigger_id)
        for name in given:
            query = query.where(triggers.c[name] == sa.bindparam(name))
        statement = _READS[key] = Statement(query)
    return statement


def _select_profit_points(given: tuple[str, ...]) -> Statement:
    """A stream's points, newest first, filtered by ``given`` (``since``, ``until``, ``limit``)."""
    key = ("profit_points", *given)
    statement = _READS.get(key)
    if statement is None:
        query = (
            sa.select(profit_points.c.t, profit_points.c.value)
            .where(profit_points.c.stream == sa.bindparam("stream"))
            .order_by(profit_points.c.id.desc())
        )
        if "since" in given:
            query = query.where(profit_points.c.t > sa.bindparam("since"))
        if "until" in given:
            query = query.where(profit_points.c.t <= sa.bindparam("until"))
        if "limit" in given:
            query = query.limit(sa.bindparam("limit", type_=sa.Integer()))
        statement = _READS[key] = Statement(query)
    return statement


class _context_field(GenericFunction[Any]):  # noqa: N801 (SQLAlchemy's functions are lower case)
    """A top-level field of a JSON column as the database returns it (SQLite: a number stays one)."""

    inherit_cache = True


@compiles(_context_field, "sqlite")
def _sqlite_context_field(element: _context_field, compiler: Any, **kw: Any) -> str:
    column, key = element.clauses
    return f"JSON_EXTRACT({compiler.process(column, **kw)}, '$.' || {compiler.process(key, **kw)})"


@compiles(_context_field)
def _context_field_text(element: _context_field, compiler: Any, **kw: Any) -> str:
    column, key = element.clauses  # PostgreSQL: the field as text
    return f"({compiler.process(column, **kw)} ->> {compiler.process(key, **kw)})"


#: The fields of :meth:`StoreTables.iter_execution_fields`, in order (the last three the context's).
EXECUTION_FIELDS = (
    "execution_id",
    "strategy_id",
    "direction",
    "size",
    "opened_at",
    "entry_price",
    "closed_at",
    "exit_price",
    "profit",
    "costs",
    "confidence",
    "status",
    "hash_triggers",
    "source",
    "symbol",
    "opened_index",
)


# What a run's executions.csv shows of each execution, in iter_executions' order: the three fields
# of the context it needs read out by the database (JSON_EXTRACT, ->>), not the context decoded.
_EXECUTION_FIELDS = Statement(
    sa.select(
        *(executions.c[name] for name in EXECUTION_FIELDS[:-3]),
        *(_context_field(executions.c.context, sa.literal(key)).label(key) for key in EXECUTION_FIELDS[-3:]),
    ).order_by(executions.c.opened_at, executions.c.execution_id)
)
_EXECUTION_IDS = Statement(
    sa.select(executions.c.execution_id).order_by(executions.c.opened_at, executions.c.execution_id)
)
SELECT_BUDGET = Statement(sa.select(thermal_budget).where(thermal_budget.c.name == sa.bindparam("name")))


def _closed(
    opened: ExecutionRecord,
    status: ExecutionStatus,
    exit_price: float,
    profit: float,
    success: bool,
    closed_at: float,
    costs: float | None,
) -> ExecutionRecord:
    """``opened`` as closed (dataclasses.replace, without its introspection)."""
    return ExecutionRecord.of(
        {
            "execution_id": opened.execution_id,
            "agent_id": opened.agent_id,
            "strategy_id": opened.strategy_id,
            "direction": opened.direction,
            "entry_price": opened.entry_price,
            "opened_at": opened.opened_at,
            "hash_triggers": opened.hash_triggers,
            "size": opened.size,
            "costs": opened.costs if costs is None else costs,
            "confidence": opened.confidence,
            "context": opened.context,
            "status": status,
            "exit_price": exit_price,
            "profit": profit,
            "success": success,
            "closed_at": closed_at,
        }
    )


def _execution(row: Mapping[Any, Any]) -> ExecutionRecord:
    return ExecutionRecord.of(
        {
            "execution_id": row["execution_id"],
            "agent_id": row["agent_id"],
            "strategy_id": row["strategy_id"],
            "direction": int(row["direction"]),
            "entry_price": float(row["entry_price"]),
            "opened_at": float(row["opened_at"]),
            "hash_triggers": tuple(row["hash_triggers"]),
            "size": float(row["size"]),
            "costs": float(row["costs"]),
            "confidence": row["confidence"],
            "context": dict(row["context"]),
            "status": row["status"],
            "exit_price": row["exit_price"],
            "profit": row["profit"],
            "success": None if row["success"] is None else bool(row["success"]),
            "closed_at": row["closed_at"],
        }
    )


def _trigger(row: Mapping[Any, Any]) -> TriggerRecord:
    return TriggerRecord(
        trigger_id=row["trigger_id"],
        pattern=int(row["pattern"]),
        mask=int(row["mask"]),
        strategy_id=row["strategy_id"],
        direction=int(row["direction"]),
        state=row["state"],
        state_until=row["state_until"],
        stats=dict(row["stats"]),
        updated_at=float(row["updated_at"]),
    )
