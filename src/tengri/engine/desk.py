"""The execution desk: turns entry and exit decisions into strategy executions, with sizing and costs.

Decisions taken on tick ``t`` are filled on tick ``t + 1`` at its open (a bar's open, or the next
tick's price when there is no open), so that nothing acts on a price it could not have traded at
(``fill_policy = "next_tick"``, the default). With ``fill_policy = "this_tick"`` they fill at once
at the deciding tick's price.

Costs (DESIGN.md, Strategy execution): a buy fills at ``p·(1 + slippage)``, a sell at
``p·(1 − slippage)``; commission is ``commission · price · size`` on each fill. Profit is
``direction·(exit − entry)·size − costs`` on the slipped prices. Size is the sizer's
(:mod:`tengri.engine.sizing`: the signal's size, or fixed fraction, volatility or Kelly); equity
is the account's (:mod:`tengri.engine.account`): the initial cash plus realised profit plus the
open executions of every symbol marked to market, net of their entry costs (as backtesting.py
counts it). The desk books its fills into that one account.

Notional cap (issue 18): a position's value at entry is at most ``trading.notional_cap`` (N), and
it closes at most at ``entry + N / size``, as a resting order at the cap would, so one execution's
profit or loss is within ±1.2·N (costs included). N is at most 1e11, and no entry opens once the
realised profit is beyond ±``MAX_ABS_PROFIT / 2``; with at most 1000 open executions the realised
profit therefore stays within ``MAX_ABS_PROFIT`` (5e14 + 1000·1.2e11 < 1e15), whatever the prices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tengri.config import RiskConfig, TradingConfig
from tengri.engine.account import Account
from tengri.engine.agent import ExecutionOutcome, MemoryAgent
from tengri.engine.fills import levels
from tengri.engine.profit import MAX_ABS_PROFIT
from tengri.engine.risk import RiskGuard
from tengri.engine.signals import Tick
from tengri.engine.sizing import Sizer
from tengri.engine.store.records import ExecutionRecord
from tengri.errors import ExecutionAlreadyCompletedError, ExecutionNotFoundError

__all__ = ["Decision", "ExecutionDesk", "OpenPosition"]

_ENTRY_STOP = MAX_ABS_PROFIT / 2

ExitReason = Literal[
    "holding",
    "opposite",
    "stop_loss",
    "take_profit",
    "expired",
    "signal",
    "shutdown",
    "margin_call",
    "reopen",
    "risk_kill",
]


@dataclass(frozen=True, slots=True)
class Decision:
    """An entry (``execution_id`` None) or an exit waiting for its fill."""

    strategy_id: str
    direction: int
    decided_index: int
    hash_triggers: tuple[str, ...] = ()
    confidence: float | None = None
    context: dict[str, Any] = field(default_factory=dict)
    execution_id: str | None = None
    reason: str = "entry"
    source: str = "pattern"
    size: float | None = None  # the signal's: a fraction of equity below 1, else units
    sl: float | None = None
    tp: float | None = None
    limit: float | None = None  # an entry's limit or stop price (engine.fills.entry_fill)
    stop: float | None = None
    expires_index: int | None = None  # the symbol's last bar count (Account.bars) it may fill at
    symbol: str = ""  # the symbol it fills on ("" from a checkpoint before portfolios: the next tick's)

    @property
    def resting(self) -> bool:
        """Whether it is a limit or stop entry, which waits for its price (a market one fills next bar)."""
        return self.limit is not None or self.stop is not None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "strategy_id": self.strategy_id,
            "direction": self.direction,
            "decided_index": self.decided_index,
            "hash_triggers": list(self.hash_triggers),
            "confidence": self.confidence,
            "context": self.context,
            "execution_id": self.execution_id,
            "reason": self.reason,
            "source": self.source,
            "size": self.size,
            "sl": self.sl,
            "tp": self.tp,
            "limit": self.limit,
            "stop": self.stop,
            "expires_index": self.expires_index,
            "symbol": self.symbol,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """Rebuild a decision from :meth:`to_dict` output."""
        return cls(**{**data, "hash_triggers": tuple(data["hash_triggers"])})


@dataclass(slots=True)
class OpenPosition:
    """An open execution as the desk tracks it."""

    execution_id: str
    strategy_id: str
    direction: int
    entry_price: float
    size: float
    opened_index: int
    opened_at: float
    symbol: str
    hash_triggers: tuple[str, ...]
    entry_costs: float = 0.0
    sl: float | None = None  # stop-loss and take-profit prices (engine.fills)
    tp: float | None = None
    opened_bar: int | None = None  # the symbol's bar count at the fill (Account.bars): holding periods

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["hash_triggers"] = list(self.hash_triggers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenPosition:
        """Rebuild a position from :meth:`to_dict` output."""
        return cls(**{**data, "hash_triggers": tuple(data["hash_triggers"])})

    @classmethod
    def from_record(cls, row: ExecutionRecord) -> OpenPosition:
        """The position of an open execution as stored (its desk context names symbol and tick)."""
        ctx = row.context
        return cls(
            execution_id=row.execution_id,
            strategy_id=row.strategy_id,
            direction=row.direction,
            entry_price=row.entry_price,
            size=row.size,
            opened_index=int(ctx.get("opened_index", 0)),
            opened_at=row.opened_at,
            symbol=str(ctx.get("symbol", "")),
            hash_triggers=row.hash_triggers,
            entry_costs=row.costs,
            sl=ctx.get("sl"),
            tp=ctx.get("tp"),
            opened_bar=ctx.get("opened_bar"),
        )

    def marked(self, price: float) -> float:
        """Profit of the position at ``price``, net of the entry's costs, before the exit's."""
        return self.direction * (price - self.entry_price) * self.size - self.entry_costs


class ExecutionDesk:
    """Holds pending decisions and open positions of one agent; opens and closes executions."""

    def __init__(
        self,
        agent: MemoryAgent,
        config: TradingConfig | None = None,
        risk: RiskConfig | None = None,
        account: Account[OpenPosition] | None = None,
    ) -> None:
        self.agent = agent
        self.config = config or TradingConfig()
        self.account: Account[OpenPosition] = account if account is not None else Account(self.config.cash)
        self.sizer = Sizer(self.config)
        self.risk = RiskGuard(risk or RiskConfig())
        self.pending: list[Decision] = []

    @property
    def positions(self) -> dict[str, OpenPosition]:
        """The account's open positions by execution id."""
        return self.account.positions

    @positions.setter
    def positions(self, positions: dict[str, OpenPosition]) -> None:
        self.account.positions = positions

    @property
    def realised(self) -> float:
        """The account's realised profit, net of costs."""
        return self.account.realised

    @property
    def closed_count(self) -> int:
        """Executions the account has closed."""
        return self.account.closed_count

    # -- state --------------------------------------------------------------------------------
    def restore(
        self,
        realised: float,
        closed_count: int,
        pending: list[Decision],
        positions: Sequence[OpenPosition] | None = None,
        realised_by_symbol: dict[str, float] | None = None,
        *,
        by_symbol: Sequence[ExecutionRecord] = (),
    ) -> None:
        """Restore realised profit, counts, pending decisions and positions (default: the store's).

        The realised profit per symbol is ``realised_by_symbol``, else summed over the closed
        rows ``by_symbol``.
        """
        if realised_by_symbol is None:
            realised_by_symbol = {}
            for row in by_symbol:
                symbol = str(row.context.get("symbol", ""))
                realised_by_symbol[symbol] = realised_by_symbol.get(symbol, 0.0) + (row.profit or 0.0)
        self.pending = list(pending)
        if positions is None:
            positions = [
                OpenPosition.from_record(row) for row in self.agent.store.open_executions(self.agent.agent_id)
            ]
        self.account.restore(realised, closed_count, positions, realised_by_symbol)

    def adopt(self, rows: Sequence[ExecutionRecord]) -> list[ExecutionRecord]:
        """Bring positions and realised profit in line with stored rows (oldest event first).

        Used when crash recovery ends with rows that re-processing did not reproduce: an open row
        becomes a position, a closed one ends its position and counts. Returns the closed rows.
        """
        closed: list[ExecutionRecord] = []
        for row in rows:
            if row.status == "open":
                self.positions.setdefault(row.execution_id, OpenPosition.from_record(row))
                continue
            if row.execution_id not in self.positions:
                self.positions[row.execution_id] = OpenPosition.from_record(row)
            self.account.book_close(row.execution_id, row.profit or 0.0)
            closed.append(row)
        return closed

    def equity(self, price: float | None = None, symbol: str | None = None) -> float:
        """The account's equity (:meth:`Account.equity`): every position at its symbol's mark.

        ``symbol``'s positions are marked at ``price`` instead (a fill at the open); without
        ``symbol`` every position is marked at ``price``.
        """
        return self.account.equity(price, symbol)

    def position_for(self, strategy_id: str, symbol: str) -> OpenPosition | None:
        """The open position of a strategy on a symbol, if any."""
        for position in self.positions.values():
            if position.strategy_id == strategy_id and position.symbol == symbol:
                return position
        return None

    def pending_for(self, strategy_id: str, symbol: str | None = None) -> Decision | None:
        """A pending entry of a strategy (on ``symbol``, when given), if any."""
        for decision in self.pending:
            if (
                decision.strategy_id == strategy_id
                and decision.execution_id is None
                and (symbol is None or decision.symbol in (symbol, ""))
            ):
                return decision
        return None

    def bars_held(self, position: OpenPosition, tick: Tick) -> int:
        """Bars of its own symbol the position has been open at ``tick``."""
        if position.opened_bar is None:  # opened before the account counted bars per symbol
            return tick.index - position.opened_index
        return self.account.bars.get(position.symbol, 0) - position.opened_bar

    # -- fills --------------------------------------------------------------------------------
    def _slipped(self, price: float, side: int) -> float:
        return price * (1.0 + side * self.config.slippage)

    def _cap_price(self, position: OpenPosition) -> float:
        """The price at which the position's move reaches the notional cap (the highest it closes at)."""
        return position.entry_price + self.config.notional_cap / position.size

    def open(self, decision: Decision, tick: Tick, price: float) -> str | None:
        """Open an execution for ``decision`` at ``price``; return its id (None if it cannot size)."""
        if len(self.positions) >= self.config.max_open_executions:
            return None
        if abs(self.realised) >= _ENTRY_STOP:
            return None  # see the module docstring: keeps the realised profit within MAX_ABS_PROFIT
        if not self.risk.allows_entry(tick.timestamp):
            return None
        fill = self._slipped(price, decision.direction)
        equity = self.equity(price, tick.symbol)
        size = self.sizer.size(fill, equity, tick.symbol, decision.size, decision.confidence)
        if self.risk.limits:
            gross = self.account.gross_exposure(price, tick.symbol)
            symbol_value = self.account.symbol_exposure(tick.symbol, price)
            size = self.risk.cap(size, fill, equity, gross, symbol_value)
            if self.config.whole_units:
                size = math.floor(size + 1e-9)
        if not (size > 0 and math.isfinite(size)):
            return None
        cfg = self.config
        sl, tp = levels(decision.direction, fill, decision.sl, decision.tp, cfg.stop_loss, cfg.take_profit)
        context = {
            **decision.context,
            "symbol": tick.symbol,
            "opened_index": tick.index,
            "opened_bar": self.account.bars.get(tick.symbol, 0),
            "source": decision.source,
            "sl": sl,
            "tp": tp,
        }
        entry_costs = self.config.commission * fill * size
        execution_id = self.agent.start_strategy(
            decision.strategy_id,
            decision.hash_triggers,
            fill,
            decision.confidence,
            decision.direction,
            context,
            size=size,
            costs=entry_costs,
            opened_at=tick.timestamp,
        )
        self.account.book_open(
            OpenPosition(
                execution_id=execution_id,
                strategy_id=decision.strategy_id,
                direction=decision.direction,
                entry_price=fill,
                size=size,
                opened_index=tick.index,
                opened_at=tick.timestamp,
                symbol=tick.symbol,
                hash_triggers=decision.hash_triggers,
                entry_costs=entry_costs,
                sl=sl,
                tp=tp,
                opened_bar=context["opened_bar"],
            )
        )
        return execution_id

    def close(self, execution_id: str, tick: Tick, price: float, reason: str) -> ExecutionOutcome:
        """Close an open execution at ``price`` (slipped against its direction)."""
        position = self.positions[execution_id]
        fill = min(self._slipped(price, -position.direction), self._cap_price(position))
        try:
            outcome = self.agent.complete_strategy(
                execution_id,
                fill,
                max(0.0, tick.timestamp - position.opened_at),
                costs=self.config.commission * fill * position.size,
                status="expired" if reason == "expired" else "closed",
                closed_at=tick.timestamp,
                reason=reason,
            )
        except (ExecutionAlreadyCompletedError, ExecutionNotFoundError):
            # Closed (or removed) by another writer: nothing left to retry.
            del self.positions[execution_id]
            raise
        # Removed only once the close is durable: a store failure leaves the position to retry.
        self.account.book_close(execution_id, outcome.profit)
        return outcome
