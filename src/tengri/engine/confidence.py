"""What the memory agent has learnt from outcomes, and the confidence it derives from it.

Confidence (DESIGN.md, Memory agent, with age discounting the evidence rather than the result)::

    C_final = clamp(C_base · w_context + C_similarity · w_pattern, 0, 1)

- ``decay = exp(−Δt / τ)``, ``Δt`` the age of the strategy's newest outcome (1 with none);
- ``C_base``: posterior mean of success under a Beta(1, 1) prior with the counts discounted by
  age, ``(1 + decay·s) / (2 + decay·n)``, over the strategy's outcomes in the same context
  (thermal zone, profit zone); under ``min_context_samples`` outcomes in that context, over all of
  the strategy's outcomes;
- ``C_similarity``: success rate of the strategy's past executions weighted by the Jaccard
  similarity of their trigger sets with the query's, ``Σ J·success / Σ J`` (0.5 when none overlap);
- ``w_pattern = n_eff / (n_eff + k)``, ``w_context = 1 − w_pattern``, ``n_eff = decay·n_similar``,
  ``n_similar`` the number of past executions with a trigger in common.

Old evidence thus counts for less, and C_final moves back toward the prior's 0.5 as it ages: a
strategy that trades rarely keeps being judged by its record, faded, instead of being either
starved (a multiplied decay pulls every idle strategy toward 0) or re-explored.

:class:`EvidenceBook` keeps, per strategy, running counts of outcomes overall, by context and by
trigger set, the profit, and the time of the newest outcome; a query costs no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tengri.config import AgentConfig
from tengri.engine.store.records import ExecutionRecord

__all__ = ["ANY", "ConfidenceExplanation", "EvidenceBook", "context_key"]

#: The context value that stands for "not known" (and, for a field left out, for "any").
ANY = "*"


@dataclass(frozen=True, slots=True)
class ConfidenceExplanation:
    """Every term of C_final for one query."""

    strategy_id: str
    confidence: float
    c_base: float
    c_similarity: float
    w_context: float
    w_pattern: float
    decay: float
    n_context: int
    n_total: int
    n_similar: int
    context_used: str
    age_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class _Counts:
    n: int = 0
    s: int = 0

    def add(self, success: bool) -> None:
        self.n += 1
        self.s += int(success)


@dataclass(slots=True)
class _StrategyEvidence:
    by_context: dict[tuple[str, str], _Counts] = field(default_factory=dict)
    total: _Counts = field(default_factory=_Counts)
    by_triggers: dict[frozenset[str], _Counts] = field(default_factory=dict)
    profit_sum: float = 0.0
    newest: float | None = None


# What explain reads for a strategy or a context without evidence (never written: explain only
# reads, and learn makes its own).
_NO_EVIDENCE = _StrategyEvidence()
_NO_COUNTS = _Counts()


def context_key(context: Mapping[str, Any] | None, fields: tuple[str, ...]) -> tuple[str, str]:
    context = context or {}
    thermal = (
        context.get("thermal_state", context.get("thermal_zone", ANY)) if "thermal_state" in fields else ANY
    )
    profit = context.get("profit_zone", ANY) if "profit_zone" in fields else ANY
    return str(thermal), str(profit)


class EvidenceBook:
    """Per-strategy evidence and C_final (not thread-safe: the agent holds its lock around calls)."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self._strategies: dict[str, _StrategyEvidence] = {}

    def clear(self) -> None:
        """Forget everything (before rebuilding from the store)."""
        self._strategies = {}

    def learn(self, row: ExecutionRecord) -> None:
        """Fold in the outcome of a closed execution."""
        ev = self._strategies.get(row.strategy_id)
        if ev is None:
            ev = self._strategies[row.strategy_id] = _StrategyEvidence()
        success = bool(row.success)
        ev.total.add(success)
        ev.by_context.setdefault(context_key(row.context, self.config.context_fields), _Counts()).add(success)
        ev.by_triggers.setdefault(frozenset(row.hash_triggers), _Counts()).add(success)
        ev.profit_sum += row.profit or 0.0
        closed = row.closed_at if row.closed_at is not None else row.opened_at
        ev.newest = closed if ev.newest is None else max(ev.newest, closed)

    def explain(
        self, strategy_id: str, hash_triggers: Iterable[str], context: Mapping[str, Any], now: float
    ) -> ConfidenceExplanation:
        """Return C_final of a strategy for a trigger set in a context, at time ``now``, with its terms."""
        return ConfidenceExplanation(strategy_id, *self._terms(strategy_id, hash_triggers, context, now))

    def confidence(
        self, strategy_id: str, hash_triggers: Iterable[str], context: Mapping[str, Any], now: float
    ) -> tuple[float, int]:
        """C_final and the strategy's outcomes (``n_total``) of :meth:`explain`, without the explanation.

        What an entry decision and a sampled confidence read: building the explanation (twelve
        fields of a frozen class) would cost about as much as computing its terms.
        """
        terms = self._terms(strategy_id, hash_triggers, context, now)
        return terms[0], terms[7]

    def _terms(
        self, strategy_id: str, hash_triggers: Iterable[str], context: Mapping[str, Any], now: float
    ) -> tuple[float, float, float, float, float, float, int, int, int, str, float | None]:
        """The fields of :class:`ConfidenceExplanation` after the strategy's id, in order."""
        cfg = self.config
        query = frozenset(str(t) for t in hash_triggers)
        ev = self._strategies.get(strategy_id, _NO_EVIDENCE)
        in_context = ev.by_context.get(context_key(context, cfg.context_fields), _NO_COUNTS)
        base_counts, used = (
            (in_context, "context") if in_context.n >= cfg.min_context_samples else (ev.total, "all")
        )
        age = None if ev.newest is None else max(0.0, now - ev.newest)
        decay = 1.0 if age is None else math.exp(-age / cfg.decay_tau)
        c_base = (1.0 + decay * base_counts.s) / (2.0 + decay * base_counts.n)
        weighted_s = weighted_n = 0.0
        n_similar = 0
        for triggers, counts in ev.by_triggers.items():
            union = len(triggers | query)
            jaccard = len(triggers & query) / union if union else 0.0
            if jaccard > 0.0:
                weighted_s += jaccard * counts.s
                weighted_n += jaccard * counts.n
                n_similar += counts.n
        c_similarity = weighted_s / weighted_n if weighted_n > 0 else 0.5
        n_effective = decay * n_similar
        w_pattern = n_effective / (n_effective + cfg.similarity_k) if n_effective > 0 else 0.0
        w_context = 1.0 - w_pattern
        confidence = min(1.0, max(0.0, c_base * w_context + c_similarity * w_pattern))
        return (
            confidence,
            c_base,
            c_similarity,
            w_context,
            w_pattern,
            decay,
            in_context.n,
            ev.total.n,
            n_similar,
            used,
            age,
        )

    def statistics(self) -> tuple[dict[str, dict[str, Any]], int, int, float]:
        """Per strategy: outcomes, successes, success rate, total and average profit; and the totals."""
        strategies = {
            sid: {
                "executions": ev.total.n,
                "successes": ev.total.s,
                "success_rate": ev.total.s / ev.total.n if ev.total.n else None,
                "total_profit": ev.profit_sum,
                "average_profit": ev.profit_sum / ev.total.n if ev.total.n else None,
            }
            for sid, ev in sorted(self._strategies.items())
        }
        n = sum(ev.total.n for ev in self._strategies.values())
        s = sum(ev.total.s for ev in self._strategies.values())
        return strategies, n, s, sum(ev.profit_sum for ev in self._strategies.values())
