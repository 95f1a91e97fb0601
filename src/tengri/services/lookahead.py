"""``tengri check-lookahead``: the predictor's features, and optionally predictions, use no later bars.

The feature check runs exactly the feature set the configured predictor computes: a
:class:`~tengri.features.FeaturePipeline` with the predictor's higher timeframes
(:attr:`~tengri.predict.PredictorSettings.higher_factors`), not the features module's default.
"""

from __future__ import annotations

import pandas as pd

from tengri.config import TengriConfig
from tengri.data import OHLCVSource, load_ohlcv
from tengri.errors import ConfigError
from tengri.features import FeaturePipeline, LookaheadReport, check_lookahead

__all__ = ["ALL_MODELS", "check_data"]

ALL_MODELS = "all"
"""``--model all``: check the predictions of every variant of :data:`tengri.predict.VARIANTS`."""

_PREDICTION_COLUMNS = ["predicted_return", "prob_up", "confidence"]


def check_data(
    config: TengriConfig, data: OHLCVSource, *, cuts: int = 20, model: str | None = None
) -> dict[str, LookaheadReport]:
    """Check the predictor's features on ``data`` at ``cuts`` cut points; with ``model``, its predictions.

    ``model`` is a variant name, or ``"all"`` for every variant. Each model is fitted quickly
    (two epochs) on the first ``model.train_fraction`` of the bars: what matters is that its
    predictions at bar t are the same computed on ``data[:t+1]`` as on the whole series, not how
    good they are.

    Raises
    ------
    ConfigError
        If ``model`` names no variant.
    """
    from tengri.predict import VARIANTS, LSTMTradingPredictor, PredictorSettings

    if model is not None and model != ALL_MODELS and model not in VARIANTS:
        raise ConfigError(
            f"check-lookahead: unknown model {model!r}; choose 'all' or one of {', '.join(VARIANTS)}"
        )
    bars = load_ohlcv(data)
    factors = PredictorSettings.from_config(config, "lstm").higher_factors
    pipeline = FeaturePipeline(factors)
    label = f"features (higher timeframes {', '.join(f'{f}x' for f in factors)})"
    reports = {label: check_lookahead(bars, pipeline.compute, n_cuts=cuts)}
    names = [] if model is None else list(VARIANTS) if model == ALL_MODELS else [model]
    quick = config.with_overrides(model={"epochs": 2, "patience": 1})
    for name in names:
        predictor = LSTMTradingPredictor(quick, model=name)
        predictor.fit(bars.iloc[: int(len(bars) * quick.model.train_fraction)])

        def predictions(frame: pd.DataFrame, fitted: LSTMTradingPredictor = predictor) -> pd.DataFrame:
            return fitted.predict(frame).loc[:, _PREDICTION_COLUMNS]

        reports[f"predictions ({name})"] = check_lookahead(bars, predictions, n_cuts=max(1, cuts // 4))
    return reports
