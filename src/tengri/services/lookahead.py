"""``tengri check-lookahead``: features, and optionally a model's predictions, use no later bars."""

from __future__ import annotations

import pandas as pd

from tengri.config import TengriConfig
from tengri.data import OHLCVSource, load_ohlcv
from tengri.features import LookaheadReport, check_lookahead, compute_features

__all__ = ["check_data"]

_PREDICTION_COLUMNS = ["predicted_return", "prob_up", "confidence"]


def check_data(
    config: TengriConfig, data: OHLCVSource, *, cuts: int = 20, model: str | None = None
) -> dict[str, LookaheadReport]:
    """Check features on ``data`` at ``cuts`` cut points; with ``model``, also its predictions.

    The model is fitted quickly (two epochs) on the first ``model.train_fraction`` of the bars:
    what matters is that its predictions at bar t are the same computed on ``data[:t+1]`` as on the
    whole series, not how good they are.
    """
    bars = load_ohlcv(data)
    reports = {"features": check_lookahead(bars, compute_features, n_cuts=cuts)}
    if model is not None:
        from tengri.predict import LSTMTradingPredictor

        quick = config.with_overrides(model={"epochs": 2, "patience": 1})
        predictor = LSTMTradingPredictor(quick, model=model)
        predictor.fit(bars.iloc[: int(len(bars) * quick.model.train_fraction)])

        def predictions(frame: pd.DataFrame) -> pd.DataFrame:
            return predictor.predict(frame).loc[:, _PREDICTION_COLUMNS]

        reports[f"predictions ({model})"] = check_lookahead(bars, predictions, n_cuts=max(1, cuts // 4))
    return reports
