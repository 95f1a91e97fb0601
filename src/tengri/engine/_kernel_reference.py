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
from typing import Any

from tengri.engine.pattern_hash import CursorState
from tengri.engine.signals import Tick

__all__ = ["AccountSums", "PatternEncoder", "PatternTable", "RiskMarks", "learn", "match", "quick_tick"]


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
