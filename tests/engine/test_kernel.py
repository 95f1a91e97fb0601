"""The compiled core equals the plain-Python arithmetic it replaced (_kernel_reference), bit for bit."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tengri.engine import _kernel, _kernel_reference
from tengri.engine.pattern_hash import PatternEncoder
from tengri.engine.pattern_stats import PatternStats, PatternTable
from tengri.engine.rolling import RollingMean
from tengri.engine.signals import Tick
from tengri.engine.triggers import _FIRING, Trigger, TriggerState


def _prices(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    price, out = 100.0, []
    for i in range(n):
        # Calm stretches, jumps and exactly flat steps, so that every quantisation branch is taken.
        move = 0.0 if i % 17 == 0 else rng.gauss(0.0, 0.02 if i % 50 < 10 else 0.001)
        price *= math.exp(move)
        out.append(price)
    return out


@pytest.mark.parametrize("span", [1, 20, 97])
def test_the_encoder_equals_the_python_one_bit_for_bit(span: int) -> None:
    compiled, reference = PatternEncoder(span), _kernel_reference.PatternEncoder(span)
    hashes = set()
    for i, price in enumerate(_prices(5_000, seed=span)):
        expected = reference.update(price, float(i))
        got = compiled.update(price, float(i))
        if expected is None:
            assert got is None
            assert not compiled.ready
            continue
        assert got == expected  # floats compared with ==: the same bits, not approximately
        assert math.copysign(1.0, got[1].braid_angle) == math.copysign(1.0, expected[1].braid_angle)
        hashes.add(got[0])
    assert len(hashes) > 1_000  # the series reached many codes, not a few
    assert compiled.sigma == reference.sigma


def test_a_snapshot_restores_the_same_stream() -> None:
    prices = _prices(40, seed=3)
    whole, first = PatternEncoder(), PatternEncoder()
    for p in prices:
        whole.push(p)
    for p in prices[:25]:
        first.push(p)
    snapshot = first.snapshot()
    assert len(snapshot["prices"]) == 9
    assert len(snapshot["returns"]) == 8
    resumed = PatternEncoder.from_snapshot(snapshot)
    for p in prices[25:]:
        resumed.push(p)
    assert resumed.current(1.0) == whole.current(1.0)
    assert resumed.snapshot() == whole.snapshot()


def test_the_table_equals_welford_in_python_and_refuses_codes_outside_16_bits() -> None:
    table, references = PatternTable(), {code: PatternStats() for code in (0, 7, 0xFFFF)}
    rng = random.Random(5)
    for _ in range(3_000):
        code = rng.choice(list(references))
        x = rng.gauss(0.0, 0.01)
        assert table.add(code, x) == references[code].count + 1
        references[code].add(x)
    for code, stats in references.items():
        assert table.get(code) == stats
        assert table.t_stat(code) == stats.t_stat
    assert len(table) == 3
    for bad in (-1, 0x10000):
        with pytest.raises(IndexError, match="65535"):
            table.add(bad, 0.1)
        with pytest.raises(ValueError, match="65535"):
            table.set(bad, PatternStats(1, 0.1, 0.0))
    assert len(table) == 3  # a refused code changed nothing


def test_learn_updates_both_tables_and_reports_t_only_from_the_minimum_count() -> None:
    codes, masked = PatternTable(), PatternTable()
    expected_full, expected_masked = PatternStats(), PatternStats()
    for i in range(5):
        move = 0.01 + 0.001 * i
        t = _kernel.learn(codes, masked, 0x12AB, 0x00FF, move, 4)
        expected_full.add(move)
        expected_masked.add(move)
        assert t == (expected_masked.t_stat if expected_masked.count >= 4 else 0.0)
    assert t > 2.0
    assert codes.get(0x12AB) == expected_full
    assert masked.get(0x00AB) == expected_masked
    assert len(masked) == 1


def test_learn_equals_the_python_reference_over_many_codes() -> None:
    compiled = (PatternTable(), PatternTable())
    reference = (_kernel_reference.PatternTable(), _kernel_reference.PatternTable())
    rng = random.Random(11)
    for _ in range(20_000):
        code, move = rng.randrange(0x10000) & 0x0F0F, rng.gauss(0.0005, 0.01)
        got = _kernel.learn(*compiled, code, 0x00FF, move, 30)
        assert got == _kernel_reference.learn(*reference, code, 0x00FF, move, 30)
    counts, means, m2s = compiled[1].columns()
    assert counts.tolist() == list(reference[1].count)
    assert means.tolist() == list(reference[1].mean)
    assert m2s.tolist() == list(reference[1].m2)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("keep", [None, 3])
def test_the_compiled_objects_copy_and_pickle_mid_stream(keep: int | None, how: str) -> None:
    """Rolling means (a strategy holds them), an encoder and a table copy whole, and go on as the original."""
    import copy
    import pickle

    def clone(x: object) -> object:
        return copy.deepcopy(x) if how == "deepcopy" else pickle.loads(pickle.dumps(x))

    prices = _prices(400, seed=9)
    rolling, encoder, table = RollingMean(7, keep=keep), PatternEncoder(), PatternTable()
    for i, price in enumerate(prices[:250]):
        rolling.push(price)
        encoder.update(price, float(i))
        table.add(i % 50, price / 100.0)
    twin_rolling, twin_encoder, twin_table = clone(rolling), clone(encoder), clone(table)
    assert isinstance(twin_table, PatternTable)
    assert dict(twin_table.items()) == dict(table.items())
    assert len(twin_table) == 50
    assert isinstance(twin_rolling, RollingMean)
    assert isinstance(twin_encoder, PatternEncoder)
    for i, price in enumerate(prices[250:], start=250):
        rolling.push(price)
        twin_rolling.push(price)
        assert twin_encoder.update(price, float(i)) == encoder.update(price, float(i))
        assert twin_rolling.at() == rolling.at()
        assert twin_rolling.at(2) == rolling.at(2)


def test_match_fires_what_the_python_loop_fires_in_its_order_and_counts_it() -> None:
    rng = random.Random(11)
    states = list(TriggerState)

    def index() -> dict[int, dict[int, list[Trigger]]]:
        rng.seed(11)
        by_mask: dict[int, dict[int, list[Trigger]]] = {}
        for n in range(300):
            mask = rng.choice([0xFFFF, 0x00FF, 0x0F0F, 0x0003])
            pattern = rng.randrange(0x10000) & mask
            trigger = Trigger(f"T{n}", pattern, mask, "S", 1, state=rng.choice(states))
            by_mask.setdefault(mask, {}).setdefault(pattern, []).append(trigger)
        return by_mask

    compiled, reference = index(), index()
    fired_any = 0
    for _ in range(3000):
        hash_value = rng.randrange(0x10000)
        got = _kernel.match(compiled, hash_value, _FIRING)
        assert got == _kernel_reference.match(reference, hash_value, _FIRING)
        fired_any += bool(got)
    assert fired_any > 100  # the hashes did fire triggers, and states outside _FIRING held some back
    counts = [(t.trigger_id, t.fired) for bucket in compiled.values() for ts in bucket.values() for t in ts]
    assert counts == [(t.trigger_id, t.fired) for b in reference.values() for ts in b.values() for t in ts]
    assert any(
        t.state not in _FIRING and t.fired == 0 for b in compiled.values() for ts in b.values() for t in ts
    )


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("history_bars", [None, 25])
def test_a_strategy_copies_mid_stream_with_its_history_and_attributes(
    how: str, history_bars: int | None
) -> None:
    """The compiled history (StrategyCore) travels with the strategy's own attributes and goes on alike."""
    import copy
    import pickle

    from tengri.engine.signals import Tick
    from tengri.strategies import SmaCross

    prices = _prices(3000, seed=4)  # past the first 1024 columns: the array has grown or compacted
    ticks = [Tick("X", float(i), p, i, 1.0, p * 0.999, p * 1.002, p * 0.997) for i, p in enumerate(prices)]
    strategy = SmaCross(fast=5, slow=12)
    strategy.history_bars = history_bars  # SmaCross keeps 13 bars; None keeps all, 25 a few more
    for tick in ticks[:1500]:
        strategy._append(tick)
        strategy.next()
    twin = copy.deepcopy(strategy) if how == "deepcopy" else pickle.loads(pickle.dumps(strategy))
    assert type(twin) is SmaCross
    assert (twin.fast, twin.slow, twin.name, twin.history_bars) == (5, 12, "SmaCross", history_bars)
    assert twin.tick == strategy.tick
    assert len(twin) == len(strategy) == 1500
    for tick in ticks[1500:]:
        strategy._append(tick)
        twin._append(tick)
        assert twin.next() == strategy.next()
        assert twin.sma(5, 1) == strategy.sma(5, 1)
    for column in ("opens", "highs", "lows", "closes", "volumes"):
        np.testing.assert_array_equal(getattr(twin, column), getattr(strategy, column))
    assert len(strategy.closes) == (3000 if history_bars is None else 25)
    np.testing.assert_array_equal(strategy.lows, [t.low for t in ticks[-len(strategy.lows) :]])


def test_a_strategy_takes_ticks_only() -> None:
    from tengri.strategies import SmaCross

    strategy = SmaCross()
    with pytest.raises(TypeError, match="Tick"):
        strategy._append({"price": 1.0})  # type: ignore[arg-type]
    assert len(strategy) == 0


_numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e308, 5e-324, -1.0]),
    st.integers(-3, 3),
    st.just("1.0"),
)


@given(
    price=_numbers,
    timestamp=_numbers,
    volume=_numbers,
    bar=st.tuples(_numbers, _numbers, _numbers),
    symbol=st.one_of(st.none(), st.text(max_size=70), st.sampled_from(["X", "Y", "x" * 64, "x" * 65])),
    allowed=st.sampled_from([frozenset(), frozenset({"X"}), ("X", "Y")]),
    last=st.one_of(st.none(), st.floats(allow_nan=False), st.just(math.inf)),
)
def test_quick_tick_accepts_what_the_python_test_accepted(
    price: Any, timestamp: Any, volume: Any, bar: tuple[Any, Any, Any], symbol: Any, allowed: Any, last: Any
) -> None:
    last_time = {} if last is None else {"X": last, "Y": last}
    args = (price, timestamp, volume, symbol, *bar, 7, allowed, last_time)
    got, want = _kernel.quick_tick(*args), _kernel_reference.quick_tick(*args)
    assert got == want
    if want is not None:
        assert type(got) is Tick
        assert [type(v) for v in got] == [type(v) for v in want]


def test_quick_tick_takes_the_common_bar() -> None:
    tick = _kernel.quick_tick(2.0, 60.0, 5.0, "X", 1.5, 2.5, 1.0, 3, frozenset(), {"X": 0.0})
    assert tick == Tick("X", 60.0, 2.0, 3, 5.0, 1.5, 2.5, 1.0)
    assert _kernel.quick_tick(2.0, 59.0, 5.0, "X", 1.5, 2.5, 1.0, 3, frozenset(), {"X": 60.0}) is None  # back
    assert _kernel.quick_tick(2.0, 60.0, 5.0, "X", 1.5, 2.5, 1.0, 3, ("Y",), {}) is None  # unknown symbol
