"""The compiled core equals the plain-Python arithmetic it replaced, bit for bit."""

from __future__ import annotations

import math
import random
from collections import deque

import pytest

from tengri.engine import _kernel
from tengri.engine.pattern_hash import CursorState, PatternEncoder, quantise
from tengri.engine.pattern_stats import PatternStats, PatternTable


class _ReferenceEncoder:
    """The Python encoder the kernel replaced (tengri 0.1 before the compiled core), as it was."""

    def __init__(self, span: int) -> None:
        self.alpha = 2.0 / (span + 1.0)
        self.prices: deque[float] = deque(maxlen=9)
        self.returns: deque[float] = deque(maxlen=8)
        self.variance: float | None = None

    def push(self, price: float) -> None:
        if self.prices:
            r = math.log(price / self.prices[-1])
            self.returns.append(r)
            r2 = r * r
            self.variance = (
                r2 if self.variance is None else (1 - self.alpha) * self.variance + self.alpha * r2
            )
        self.prices.append(price)

    def current(self, timestamp: float) -> tuple[int, CursorState]:
        sigma = math.sqrt(self.variance) if self.variance is not None else 0.0
        s = max(sigma, 1e-12)
        value = 0
        for r in self.returns:
            value = ((value << 2) | quantise(r, s)) & 0xFFFF
        p0, p1, p2 = self.prices[-3], self.prices[-2], self.prices[-1]
        angle = math.degrees(math.atan2((p2 - p1) / (s * p2), 1.0)) if s * p2 > 0 else 0.0
        return value, CursorState((p0, p1, p2), 0 if abs(p1 - p0) > abs(p2 - p1) else 1, angle, timestamp)


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
    compiled, reference = PatternEncoder(span), _ReferenceEncoder(span)
    hashes = set()
    for i, price in enumerate(_prices(5_000, seed=span)):
        reference.push(price)
        got = compiled.update(price, float(i))
        if len(reference.prices) < 9:
            assert got is None
            assert not compiled.ready
            continue
        expected = reference.current(float(i))
        assert got == expected  # floats compared with ==: the same bits, not approximately
        assert math.copysign(1.0, got[1].braid_angle) == math.copysign(1.0, expected[1].braid_angle)
        hashes.add(got[0])
    assert len(hashes) > 1_000  # the series reached many codes, not a few
    assert compiled.sigma == math.sqrt(reference.variance or 0.0)


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
