"""The system orchestrator: the seed's examples, edge checks, exits, health, replay learning, restart."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.data import load_ohlcv
from tengri.engine import (
    ManualClock,
    MemoryMap,
    ScriptedSensor,
    Signal,
    Strategy,
    StrategySource,
    SystemOrchestrator,
    Tick,
)
from tengri.errors import ExecutionNotFoundError, InvalidInputError

T0 = 1_700_000_000.0


def _orchestrator(
    tmp_path: Path | None = None,
    *,
    mode: str = "replay",
    sources: list[Any] | None = None,
    sections: dict[str, Any] | None = None,
    **trading: Any,
) -> SystemOrchestrator:
    clock = ManualClock(T0)
    config = TengriConfig.load(data_dir=tmp_path or Path("unused"))
    config = config.with_overrides(trading=trading, **(sections or {}))
    store = (
        MemoryMap.in_memory(clock=clock) if tmp_path is None else MemoryMap.from_config(config, clock=clock)
    )
    return SystemOrchestrator(
        config,
        store=store,
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
        mode=mode,  # type: ignore[arg-type]
        machine_clock=clock,
        signal_sources=sources or [],
    )


def _state(orchestrator: SystemOrchestrator) -> dict[str, Any]:
    return {
        "index": orchestrator._index,
        "ticks": orchestrator._ticks_processed,
        "executions": [e.execution_id for e in orchestrator.store.executions()],
        "triggers": orchestrator.hash_trigger_engine.snapshot(),
        "pending": list(orchestrator.desk.pending),
    }


def test_seed_basic_system_usage(capsys: pytest.CaptureFixture[str]) -> None:
    # The seed's example, with `tengri` as the prefix (the data directory is a temporary one).
    from tengri import SystemOrchestrator

    orchestrator = SystemOrchestrator()
    orchestrator.start()
    result = orchestrator.process_tick(price=100.50)
    print(f"Triggered strategies: {result['triggered_strategies']}")
    # The seed completes a made-up id: Tengri says it does not exist instead of ignoring it.
    with pytest.raises(ExecutionNotFoundError):
        orchestrator.complete_strategy(execution_id="some_execution_id", exit_price=102.25)
    stats = orchestrator.get_statistics()
    print(f"System health: {stats['system_state']['system_health']}")
    orchestrator.shutdown()
    out = capsys.readouterr().out
    assert "Triggered strategies: []" in out
    assert "System health: healthy" in out
    assert stats["ticks_processed"] == 1


def test_seed_hash_trigger_engine_integration() -> None:
    from tengri import CursorState

    orchestrator = _orchestrator()
    hash_trigger_engine = orchestrator.hash_trigger_engine
    hash_trigger_engine.register(
        pattern=0x1234, mask=0xFFFF, strategy_id="STRATEGY_001", trigger_id="TRIGGER_001"
    )
    # As in the seed:
    hash_value = 0x1234
    cursor_state = CursorState(
        triplet=(100.0, 100.1, 100.2), delta_idx=1, braid_angle=45.0, timestamp=time.time()
    )
    triggered_ids = hash_trigger_engine.process_hash(hash_value, cursor_state)
    assert triggered_ids == ["TRIGGER_001"]


def test_seed_direct_component_usage(capsys: pytest.CaptureFixture[str]) -> None:
    from tengri import MemoryAgent, ProfitTrajectoryCoprocessor, ThermalZoneManager

    profit_coprocessor = ProfitTrajectoryCoprocessor()
    thermal_manager = ThermalZoneManager(profit_coprocessor)
    agent = MemoryAgent("trader_001", thermal_manager=thermal_manager)
    vector = profit_coprocessor.update(profit=150.0)
    print(f"Zone state: {vector.zone_state.value}")
    thermal_manager.update_thermal_state()
    if thermal_manager.should_reduce_gpu_load():
        print("Thermal throttling recommended")
    confidence = agent.get_confidence_coefficient(
        strategy_id="STRATEGY_001",
        hash_triggers=["TRIGGER_001"],
        current_context={"thermal_state": "normal", "profit_zone": "surging"},
    )
    print(f"Confidence: {confidence:.3f}")
    out = capsys.readouterr().out
    assert "Zone state: unknown" in out
    assert "Confidence: 0.500" in out  # no evidence yet: the Beta(1, 1) prior


def test_seed_flat_configuration_dictionary() -> None:
    config = {
        "profit_window_size": 500,
        "thermal_monitoring_interval": 10.0,
        "default_agent_id": "main_agent",
        "auto_register_triggers": False,
        "strategy_execution_timeout": 30.0,
    }
    orchestrator = SystemOrchestrator(
        config, store=MemoryMap.in_memory(), sensors=[ScriptedSensor({"cpu": 40.0})]
    )
    assert orchestrator.config.engine.profit_window_size == 500
    assert orchestrator.profit_coprocessor.window_size == 500
    assert orchestrator.hash_trigger_engine.auto_register is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"price": math.nan}, "price"),
        ({"price": math.inf}, "price"),
        ({"price": -1.0}, "price"),
        ({"price": 0.0}, "price"),
        ({"price": 100.0, "timestamp": T0 - 10}, "backwards"),
        ({"price": 100.0, "volume": -5.0}, "volume"),
        ({"price": 100.0, "volume": math.nan}, "volume"),
        ({"price": 100.0, "timestamp": "yesterday"}, "ISO"),
        ({"price": 100.0, "symbol": "BTCUSD"}, "unknown symbol"),
        ({"price": 100.0, "open": -1.0}, "open"),
    ],
)
def test_bad_ticks_are_refused_and_change_nothing(kwargs: dict[str, Any], match: str) -> None:
    orchestrator = _orchestrator(sections={"engine": {"symbols": ("EURUSD",)}})
    for i in range(12):
        orchestrator.process_tick(100.0 + i % 3, T0 + i, symbol="EURUSD")
    before = _state(orchestrator)
    kwargs.setdefault("symbol", "EURUSD")
    kwargs.setdefault("timestamp", T0 + 100)
    with pytest.raises(InvalidInputError, match=match):
        orchestrator.process_tick(**kwargs)
    assert _state(orchestrator) == before


class _Script(Strategy):
    """Goes long at tick 3, short at tick 6, flat at tick 9."""

    targets: ClassVar[dict[int, int]] = {3: 1, 6: -1, 9: 0}

    def next(self) -> int | None:
        return self.targets.get(len(self.closes) - 1)


def _bar(i: int, close: float, open_: float) -> dict[str, Any]:
    return {"price": close, "timestamp": T0 + 3600 * i, "open": open_, "symbol": "X"}


def test_fills_at_next_open_and_opposite_signal_exits() -> None:
    orchestrator = _orchestrator(
        sources=[StrategySource(_Script())],
        commission=0.0,
        slippage=0.0,
        min_confidence=0.0,
        holding_bars=None,
        max_open_executions=1,
    )
    orchestrator.config = orchestrator.config.with_overrides(trading={"trade_patterns": False})
    opened: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    for i in range(12):
        result = orchestrator.process_tick(**_bar(i, close=100.0 + i, open_=100.5 + i))
        opened += [{**o, "tick": i} for o in result["opened"]]
        closed += [{**c, "tick": i} for c in result["closed"]]
    # Long decided at tick 3 fills at tick 4's open; the short decided at 6 closes it and opens at 7's open.
    assert [(o["tick"], o["direction"], o["entry_price"]) for o in opened] == [(4, 1, 104.5), (7, -1, 107.5)]
    assert [(c["tick"], c["reason"], c["exit_price"]) for c in closed] == [
        (7, "opposite", 107.5),
        (10, "signal", 110.5),
    ]
    size = 10_000.0 / 104.5
    assert closed[0]["profit"] == pytest.approx((107.5 - 104.5) * size)


def test_this_tick_policy_fills_at_once_and_stops_trigger() -> None:
    class Long(Strategy):
        def next(self) -> int | None:
            return 1 if len(self.closes) == 1 else None

    orchestrator = _orchestrator(
        sources=[StrategySource(Long())],
        fill_policy="this_tick",
        max_open_executions=1,
        stop_loss=0.05,
        min_confidence=0.0,
        holding_bars=None,
        commission=0.001,
        slippage=0.0,
    )
    first = orchestrator.process_tick(100.0, T0, symbol="X")
    assert first["opened"][0]["entry_price"] == 100.0
    assert orchestrator.process_tick(97.0, T0 + 1, symbol="X")["closed"] == []
    result = orchestrator.process_tick(94.0, T0 + 2, symbol="X")
    [outcome] = result["closed"]
    assert outcome["reason"] == "stop_loss"
    size = 10_000.0 / (100.0 * 1.001)
    assert outcome["profit"] == pytest.approx((94.0 - 100.0) * size - 0.001 * (100.0 + 94.0) * size)


def test_holding_period_exit() -> None:
    class Long(Strategy):
        def next(self) -> int | None:
            return 1 if len(self.closes) == 1 else None

    orchestrator = _orchestrator(sources=[StrategySource(Long())], holding_bars=3, min_confidence=0.0)
    reasons = []
    for i in range(8):
        reasons += [c["reason"] for c in orchestrator.process_tick(**_bar(i, 100.0 + i, 100.0 + i))["closed"]]
    assert reasons == ["holding"]
    [execution] = orchestrator.store.executions()
    assert execution.status == "closed"


def test_live_executions_expire_after_the_timeout() -> None:
    class Long(Strategy):
        def next(self) -> int | None:
            return 1 if len(self.closes) == 1 else None

    orchestrator = _orchestrator(
        mode="live", sources=[StrategySource(Long())], fill_policy="this_tick", holding_bars=None
    )
    clock = orchestrator.clock
    assert isinstance(clock, ManualClock)
    orchestrator.process_tick(100.0, symbol="X")
    clock.advance(29.0)
    assert orchestrator.run_pending_duties() == ["timeouts"]
    assert len(orchestrator.desk.positions) == 1
    clock.advance(2.0)
    orchestrator.run_pending_duties()
    [execution] = orchestrator.store.executions()
    assert execution.status == "expired"
    assert execution.exit_price == pytest.approx(100.0 * (1 - orchestrator.config.trading.slippage))


def test_duties_follow_the_machine_clock() -> None:
    orchestrator = _orchestrator(mode="live")
    clock = orchestrator.clock
    assert isinstance(clock, ManualClock)
    orchestrator.start()
    runs = dict.fromkeys(orchestrator.duties.duties, 0)
    for _ in range(120):  # two minutes, one second at a time
        clock.advance(1.0)
        for name in orchestrator.run_pending_duties():
            runs[name] += 1
    assert runs["thermal"] == 4  # every 30 s
    assert runs["statistics"] == 2  # every 60 s
    assert runs["cleanup"] == 0  # hourly: ran at start only
    assert runs["timeouts"] == 120


def test_a_failing_source_degrades_health_and_ticks_go_on() -> None:
    class Flaky:
        name = "flaky"
        broken = True

        def on_tick(self, tick: Tick) -> list[Signal]:
            if self.broken:
                raise RuntimeError("model exploded")
            return []

    flaky = Flaky()
    orchestrator = _orchestrator(sources=[flaky])
    orchestrator.process_tick(100.0, T0)
    stats = orchestrator.get_statistics()["system_state"]
    assert stats["system_health"] == "degraded"
    assert "model exploded" in stats["degraded"]["source:flaky"]
    flaky.broken = False
    orchestrator.process_tick(100.0, T0 + 1)
    stats = orchestrator.get_statistics()["system_state"]
    assert stats["system_health"] == "healthy"
    assert stats["restarts"] == {"source:flaky": 1}
    assert orchestrator.get_statistics()["ticks_processed"] == 2


def _replay(orchestrator: SystemOrchestrator, frame: pd.DataFrame) -> None:
    for ts, row in zip(frame.index, frame.itertuples(), strict=True):
        orchestrator.process_tick(
            row.Close, ts.timestamp(), row.Volume, "EURUSD", open=row.Open, high=row.High, low=row.Low
        )


def _replay_orchestrator(tmp_path: Path) -> SystemOrchestrator:
    # More, less certain auto-registered triggers than the defaults, so that many strategies trade.
    sections = {
        "agent": {"context_fields": ("profit_zone",)},
        "triggers": {"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
    }
    return _orchestrator(tmp_path, sections=sections, holding_bars=6, max_open_executions=4)


def _totals(orchestrator: SystemOrchestrator) -> dict[str, Any]:
    rows = orchestrator.store.executions()
    return {
        "executions": [(e.execution_id, e.status, round(e.profit or 0.0, 9)) for e in rows],
        "realised": round(orchestrator.desk.realised, 9),
        "triggers": sorted(
            (t.trigger_id, t.state.value, t.outcomes) for t in orchestrator.hash_trigger_engine.triggers()
        ),
        "profit_points": len(orchestrator.store.profit_points("profit")),
    }


@pytest.mark.slow
def test_replay_learns_which_strategies_work(tmp_path: Path) -> None:
    frame = load_ohlcv("sample:eurusd_h1")
    orchestrator = _replay_orchestrator(tmp_path)
    _replay(orchestrator, frame)
    stats = orchestrator.get_statistics()
    assert stats["executions"]["completed"] > 100
    agent = orchestrator.agent
    rates = {sid: s["success_rate"] for sid, s in stats["strategies"].items() if s["executions"] >= 10}
    assert len(rates) >= 3
    now = frame.index[-1].timestamp()
    confidences = {
        sid: agent.get_confidence_coefficient(sid, (), {"profit_zone": "*"}, now=now) for sid in rates
    }
    best, worst = max(rates, key=rates.__getitem__), min(rates, key=rates.__getitem__)
    assert rates[best] > rates[worst]
    terms_best = agent.explain_confidence(sid := best, (), {}, now=now)
    terms_worst = agent.explain_confidence(worst, (), {}, now=now)
    # C_base follows realised success; the decay only scales by recency.
    assert terms_best.c_base > terms_worst.c_base, (sid, rates, confidences)
    print(f"strategies with >= 10 outcomes: {len(rates)}; best {rates[best]:.2f}, worst {rates[worst]:.2f}")


@pytest.mark.slow
def test_restart_mid_replay_equals_uninterrupted(tmp_path: Path) -> None:
    frame = load_ohlcv("sample:eurusd_h1").iloc[:3000]
    whole = _replay_orchestrator(tmp_path / "whole")
    _replay(whole, frame)
    expected = _totals(whole)
    whole.shutdown()

    first = _replay_orchestrator(tmp_path / "split")
    _replay(first, frame.iloc[:1700])
    first.shutdown()
    first.store.close()
    second = _replay_orchestrator(tmp_path / "split")
    second.start()
    _replay(second, frame.iloc[1700:])
    assert _totals(second) == expected
    assert len(expected["executions"]) > 50


def _crash_orchestrator(tmp_path: Path) -> SystemOrchestrator:
    sections = {
        "agent": {"context_fields": ("profit_zone",)},
        "triggers": {"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
        "engine": {"checkpoint_interval": 100},
    }
    return _orchestrator(tmp_path, sections=sections, holding_bars=6, max_open_executions=4)


@pytest.mark.slow
def test_unclean_stop_then_replay_from_checkpoint_adopts_instead_of_duplicating(tmp_path: Path) -> None:
    frame = load_ohlcv("sample:eurusd_h1").iloc[:3000]
    whole = _crash_orchestrator(tmp_path / "whole")
    _replay(whole, frame)
    expected = _totals(whole)
    whole.shutdown()

    first = _crash_orchestrator(tmp_path / "split")
    _replay(first, frame.iloc[:1790])  # last checkpoint at 1700: 90 ticks of events after it
    newer = [
        e for e in first.store.executions() if (e.closed_at or e.opened_at) > frame.index[1699].timestamp()
    ]
    assert newer, "the stop must leave events newer than the checkpoint"
    # No shutdown: as after kill -9, the store holds what was confirmed, the checkpoint is older.
    second = _crash_orchestrator(tmp_path / "split").start()
    assert second.tick_index == 1700
    assert second.agent.recovering
    _replay(second, frame.iloc[1700:])
    assert not second.agent.recovering
    assert _totals(second) == expected
    first.store.close()


def test_unclean_stop_then_live_ticks_adopt_the_newer_events_as_stored(tmp_path: Path) -> None:
    frame = load_ohlcv("sample:eurusd_h1").iloc[:1900]
    first = _crash_orchestrator(tmp_path)
    _replay(first, frame.iloc[:1790])
    stored = {e.execution_id: e for e in first.store.executions()}
    # Restart and go on from where the first one stopped, without re-feeding (as live ticks do).
    second = _crash_orchestrator(tmp_path).start()
    _replay(second, frame.iloc[1790:])
    rows = second.store.executions()
    ids = [e.execution_id for e in rows]
    assert len(ids) == len(set(ids))
    for execution_id, before in stored.items():  # nothing confirmed was rewritten
        now = second.store.get_execution(execution_id)
        assert now.opened_at == before.opened_at
        if before.status != "open":
            assert now == before
    closed = [e for e in rows if e.status != "open"]
    assert set(second.desk.positions) == {e.execution_id for e in rows if e.status == "open"}
    assert second.desk.closed_count == len(closed) == second.agent.statistics()["completed"]
    assert math.isclose(second.desk.realised, sum(e.profit or 0.0 for e in closed), abs_tol=1e-9)
    first.store.close()


class _Rare(Strategy):
    """Goes long every 200 bars (8 days of hourly bars, past τ·ln 2 of the default τ) for 3 bars."""

    def next(self) -> int | None:
        bar = len(self.closes) - 1
        return {0: 1, 3: 0}.get(bar % 200)


def test_exploration_is_bounded_and_a_rarely_trading_strategy_is_judged_not_re_explored() -> None:
    orchestrator = _orchestrator(
        sources=[StrategySource(_Rare())],
        holding_bars=None,
        explore_outcomes=3,
        min_confidence=0.5,
        commission=0.0,
        slippage=0.0,
    )
    orchestrator.config = orchestrator.config.with_overrides(trading={"trade_patterns": False})
    decisions: list[tuple[int, str]] = []
    for i in range(1_600):
        price = 10_000.0 - i  # falling: every long loses
        result = orchestrator.process_tick(**_bar(i, close=price, open_=price))
        decisions += [(i, e["decision"]) for e in result["triggered_strategies"] if e["decision"] != "exit"]
    # Three entries explore; from then on the losing record refuses every entry, although each
    # new signal comes when the newest outcome is 197 bars old (decay e^(−197/168) < 0.5).
    assert decisions[:3] == [(0, "queued"), (200, "queued"), (400, "queued")]
    assert decisions[3:] == [
        (600, "below_confidence"),
        *[(i, "below_confidence") for i in range(800, 1_600, 200)],
    ]
    assert len(orchestrator.store.executions()) == 3
    # The first entry met the threshold (the prior's 0.5); the next two explored below it.
    assert orchestrator.get_statistics()["entries"] == {
        "taken": 3,
        "exploring": 2,
        "refused_low_confidence": 5,
    }
