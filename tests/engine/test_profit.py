"""The profit coprocessor: incremental fit against numpy.polyfit, zones, validation, persistence."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tengri.config import TengriConfig
from tengri.engine._kernel_reference import IncrementalCubicFit as ReferenceFit
from tengri.engine.clock import ManualClock
from tengri.engine.profit import ProfitTrajectoryCoprocessor, ProfitVector, ZoneState
from tengri.engine.profit_fit import CubicFit, IncrementalCubicFit
from tengri.engine.store import MemoryMap
from tengri.errors import InvalidInputError, StoreError

T0 = 1_700_000_000.0


def _reference(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    tau = (times - times[-1]) / (times[-1] - times[0])
    return np.polyfit(tau, values, 3)[::-1]


def _assert_close(got: tuple[float, ...], want: np.ndarray) -> None:
    # The tolerance: largest coefficient difference ≤ 1e-6 of the largest coefficient.
    assert np.max(np.abs(np.asarray(got) - want)) <= 1e-6 * np.max(np.abs(want))


def test_seed_direct_component_usage() -> None:
    profit_coprocessor = ProfitTrajectoryCoprocessor()
    vector = profit_coprocessor.update(profit=150.0)
    assert vector.zone_state.value == "unknown"
    assert vector.n_points == 1
    assert profit_coprocessor.store is None


def test_full_window_with_epoch_times_matches_polyfit() -> None:
    rng = np.random.default_rng(7)
    n = 10_000
    total = 3 * n + 123  # the window slides over two full lengths and re-bases many times
    times = T0 + np.cumsum(rng.uniform(0.2, 3.0, total))
    values = 25_000.0 + np.cumsum(rng.normal(0.05, 4.0, total))
    coprocessor = ProfitTrajectoryCoprocessor(window_size=n)
    checkpoints = {5, 50, n - 1, n, n + 1, 2 * n + 17, total - 1}
    for i in range(total):
        vector = coprocessor.update(float(values[i]), float(times[i]))
        if i in checkpoints:
            lo = max(0, i + 1 - n)
            _assert_close(vector.coefficients, _reference(times[lo : i + 1], values[lo : i + 1]))
    assert vector.n_points == n
    window = values[-n:]
    ref = _reference(times[-n:], window)
    tau = (times[-n:] - times[-1]) / (times[-1] - times[-n])
    residual = window - np.polyval(ref[::-1], tau)
    s = window.std(ddof=1)
    assert vector.slope == pytest.approx(ref[1], rel=1e-9)
    assert vector.vector_strength == pytest.approx(1 / (1 + math.exp(-ref[1] / s)), rel=1e-9)
    assert vector.volatility == pytest.approx(math.sqrt((residual**2).sum() / (n - 4)) / s, rel=1e-6)
    assert coprocessor.average_profit == pytest.approx(window.mean(), rel=1e-12)


def test_fit_without_rebase_drifts_little_and_rebase_is_exact() -> None:
    rng = np.random.default_rng(3)
    times = T0 + np.cumsum(rng.uniform(0.5, 1.5, 5_000))
    values = np.cumsum(rng.normal(0, 1, 5_000))
    fit = IncrementalCubicFit(capacity=1_000, rebase_interval=10**9)  # never re-bases on its own
    for t, y in zip(times, values, strict=True):
        fit.push(float(t), float(y))
    _assert_close(fit.solve().coefficients, _reference(times[-1_000:], values[-1_000:]))
    fit.rebase()
    _assert_close(fit.solve().coefficients, _reference(times[-1_000:], values[-1_000:]))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_short_windows_fit_what_they_can(n: int) -> None:
    clock = ManualClock(T0)
    coprocessor = ProfitTrajectoryCoprocessor(clock=clock)
    values = [3.0, 5.0, 4.0, 8.0][:n]
    for v in values:
        clock.advance(1.0)
        vector = coprocessor.update(v)
    assert vector.zone_state is ZoneState.UNKNOWN
    if n == 1:
        assert vector.coefficients == (3.0, 0.0, 0.0, 0.0)
    else:
        tau = np.linspace(-1, 0, n)
        ref = np.polyfit(tau, values, min(3, n - 1))[::-1]
        assert np.allclose(vector.coefficients[: len(ref)], ref, atol=1e-9)


def _feed(coprocessor: ProfitTrajectoryCoprocessor, values: np.ndarray) -> ZoneState:
    for i, v in enumerate(values):
        vector = coprocessor.update(float(v), T0 + i)
    return vector.zone_state


def test_zones() -> None:
    x = np.linspace(-1.0, 0.0, 50)
    assert _feed(ProfitTrajectoryCoprocessor(), 100 * x) is ZoneState.SURGING
    assert _feed(ProfitTrajectoryCoprocessor(), -100 * x) is ZoneState.DRAWDOWN
    assert _feed(ProfitTrajectoryCoprocessor(), 100 * x**2) is ZoneState.STABLE  # P'(0) = 0
    assert _feed(ProfitTrajectoryCoprocessor(), np.full(50, 7.0)) is ZoneState.STABLE  # s = 0 guard
    noise = np.random.default_rng(1).normal(0, 1, 50)
    strict = TengriConfig.load(profit={"volatility_threshold": 0.5})
    assert _feed(ProfitTrajectoryCoprocessor(strict), noise) is ZoneState.VOLATILE
    assert _feed(ProfitTrajectoryCoprocessor(strict), 100 * x) is ZoneState.SURGING


def test_min_points_boundary() -> None:
    coprocessor = ProfitTrajectoryCoprocessor()
    zones = [coprocessor.update(float(i), T0 + i).zone_state for i in range(11)]
    assert zones[8] is ZoneState.UNKNOWN  # 9 points
    assert zones[9] is ZoneState.SURGING  # min_points = 10


def test_vector_strength_boundaries_follow_the_config() -> None:
    # V = logistic(P'(0)/s): a line y = a·τ over evenly spaced τ has s = |a|·std(τ), so V is fixed.
    x = np.linspace(-1.0, 0.0, 50)
    v_line = 1 / (1 + math.exp(-1 / x.std(ddof=1)))
    lenient = TengriConfig.load(profit={"surging_above": min(v_line + 0.01, 0.99)})
    assert _feed(ProfitTrajectoryCoprocessor(lenient), x) is ZoneState.STABLE
    assert _feed(ProfitTrajectoryCoprocessor(), x) is ZoneState.SURGING


def test_rejected_inputs_leave_state_unchanged() -> None:
    coprocessor = ProfitTrajectoryCoprocessor()
    coprocessor.update(1.0, T0)
    before = coprocessor.status()
    for profit, t in [
        (float("nan"), T0 + 1),
        (float("inf"), T0 + 1),
        (2.0, T0),
        (2.0, T0 - 5),
        (2.0, math.inf),
    ]:
        with pytest.raises(InvalidInputError):
            coprocessor.update(profit, t)
    with pytest.raises(InvalidInputError):
        coprocessor.update("12", T0 + 1)  # type: ignore[arg-type]
    assert coprocessor.status() == before
    assert coprocessor.window() == [(T0, 1.0)]


def test_clock_and_datetime_timestamps() -> None:
    clock = ManualClock(T0)
    coprocessor = ProfitTrajectoryCoprocessor(clock=clock)
    assert coprocessor.update(1.0).timestamp == T0
    second = coprocessor.update(2.0)  # the clock did not move: nudged, not rejected
    assert second.timestamp is not None
    assert second.timestamp > T0
    when = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    assert coprocessor.update(3.0, when).timestamp == when.timestamp()
    naive = dt.datetime(2024, 1, 2, 12)
    assert coprocessor.update(4.0, naive).timestamp == naive.replace(tzinfo=dt.UTC).timestamp()
    clock.set(T0 - 100)
    with pytest.raises(InvalidInputError):
        coprocessor.update(5.0)


def test_drift_coefficient_uses_window_mean() -> None:
    coprocessor = ProfitTrajectoryCoprocessor()
    assert coprocessor.drift_coefficient(70.0) == 0.5
    coprocessor.update(4.0, T0)
    coprocessor.update(8.0, T0 + 1)  # P_avg = 6 → 3 °C of headroom
    assert coprocessor.drift_coefficient(73.0) == pytest.approx(0.5)
    assert coprocessor.drift_coefficient(74.0) == pytest.approx(1 / (1 + math.exp(-1.0)))


def test_window_persists_and_restores() -> None:
    store = MemoryMap.in_memory()
    first = ProfitTrajectoryCoprocessor(store=store, window_size=20)
    for i in range(30):
        last = first.update(float(i * i), T0 + i)
    second = ProfitTrajectoryCoprocessor(store=store, window_size=20)
    assert second.n_points == 20
    restored = second.last_vector
    # Restoring re-bases the sums from the window; rounding may differ in the last bits.
    assert (restored.zone_state, restored.n_points, restored.timestamp) == (
        last.zone_state,
        last.n_points,
        last.timestamp,
    )
    assert np.allclose(restored.coefficients, last.coefficients, rtol=1e-12, atol=1e-9)
    assert second.window() == first.window()
    with pytest.raises(InvalidInputError):
        second.update(0.0, T0 + 29)  # the restored window knows the last time
    second.reset()
    assert store.profit_points("profit") == []


def test_store_failure_leaves_state_unchanged() -> None:
    store = MemoryMap.in_memory()
    coprocessor = ProfitTrajectoryCoprocessor(store=store)
    coprocessor.update(1.0, T0)
    store.close()
    with pytest.raises(StoreError):
        coprocessor.update(2.0, T0 + 1)
    assert coprocessor.n_points == 1


def test_vector_is_a_plain_profit_vector() -> None:
    # update() fills the frozen dataclass's __dict__ directly: it must equal one built normally.
    vector = ProfitTrajectoryCoprocessor().update(3.0, T0)
    fields = {f.name: getattr(vector, f.name) for f in dataclasses.fields(ProfitVector)}
    assert vars(vector) == fields
    assert vector == ProfitVector(**fields)
    assert hash(vector) == hash(ProfitVector(**fields))


def test_reload_rewinds_the_window_and_writes_nothing() -> None:
    from tengri.engine.store import MemoryMap

    store = MemoryMap.in_memory()
    coprocessor = ProfitTrajectoryCoprocessor(store=store, window_size=8)
    points = [(1_700_000_000.0 + 60 * i, 5.0 * i - 0.3 * i * i) for i in range(12)]
    for t, value in points:
        coprocessor.update(value, timestamp=t)
    fresh = ProfitTrajectoryCoprocessor(window_size=8)
    for t, value in points[:6]:
        fresh.update(value, timestamp=t)
    assert coprocessor.reload(points[:6]) == fresh.last_vector
    assert coprocessor.window() == points[:6]
    assert store.profit_points("profit") == points  # nothing written, nothing removed
    coprocessor.update(points[6][1], timestamp=points[6][0], persist=False)
    assert coprocessor.window() == points[:7]
    assert len(store.profit_points("profit")) == 12


def _same_fit(compiled: CubicFit, python: CubicFit) -> None:
    """Equal to the bit (NaN equal to NaN), field for field."""
    flat_c = (*compiled.coefficients, compiled.n, *compiled[2:])
    flat_p = (*python.coefficients, python.n, *python[2:])
    assert len(flat_c) == len(flat_p)
    for a, b in zip(flat_c, flat_p, strict=True):
        assert (type(a), a) == (type(b), b) or (math.isnan(a) and math.isnan(b))


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 40),
    rebase=st.integers(1, 25),
    steps=st.lists(
        st.tuples(
            st.one_of(st.floats(1e-6, 1e4), st.sampled_from([1e-9, 1.0, 60.0, 86_400.0])),  # time steps
            st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0, -1.0, 1e-12])),  # values
        ),
        min_size=0,
        max_size=120,
    ),
    reload_at=st.one_of(st.none(), st.integers(0, 120)),
)
def test_the_compiled_fit_is_the_python_fit_to_the_bit(
    capacity: int, rebase: int, steps: list[tuple[float, float]], reload_at: int | None
) -> None:
    """push, solve, mean and points as the Python gave them: wraps, re-bases, short and singular windows."""
    compiled = IncrementalCubicFit(capacity, rebase)
    python = ReferenceFit(capacity, rebase)
    _same_fit(compiled.solve(), python.solve())
    t = T0
    for i, (step, y) in enumerate(steps):
        t = max(t + step, math.nextafter(t, math.inf))  # times increase, as the coprocessor requires
        compiled.push(t, y)
        python.push(t, y)
        if i == reload_at:
            points = list(zip(*python.points(), strict=True))
            compiled.load(points)
            python.load(points)
        _same_fit(compiled.solve(), python.solve())
        assert compiled.mean == python.mean or (math.isnan(compiled.mean) and math.isnan(python.mean))
        assert compiled.newest == python.newest
        assert compiled.newest_time == python.newest_time
        assert compiled._sums == python._sums
    for mine, theirs in zip(compiled.points(), python.points(), strict=True):
        assert mine.tolist() == theirs.tolist()


def test_a_singular_window_falls_back_to_least_squares_in_both() -> None:
    """Times clustered far below the span make the Cholesky fail: both fall back, to the same fit."""
    compiled, python = IncrementalCubicFit(50, 10**9), ReferenceFit(50, 10**9)
    times = [T0 + 1e-7 * i for i in range(40)] + [T0 + 1e9]
    for i, t in enumerate(times):
        compiled.push(t, float(i % 3))
        python.push(t, float(i % 3))
    _same_fit(compiled.solve(), python.solve())
