"""What a tick decides: fills of earlier decisions, exits, and entries gated by the agent's confidence.

Mixed into :class:`~tengri.engine.orchestrator.SystemOrchestrator`, whose tick calls, in order,
:meth:`TradingDecisions._fill_pending` (decisions of the previous tick filled at this tick's open,
exits first), :meth:`TradingDecisions._decide_exits` (stop-loss and take-profit filled inside the bar by
:mod:`tengri.engine.fills`, the holding period) and,
once the hash has fired its triggers, :meth:`TradingDecisions._entries`: the signals of the pattern
triggers, the predictor and the user's sources; an opposite signal exits; an entry needs the
agent's confidence in the current context to reach ``min_confidence`` (plus ``defensive_margin``
in a drawdown or volatile profit zone) unless the strategy is still exploring: its first
``explore_outcomes`` executions (closed, open or pending) are taken to gather evidence, and from
then on every entry is judged. Age does not re-open exploration; it moves the evidence back
toward the prior (:mod:`tengri.engine.confidence`). A signal for another direction cancels the
strategy's resting limit or stop entry on that symbol. :attr:`TradingDecisions.entries` counts the
entries taken, those of them taken by exploration, and those the gate refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tengri.config import TengriConfig
from tengri.engine.agent import ExecutionOutcome, MemoryAgent
from tengri.engine.desk import Decision, ExecutionDesk
from tengri.engine.duties import Health
from tengri.engine.fills import entry_fill, level_fill
from tengri.engine.profit import ZoneState
from tengri.engine.signals import Signal, SignalSource, Tick
from tengri.engine.symbols import SymbolPatterns
from tengri.errors import TengriError

__all__ = ["TradingDecisions"]

_DEFENSIVE_ZONES = frozenset({ZoneState.DRAWDOWN.value, ZoneState.VOLATILE.value})


class TradingDecisions:
    """The orchestrator's fills, exits and entries (see the module docstring)."""

    config: TengriConfig
    agent: MemoryAgent
    desk: ExecutionDesk
    health: Health
    patterns: SymbolPatterns
    predictor: SignalSource | None
    signal_sources: list[SignalSource]
    entries: dict[str, int]
    """``taken``, ``exploring`` (taken below the threshold, to explore), ``refused_low_confidence``."""

    def _fill_pending(self, tick: Tick, opened: list[dict[str, Any]], closed: list[ExecutionOutcome]) -> None:
        if not self.desk.pending:
            return
        fill = tick.open if tick.open is not None else tick.price
        pending, self.desk.pending = self.desk.pending, []
        bars = self.desk.account.bars.get(tick.symbol, 0)
        for decision in sorted(pending, key=lambda d: d.execution_id is None):  # exits first
            if decision.symbol not in (tick.symbol, ""):
                self.desk.pending.append(decision)  # fills at its own symbol's next bar
                continue
            price = fill
            if decision.limit is not None or decision.stop is not None:  # a limit or stop entry
                high = tick.high if tick.high is not None else tick.price
                low = tick.low if tick.low is not None else tick.price
                hit = entry_fill(decision.direction, decision.limit, decision.stop, fill, high, low)
                if hit is None:
                    if decision.expires_index is None or bars < decision.expires_index:
                        self.desk.pending.append(decision)  # waits for a later bar
                    continue
                price = hit
            self._execute(decision, tick, price, opened, closed)

    def _execute(
        self,
        decision: Decision,
        tick: Tick,
        price: float,
        opened: list[dict[str, Any]],
        closed: list[ExecutionOutcome],
    ) -> str | None:
        try:
            if decision.execution_id is not None:
                if decision.execution_id in self.desk.positions:
                    closed.append(self.desk.close(decision.execution_id, tick, price, decision.reason))
                return decision.execution_id
            execution_id = self.desk.open(decision, tick, price)
        except TengriError as exc:
            self.health.fail("executions", f"{type(exc).__name__}: {exc.message}")
            return None
        self.health.ok("executions")
        if execution_id is not None:
            position = self.desk.positions[execution_id]
            opened.append(
                {
                    "execution_id": execution_id,
                    "strategy_id": decision.strategy_id,
                    "direction": decision.direction,
                    "entry_price": position.entry_price,
                    "size": position.size,
                    "hash_triggers": list(decision.hash_triggers),
                    "confidence": decision.confidence,
                }
            )
        return execution_id

    def _queue(
        self, decision: Decision, tick: Tick, opened: list[dict[str, Any]], closed: list[ExecutionOutcome]
    ) -> str | None:
        if self.config.trading.fill_policy == "this_tick" and not decision.resting:  # resting: next bar on
            return self._execute(decision, tick, tick.price, opened, closed)
        self.desk.pending.append(decision)
        return None

    def _exit(
        self,
        position_id: str,
        tick: Tick,
        reason: str,
        opened: list[dict[str, Any]],
        closed: list[ExecutionOutcome],
    ) -> None:
        if any(d.execution_id == position_id for d in self.desk.pending):
            return
        position = self.desk.positions[position_id]
        decision = Decision(
            strategy_id=position.strategy_id,
            direction=-position.direction,
            decided_index=tick.index,
            execution_id=position_id,
            reason=reason,
            symbol=position.symbol,
        )
        self._queue(decision, tick, opened, closed)

    def _decide_exits(self, tick: Tick, closed: list[ExecutionOutcome]) -> None:
        positions = self.desk.positions
        if not positions:
            return
        holding_bars = self.config.trading.holding_bars
        symbol = tick.symbol
        opened: list[dict[str, Any]] = []
        bar: tuple[float, float, float] | None = None  # the tick's open, high and low, once needed
        for position in list(positions.values()):
            if position.symbol != symbol:
                continue
            hit = None
            if position.sl is not None or position.tp is not None:  # a level to hit inside the bar
                if bar is None:
                    price = tick.price
                    bar = (
                        tick.open if tick.open is not None else price,
                        tick.high if tick.high is not None else price,
                        tick.low if tick.low is not None else price,
                    )
                hit = level_fill(position.direction, position.sl, position.tp, *bar)
            if hit is not None:
                self._execute(
                    Decision(
                        position.strategy_id,
                        -position.direction,
                        tick.index,
                        execution_id=position.execution_id,
                        reason=hit[1],
                        symbol=position.symbol,
                    ),
                    tick,
                    hit[0],
                    opened,
                    closed,
                )
            elif holding_bars is not None and self.desk.bars_held(position, tick) >= holding_bars:
                self._exit(position.execution_id, tick, "holding", opened, closed)

    def _signals(self, tick: Tick, fired: list[str]) -> list[Signal]:
        signals: list[Signal] = []
        if fired and self.config.trading.trade_patterns:
            by_strategy: dict[tuple[str, int], list[str]] = {}
            for trigger in self.patterns.fired_triggers(tick.symbol, fired):
                by_strategy.setdefault((trigger.strategy_id, trigger.direction), []).append(
                    trigger.trigger_id
                )
            signals.extend(
                Signal(strategy_id=sid, direction=direction, hash_triggers=tuple(ids), source="pattern")
                for (sid, direction), ids in by_strategy.items()
            )
        predictor = self.predictor
        sources = self.signal_sources if predictor is None else [predictor, *self.signal_sources]
        if not sources:
            return signals
        health = self.health
        for source in sources:
            try:
                signals.extend(source.on_tick(tick))
            except Exception as exc:  # a user's or the model's code must not stop the engine
                health.fail(f"source:{source.name}", f"{type(exc).__name__}: {exc}")
            else:
                if health.degraded:
                    health.ok(f"source:{source.name}")
        return signals

    def _min_confidence(self, profit_zone: str) -> float:
        cfg = self.config.trading
        margin = self.config.engine.defensive_margin if profit_zone in _DEFENSIVE_ZONES else 0.0
        return min(1.0, cfg.min_confidence + margin)

    def _entries(
        self, tick: Tick, fired: list[str], opened: list[dict[str, Any]], closed: list[ExecutionOutcome]
    ) -> list[dict[str, Any]]:
        report: list[dict[str, Any]] = []
        signals = self._signals(tick, fired)
        if not signals:
            return report
        context = self.agent.current_context()
        threshold = self._min_confidence(context["profit_zone"])
        if (
            not self.config.agent.share_evidence
        ):  # the agent's evidence, keyed by strategy id, is the symbol's
            signals = [dataclasses.replace(s, strategy_id=f"{s.strategy_id}@{tick.symbol}") for s in signals]
        for sig in signals:
            entry: dict[str, Any] = {
                "strategy_id": sig.strategy_id,
                "direction": sig.direction,
                "hash_triggers": list(sig.hash_triggers),
                "source": sig.source,
                "execution_id": None,
            }
            report.append(entry)
            resting = self.desk.pending_for(sig.strategy_id, tick.symbol)
            if resting is not None and resting.direction != sig.direction and resting.resting:
                # A limit or stop entry the strategy no longer wants (backtesting.py's
                # ``order.cancel()``); a market entry fills at the next bar anyway.
                self.desk.pending.remove(resting)
                entry["cancelled"] = True
            position = self.desk.position_for(sig.strategy_id, tick.symbol)
            if position is not None and (position.direction != sig.direction or sig.reopen):
                reason = "reopen" if position.direction == sig.direction else "opposite"
                self._exit(position.execution_id, tick, reason if sig.direction else "signal", opened, closed)
                position = None
            if sig.direction == 0:
                entry["decision"] = "exit"
                continue
            if position is not None:
                entry["decision"] = "held"
                continue
            if self.desk.pending_for(sig.strategy_id, tick.symbol) is not None:
                entry["decision"] = "pending"
                continue
            confidence, outcomes = self.agent.confidence(
                sig.strategy_id, sig.hash_triggers, context, now=tick.timestamp
            )
            entry["confidence"] = confidence
            below = confidence < threshold
            if (
                below
                and self._executions_of(sig.strategy_id, outcomes) >= self.config.trading.explore_outcomes
            ):
                entry["decision"] = "below_confidence"
                self.entries["refused_low_confidence"] += 1
                continue
            decision = Decision(
                strategy_id=sig.strategy_id,
                direction=sig.direction,
                decided_index=tick.index,
                hash_triggers=sig.hash_triggers,
                confidence=confidence,
                context=context,
                source=sig.source,
                size=sig.size,
                sl=sig.sl,
                tp=sig.tp,
                limit=sig.limit,
                stop=sig.stop,
                expires_index=None
                if sig.expiry is None
                else self.desk.account.bars[tick.symbol] + sig.expiry,
                symbol=tick.symbol,
            )
            entry["execution_id"] = self._queue(decision, tick, opened, closed)
            entry["decision"] = "opened" if entry["execution_id"] else "queued"
            self.entries["taken"] += 1
            self.entries["exploring"] += int(below)
        return report

    def _executions_of(self, strategy_id: str, outcomes: int) -> int:
        """A strategy's executions so far: its learnt outcomes, open positions and pending entries."""
        open_positions = sum(1 for p in self.desk.positions.values() if p.strategy_id == strategy_id)
        pending = sum(1 for d in self.desk.pending if d.strategy_id == strategy_id and d.execution_id is None)
        return outcomes + open_positions + pending
