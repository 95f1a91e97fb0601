"""Position sizing: how many units an entry buys, from the signal's size or a sizing policy.

The budget of an entry is a value to put in the market; its size in units is
``budget / (fill · (1 + commission))``, at most ``notional_cap / fill``, in whole units when
``trading.whole_units`` is set. The budget, for equity ``E`` and leverage ``L``:

- the signal's own size (:class:`~tengri.engine.signals.Target`): below 1 a fraction ``f`` of
  equity, budget ``L·f·E``; from 1 up, a number of units, taken as it is;
- ``sizing = "fixed_fraction"`` (default): ``L·position_fraction·E / max_open_executions``;
- ``sizing = "volatility"``: the size whose one-ATR move is ``volatility_target·E``, i.e.
  ``volatility_target·E / ATR`` units, no more than the fixed fraction's budget; ATR is Wilder's
  average true range over ``atr_period`` bars up to the bar before the fill (no entry before it
  has ``atr_period`` bars);
- ``sizing = "kelly"``: the Kelly fraction of an even-payoff bet won with probability ``C``, the
  agent's C_final of the entry, ``2C − 1``, capped at ``kelly_cap``: budget
  ``L·min(kelly_cap, 2C − 1)·position_fraction·E``; no entry when ``C ≤ 0.5``.

ATR is kept here, tick by tick, rather than by TA-Lib: the engine sees one bar at a time.
"""

from __future__ import annotations

import math

from tengri.config import TradingConfig
from tengri.engine.signals import Tick

__all__ = ["Sizer"]


class _WilderATR:
    """Wilder's average true range, one bar at a time (TA-Lib's ``ATR`` seeded by a simple mean)."""

    __slots__ = ("_count", "_period", "_previous_close", "_seed", "value")

    def __init__(self, period: int) -> None:
        self._period = period
        self._previous_close: float | None = None
        self._count = 0
        self._seed = 0.0
        self.value: float | None = None

    def push(self, high: float, low: float, close: float) -> None:
        previous = self._previous_close
        self._previous_close = close
        if previous is None:
            return  # the first bar has no true range (TA-Lib's ATR starts at the second)
        true_range = max(high - low, abs(high - previous), abs(low - previous))
        self._count += 1
        n = self._period
        if self.value is not None:
            self.value = (self.value * (n - 1) + true_range) / n
        elif self._count < n:
            self._seed += true_range
        else:
            self.value = (self._seed + true_range) / n


class Sizer:
    """Sizes entries by the signal's size or ``trading.sizing`` (see the module docstring)."""

    def __init__(self, config: TradingConfig) -> None:
        self.config = config
        self._atr: dict[str, _WilderATR] = {}

    def observe(self, tick: Tick) -> None:
        """Take a closed bar into the symbol's ATR (only the volatility policy needs it)."""
        if self.config.sizing != "volatility":
            return
        atr = self._atr.get(tick.symbol)
        if atr is None:
            atr = self._atr[tick.symbol] = _WilderATR(self.config.atr_period)
        price = tick.price
        atr.push(
            tick.high if tick.high is not None else price, tick.low if tick.low is not None else price, price
        )

    def snapshot(self) -> dict[str, list[float | int | None]]:
        """The ATR state per symbol, for the engine's checkpoint."""
        return {
            symbol: [atr._previous_close, atr._count, atr._seed, atr.value]
            for symbol, atr in self._atr.items()
        }

    def restore(self, state: dict[str, list[float | int | None]]) -> None:
        """Restore :meth:`snapshot` output."""
        self._atr = {}
        for symbol, (previous, count, seed, value) in state.items():
            atr = self._atr[symbol] = _WilderATR(self.config.atr_period)
            atr._previous_close = None if previous is None else float(previous)
            atr._count = int(count or 0)
            atr._seed = float(seed or 0.0)
            atr.value = None if value is None else float(value)

    def atr(self, symbol: str) -> float | None:
        """The symbol's current ATR (None before ``atr_period`` bars, or under another policy)."""
        atr = self._atr.get(symbol)
        return None if atr is None else atr.value

    def budget(
        self, equity: float, symbol: str, signal_size: float | None, confidence: float | None
    ) -> float:
        """The value an entry puts in the market (0 when the policy declines it)."""
        cfg = self.config
        if signal_size is not None and signal_size < 1:
            return cfg.leverage * signal_size * equity
        fixed = cfg.leverage * cfg.position_fraction * equity / cfg.max_open_executions
        if cfg.sizing == "kelly":
            edge = 2.0 * (confidence if confidence is not None else 0.5) - 1.0
            return cfg.leverage * min(cfg.kelly_cap, max(edge, 0.0)) * cfg.position_fraction * equity
        return fixed

    def size(
        self,
        fill: float,
        equity: float,
        symbol: str,
        signal_size: float | None = None,
        confidence: float | None = None,
    ) -> float:
        """Units to buy at ``fill`` (0 or NaN: no entry)."""
        cfg = self.config
        if signal_size is not None and signal_size >= 1:
            size = min(signal_size, cfg.notional_cap / fill)
        else:
            budget = self.budget(equity, symbol, signal_size, confidence)
            size = min(budget / (fill * (1.0 + cfg.commission)), cfg.notional_cap / fill)
            if cfg.sizing == "volatility" and (signal_size is None):
                atr = self.atr(symbol)
                if atr is None or not atr > 0:
                    return 0.0
                size = min(size, cfg.volatility_target * equity / atr)
        if cfg.whole_units:
            size = math.floor(size + 1e-9)
        return size
