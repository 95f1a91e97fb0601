"""The account: cash, open positions in every symbol, their marks, and equity across all of them.

One account serves every symbol an engine trades (a replay's portfolio, the live ``/tick`` of any
symbol): a tick for any symbol marks that symbol, and equity always counts every position at its
own symbol's last price. The desk books fills into it (:meth:`Account.book_open`,
:meth:`Account.book_close`); sizing, the margin check and the risk limits read it.

The ledger (DESIGN.md, Account), with ``c₀`` the initial cash, ``R`` the realised profit of the
closed executions (net of their costs), and per open execution ``d`` its direction, ``q`` its size,
``e`` its entry fill, ``k`` its entry costs and ``m`` its symbol's mark:

- ``cash = c₀ + R − Σ (d·q·e + k)``: a buy pays its notional and commission, a short sale receives
  its notional; closing returns ``d·q·exit`` less the exit's costs, which lands in ``R``;
- ``position(symbol) = Σ d·q`` over the symbol's open executions (units, signed);
- ``equity = cash + Σ d·q·m = c₀ + R + Σ (d·(m − e)·q − k)``: the open executions marked to
  market net of their entry costs, as backtesting.py counts equity;
- ``gross exposure = Σ |q|·m``.

A symbol that has not ticked yet is marked at the entry price of its positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["Account", "Holding"]


class Holding(Protocol):
    """What the account needs of an open position (the desk's ``OpenPosition``)."""

    @property
    def execution_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def direction(self) -> int: ...
    @property
    def size(self) -> float: ...
    @property
    def entry_price(self) -> float: ...
    @property
    def entry_costs(self) -> float: ...


P = TypeVar("P", bound=Holding)


@dataclass(frozen=True, slots=True)
class _Overrides:
    """Marks that hold for one computation only (a fill price instead of the last close)."""

    price: float | None
    symbol: str | None


class Account(Generic[P]):
    """Cash, positions and marks of every symbol; equity and exposure (see the module docstring).

    ``positions`` maps execution ids to open positions; ``marks`` symbols to their last prices.
    """

    def __init__(self, cash: float) -> None:
        self.initial_cash = cash
        self.positions: dict[str, P] = {}
        self.marks: dict[str, float] = {}
        self.bars: dict[str, int] = {}  # ticks seen per symbol: holding periods and expiries count these
        self.realised = 0.0
        self.realised_by_symbol: dict[str, float] = {}
        self.closed_count = 0

    # -- marking ------------------------------------------------------------------------------
    def mark(self, symbol: str, price: float) -> None:
        """Take a tick of ``symbol`` at ``price``: its mark for the whole account; count its bar."""
        self.marks[symbol] = price
        self.bars[symbol] = self.bars.get(symbol, 0) + 1

    def price_of(self, position: Holding, at: _Overrides | None = None) -> float:
        """The price ``position`` is marked at: an override, its symbol's mark, else its entry."""
        if at is not None and at.price is not None and (at.symbol is None or at.symbol == position.symbol):
            return at.price
        return self.marks.get(position.symbol, position.entry_price)

    # -- booking ------------------------------------------------------------------------------
    def book_open(self, position: P) -> None:
        """Book an opened execution (its entry costs leave the cash with its notional)."""
        self.positions[position.execution_id] = position

    def book_close(self, execution_id: str, profit: float) -> None:
        """Book the close of an open execution with its realised ``profit`` (net of all its costs)."""
        position = self.positions.pop(execution_id)
        self.realised += profit
        self.realised_by_symbol[position.symbol] = self.realised_by_symbol.get(position.symbol, 0.0) + profit
        self.closed_count += 1

    def restore(
        self,
        realised: float,
        closed_count: int,
        positions: Iterable[P],
        realised_by_symbol: Mapping[str, float] | None = None,
    ) -> None:
        """Replace the ledger's realised profit, count and open positions (a checkpoint, the store)."""
        self.realised = realised
        self.closed_count = closed_count
        self.positions = {p.execution_id: p for p in positions}
        self.realised_by_symbol = dict(realised_by_symbol or {})

    # -- the ledger ---------------------------------------------------------------------------
    @property
    def cash(self) -> float:
        """``c₀ + R − Σ (d·q·e + k)`` over the open executions."""
        return (
            self.initial_cash
            + self.realised
            - sum(p.direction * p.size * p.entry_price + p.entry_costs for p in self.positions.values())
        )

    # The sums below that run with every tick are loops, not sum() over generators: the same
    # additions in the same order, without a generator's frame per call.
    def position(self, symbol: str) -> float:
        """The symbol's net position in units, ``Σ d·q`` (0 when flat)."""
        total: float = 0
        for p in self.positions.values():
            if p.symbol == symbol:
                total += p.direction * p.size
        return total

    def equity(self, price: float | None = None, symbol: str | None = None) -> float:
        """Initial cash + realised profit + every open position marked to market, net of entry costs.

        With ``price``, ``symbol``'s positions are marked at it instead of their mark (a fill at
        the open); without ``symbol`` every position is.
        """
        marked = 0.0
        if price is None:  # every tick's call: each position at its mark (inlined price_of)
            marks = self.marks
            for p in self.positions.values():
                entry = p.entry_price
                marked += p.direction * (marks.get(p.symbol, entry) - entry) * p.size - p.entry_costs
            return self.initial_cash + self.realised + marked
        at = _Overrides(price, symbol)
        for p in self.positions.values():
            marked += p.direction * (self.price_of(p, at) - p.entry_price) * p.size - p.entry_costs
        return self.initial_cash + self.realised + marked

    def holding(self, symbol: str) -> tuple[float, float]:
        """:meth:`position` and :meth:`symbol_pnl` of ``symbol`` in one pass (a bar's timeline needs both)."""
        total: float = 0
        marked: float = 0
        mark = self.marks.get(symbol)
        for p in self.positions.values():
            if p.symbol == symbol:
                total += p.direction * p.size
                entry = p.entry_price
                marked += p.direction * ((entry if mark is None else mark) - entry) * p.size - p.entry_costs
        return total, self.realised_by_symbol.get(symbol, 0.0) + marked

    def symbol_pnl(self, symbol: str) -> float:
        """The symbol's realised profit plus its open positions marked net of their entry costs."""
        marked: float = 0
        mark = self.marks.get(symbol)
        for p in self.positions.values():
            if p.symbol == symbol:
                entry = p.entry_price
                marked += p.direction * ((entry if mark is None else mark) - entry) * p.size - p.entry_costs
        return self.realised_by_symbol.get(symbol, 0.0) + marked

    def gross_exposure(self, price: float | None = None, symbol: str | None = None) -> float:
        """The open positions' value ``Σ |q|·m`` (``price`` overrides marks as in :meth:`equity`)."""
        if price is None:
            marks = self.marks
            total: float = 0
            for p in self.positions.values():
                total += abs(p.size) * marks.get(p.symbol, p.entry_price)
            return total
        at = _Overrides(price, symbol)
        return sum(abs(p.size) * self.price_of(p, at) for p in self.positions.values())

    def symbol_exposure(self, symbol: str, price: float | None = None) -> float:
        """The value ``Σ |q|·m`` of ``symbol``'s open positions."""
        at = None if price is None else _Overrides(price, symbol)
        return sum(abs(p.size) * self.price_of(p, at) for p in self.positions.values() if p.symbol == symbol)
