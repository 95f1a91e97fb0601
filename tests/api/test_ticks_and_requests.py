"""Ticks and mutating requests at once: a tick's transaction never deadlocks against the API's writes.

A tick holds the store's write transaction from its first write to its end. A request that wrote
while holding a component's lock (the agent's, the profit trajectory's, the burst ledger's, the
trigger engine's) could wait for that transaction while the tick waited for the component: the
gateway therefore serialises mutating requests with ticks on the orchestrator's lock. This test
drives ticks in one thread and every kind of mutating request in others, on a SQLite file; it must
finish (pytest-timeout fails it if it hangs) with every confirmed execution in the store.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import pytest

from tengri.api._gateway import EngineGateway
from tengri.api._models import (
    BurstEndRequest,
    BurstStartRequest,
    ProfitUpdateRequest,
    StrategyCompleteRequest,
    StrategyStartRequest,
    TriggerRegisterRequest,
)
from tengri.config import TengriConfig
from tengri.data import load_ohlcv
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator
from tengri.errors import BurstRefusedError, ConflictError

T0 = 1_700_000_000.0


@pytest.mark.timeout(120)
def test_ticks_and_mutating_requests_run_together(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={"holding_bars": 3, "max_open_executions": 4},
        triggers={"auto_register_t_stat": 1.0, "auto_register_min_count": 10},
        store={"synchronous": "normal"},
    )
    orchestrator = SystemOrchestrator(
        config,
        store=MemoryMap.from_config(config, clock=clock),
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
        mode="replay",
        machine_clock=clock,
    ).start()
    gateway = EngineGateway(orchestrator)
    frame = load_ohlcv("sample:eurusd_h1").iloc[:1500]
    done = threading.Event()
    errors: list[BaseException] = []
    confirmed: list[str] = []

    def ticks() -> None:
        for ts, row in zip(frame.index, frame.itertuples(), strict=True):
            result = orchestrator.process_tick(row.Close, ts.timestamp(), row.Volume, "EURUSD", open=row.Open)
            confirmed.extend(o["execution_id"] for o in result["opened"])
        done.set()

    def requests(worker: int) -> None:
        n = 0
        while not done.is_set():
            n += 1
            for agent in ("default", f"api{worker}"):
                opened = gateway.start_strategy(
                    agent, StrategyStartRequest(strategy_id=f"S{worker}", entry_price=1.1)
                )
                confirmed.append(opened["execution_id"])
                gateway.complete_strategy(
                    agent, StrategyCompleteRequest(execution_id=opened["execution_id"], exit_price=1.2)
                )
            with contextlib.suppress(ConflictError):  # a tick's profit point came after this one's time
                gateway.profit_update(ProfitUpdateRequest(profit=float(n)))
            try:
                burst = gateway.burst_start(BurstStartRequest(duration=1.0, label=f"w{worker}"))
                gateway.burst_end(BurstEndRequest(burst_id=burst["burst_id"]))
            except BurstRefusedError:
                pass  # another worker's burst runs, or the cooldown: refused, as it should be
            gateway.register_trigger(
                TriggerRegisterRequest(
                    pattern=n % 0xFFFF, mask=0xFFFF, strategy_id=f"S{worker}", trigger_id=f"W{worker}_{n}"
                )
            )

    def guarded(target: Any, *args: Any) -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported below
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=guarded, args=(ticks,))]
    threads += [threading.Thread(target=guarded, args=(requests, w)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
        assert not thread.is_alive(), "a thread hangs: a deadlock between a tick and a request"
    assert not errors, errors
    stored = {e.execution_id for e in orchestrator.store.executions()}
    assert set(confirmed) <= stored
    orchestrator.shutdown()
    orchestrator.store.close()
