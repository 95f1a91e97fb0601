"""MemoryMap.iter_executions: every execution, in the order of executions(), a batch at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tengri.engine.clock import ManualClock
from tengri.engine.store import ExecutionRecord, MemoryMap
from tengri.engine.store.tables import EXECUTION_FIELDS


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MemoryMap:
    clock = ManualClock(1_700_000_000.0)
    s = (
        MemoryMap(data_dir=tmp_path, clock=clock)
        if request.param == "file"
        else MemoryMap.in_memory(clock=clock)
    )
    yield s
    s.close()


def _insert(store: MemoryMap, count: int) -> None:
    # Opening times out of insertion order and tied, so that the order is the query's, not the rows'.
    for i in range(count):
        store.insert_execution(
            ExecutionRecord(
                f"e{i:03d}",
                "a",
                f"S{i % 3}",
                1 if i % 2 else -1,
                100.0 + i,
                float((i * 7) % 11),
                context={"i": i},
            )
        )
    store.close_execution("e004", exit_price=101.0, profit=1.0, closed_at=2.0)


@pytest.mark.parametrize("batch", [1, 4, 1_000])
def test_iter_executions_yields_what_executions_returns(store: MemoryMap, batch: int) -> None:
    _insert(store, 25)
    assert list(store.iter_executions(batch=batch)) == store.executions()


def test_iter_executions_of_an_empty_store(store: MemoryMap) -> None:
    assert list(store.iter_executions()) == []


def test_a_write_after_an_iterator_stopped_early(store: MemoryMap) -> None:
    _insert(store, 10)
    first = next(store.iter_executions(batch=2))
    assert first == store.executions()[0]
    store.close_execution(
        "e001", exit_price=99.0, profit=-1.0, closed_at=3.0
    )  # the abandoned read holds no lock a writer needs
    assert store.get_execution("e001").status == "closed"


def test_execution_ids_are_those_of_iter_executions_in_its_order(store: MemoryMap) -> None:
    _insert(store, 25)
    assert store.execution_ids() == [e.execution_id for e in store.iter_executions(batch=4)]
    assert MemoryMap.in_memory().execution_ids() == []


@pytest.mark.parametrize("batch", [1, 1_000])
def test_iter_execution_fields_are_the_records_fields_and_the_contexts_three(
    store: MemoryMap, batch: int
) -> None:
    _insert(store, 7)
    contexts = [
        {"source": "strategy", "symbol": "GOOG", "opened_index": 12, "sl": None},
        {"source": "pattern", "symbol": "EURUSD", "opened_index": 3.0},  # a float index reads as an int
        {"other": [1, 2]},  # none of the three: "", "" and 0
    ]
    for n, context in enumerate(contexts):
        store.insert_execution(
            ExecutionRecord(
                f"c{n}", "a", "S", 1, 10.0, 50.0 + n, hash_triggers=("t1", "t2")[: n + 1], context=context
            )
        )
    store.close_execution("c1", exit_price=11.0, profit=1.0, closed_at=60.0)
    fields = list(store.iter_execution_fields(batch=batch))
    records = store.executions()
    assert [f[0] for f in fields] == [r.execution_id for r in records]  # the same order
    for got, record in zip(fields, records, strict=True):
        own = tuple(getattr(record, name) for name in EXECUTION_FIELDS[:-3])
        context = record.context
        three = (context.get("source", ""), context.get("symbol", ""), int(context.get("opened_index", 0)))
        assert got == own + three
        assert [type(v) for v in got] == [type(v) for v in own + three]
