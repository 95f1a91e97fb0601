"""The store's contract on SQLite and on PostgreSQL, hostile ids, and processes sharing one store.

Every test here runs against both backends: a SQLite file, and a fresh database on the PostgreSQL
server that ``.ci/run`` starts on loopback (``TENGRI_TEST_POSTGRES_URL``; those cases are skipped
only when that variable is unset, i.e. outside CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tengri.data import load_ohlcv
from tengri.engine import ManualClock, MemoryMap
from tengri.engine.store import ExecutionRecord, TriggerRecord
from tengri.errors import (
    ConflictError,
    ExecutionAlreadyCompletedError,
    ExecutionNotFoundError,
    InvalidInputError,
)

T0 = 1_700_000_000.0
WORKER = Path(__file__).with_name("shared_store_worker.py")

HOSTILE = [
    "'; DROP TABLE executions; --",
    'x" OR "1"="1',
    "Robert'); DELETE FROM kv; --",
    "name\x00with nul",
    "☃ unicode ∑ \u202e rtl",
    "%s %(x)s ? :param $1",
    "a" * 128,
    "back\\slash\nnewline\ttab",
]


@pytest.fixture
def store(url: str, tmp_path: Path) -> Iterator[MemoryMap]:
    s = MemoryMap(url, clock=ManualClock(T0), backups_dir=tmp_path / "backups")
    yield s
    s.close()


def _execution(
    execution_id: str, agent_id: str = "a1", strategy_id: str = "S1", **kw: Any
) -> ExecutionRecord:
    fields: dict[str, Any] = {
        "execution_id": execution_id,
        "agent_id": agent_id,
        "strategy_id": strategy_id,
        "direction": 1,
        "entry_price": 100.0,
        "opened_at": T0,
        "hash_triggers": ("T1", "T2"),
        "context": {"profit_zone": "stable"},
        "confidence": 0.75,
    }
    return ExecutionRecord(**{**fields, **kw})


def test_key_value_and_atomic_update(store: MemoryMap) -> None:
    store.set("ns", "k", {"a": [1, 2.5, None], "b": "x"})
    assert store.get("ns", "k") == {"a": [1, 2.5, None], "b": "x"}
    assert store.get("ns", "missing", 7) == 7
    threads = [
        threading.Thread(
            target=lambda: [store.update("ns", "n", lambda v: v + 1, default=0) for _ in range(50)]
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("ns", "n") == 200
    assert store.delete("ns", "k") is True
    assert store.items("ns") == {"n": 200}


def test_executions_open_close_once(store: MemoryMap) -> None:
    store.insert_execution(_execution("e1"))
    with pytest.raises(ConflictError):
        store.insert_execution(_execution("e1"))
    closed = store.close_execution("e1", exit_price=101.5, profit=1.5, closed_at=T0 + 60)
    assert (closed.status, closed.profit, closed.success, closed.closed_at) == ("closed", 1.5, True, T0 + 60)
    with pytest.raises(ExecutionAlreadyCompletedError):
        store.close_execution("e1", exit_price=99.0, profit=-1.0)
    with pytest.raises(ExecutionNotFoundError):
        store.close_execution("nope", exit_price=99.0, profit=-1.0)
    assert store.get_execution("e1") == closed
    assert [e.execution_id for e in store.executions(status="closed")] == ["e1"]


def test_concurrent_closes_exactly_one_wins(url: str, tmp_path: Path) -> None:
    stores = [MemoryMap(url, clock=ManualClock(T0), backups_dir=tmp_path / "b") for _ in range(2)]
    try:
        for i in range(20):
            stores[0].insert_execution(_execution(f"e{i}"))
        wins: list[str] = []
        errors: list[Exception] = []

        def closer(s: MemoryMap) -> None:
            for i in range(20):
                try:
                    s.close_execution(f"e{i}", exit_price=101.0, profit=1.0)
                    wins.append(f"e{i}")
                except ExecutionAlreadyCompletedError:
                    pass
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=closer, args=(s,)) for s in stores for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sorted(wins) == sorted(f"e{i}" for i in range(20))
    finally:
        for s in stores:
            s.close()


def test_execution_fields_read_the_contexts_fields_on_every_backend(store: MemoryMap) -> None:
    context = {"source": "strategy", "symbol": "GOOG", "opened_index": 41, "sl": None}
    store.insert_execution(_execution("e1", context=context))
    store.insert_execution(_execution("e2", opened_at=T0 + 1, context={"profit_zone": "stable"}))
    got = [(f[0], f[12], *f[-3:]) for f in store.iter_execution_fields()]
    assert got == [("e1", ("T1", "T2"), "strategy", "GOOG", 41), ("e2", ("T1", "T2"), "", "", 0)]


def test_triggers_profit_points_and_budget(store: MemoryMap) -> None:
    store.upsert_trigger(TriggerRecord("T1", 0x1234, 0xFFFF, "S1", 1, stats={"successes": 2}))
    store.upsert_trigger(TriggerRecord("T1", 0x1234, 0xFFFF, "S1", 1, state="dormant", state_until=9.0))
    assert [(t.trigger_id, t.state, t.state_until) for t in store.triggers()] == [("T1", "dormant", 9.0)]
    store.append_profit_points("p", [(1.0, 0.5), (2.0, 1.5), (3.0, -0.25)])
    assert store.profit_points("p", limit=2) == [(2.0, 1.5), (3.0, -0.25)]
    assert store.profit_points("p", since=1.0, until=2.0) == [(2.0, 1.5)]
    assert store.integrity_check().ok


def test_pattern_statistics_are_kept_as_bytes_by_owner(store: MemoryMap) -> None:
    packed = bytes(range(256)) * 4  # every byte value, NUL included
    store.put_pattern_stats("triggers:codes", b"first")
    store.put_pattern_stats("triggers:codes", packed)  # replaces
    store.put_pattern_stats("triggers@other:codes", b"other")
    assert store.pattern_stats("triggers:codes") == packed
    assert store.pattern_stats("triggers@other:codes") == b"other"
    assert store.pattern_stats("nobody") is None
    with pytest.raises(InvalidInputError, match="bytes"):
        store.put_pattern_stats("triggers:codes", "text")  # type: ignore[arg-type]
    assert store.pattern_stats("triggers:codes") == packed
    store.delete_pattern_stats(["triggers:codes", "nobody"])  # an owner without rows is no error
    assert store.pattern_stats("triggers:codes") is None
    assert store.pattern_stats("triggers@other:codes") == b"other"


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_ids_are_data_never_sql(store: MemoryMap, hostile: str) -> None:
    """Strategy, trigger, agent and execution ids and kv keys are bound parameters, stored verbatim."""
    if "\x00" in hostile and not store.is_sqlite:
        # PostgreSQL text cannot hold NUL at all: refused with a StoreError, nothing written.
        with pytest.raises(Exception, match=r"NUL|0x00"):
            store.insert_execution(_execution(hostile, agent_id=hostile, strategy_id=hostile))
        assert store.executions() == []
        return
    store.insert_execution(_execution(hostile, agent_id=hostile, strategy_id=hostile))
    store.insert_execution(_execution("plain"))
    store.upsert_trigger(TriggerRecord(hostile, 1, 0xFFFF, hostile, -1))
    store.set(hostile, hostile, {hostile: hostile})
    assert store.get_execution(hostile).strategy_id == hostile
    assert [e.execution_id for e in store.executions(agent_id=hostile)] == [hostile]
    assert [e.execution_id for e in store.executions(strategy_id=hostile)] == [hostile]
    assert store.get_trigger(hostile).strategy_id == hostile
    assert store.get(hostile, hostile) == {hostile: hostile}
    store.close_execution(hostile, exit_price=101.0, profit=1.0)
    assert store.get_execution("plain").status == "open"  # nothing else touched
    assert len(store.executions()) == 2
    assert store.integrity_check().ok


def _ticks(path: Path, scale: float) -> Path:
    frame = load_ohlcv("sample:eurusd_h1").iloc[:1500]
    rows = [
        [ts.timestamp(), r.Open * scale, r.High * scale, r.Low * scale, r.Close * scale, r.Volume]
        for ts, r in zip(frame.index, frame.itertuples(), strict=True)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
    return path


def _worker(url: str, agent_id: str, symbol: str, ticks: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, agent_id, symbol, str(ticks)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> None:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    assert out.strip() == "done {}"  # finished, and healthy throughout its end


def _executions(url: str, agent_id: str) -> list[tuple[Any, ...]]:
    # Not the ids: two agents opening the same strategy in the same second contend for one id,
    # and the one that loses takes the next sequence number.
    with MemoryMap(url, backups_dir=Path("unused")) as s:
        return [
            (e.strategy_id, e.opened_at, e.entry_price, e.size, e.status, e.profit, e.closed_at)
            for e in s.executions(agent_id=agent_id)
        ]


@pytest.mark.slow
def test_two_orchestrator_processes_share_one_store(
    url: str, tmp_path: Path, reliability_report: Any
) -> None:
    """Two symbols, two processes, one store: no lost update, each as if it had the store alone."""
    runs = {("agent_eur", "EURUSD"): 1.0, ("agent_gbp", "GBPUSD"): 1.27}
    ticks = {key: _ticks(tmp_path / key[0] / "ticks.json", scale) for key, scale in runs.items()}
    procs = []
    for agent, symbol in runs:
        procs.append(_worker(url, agent, symbol, ticks[(agent, symbol)]))
        time.sleep(1.5)  # the second starts on a store the first has already written triggers to
    for proc in procs:
        _finish(proc)
    with MemoryMap(url, backups_dir=tmp_path / "b") as shared:
        assert shared.get("shared", "ticks") == 3000  # every read-modify-write of both processes kept
        assert shared.integrity_check().ok
    n = 0
    for agent, symbol in runs:
        alone = f"sqlite:///{tmp_path / agent / 'alone.db'}"
        _finish(_worker(alone, agent, symbol, ticks[(agent, symbol)]))
        together = _executions(url, agent)
        assert together == _executions(alone, agent)
        assert len(together) > 20
        n += len(together)
    backend = sa.make_url(url).get_backend_name()
    reliability_report.row(
        "shared",
        ["backend", "processes", "ticks", "shared counter", "executions", "equal to each alone"],
        [backend, 2, 3000, "3000 of 3000", n, "yes"],
    )
    print(f"\nshared {backend} store: 2 processes, 3000 ticks, counter 3000, {n} executions, none lost")
