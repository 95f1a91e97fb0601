"""Pattern hash and cursor state: hand-computed codes, streaming equals batch, bad input refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.engine.pattern_hash import CursorState, PatternEncoder, encode, quantise
from tengri.errors import InvalidInputError


def _prices_from_returns(returns: list[float], start: float = 100.0) -> list[float]:
    prices = [start]
    for r in returns:
        prices.append(prices[-1] * math.exp(r))
    return prices


def test_quantise_boundaries() -> None:
    assert quantise(-0.02, 0.01) == 0b00
    assert quantise(-0.01, 0.01) == 0b00  # ≤ −σ
    assert quantise(-0.005, 0.01) == 0b01
    assert quantise(0.0, 0.01) == 0b01  # (−σ, 0]
    assert quantise(0.005, 0.01) == 0b10
    assert quantise(0.01, 0.01) == 0b11  # ≥ σ
    assert quantise(0.0, 0.0) == 0b01  # a flat market stays in (−σ, 0]


def test_hash_by_hand() -> None:
    # span 1 makes σ the size of the newest return, 0.01; oldest code lands in the high bits.
    returns = [-0.02, -0.015, -0.005, 0.0, 0.005, 0.015, 0.02, 0.01]
    prices = _prices_from_returns(returns)
    prices[4] = prices[3]  # an exactly zero return
    value, cursor = encode(prices, timestamp=123.0, ewma_span=1)
    # codes oldest→newest: 00 00 01 01 10 11 11 11
    assert value == 0b0000010110111111
    assert cursor.triplet == (prices[-3], prices[-2], prices[-1])
    assert cursor.delta_idx == 0  # the 0.02 move is larger than the 0.01 move
    sigma = abs(math.log(prices[-1] / prices[-2]))
    expected = math.degrees(math.atan2((prices[-1] - prices[-2]) / (sigma * prices[-1]), 1.0))
    assert cursor.braid_angle == pytest.approx(expected)
    assert 40 < cursor.braid_angle < 46  # one σ of move is about 45 degrees
    assert cursor.timestamp == 123.0


def test_encode_needs_nine_finite_positive_prices() -> None:
    with pytest.raises(InvalidInputError, match="at least 9"):
        encode([100.0] * 8)
    with pytest.raises(InvalidInputError, match="price 3"):
        encode([100.0, 100.0, 100.0, math.nan, *[100.0] * 6])
    with pytest.raises(InvalidInputError, match="price 0"):
        encode([-1.0, *[100.0] * 9])


def test_encoder_not_ready_is_an_error() -> None:
    encoder = PatternEncoder()
    encoder.push(100.0)
    with pytest.raises(InvalidInputError, match="needs 9 prices"):
        encoder.current(0.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=-0.05, max_value=0.05, allow_nan=False), min_size=8, max_size=60),
    st.integers(min_value=1, max_value=50),
)
def test_streaming_equals_batch_and_snapshot_round_trips(returns: list[float], span: int) -> None:
    prices = _prices_from_returns(returns)
    encoder = PatternEncoder(span)
    for p in prices:
        encoder.push(p)
    streamed = encoder.current(5.0)
    assert streamed == encode(prices, 5.0, span)
    assert 0 <= streamed[0] <= 0xFFFF
    clone = PatternEncoder.from_snapshot(encoder.snapshot())
    assert clone.current(5.0) == streamed


def test_cursor_state_is_the_seeds_shape() -> None:
    cursor = CursorState(triplet=(100.0, 100.1, 100.2), delta_idx=1, braid_angle=45.0, timestamp=1.0)
    assert cursor.to_dict() == {
        "triplet": [100.0, 100.1, 100.2],
        "delta_idx": 1,
        "braid_angle": 45.0,
        "timestamp": 1.0,
    }
