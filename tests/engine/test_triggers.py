"""Hash triggers: matching under masks, pattern mapping, auto-registration, dormancy, collapse."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from tengri.config import TriggerConfig
from tengri.engine.pattern_hash import CursorState
from tengri.engine.pattern_stats import PatternStats, PatternTable
from tengri.engine.store import MemoryMap
from tengri.engine.triggers import HashTriggerEngine, Trigger, TriggerState
from tengri.errors import InvalidInputError, StoreError, TriggerNotFoundError


def _cursor(price: float, prev: float = 100.0) -> CursorState:
    return CursorState(triplet=(prev, prev, price), delta_idx=1, braid_angle=0.0, timestamp=0.0)


def test_fires_when_masked_bits_match() -> None:
    engine = HashTriggerEngine(auto_register=False)
    full = engine.register(pattern=0x1234, strategy_id="S1", trigger_id="FULL")
    low = engine.register(pattern=0x0034, mask=0x00FF, strategy_id="S2", direction=-1, trigger_id="LOW")
    assert engine.process_hash(0x1234, _cursor(100.0)) == ["FULL", "LOW"]
    assert engine.process_hash(0xAB34, _cursor(100.0)) == ["LOW"]
    assert engine.process_hash(0x1235, _cursor(100.0)) == []
    assert full.fired == 1
    assert low.fired == 2
    assert {t.trigger_id for t in engine.active()} == {"FULL", "LOW"}


def test_register_rejects_bad_triggers() -> None:
    engine = HashTriggerEngine(auto_register=False)
    engine.register(pattern=1, strategy_id="S", trigger_id="A")
    with pytest.raises(InvalidInputError, match="already registered"):
        engine.register(pattern=2, strategy_id="S", trigger_id="A")
    with pytest.raises(InvalidInputError, match="pattern"):
        engine.register(pattern=0x10000, strategy_id="S")
    with pytest.raises(InvalidInputError, match="direction"):
        engine.register(Trigger("B", 1, 0xFFFF, "S", direction=0))
    with pytest.raises(InvalidInputError, match="needs a pattern"):
        engine.register(strategy_id="S")
    with pytest.raises(InvalidInputError, match="16-bit"):
        engine.process_hash(70_000, _cursor(100.0))
    with pytest.raises(TriggerNotFoundError):
        engine.record_outcome("nope", True)


def test_pattern_mapping_learns_the_next_move() -> None:
    engine = HashTriggerEngine(auto_register=False)
    prices = [100.0, 101.0, 100.0, 102.0]
    codes = [7, 9, 7, 9]
    for code, price in zip(codes, prices, strict=True):
        engine.process_hash(code, _cursor(price))
    stats = engine.pattern_mapping(7)
    moves = [math.log(101.0 / 100.0), math.log(102.0 / 100.0)]
    assert stats.count == 2
    assert stats.mean == pytest.approx(sum(moves) / 2)
    assert stats.variance == pytest.approx((moves[0] - moves[1]) ** 2 / 2)
    assert engine.pattern_mapping(9).count == 1  # the last 9 still waits for its next move


def test_auto_registration_follows_a_significant_code() -> None:
    config = TriggerConfig(auto_register_min_count=20, auto_register_mask=0x000F)
    engine = HashTriggerEngine(config)
    price = 100.0
    # Code 0x3 is always followed by a rise of 0.5% ± a little; code 0x5 by noise around zero.
    for i in range(60):
        engine.process_hash(0x0003, _cursor(price))
        price *= 1.005 + (0.001 if i % 2 else -0.001)
        engine.process_hash(0x0005, _cursor(price))
        price *= 1.0 + (0.002 if i % 2 else -0.002)
    auto = [t for t in engine.triggers() if t.source == "auto"]
    assert [t.pattern for t in auto] == [0x3]
    assert auto[0].direction == 1
    assert auto[0].mask == 0x000F


def _scripted(config: TriggerConfig) -> tuple[HashTriggerEngine, Trigger]:
    engine = HashTriggerEngine(config, auto_register=False)
    return engine, engine.register(pattern=1, strategy_id="S", trigger_id="T")


def test_dormant_then_probation_then_active() -> None:
    config = TriggerConfig(
        dormant_threshold=0.4, dormant_min_samples=4, dormant_ticks=10, collapse_min_samples=100
    )
    engine, trigger = _scripted(config)
    for _ in range(4):
        engine.record_outcome("T", False)  # confidence (1+0)/(2+4) = 0.167 < 0.4
    assert trigger.state is TriggerState.DORMANT
    assert engine.process_hash(1, _cursor(100.0)) == []  # asleep: does not fire
    for _ in range(9):
        engine.process_hash(2, _cursor(100.0))
    assert trigger.state is TriggerState.PROBATION  # woke after 10 ticks
    assert engine.process_hash(1, _cursor(100.0)) == ["T"]
    for outcome in (True, True, True, False):  # (1+3)/(2+4) = 0.667 ≥ 0.4
        engine.record_outcome("T", outcome)
    assert trigger.state is TriggerState.ACTIVE


def test_probation_failure_sleeps_again() -> None:
    config = TriggerConfig(
        dormant_threshold=0.4, dormant_min_samples=3, dormant_ticks=2, collapse_min_samples=100
    )
    engine, trigger = _scripted(config)
    for _ in range(3):
        engine.record_outcome("T", False)
    engine.process_hash(0, _cursor(100.0))
    engine.process_hash(0, _cursor(100.0))
    assert trigger.state is TriggerState.PROBATION
    for _ in range(3):
        engine.record_outcome("T", False)
    assert trigger.state is TriggerState.DORMANT


def test_collapse_is_final() -> None:
    config = TriggerConfig(dormant_threshold=0.0, dormant_min_samples=1, collapse_min_samples=10)
    engine, trigger = _scripted(config)
    outcomes = [True] + [False] * 9  # Beta(2, 10): 95% upper bound ≈ 0.38 < 0.5
    for outcome in outcomes:
        engine.record_outcome("T", outcome)
    assert trigger.state is TriggerState.COLLAPSED
    engine.record_outcome("T", True)
    assert trigger.state is TriggerState.COLLAPSED
    assert trigger.outcomes == 10  # nothing more is counted after retirement
    assert engine.process_hash(1, _cursor(100.0)) == []
    assert engine.statistics()["by_state"]["collapsed"] == 1


def test_collapse_needs_evidence() -> None:
    config = TriggerConfig(dormant_threshold=0.0, dormant_min_samples=1, collapse_min_samples=10)
    engine, trigger = _scripted(config)
    for outcome in [True, True, False, False, True, False, False, True, False, True]:
        engine.record_outcome("T", outcome)  # 5 of 10: upper bound well above 0.5
    assert trigger.state is TriggerState.ACTIVE


def test_snapshot_restores_learnt_state() -> None:
    engine = HashTriggerEngine(auto_register=False)
    for code, price in [(1, 100.0), (2, 101.0), (1, 99.0), (3, 100.0)]:
        engine.process_hash(code, _cursor(price))
    clone = HashTriggerEngine(auto_register=False)
    clone.restore(engine.snapshot())
    assert clone.snapshot() == engine.snapshot()
    assert clone.pattern_mapping(1) == engine.pattern_mapping(1)


def test_packed_statistics_round_trip_exactly_and_read_the_older_form() -> None:
    table = PatternTable()
    expected = {
        0: PatternStats(2**40, 0.1 / 3, 1e300),
        7: PatternStats(3, -1e-5, 2.5e-9),
        0xFFFF: PatternStats(1),
    }
    for code, stats in expected.items():
        table.set(code, stats)
    table.set(9, PatternStats(2, 1.0, 1.0))
    table.set(9, PatternStats())  # forgotten again
    assert len(table) == 3
    assert dict(PatternTable.unpack(table.pack()).items()) == expected
    assert len(PatternTable.unpack(table.pack())) == 3
    assert dict(PatternTable.unpack(PatternTable().pack()).items()) == {}
    older = {"7": [3, 0.5, 0.25], "65535": [1, -0.1, 0.0]}
    assert dict(PatternTable.unpack(older).items()) == {
        7: PatternStats(3, 0.5, 0.25),
        65535: PatternStats(1, -0.1, 0.0),
    }


def test_pattern_table_follows_welford_and_refuses_a_damaged_pack() -> None:
    table, reference = PatternTable(), PatternStats()
    for x in [0.5, -0.25, 1.0, 0.125]:
        assert table.add(0x1234, x) == reference.count + 1
        reference.add(x)
    assert table.get(0x1234) == reference
    assert table.t_stat(0x1234) == pytest.approx(reference.t_stat)
    assert table.get(0x4321) == PatternStats()
    with pytest.raises(ValueError, match="16 bits"):
        PatternTable.unpack(
            base64.b64encode(np.array([70_000.0, 1.0, 0.0, 0.0]).astype("<f8").tobytes()).decode()
        )


def test_a_store_keeps_the_pattern_statistics_out_of_the_snapshot() -> None:
    store = MemoryMap.in_memory()
    engine = HashTriggerEngine(store=store, auto_register=False)
    for code, price in [(1, 100.0), (2, 101.0), (1, 99.0), (3, 100.0)]:
        engine.process_hash(code, _cursor(price))
    engine.save_stats()  # as a checkpoint does: save, then snapshot
    snapshot = engine.snapshot()
    assert (snapshot["codes"], snapshot["masked"]) == (None, None)  # not in the snapshot
    assert len(store.pattern_stats("triggers:codes:log0") or b"") == 2 * 32  # codes 1 and 2 learnt a move

    # A save that no snapshot followed (a crash before the checkpoint's state was written) leaves
    # the statistics of the snapshot before it. The save wrote the changes alone: code 3's move.
    engine.process_hash(7, _cursor(100.5))
    engine.save_stats()
    assert len(store.pattern_stats("triggers:codes:log1") or b"") == 1 * 32
    assert len(store.pattern_stats("triggers:codes:log0") or b"") == 2 * 32
    stale = HashTriggerEngine(store=store, auto_register=False)
    stale.restore(snapshot)
    assert stale.statistics()["codes_seen"] == 2

    clone = HashTriggerEngine(store=store, auto_register=False)
    clone.restore(engine.snapshot())
    for code in (1, 2, 3, 7):
        assert clone.pattern_mapping(code) == engine.pattern_mapping(code)
    assert clone.statistics()["codes_seen"] == 3

    # A checkpoint from before the table (statistics packed in it) is still read.
    packed = HashTriggerEngine(auto_register=False)
    packed.restore(snapshot | {"codes": engine._code_stats.pack(), "masked": engine._masked_stats.pack()})
    older = HashTriggerEngine(store=MemoryMap.in_memory(), auto_register=False)
    older.restore(packed.snapshot())
    assert older.pattern_mapping(1) == engine.pattern_mapping(1)
    # A snapshot whose statistics the store lost is refused, not read as no statistics.
    with pytest.raises(StoreError, match="missing"):
        HashTriggerEngine(store=MemoryMap.in_memory(), auto_register=False).restore(snapshot)


def _stats_rows(store: MemoryMap) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT owner FROM pattern_stats").scalars())


def test_the_store_keeps_the_statistics_as_a_log_of_changes_compacted_into_whole_tables() -> None:
    store = MemoryMap.in_memory()
    engine = HashTriggerEngine(store=store, auto_register=False)
    rng = np.random.default_rng(3)
    price, snapshots, whole_rows, kept_from = 100.0, [], [], 0
    for checkpoint in range(40):
        for _ in range(25):  # a few new codes at each checkpoint, and many seen before
            price *= 1.0 + rng.normal(0, 0.01)
            engine.process_hash(int(rng.integers(0, 64 + 4 * checkpoint)), _cursor(price))
        engine.save_stats()
        snapshot = engine.snapshot()
        base, last, _ = snapshot["stats_log"]
        snapshots.append((snapshot, engine._code_stats.to_bytes(), engine._masked_stats.to_bytes()))
        whole_rows.append(base == last)
        # The rows from the previous snapshot's whole table on, of both tables: older ones went.
        rows = [int(owner.rsplit(":log", 1)[1]) for owner in _stats_rows(store)]
        assert sorted(rows) == sorted(2 * list(range(kept_from, last + 1)))
        kept_from = base
    assert whole_rows[0]
    assert 3 <= sum(whole_rows) <= 10, whole_rows  # compacted now and then, not at every save
    # The last snapshots read back to the tables they were taken with (a whole table, then changes).
    for snapshot, codes, masked in snapshots[-3:]:
        clone = HashTriggerEngine(store=store, auto_register=False)
        clone.restore(snapshot)
        assert (clone._code_stats.to_bytes(), clone._masked_stats.to_bytes()) == (codes, masked)
    # A restored engine goes on as the original does: the same rows at its next checkpoints. (A
    # checkpoint after the last whole table, so that the changes since it count.)
    for _ in range(25):
        price *= 1.0 + rng.normal(0, 0.01)
        engine.process_hash(int(rng.integers(0, 300)), _cursor(price))
    engine.save_stats()
    snapshot = engine.snapshot()
    assert snapshot["stats_log"][2] > 0
    resumed = HashTriggerEngine(store=store, auto_register=False)
    resumed.restore(snapshot)
    for _ in range(20):
        for _ in range(25):
            price *= 1.0 + rng.normal(0, 0.01)
            code = int(rng.integers(0, 300))
            engine.process_hash(code, _cursor(price))
            resumed.process_hash(code, _cursor(price))
        engine.save_stats()
        ours = engine.snapshot()["stats_log"]
        resumed.save_stats()
        assert resumed.snapshot()["stats_log"] == ours
    # The rows of an older snapshot's log may be gone, which its restore says.
    with pytest.raises(StoreError, match="missing"):
        HashTriggerEngine(store=store, auto_register=False).restore(snapshots[0][0])


def test_a_checkpoint_of_two_slots_is_read_and_its_slots_go_once_the_log_is_checkpointed() -> None:
    store = MemoryMap.in_memory()
    engine = HashTriggerEngine(auto_register=False)
    for code, price in [(1, 100.0), (2, 101.0), (1, 99.0), (3, 100.0)]:
        engine.process_hash(code, _cursor(price))
    for name, table in (("codes", engine._code_stats), ("masked", engine._masked_stats)):
        store.put_pattern_stats(f"triggers:{name}:1", table.to_bytes())
        store.put_pattern_stats(f"triggers:{name}:0", b"")  # the other slot, older
    snapshot = engine.snapshot() | {"codes": None, "masked": None, "stats_slot": 1}
    resumed = HashTriggerEngine(store=store, auto_register=False)
    resumed.restore(snapshot)
    assert resumed._code_stats.to_bytes() == engine._code_stats.to_bytes()
    resumed.save_stats()  # no checkpoint refers to the log yet: the slots stay
    assert "triggers:codes:1" in _stats_rows(store)
    resumed.snapshot()
    resumed.save_stats()
    assert not [o for o in _stats_rows(store) if ":log" not in o]


def test_packed_statistics_as_bytes_round_trip_and_refuse_a_torn_row() -> None:
    table = PatternTable()
    table.add(5, 0.5)
    table.add(0xFFFF, -0.25)
    table.add(5, 0.25)
    copy = PatternTable.from_bytes(table.to_bytes())
    assert dict(copy.items()) == dict(table.items())
    assert len(PatternTable().to_bytes()) == 0
    with pytest.raises(ValueError, match="32 bytes"):
        PatternTable.from_bytes(table.to_bytes()[:-8])


def test_outcome_counts_are_written_on_flush_and_state_changes_at_once() -> None:
    store = MemoryMap.in_memory()
    config = TriggerConfig(dormant_threshold=0.4, dormant_min_samples=4, collapse_min_samples=100)
    engine = HashTriggerEngine(config, store=store, auto_register=False)
    engine.register(pattern=1, strategy_id="S", trigger_id="T")
    engine.record_outcome("T", True)
    engine.record_outcome("T", False)
    assert store.get_trigger("T").stats["successes"] == 0  # counts wait for flush
    assert engine.flush() == 1
    assert (store.get_trigger("T").stats["successes"], store.get_trigger("T").stats["failures"]) == (1, 1)
    assert engine.flush() == 0  # nothing changed since
    for _ in range(2):
        engine.record_outcome("T", False)  # the 4th outcome of the epoch, confidence 2/6: dormant
    row = store.get_trigger("T")
    assert (row.state, row.stats["failures"]) == ("dormant", 3)  # the change of state is written at once
    assert HashTriggerEngine(config, store=store, auto_register=False).get("T").state is TriggerState.DORMANT


def test_no_collapse_bound_is_needed_while_successes_keep_up() -> None:
    # record_outcome skips the Beta bound when successes >= failures: there it is never under 0.5.
    from tengri.engine.triggers import _upper_bound

    assert all(_upper_bound(s, f) >= 0.5 for s in range(60) for f in range(s + 1))
    assert _upper_bound(2, 12) < 0.5  # and with enough failures it is
