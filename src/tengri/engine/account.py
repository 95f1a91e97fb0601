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

from tengri.engine import _kernel

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


class Account(_kernel.AccountCore, Generic[P]):
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
    # mark(symbol, price), each tick's call, is the compiled core's (AccountCore): the symbol's
    # mark for the whole account, and its bar counted.

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

    # position(symbol), holding(symbol), symbol_pnl(symbol) and equity() are the compiled
    # core's (AccountCore): what every tick reads.

    def _equity_at(self, price: float, symbol: str | None) -> float:
        """:meth:`equity` with ``symbol``'s positions (every one without ``symbol``) marked at ``price``."""
        marked = 0.0
        at = _Overrides(price, symbol)
        for p in self.positions.values():
            marked += p.direction * (self.price_of(p, at) - p.entry_price) * p.size - p.entry_costs
        return self.initial_cash + self.realised + marked

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
