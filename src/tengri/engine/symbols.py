"""Per-symbol pattern state: each symbol's price path has its own encoder and its own triggers.

A portfolio's ticks arrive interleaved (a replay merges its symbols' bars by time; live ticks come
as they come). The pattern hash of one symbol must not mix in another's prices, and a code's
"next move" must be the same symbol's next move, so each symbol gets its own
:class:`~tengri.engine.pattern_hash.PatternEncoder` and its own
:class:`~tengri.engine.triggers.HashTriggerEngine`.

The first symbol that ticks uses the engine's primary trigger engine (the one the REST API
registers and lists triggers on, which keeps its triggers in the store). Every later symbol's
engine learns and auto-registers on its own (``AUTO_<code>_<mask>@<symbol>``); its state lives in
the engine's checkpoint (:meth:`SymbolPatterns.snapshot`), not in the store's trigger table, so
that two engines never write the same trigger row. A single-symbol engine is exactly the engine
it was before portfolios.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tengri.config import TriggerConfig
from tengri.engine.pattern_hash import CursorState, PatternEncoder
from tengri.engine.signals import Tick
from tengri.engine.triggers import HashTriggerEngine, Trigger
from tengri.errors import TengriError

__all__ = ["SymbolPatterns"]


class SymbolPatterns:
    """Encoders and trigger engines by symbol (see the module docstring).

    Parameters
    ----------
    primary
        The engine's own trigger engine: the first symbol's.
    config
        Trigger settings for the other symbols' engines (and every encoder's EWMA span).
    auto_register
        Whether the other symbols' engines auto-register triggers.
    namespace
        The engine's namespace (its agent id when not the default), prefixed to a symbol's.
    """

    def __init__(
        self,
        primary: HashTriggerEngine,
        config: TriggerConfig,
        *,
        auto_register: bool,
        namespace: str | None = None,
    ) -> None:
        self.primary = primary
        self.config = config
        self._make: Callable[[str], HashTriggerEngine] = lambda symbol: HashTriggerEngine(
            config,
            auto_register=auto_register,
            namespace=symbol if namespace is None else f"{namespace}:{symbol}",
        )
        self.encoders: dict[str, PatternEncoder] = {}
        self.primary_symbol: str | None = None
        self._engines: dict[str, HashTriggerEngine] = {}

    def engine_for(self, symbol: str) -> HashTriggerEngine:
        """The symbol's trigger engine (the primary one for the first symbol seen)."""
        if self.primary_symbol is None:
            self.primary_symbol = symbol
        if symbol == self.primary_symbol:
            return self.primary
        engine = self._engines.get(symbol)
        if engine is None:
            engine = self._engines[symbol] = self._make(symbol)
        return engine

    def engines(self) -> list[HashTriggerEngine]:
        """Every trigger engine, the primary first."""
        return [self.primary, *self._engines.values()]

    def step(self, tick: Tick) -> tuple[int, CursorState, list[str], TengriError | None] | None:
        """Push the tick's price into its symbol's encoder and feed the hash to its trigger engine.

        Returns None until the encoder is ready, else ``(hash, cursor, fired trigger ids, None)``;
        when the trigger engine refuses the hash, ``(hash, cursor, [], the error)``.
        """
        symbol = tick.symbol
        encoder = self.encoders.get(symbol)
        if encoder is None:
            encoder = self.encoders[symbol] = PatternEncoder(self.config.ewma_span)
        pushed = encoder.update(tick.price, tick.timestamp)
        if pushed is None:
            return None
        hash_value, cursor = pushed
        engine = self.primary if symbol == self.primary_symbol else self.engine_for(symbol)
        try:
            return hash_value, cursor, engine.process_hash(hash_value, cursor), None
        except TengriError as exc:
            return hash_value, cursor, [], exc

    def fired_triggers(self, symbol: str, ids: list[str]) -> list[Trigger]:
        """The trigger objects of ids the symbol's engine fired."""
        return self.engine_for(symbol).fired_triggers(ids)

    def record_outcome(self, symbol: str, trigger_id: str, success: bool) -> None:
        """Record an execution's outcome on the trigger of the symbol it traded."""
        self.engine_for(symbol or self.primary_symbol or "").record_outcome(trigger_id, success)

    def flush(self) -> None:
        """Write the primary engine's changed triggers to the store."""
        self.primary.flush()

    def statistics(self) -> dict[str, Any]:
        """The primary engine's statistics, with counts summed over every symbol's engine."""
        stats = self.primary.statistics()
        for engine in self._engines.values():
            other = engine.statistics()
            for key in ("ticks", "triggers", "codes_seen"):
                stats[key] += other[key]
            for state, count in other["by_state"].items():
                stats["by_state"][state] += count
        return stats

    # -- checkpoint ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Encoders, the primary symbol and the other symbols' trigger engines, for the checkpoint."""
        return {
            "encoders": {s: e.snapshot() for s, e in self.encoders.items()},
            "primary_symbol": self.primary_symbol,
            "symbol_triggers": {s: e.snapshot() for s, e in self._engines.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore :meth:`snapshot` output (a checkpoint from before portfolios has encoders only)."""
        self.encoders = {s: PatternEncoder.from_snapshot(e) for s, e in state["encoders"].items()}
        self.primary_symbol = state.get("primary_symbol")
        if self.primary_symbol is None and len(self.encoders) == 1:
            self.primary_symbol = next(iter(self.encoders))
        self._engines = {}
        for symbol, snapshot in state.get("symbol_triggers", {}).items():
            engine = self._engines[symbol] = self._make(symbol)
            engine.restore(snapshot)
