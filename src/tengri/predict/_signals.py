"""Trading signals from calibrated predictions: the action rule and one signal record per bar.

With ``p`` the calibrated probability of an up move, ``confidence = max(p, 1 − p)``; the action
is ``buy`` when ``p > 0.5`` and ``sell`` when ``p < 0.5`` if the confidence exceeds the threshold,
else ``hold``.
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from tengri.errors import InvalidInputError

__all__ = ["DEFAULT_THRESHOLD", "action_for", "signals_from"]

DEFAULT_THRESHOLD: Final = 0.5
"""Confidence a prediction must exceed to be a buy or a sell (0.5: any calibrated lean)."""


def action_for(prob_up: float, threshold: float | None = None) -> str:
    """Return ``"buy"``, ``"sell"`` or ``"hold"`` for a calibrated up-move probability."""
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    if max(prob_up, 1.0 - prob_up) <= limit:
        return "hold"
    return "buy" if prob_up > 0.5 else "sell"


def signals_from(predictions: pd.DataFrame, threshold: float | None = None) -> list[dict[str, Any]]:
    """Return one signal per bar: :meth:`tengri.predict.LSTMTradingPredictor.generate_signals`.

    Raises
    ------
    InvalidInputError
        If ``predictions`` lacks ``prob_up``, ``confidence`` or ``predicted_return``.
    """
    missing = [name for name in ("prob_up", "confidence", "predicted_return") if name not in predictions]
    if missing:
        raise InvalidInputError(f"generate_signals: predictions lack column(s) {', '.join(missing)}")
    return [
        {
            "timestamp": stamp,
            "action": action_for(float(prob), threshold),
            "confidence": float(confidence),
            "predicted_return": float(predicted),
            "prob_up": float(prob),
        }
        for stamp, prob, confidence, predicted in zip(
            predictions.index,
            predictions["prob_up"],
            predictions["confidence"],
            predictions["predicted_return"],
            strict=True,
        )
    ]
