"""The compiled core's arithmetic in plain Python: what :mod:`tengri.engine._kernel` is checked against.

This is the Python the kernel replaced (deques, ``math``, ``array`` tables), with the kernel's
interface: ``tests/engine/test_kernel.py`` requires the two to agree bit for bit, and
``benchmarks/bench_kernel.py`` times one against the other. The engine never uses it.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Collection, Mapping
from math import sqrt
from typing import Any

from tengri.engine import profit_fit
from tengri.engine.pattern_hash import CursorState
from tengri.engine.profit_fit import CubicFit
from tengri.engine.signals import Tick

__all__ = [
    "AccountSums",
    "IncrementalCubicFit",
    "PatternEncoder",
    "PatternTable",
    "RiskMarks",
    "learn",
    "match",
    "quick_tick",
]


class PatternEncoder:
    """The streaming pattern hash of :class:`tengri.engine._kernel.PatternEncoder`, in Python."""

    def __init__(self, ewma_span: int = 20) -> None:
        self.alpha = 2.0 / (ewma_span + 1.0)
        self.prices: deque[float] = deque(maxlen=9)
        self.returns: deque[float] = deque(maxlen=8)
        self.variance: float | None = None

    @property
    def sigma(self) -> float:
        """The EWMA return volatility (0 before the first return)."""
        return math.sqrt(self.variance) if self.variance is not None else 0.0

    def update(self, price: float, timestamp: float) -> tuple[int, CursorState] | None:
        """Push ``price``; return the hash and cursor at ``timestamp``, or None before 9 prices."""
        if self.prices:
            r = math.log(price / self.prices[-1])
            self.returns.append(r)
            r2 = r * r
            self.variance = (
                r2 if self.variance is None else (1 - self.alpha) * self.variance + self.alpha * r2
            )
        self.prices.append(price)
        if len(self.prices) < 9:
            return None
        sigma = self.sigma
        s = sigma if sigma > 1e-12 else 1e-12
        value = 0
        for r in self.returns:  # quantise(r, s), inlined as the engine had it
            code = (0b00 if r <= -s else 0b01) if r <= 0.0 else (0b10 if r < s else 0b11)
            value = ((value << 2) | code) & 0xFFFF
        p0, p1, p2 = self.prices[-3], self.prices[-2], self.prices[-1]
        sigma_price = s * p2
        angle = math.degrees(math.atan2((p2 - p1) / sigma_price, 1.0)) if sigma_price > 0 else 0.0
        return value, CursorState((p0, p1, p2), 0 if abs(p1 - p0) > abs(p2 - p1) else 1, angle, timestamp)


class PatternTable:
    """Welford's count, mean and m2 of every 16-bit code, in three ``array('d')`` columns."""

    def __init__(self) -> None:
        self.count = array("d", bytes(8 * 65536))
        self.mean = array("d", bytes(8 * 65536))
        self.m2 = array("d", bytes(8 * 65536))

    def add(self, code: int, x: float) -> float:
        """Fold ``x`` into ``code``'s statistics; return its new count."""
        n = self.count[code] + 1.0
        self.count[code] = n
        mean = self.mean[code]
        delta = x - mean
        mean += delta / n
        self.mean[code] = mean
        self.m2[code] += delta * (x - mean)
        return n

    def t_stat(self, code: int) -> float:
        """t statistic of ``code``'s mean against zero (0 when undefined)."""
        count, m2 = self.count[code], self.m2[code]
        if count < 2 or m2 / (count - 1) <= 0.0:
            return 0.0
        return self.mean[code] / math.sqrt(m2 / (count - 1) / count)


def learn(
    codes: PatternTable, masked: PatternTable, code: int, mask: int, move: float, min_count: float
) -> float:
    """:func:`tengri.engine._kernel.learn` in Python."""
    codes.add(code, move)
    if masked.add(code & mask, move) < min_count:
        return 0.0
    return masked.t_stat(code & mask)


def match(by_mask: dict[int, dict[int, list[Any]]], hash_value: int, firing: tuple[Any, ...]) -> list[str]:
    """:func:`tengri.engine._kernel.match` in Python (the loop ``HashTriggerEngine.process_hash`` had)."""
    fired: list[str] = []
    for mask, bucket in by_mask.items():
        matches = bucket.get(hash_value & mask)
        if matches:
            for trigger in matches:
                if trigger.state in firing:
                    trigger.fired += 1
                    fired.append(trigger.trigger_id)
    return fired


def quick_tick(
    price: Any,
    timestamp: Any,
    volume: Any,
    symbol: Any,
    open: Any,
    high: Any,
    low: Any,
    index: int,
    allowed_symbols: Collection[str],
    last_time: Mapping[str, float],
) -> Tick | None:
    """:func:`tengri.engine._kernel.quick_tick` in Python (``validate_tick``'s first test as it was)."""
    inf = math.inf
    if (
        price.__class__ is float
        and 0.0 < price < inf
        and timestamp.__class__ is float
        and -inf < timestamp < inf
        and symbol.__class__ is str
        and 0 < len(symbol) <= 64
        and (volume is None or (volume.__class__ is float and 0.0 <= volume < inf))
        and (open is None or (open.__class__ is float and 0.0 < open < inf))
        and (high is None or (high.__class__ is float and 0.0 < high < inf))
        and (low is None or (low.__class__ is float and 0.0 < low < inf))
        and (not allowed_symbols or symbol in allowed_symbols)
    ):
        last = last_time.get(symbol)
        if last is None or timestamp >= last:
            return Tick(symbol, timestamp, price, index, volume, open, high, low)
    return None


class AccountSums:
    """:class:`tengri.engine._kernel.AccountCore`'s per-tick sums in Python (``Account``'s as they were)."""

    def __init__(self, initial_cash: float, positions: dict[str, Any], marks: dict[str, float]) -> None:
        self.initial_cash = initial_cash
        self.positions = positions
        self.marks = marks
        self.realised = 0.0
        self.realised_by_symbol: dict[str, float] = {}

    def position(self, symbol: str) -> float:
        total: float = 0
        for p in self.positions.values():
            if p.symbol == symbol:
                total += p.direction * p.size
        return total

    def equity(self) -> float:
        marked = 0.0
        marks = self.marks
        for p in self.positions.values():
            entry = p.entry_price
            marked += p.direction * (marks.get(p.symbol, entry) - entry) * p.size - p.entry_costs
        return self.initial_cash + self.realised + marked

    def symbol_pnl(self, symbol: str) -> float:
        marked: float = 0
        mark = self.marks.get(symbol)
        for p in self.positions.values():
            if p.symbol == symbol:
                entry = p.entry_price
                marked += p.direction * ((entry if mark is None else mark) - entry) * p.size - p.entry_costs
        return self.realised_by_symbol.get(symbol, 0.0) + marked


class RiskMarks:
    """``RiskGuard.mark`` as it was in Python (:class:`tengri.engine._kernel.RiskCore` compiles it).

    Returns, like the kernel, whether the kill switch trips; ``hits`` lists the limits' hits.
    """

    def __init__(self, max_daily_loss_pct: float | None, max_drawdown_pct: float | None) -> None:
        self.max_daily_loss_pct = max_daily_loss_pct
        self.max_drawdown_pct = max_drawdown_pct
        self.peak: float | None = None
        self.killed_at: int | None = None
        self.day: int | None = None
        self.day_start: float | None = None
        self.last_equity: float | None = None
        self.blocked_day: int | None = None
        self.hits: list[tuple[str, int]] = []

    def mark(self, equity: float, timestamp: float, index: int) -> bool:
        day = math.floor(timestamp / 86_400.0)
        if day != self.day:
            self.day = day
            self.day_start = self.last_equity if self.last_equity is not None else equity
        self.last_equity = equity
        if (
            self.max_daily_loss_pct is not None
            and self.blocked_day != day
            and self.day_start is not None
            and self.day_start > 0
            and equity <= self.day_start * (1.0 - self.max_daily_loss_pct / 100.0)
        ):
            self.blocked_day = day
            self.hits.append(("max_daily_loss", index))
        self.peak = equity if self.peak is None else max(self.peak, equity)
        if (
            self.max_drawdown_pct is not None
            and self.killed_at is None
            and self.peak > 0
            and equity <= self.peak * (1.0 - self.max_drawdown_pct / 100.0)
        ):
            self.killed_at = index
            self.hits.append(("max_drawdown", index))
            return True
        return False


def _solve_hankel4(
    u0: float, u1: float, u2: float, u3: float, u4: float, u5: float, u6: float, r: tuple[float, ...]
) -> tuple[float, float, float, float]:
    """Solve the 4×4 normal equations ``G a = r``, ``G[i][j] = u_(i+j)``, by an unrolled Cholesky."""
    l00 = sqrt(u0)
    l10 = u1 / l00
    l20 = u2 / l00
    l30 = u3 / l00
    l11 = sqrt(u2 - l10 * l10)
    l21 = (u3 - l20 * l10) / l11
    l31 = (u4 - l30 * l10) / l11
    l22 = sqrt(u4 - l20 * l20 - l21 * l21)
    l32 = (u5 - l30 * l20 - l31 * l21) / l22
    l33 = sqrt(u6 - l30 * l30 - l31 * l31 - l32 * l32)
    r0, r1, r2, r3 = r
    z0 = r0 / l00
    z1 = (r1 - l10 * z0) / l11
    z2 = (r2 - l20 * z0 - l21 * z1) / l22
    z3 = (r3 - l30 * z0 - l31 * z1 - l32 * z2) / l33
    a3 = z3 / l33
    a2 = (z2 - l32 * a3) / l22
    a1 = (z1 - l21 * a2 - l31 * a3) / l11
    a0 = (z0 - l10 * a1 - l20 * a2 - l30 * a3) / l00
    return a0, a1, a2, a3


class IncrementalCubicFit(profit_fit.IncrementalCubicFit):
    """The profit window's ``push`` and ``solve`` as they were in Python (the kernel's ``CubicCore``).

    Everything else (loading, the re-base, the points, the fallbacks) is the compiled fit's own
    class's: these two replace the compiled ones, on the same state.
    """

    def push(self, t: float, y: float) -> None:
        """Add the newest point (the caller guarantees t increases), dropping the oldest if full."""
        s0, s1, s2, s3, s4, s5, s6, ty0, ty1, ty2, ty3, yy = self._sums
        n = self.n
        head = self._head
        times = self._t_array
        values = self._y_array
        if n == self.capacity:
            # Subtract the oldest point's terms (x − a is exactly x + (−1)·a, as it was once added).
            p1 = float(times[head]) - self._t0
            yp = float(values[head]) - self._y0
            p2 = p1 * p1
            p3 = p2 * p1
            s0 -= 1.0
            s1 -= p1
            s2 -= p2
            s3 -= p3
            s4 -= p2 * p2
            s5 -= p3 * p2
            s6 -= p3 * p3
            ty0 -= yp
            ty1 -= p1 * yp
            ty2 -= p2 * yp
            ty3 -= p3 * yp
            yy -= yp * yp
            times[head] = t
            values[head] = y
            head += 1
            self._head = 0 if head == n else head
        else:
            i = head + n
            if i >= self.capacity:
                i -= self.capacity
            times[i] = t
            values[i] = y
            self.n = n + 1
            if n == 0:
                self._t0 = t
                self._y0 = y
        p1 = t - self._t0
        yp = y - self._y0
        p2 = p1 * p1
        p3 = p2 * p1
        self._sums = (
            s0 + 1.0,
            s1 + p1,
            s2 + p2,
            s3 + p3,
            s4 + p2 * p2,
            s5 + p3 * p2,
            s6 + p3 * p3,
            ty0 + yp,
            ty1 + p1 * yp,
            ty2 + p2 * yp,
            ty3 + p3 * yp,
            yy + yp * yp,
        )
        self._t_new = t
        self._since_rebase += 1
        if self._since_rebase >= self.rebase_interval:
            self.rebase()

    def solve(self) -> CubicFit:
        """Return the least-squares cubic of the window in τ (lower degree below 4 points)."""
        n = self.n
        if n == 0:
            return CubicFit((0.0, 0.0, 0.0, 0.0), 0, 0.0, 0.0, 0.0, 0.0, 0.0)
        s0, s1, s2, s3, s4, s5, s6, y0, y1, y2, y3, yy = self._sums
        t_old = float(self._t_array[self._head])
        t_new = self._t_new
        mean_p = y0 / n
        mean = self._y0 + mean_p
        ss = yy - y0 * mean_p  # Σ(y − ȳ)², clamped at 0 against rounding
        var = (ss if ss > 0.0 else 0.0) / (n - 1) if n > 1 else 0.0
        h = (t_new - t_old) / 2.0
        if n == 1 or h <= 0.0:
            return CubicFit((mean, 0.0, 0.0, 0.0), n, mean, var**0.5, 0.0, t_old, t_new)
        # The Taylor shift of the sums to the window's centre (see the compiled solve).
        m = -((t_old + t_new) / 2.0 - self._t0)
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s3 += m * s2
        s2 += m * s1
        s1 += m * s0
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s3 += m * s2
        s2 += m * s1
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s3 += m * s2
        s6 += m * s5
        s5 += m * s4
        s4 += m * s3
        s6 += m * s5
        s5 += m * s4
        s6 += m * s5
        y3 += m * y2
        y2 += m * y1
        y1 += m * y0
        y3 += m * y2
        y2 += m * y1
        y3 += m * y2
        g = 1.0 / h
        g2 = g * g
        g3 = g2 * g
        u0 = s0
        u1 = s1 * g
        u2 = s2 * g2
        u3 = s3 * g3
        u4 = s4 * (g2 * g2)
        u5 = s5 * (g3 * g2)
        u6 = s6 * (g3 * g3)
        u_y = (y0, y1 * g, y2 * g2, y3 * g3)
        if n >= 4:
            size = 4
            try:
                a0, a1, a2, a3 = _solve_hankel4(u0, u1, u2, u3, u4, u5, u6, u_y)
            except (ValueError, ZeroDivisionError):
                a0, a1, a2, a3 = self._lstsq_u(self._t0 - m, h)
        else:
            size = n
            a0, a1, a2, a3 = self._solve_small(n, (u0, u1, u2, u3, u4), u_y)
        rss = yy - (a0 * u_y[0] + a1 * u_y[1] + a2 * u_y[2] + a3 * u_y[3])
        rss = rss if rss > 0.0 else 0.0
        dof = n - size
        residual_std = (rss / dof) ** 0.5 if dof > 0 else 0.0
        b0 = a0 + a1 + a2 + a3 + self._y0
        b1 = 2.0 * (a1 + 2.0 * a2 + 3.0 * a3)
        b2 = 4.0 * (a2 + 3.0 * a3)
        b3 = 8.0 * a3
        return CubicFit((b0, b1, b2, b3), n, mean, var**0.5, residual_std, t_old, t_new)
