"""Reconciliation on start: each branch of the documented rule, on a real (in-memory) store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tengri.engine import ExecutionRecord, MemoryMap
from tengri.live import Order, OrderRouter, PaperBroker, client_order_id, reconcile


@pytest.fixture
def store() -> Iterator[MemoryMap]:
    memory = MemoryMap.in_memory()
    yield memory
    memory.close()


def _execution(execution_id: str, direction: int, size: float, *, closed: bool = False) -> ExecutionRecord:
    if not closed:
        return ExecutionRecord(execution_id, "default", "s", direction, 100.0, 1.0, size=size)
    return ExecutionRecord(
        execution_id, "default", "s", direction, 100.0, 1.0, size=size,
        status="closed", exit_price=110.0, profit=10.0, success=True, closed_at=2.0,
    )  # fmt: skip


def test_each_branch_of_the_rule(store: MemoryMap) -> None:
    broker = PaperBroker()
    router = OrderRouter(broker, store, "goog")
    store.insert_execution(_execution("recorded", 1, 5))
    router.send(Order(client_order_id("recorded", "open"), "recorded", "open", "goog", "buy", 5, 100.0))
    store.insert_execution(_execution("sent-not-recorded", 1, 3))  # a kill between send and record
    broker.submit(
        Order(
            client_order_id("sent-not-recorded", "open"), "sent-not-recorded", "open", "goog", "buy", 3, 100.0
        )
    )
    store.insert_execution(_execution("never-sent", -1, 2))
    store.insert_execution(_execution("in-and-out-while-down", 1, 7, closed=True))
    broker.submit(Order("foreign", "x", "open", "goog", "buy", 1, 100.0))  # a holding Tengri did not make

    found = reconcile(router, "default")

    assert found.adopted == [client_order_id("sent-not-recorded", "open")]
    assert found.sent == [client_order_id("never-sent", "open")]
    assert found.skipped == [client_order_id("in-and-out-while-down", p) for p in ("open", "close")]
    assert found.expected_position == 5 + 3 - 2
    assert found.broker_position == 5 + 3 - 2 + 1
    assert found.position_difference == 1
    assert "not traded" in found.notes[0]
    assert set(router.recorded()) >= {found.adopted[0], found.sent[0], *found.skipped}
    # A second start finds nothing left to do, and sends nothing.
    again = reconcile(router, "default")
    assert (again.adopted, again.sent, again.skipped) == ([], [], [])
    assert len(broker.open_orders("goog")) == 0
    assert broker.position("goog") == 7
