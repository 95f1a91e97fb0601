"""One account across symbols: a two-symbol ledger checked against a hand-computed one, tick by tick."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.engine.strategy_engine import strategy_engine

from tengri.engine import ManualClock, Strategy, StrategySource, SystemOrchestrator
from tengri.engine._kernel_reference import AccountSums
from tengri.engine.account import Account
from tengri.engine.signals import Target

T0 = 1_700_000_000.0


class Scheduled(Strategy):
    """Returns, on its symbol's n-th bar, what ``plan[(symbol, n)]`` says (None otherwise)."""

    name = "scheduled"
    plan: dict[tuple[str, int], int | Target] = {}  # noqa: RUF012 (a class parameter, never mutated)

    def next(self) -> int | Target | None:
        assert self.tick is not None
        return self.plan.get((self.tick.symbol, len(self.closes)))


PLAN: dict[tuple[str, int], int | Target] = {
    ("X", 1): Target(1, size=10),  # long 10 X at the next X bar's open
    ("Y", 1): Target(-1, size=20),  # short 20 Y at the next Y bar's open
    ("X", 3): 0,  # flat X at the next X bar's open
}

# (time, symbol, open, close); high and low span open and close.
BARS = [
    (T0, "X", 100.0, 100.0),
    (T0, "Y", 50.0, 50.0),
    (T0 + 60, "X", 102.0, 104.0),
    (T0 + 60, "Y", 49.0, 48.0),
    (T0 + 120, "X", 106.0, 108.0),
    (T0 + 120, "Y", 47.0, 46.0),
    (T0 + 180, "X", 110.0, 111.0),
    (T0 + 180, "Y", 45.0, 47.0),
]

# By hand, commission 0.1 % of each fill's value, no slippage, cash 10,000:
# X long 10 @ 102 pays 1,020 + 1.02; Y short 20 @ 49 receives 980 − 0.98; X closes 10 @ 110,
# receiving 1,100 − 1.10. Equity = cash + Σ position · close.
LEDGER = [
    # cash, X units, Y units, equity
    (10_000.00, 0, 0, 10_000.00),
    (10_000.00, 0, 0, 10_000.00),  # Y's decision does not fill on... Y's own next bar only
    (8_978.98, 10, 0, 8_978.98 + 10 * 104.0),
    (9_958.00, 10, -20, 9_958.00 + 10 * 104.0 - 20 * 48.0),
    (9_958.00, 10, -20, 9_958.00 + 10 * 108.0 - 20 * 48.0),
    (9_958.00, 10, -20, 9_958.00 + 10 * 108.0 - 20 * 46.0),
    (11_056.90, 0, -20, 11_056.90 - 20 * 46.0),
    (11_056.90, 0, -20, 11_056.90 - 20 * 47.0),
]


def _engine(**agent: Any) -> SystemOrchestrator:
    clock = ManualClock(T0)
    Scheduled.plan = PLAN
    trading = {"commission": 0.001, "max_open_executions": 4}
    return strategy_engine(clock, [StrategySource(Scheduled())], trading, agent=agent)


def _run(engine: SystemOrchestrator) -> list[tuple[float, float, float, float]]:
    rows = []
    for t, symbol, open_, close in BARS:
        engine.clock.set(t)  # type: ignore[attr-defined]
        result = engine.process_tick(
            close, t, symbol=symbol, open=open_, high=max(open_, close), low=min(open_, close)
        )
        account = engine.account
        rows.append((account.cash, account.position("X"), account.position("Y"), result["equity"]))
        assert result["equity"] == pytest.approx(account.equity(), abs=1e-9)
        assert account.equity() == pytest.approx(
            account.cash + sum(account.position(s) * account.marks[s] for s in account.marks), abs=1e-9
        )
    return rows


def test_two_symbols_book_into_one_ledger_as_computed_by_hand() -> None:
    engine = _engine()
    rows = _run(engine)
    for got, want in zip(rows, LEDGER, strict=True):
        assert got == pytest.approx(want, abs=1e-9)
    assert engine.account.realised == pytest.approx((110.0 - 102.0) * 10 - 1.02 - 1.10, abs=1e-9)
    assert engine.account.realised_by_symbol == pytest.approx({"X": 77.88})
    assert engine.account.symbol_pnl("Y") == pytest.approx((49.0 - 47.0) * 20 - 0.98, abs=1e-9)
    assert engine.account.bars == {"X": 4, "Y": 4}


def test_each_symbol_has_its_own_encoder_and_trigger_engine() -> None:
    engine = _engine()
    _run(engine)
    assert set(engine.patterns.encoders) == {"X", "Y"}
    assert engine.patterns.engine_for("X") is engine.hash_trigger_engine  # the first symbol's
    assert engine.patterns.engine_for("Y") is not engine.hash_trigger_engine
    assert engine.patterns.engine_for("Y").ticks == 0  # 4 prices: no hash yet, nothing mixed in


@pytest.mark.parametrize(
    ("share", "ids", "learnt"),
    [(True, {"scheduled"}, {"scheduled"}), (False, {"scheduled@X", "scheduled@Y"}, {"scheduled@X"})],
)
def test_share_evidence_decides_whose_outcomes_the_agent_pools(
    share: bool, ids: set[str], learnt: set[str]
) -> None:
    engine = _engine(share_evidence=share)
    _run(engine)
    assert {row.strategy_id for row in engine.store.executions()} == ids
    # X's closed trade is evidence for the strategy on every symbol, or on X only.
    assert set(engine.agent.statistics()["strategies"]) == learnt


@dataclass(frozen=True)
class _Held:
    execution_id: str
    symbol: str
    direction: int
    size: float
    entry_price: float
    entry_costs: float


_held = st.builds(
    _Held,
    execution_id=st.uuids().map(str),
    symbol=st.sampled_from(["X", "Y"]),
    direction=st.sampled_from([1, -1]),
    size=st.floats(0.001, 1e6),
    entry_price=st.floats(0.01, 1e5),
    entry_costs=st.floats(0.0, 100.0),
)


@given(
    positions=st.lists(_held, max_size=6),
    marks=st.dictionaries(st.sampled_from(["X", "Y"]), st.floats(0.01, 1e5)),
    realised=st.dictionaries(st.sampled_from(["X", "Y"]), st.floats(-1e6, 1e6)),
    total=st.floats(-1e6, 1e6),
)
def test_the_compiled_sums_equal_the_python_ones_to_the_bit(
    positions: list[_Held], marks: dict[str, float], realised: dict[str, float], total: float
) -> None:
    account: Account[_Held] = Account(1000.0)
    for position in positions:
        account.book_open(position)
    account.marks = dict(marks)
    account.realised, account.realised_by_symbol = total, dict(realised)
    reference = AccountSums(1000.0, dict(account.positions), dict(marks))
    reference.realised, reference.realised_by_symbol = total, dict(realised)
    assert account.equity() == reference.equity()
    for symbol in ("X", "Y", "Z"):
        position, pnl = account.holding(symbol)
        # The same sums in the same order: equal floats, and the int 0 where the Python gave it.
        want = reference.position(symbol)
        assert (type(position), position) == (type(want), want)
        assert (type(account.position(symbol)), account.position(symbol)) == (type(want), want)
        assert pnl == account.symbol_pnl(symbol) == reference.symbol_pnl(symbol)
    account.mark("Z", 5.0)
    account.mark("Z", 6.0)
    assert (account.marks["Z"], account.bars["Z"]) == (6.0, 2)
