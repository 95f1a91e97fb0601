"""Where entries come from: ticks in, signals out — pattern triggers, the model, a user's strategy.

A :class:`SignalSource` sees each validated :class:`Tick` once, in order, after the engine has
processed every earlier tick, and returns the :class:`Signal` s it wants acted on. It must use
nothing from the future: what it returns at tick ``t`` is filled (by default) at tick ``t + 1``.

:class:`Strategy` is the plug-in API for a user's own rule: subclass it, keep whatever state you
like, and return a target direction (+1 long, −1 short, 0 flat, ``None`` no opinion) from
:meth:`Strategy.next`; the engine turns changes of target into signals.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from tengri.engine import _kernel

__all__ = ["Bar", "Signal", "SignalSource", "Strategy", "StrategySource", "Target", "Tick"]


class Tick(NamedTuple):
    """One validated market observation (immutable).

    ``price`` is the last price (a bar's close); ``open``, ``high`` and ``low`` are given for bars
    and let the engine fill at the next bar's open and check stops inside a bar. A named tuple, not
    a frozen dataclass: one is made per tick, and a frozen dataclass takes five times as long to
    build (1.9 µs against 0.4 µs).
    """

    symbol: str
    timestamp: float
    price: float
    index: int  # type: ignore[assignment]  # the field, not tuple.index: a tick is never searched
    volume: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None


Bar = Tick


@dataclass(frozen=True, slots=True)
class Signal:
    """A wish to hold ``direction`` in ``strategy_id``.

    ``direction`` 0 asks to close the strategy's open execution without a new entry.
    ``confidence`` is the source's own (e.g. the model's calibrated probability); the engine
    still asks the memory agent before an entry.
    """

    strategy_id: str
    direction: int
    confidence: float | None = None
    hash_triggers: tuple[str, ...] = ()
    source: str = "user"
    info: dict[str, Any] = field(default_factory=dict)
    size: float | None = None
    sl: float | None = None
    tp: float | None = None
    reopen: bool = False
    limit: float | None = None
    stop: float | None = None
    expiry: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """What :meth:`Strategy.next` may return instead of a bare direction: a target with its orders.

    ``size`` is a fraction of equity when below 1, else a number of units (None: the configured
    sizing); ``sl`` and ``tp`` are stop-loss and take-profit *prices* attached to the entry and
    checked inside each bar (:mod:`tengri.engine.fills`); ``reopen`` closes a position already in
    ``direction`` and opens a new one (backtesting.py's ``position.close(); buy()``). ``limit``
    or ``stop`` makes the entry a limit or a stop order at that price (a market order at the
    next open otherwise), which waits ``expiry`` bars (None: until filled) before it lapses.
    """

    direction: int
    size: float | None = None
    sl: float | None = None
    tp: float | None = None
    reopen: bool = False
    limit: float | None = None
    stop: float | None = None
    expiry: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.stop is not None:
            raise ValueError("a Target is a limit or a stop order, not both")
        if self.expiry is not None and self.expiry < 1:
            raise ValueError(f"expiry must be at least 1 bar, got {self.expiry}")


@runtime_checkable
class SignalSource(Protocol):
    """Anything that turns ticks into signals."""

    name: str

    def on_tick(self, tick: Tick) -> Sequence[Signal]:
        """Return the signals for this tick (may be empty)."""
        ...


class Strategy(_kernel.StrategyCore):
    """Base class of a user's strategy: override :meth:`init` and :meth:`next`.

    The engine calls :meth:`next` once per tick with the history so far (``self.closes``,
    ``self.opens``, ``self.highs``, ``self.lows``, ``self.volumes`` as numpy arrays, newest last).
    Return +1 to be long, −1 to be short, 0 to be flat, ``None`` to keep the current target, or a
    :class:`Target` to give the entry a size, a stop-loss, a take-profit, or to close and reopen.

    Examples
    --------
    >>> class SmaCross(Strategy):
    ...     fast, slow = 10, 20
    ...     def next(self) -> int | None:
    ...         if len(self.closes) < self.slow + 1:
    ...             return None
    ...         f0, s0 = self.sma(self.fast, 1), self.sma(self.slow, 1)
    ...         f1, s1 = self.sma(self.fast), self.sma(self.slow)
    ...         if f0 <= s0 and f1 > s1:
    ...             return 1
    ...         if f0 >= s0 and f1 < s1:
    ...             return -1
    ...         return None
    """

    name: str = ""
    tick: Tick | None  # the newest tick (None before the first); kept by the compiled base
    history_bars: int | None = None
    """The newest ticks the strategy reads (None: all of them). With a number ``k`` the history
    arrays hold the newest ``k`` ticks, and ``sma(period, ago)`` answers for ``period + ago <= k``,
    so that a long replay's memory does not grow with its bars. ``len(self)`` counts every tick."""

    def __init__(self, **params: Any) -> None:
        for key, value in params.items():
            if not hasattr(type(self), key):
                raise TypeError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        if not self.name:
            self.name = type(self).__name__
        self.init()  # the history starts empty (StrategyCore)
        if self.history_bars is not None and not (
            isinstance(self.history_bars, int) and self.history_bars >= 1
        ):
            raise ValueError(
                f"{type(self).__name__}.history_bars must be a whole number of ticks >= 1 or None"
            )

    def init(self) -> None:
        """Prepare state before the first tick (override)."""

    def next(self) -> int | Target | None:
        """Return the target direction (or :class:`Target`) after the newest tick (override)."""
        raise NotImplementedError

    @property
    def opens(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Opens so far, oldest first."""
        return self._column(0)

    @property
    def highs(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Highs so far, oldest first."""
        return self._column(1)

    @property
    def lows(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Lows so far, oldest first."""
        return self._column(2)

    @property
    def closes(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Closes (tick prices) so far, oldest first."""
        return self._column(3)

    @property
    def volumes(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Volumes so far, oldest first."""
        return self._column(4)


class StrategySource:
    """Adapts a :class:`Strategy` to a :class:`SignalSource`: a change of target is a signal.

    Each symbol gets its own copy of the strategy, made before it saw any tick, so that a
    portfolio's interleaved ticks never mix one symbol's history into another's (``strategy`` is
    the first symbol's).
    """

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.name = strategy.name
        self._template = copy.deepcopy(strategy)
        self._first: str | None = None
        self._by_symbol: dict[str, Strategy] = {}
        self._targets: dict[str, int] = {}

    def _for(self, symbol: str) -> Strategy:
        if self._first is None:
            self._first = symbol
            self._by_symbol[symbol] = self.strategy
        strategy = self._by_symbol.get(symbol)
        if strategy is None:
            strategy = self._by_symbol[symbol] = copy.deepcopy(self._template)
        return strategy

    def on_tick(self, tick: Tick) -> Sequence[Signal]:
        """Feed the tick to its symbol's strategy; signal when its target changes, or it asks to reopen."""
        strategy = self._by_symbol.get(tick.symbol) or self._for(tick.symbol)  # a strategy is truthy
        strategy._append(tick)
        returned = strategy.next()
        if returned is None:
            return ()
        target = returned if isinstance(returned, Target) else Target(returned)
        if target.direction not in (-1, 0, 1):
            raise ValueError(f"{self.name}.next() must return -1, 0, 1, a Target or None, got {returned!r}")
        reopen = target.reopen and target.direction != 0
        if target.direction == self._targets.get(tick.symbol, 0) and not reopen:
            return ()
        self._targets[tick.symbol] = target.direction
        return (
            Signal(
                strategy_id=self.name,
                direction=target.direction,
                source="strategy",
                size=target.size,
                sl=target.sl,
                tp=target.tp,
                reopen=reopen,
                limit=target.limit,
                stop=target.stop,
                expiry=target.expiry,
            ),
        )

    def release(self, *, own_first: bool) -> None:
        """Drop the histories of the symbols' strategies (a replay's end, before its run files).

        The copies made per symbol are the source's own; the first symbol's strategy is the
        caller's object, emptied only with ``own_first``. A released strategy starts its history
        again at the next tick.
        """
        for symbol, strategy in self._by_symbol.items():
            if symbol != self._first or own_first:
                strategy._forget()

    def warm(self, tick: Tick) -> None:
        """Feed a tick seen before a restart: the strategy's state advances, no signal is sent."""
        strategy = self._for(tick.symbol)
        strategy._append(tick)
        returned = strategy.next()
        direction = returned.direction if isinstance(returned, Target) else returned
        if direction in (-1, 0, 1):
            self._targets[tick.symbol] = direction
