"""Memory agent: C_final on hand-computed cases, execution errors, shared stores and restarts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.config import AgentConfig
from tengri.engine.agent import MemoryAgent
from tengri.engine.clock import ManualClock
from tengri.engine.store.memory_map import MemoryMap
from tengri.errors import (
    ExecutionAlreadyCompletedError,
    ExecutionNotFoundError,
    ForeignExecutionError,
    InvalidInputError,
)

NORMAL_SURGING = {"thermal_state": "normal", "profit_zone": "surging"}
HOT_DRAWDOWN = {"thermal_state": "hot", "profit_zone": "drawdown"}


def _agent(clock: ManualClock, store: MemoryMap | None = None, agent_id: str = "a1") -> MemoryAgent:
    config = AgentConfig(min_context_samples=2, similarity_k=2.0, decay_tau=100.0)
    return MemoryAgent(agent_id, store=store or MemoryMap.in_memory(clock=clock), clock=clock, config=config)


def _trade(agent: MemoryAgent, triggers: list[str], context: dict[str, str], win: bool) -> str:
    execution_id = agent.start_strategy("S", triggers, 100.0, 0.5, context=context)
    agent.complete_strategy(execution_id, 101.0 if win else 99.0)
    return execution_id


def test_confidence_terms_by_hand() -> None:
    clock = ManualClock(1_000.0)
    agent = _agent(clock)
    _trade(agent, ["A", "B"], NORMAL_SURGING, win=True)
    _trade(agent, ["A"], NORMAL_SURGING, win=False)
    _trade(agent, ["C"], HOT_DRAWDOWN, win=True)
    clock.set(1_050.0)  # the newest outcome is 50 s old: decay exp(-0.5)

    terms = agent.explain_confidence("S", ["A"], NORMAL_SURGING)
    decay = math.exp(-0.5)
    assert terms.decay == pytest.approx(decay)
    assert terms.context_used == "context"
    # (1 + 1 win) / (2 + 2 outcomes in context), the counts discounted by age: still 1/2
    assert terms.c_base == pytest.approx((1 + decay) / (2 + 2 * decay))
    # Jaccard: {A,B} 0.5 (win), {A} 1.0 (loss), {C} 0 → (0.5·1) / (0.5·1 + 1·1) = 1/3
    assert terms.c_similarity == pytest.approx(1 / 3)
    assert terms.n_similar == 2
    assert terms.w_pattern == pytest.approx(2 * decay / (2 * decay + 2))  # n_eff = decay·n_similar
    assert terms.w_context == pytest.approx(1 - 2 * decay / (2 * decay + 2))
    expected = 0.5 * terms.w_context + (1 / 3) * terms.w_pattern
    assert terms.confidence == pytest.approx(expected)
    assert agent.get_confidence_coefficient("S", ["A"], NORMAL_SURGING) == pytest.approx(expected)
    # The entry's pair (no explanation built) is the explanation's, to the bit, for every query.
    for triggers, context in (
        (["A"], NORMAL_SURGING),
        ([], HOT_DRAWDOWN),
        (iter(["B", "C"]), {}),
        ((), None),
    ):
        listed = list(triggers)
        full = agent.explain_confidence("S", listed, context)
        assert agent.confidence("S", iter(listed), context) == (full.confidence, full.n_total)
        assert agent.get_confidence_coefficient("S", listed, context) == full.confidence
    assert agent.confidence("NEW") == (0.5, 0)


def test_context_backs_off_to_all_outcomes() -> None:
    clock = ManualClock(1_000.0)
    agent = _agent(clock)
    _trade(agent, ["A"], NORMAL_SURGING, win=True)
    _trade(agent, ["A"], NORMAL_SURGING, win=True)
    _trade(agent, ["C"], HOT_DRAWDOWN, win=False)
    terms = agent.explain_confidence("S", ["Z"], {"thermal_state": "warm", "profit_zone": "stable"})
    assert terms.context_used == "all"
    assert terms.c_base == pytest.approx(3 / 5)
    assert terms.c_similarity == 0.5  # no overlapping trigger set
    assert terms.w_pattern == 0.0
    assert terms.decay == 1.0  # the newest outcome is now
    assert terms.confidence == pytest.approx(0.6)


def test_no_evidence_is_the_prior() -> None:
    agent = _agent(ManualClock())
    assert agent.get_confidence_coefficient("NEW", ["X"], NORMAL_SURGING) == 0.5


def test_age_fades_a_record_toward_the_prior_without_crossing_it() -> None:
    clock = ManualClock(1_000.0)
    agent = _agent(clock)  # τ = 100 s
    for win in (False, False, False, True):
        _trade(agent, ["A"], NORMAL_SURGING, win=win)
    seen = []
    for age in (0.0, 100.0, 300.0, 500.0):  # up to 5 τ
        clock.set(1_000.0 + age)
        seen.append(agent.get_confidence_coefficient("S", ["A"], NORMAL_SURGING))
    # A losing record (1 of 4) fades toward 0.5 as it ages, and never reaches it: still judged.
    assert seen == sorted(seen)
    # Fresh: C_similarity 1/4 weighted 4/(4 + 2), C_base (1 + 1)/(2 + 4) weighted the rest.
    assert seen[0] == pytest.approx(0.25 * 4 / 6 + (2 / 6) * 2 / 6)
    assert all(c < 0.5 for c in seen)
    assert seen[-1] == pytest.approx(0.5, abs=0.01)


def test_profit_is_signed_and_costed() -> None:
    clock = ManualClock(1_000.0)
    agent = _agent(clock)
    short = agent.start_strategy("S", ["A"], 100.0, 0.6, direction=-1, context=NORMAL_SURGING, size=2.0)
    clock.advance(30.0)
    outcome = agent.complete_strategy(short, 95.0, costs=1.5)
    assert outcome.profit == pytest.approx(-1 * (95.0 - 100.0) * 2.0 - 1.5)
    assert outcome.success is True
    assert outcome.execution_time == 30.0


def test_completion_errors_are_specific() -> None:
    clock = ManualClock()
    store = MemoryMap.in_memory(clock=clock)
    mine, theirs = _agent(clock, store, "mine"), _agent(clock, store, "theirs")
    execution_id = mine.start_strategy("S", ["A"], 100.0, 0.5, context=NORMAL_SURGING)
    with pytest.raises(ExecutionNotFoundError):
        mine.complete_strategy("no-such-id", 100.0)
    with pytest.raises(ForeignExecutionError):
        theirs.complete_strategy(execution_id, 101.0)
    mine.complete_strategy(execution_id, 101.0)
    with pytest.raises(ExecutionAlreadyCompletedError):
        mine.complete_strategy(execution_id, 102.0)
    assert mine.statistics()["completed"] == 1
    assert theirs.statistics()["completed"] == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"entry_price": math.nan}, "entry_price"),
        ({"entry_price": -1.0}, "entry_price"),
        ({"initial_confidence": 1.5}, "initial_confidence"),
        ({"direction": 0}, "direction"),
        ({"strategy_id": ""}, "strategy_id"),
    ],
)
def test_bad_starts_change_nothing(kwargs: dict[str, object], match: str) -> None:
    agent = _agent(ManualClock())
    args: dict[str, object] = {
        "strategy_id": "S",
        "hash_triggers": ["A"],
        "entry_price": 100.0,
        "initial_confidence": 0.5,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        agent.start_strategy(**args)  # type: ignore[arg-type]
    assert agent.store.executions() == []


def test_evidence_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(1_000.0)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = MemoryMap(url, clock=clock)
    agent = _agent(clock, store)
    _trade(agent, ["A"], NORMAL_SURGING, win=True)
    _trade(agent, ["A", "B"], NORMAL_SURGING, win=False)
    open_id = agent.start_strategy("S", ["A"], 100.0, 0.5, context=NORMAL_SURGING)
    before = agent.explain_confidence("S", ["A"], NORMAL_SURGING)
    store.close()

    reopened = MemoryMap(url, clock=clock)
    again = _agent(clock, reopened)
    assert again.explain_confidence("S", ["A"], NORMAL_SURGING) == before
    assert [e.execution_id for e in reopened.open_executions("a1")] == [open_id]
    new_id = again.start_strategy("S", ["A"], 100.0, 0.5, context=NORMAL_SURGING)
    assert new_id != open_id  # sequence numbers continue after a restart
    reopened.close()


def test_default_context_comes_from_the_thermal_manager() -> None:
    from tengri.engine.profit import ProfitTrajectoryCoprocessor
    from tengri.engine.thermal.manager import ThermalZoneManager
    from tengri.engine.thermal.sensors import ScriptedSensor

    clock = ManualClock(1_000.0)
    profit = ProfitTrajectoryCoprocessor(clock=clock)
    thermal = ThermalZoneManager(profit, sensors=[ScriptedSensor({"cpu": 72.0})], clock=clock)
    thermal.update_thermal_state()
    agent = MemoryAgent("a1", thermal_manager=thermal, clock=clock)
    assert agent.current_context() == {"thermal_state": "warm", "profit_zone": "unknown"}


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.floats(-3e9, 2.6e11), st.integers(0, 253_402_300_799).map(float)))
def test_an_execution_id_names_its_second_as_strftime_does(t: float) -> None:
    """The id's ``YYYYmmdd_HHMMSS`` (formatted by the compiled core from 1970 on) is strftime's."""
    import time

    agent = MemoryAgent("a", clock=ManualClock(0.0))
    second = math.floor(t)
    try:
        want = time.strftime("%Y%m%d_%H%M%S", time.gmtime(second))
    except (OverflowError, ValueError, OSError):
        return  # a time the platform's gmtime refuses: refused as before
    assert agent._new_execution_id("S", t) == f"S_{want}_000001"
