"""The engine's compiled core: why Cython, measured against plain Python and Numba in the same run.

Every tick of a replay or a live feed pushes one price through the pattern encoder and folds the
previous code's move into the code and masked-code statistics (issue 17's first compiled piece:
``src/tengri/engine/_kernel.pyx``). The engine calls this once per tick from Python, so what
matters is the cost of one call, overhead included, not of a vectorised loop. Three versions of
the same arithmetic run the same 1,000,000-price random walk:

- ``cython``: the shipped kernel (``PatternEncoder.update`` and ``_kernel.learn``);
- ``python``: the pure-Python code it replaced (deques, ``math``, ``array`` tables), kept as
  ``tengri.engine._kernel_reference``, which the tests hold the kernel to bit for bit;
- ``numba``: the same state in NumPy arrays, one ``@njit`` call per tick (its compile time and
  import are printed apart; a cached compile still costs the import).

All three must produce the same hashes and the same statistics (checked); then the time per tick
and the ratios are printed.

Run: .venv/bin/python benchmarks/bench_kernel.py [--ticks N]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from tengri.engine import _kernel, _kernel_reference
from tengri.engine.pattern_hash import CursorState, PatternEncoder
from tengri.engine.pattern_stats import PatternTable

SPAN, MASK, MIN_COUNT = 20, 0x00FF, 30


def _walk(ticks: int) -> list[float]:
    rng = np.random.default_rng(17)
    return (100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, ticks)))).tolist()


def run(encoder_type, table_type, learn, prices: list[float]) -> tuple[int, float, float]:  # type: ignore[no-untyped-def]
    """The engine's per-tick sequence: push the price, read hash and cursor, learn the previous move."""
    encoder, codes, masked = encoder_type(SPAN), table_type(), table_type()
    pending: tuple[int, float] | None = None
    checksum, t_sum, angles = 0, 0.0, 0.0
    for i, price in enumerate(prices):
        out = encoder.update(price, float(i))
        if out is None:
            continue
        value = out[0]
        angles += out[1].braid_angle
        if pending is not None:
            t_sum += learn(codes, masked, pending[0], MASK, math.log(price / pending[1]), MIN_COUNT)
        pending = (value, price)
        checksum = (checksum * 31 + value) & 0xFFFFFFFF
    return checksum, t_sum, angles


def run_cython(prices: list[float]) -> tuple[int, float, float]:
    return run(PatternEncoder, PatternTable, _kernel.learn, prices)


def run_python(prices: list[float]) -> tuple[int, float, float]:
    reference = _kernel_reference
    return run(reference.PatternEncoder, reference.PatternTable, reference.learn, prices)


def _numba_step():  # type: ignore[no-untyped-def]
    from numba import njit

    @njit(cache=False)  # type: ignore[misc]
    def step(state, prices, returns, tables, price):  # type: ignore[no-untyped-def]
        # state: [n_prices, n_returns, variance, has_variance, pending_code, pending_price, alpha]
        n_prices = int(state[0])
        if n_prices:
            r = math.log(price / prices[n_prices - 1])
            n_returns = int(state[1])
            if n_returns == 8:
                returns[:7] = returns[1:]
                returns[7] = r
            else:
                returns[n_returns] = r
                state[1] = n_returns + 1
            r2 = r * r
            if state[3]:
                state[2] = (1 - state[6]) * state[2] + state[6] * r2
            else:
                state[2] = r2
                state[3] = 1.0
        if n_prices == 9:
            prices[:8] = prices[1:]
            prices[8] = price
        else:
            prices[n_prices] = price
            state[0] = n_prices + 1
            if n_prices + 1 < 9:
                return -1, 0.0, 0.0, 0.0, 0.0, 0, 0.0
        sigma = math.sqrt(state[2]) if state[3] else 0.0
        s = sigma if sigma > 1e-12 else 1e-12
        value = 0
        for i in range(int(state[1])):
            r = returns[i]
            code = (0 if r <= -s else 1) if r <= 0.0 else (2 if r < s else 3)
            value = ((value << 2) | code) & 0xFFFF
        t = 0.0
        if state[4] >= 0:
            move = math.log(price / state[5])
            for table, c in ((0, int(state[4])), (1, int(state[4]) & 0x00FF)):
                n = tables[table, 0, c] + 1.0
                tables[table, 0, c] = n
                mean = tables[table, 1, c]
                delta = move - mean
                mean += delta / n
                tables[table, 1, c] = mean
                tables[table, 2, c] += delta * (move - mean)
                if table == 1 and n >= 30:
                    m2 = tables[1, 2, c]
                    if m2 / (n - 1) > 0.0:
                        t = mean / math.sqrt(m2 / (n - 1) / n)
        state[4] = value
        state[5] = price
        p0, p1, p2 = prices[6], prices[7], prices[8]
        angle = math.degrees(math.atan2((p2 - p1) / (s * p2), 1.0)) if s * p2 > 0 else 0.0
        return value, t, p0, p1, p2, 0 if abs(p1 - p0) > abs(p2 - p1) else 1, angle

    return step


def run_numba(prices: list[float], step) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    state = np.array([0, 0, 0.0, 0.0, -1.0, 0.0, 2.0 / (SPAN + 1.0)])
    window, returns = np.zeros(9), np.zeros(8)
    tables = np.zeros((2, 3, 65536))
    checksum, t_sum, angles = 0, 0.0, 0.0
    for i, price in enumerate(prices):
        value, t, p0, p1, p2, delta_idx, angle = step(state, window, returns, tables, price)
        if value < 0:
            continue
        cursor = CursorState((p0, p1, p2), delta_idx, angle, float(i))  # what the engine passes on
        angles += cursor.braid_angle
        t_sum += t
        checksum = (checksum * 31 + value) & 0xFFFFFFFF
    return checksum, t_sum, angles


def _time(label: str, run, prices: list[float], rounds: int = 3) -> tuple[float, tuple[int, float, float]]:  # type: ignore[no-untyped-def]
    best, result = math.inf, (0, 0.0, 0.0)
    for _ in range(rounds):
        started = time.perf_counter()
        result = run(prices)
        best = min(best, time.perf_counter() - started)
    per_tick = 1e9 * best / len(prices)
    print(
        f"  {label:<8} {per_tick:8.0f} ns a tick  (best of {rounds}: {best:.2f} s)  checksum {result[0]:08x}"
    )
    return per_tick, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ticks", type=int, default=1_000_000)
    args = parser.parse_args()
    prices = _walk(args.ticks)
    print(f"pattern encoder + statistics, one call a tick, {args.ticks:,} ticks")
    started = time.perf_counter()
    import numba  # noqa: F401

    imported = time.perf_counter() - started
    step = _numba_step()
    started = time.perf_counter()
    step(np.array([0, 0, 0.0, 0.0, -1.0, 0.0, 0.1]), np.zeros(9), np.zeros(8), np.zeros((2, 3, 65536)), 100.0)
    compiled = time.perf_counter() - started
    print(f"  numba: import {imported:.2f} s, first-call compile {compiled:.2f} s (not in the figures below)")
    cython_ns, cython_result = _time("cython", run_cython, prices)
    python_ns, python_result = _time("python", run_python, prices)
    numba_ns, numba_result = _time("numba", lambda p: run_numba(p, step), prices)
    assert cython_result[0] == python_result[0] == numba_result[0], "the three versions hash differently"
    assert cython_result[1:] == python_result[1:], "the compiled statistics or angles differ from Python's"
    assert all(
        math.isclose(a, b, rel_tol=1e-9) for a, b in zip(numba_result[1:], python_result[1:], strict=True)
    )
    print(
        f"cython vs python: {python_ns / cython_ns:.1f}x faster; vs numba: {numba_ns / cython_ns:.1f}x faster"
    )


if __name__ == "__main__":
    main()
