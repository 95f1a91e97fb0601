"""Feature engineering from OHLCV bars (TA-Lib and vectorised pandas), without look-ahead.

:func:`compute_features` gives the raw features of every bar: an indicator set on the input's bars
and on completed higher-timeframe blocks. :class:`FeaturePipeline` scales them with a scaler fitted
on training rows only and saves as JSON. :func:`check_lookahead` proves that a value at bar t does
not change when later bars arrive. :func:`next_return` and :func:`direction_label` are the
predictor's targets.
"""

from tengri.features._compute import DEFAULT_HIGHER_FACTORS, compute_features, feature_names, warmup_bars
from tengri.features._indicators import (
    INDICATOR_NAMES,
    LOOKBACK,
    RETURN_HORIZONS,
    VOLATILITY_WINDOWS,
    VOLUME_WINDOW,
)
from tengri.features._labels import direction_label, next_return
from tengri.features._lookahead import ComputeFunction, LookaheadReport, check_lookahead
from tengri.features._pipeline import FeaturePipeline, ScalerKind

__all__ = [
    "DEFAULT_HIGHER_FACTORS",
    "INDICATOR_NAMES",
    "LOOKBACK",
    "RETURN_HORIZONS",
    "VOLATILITY_WINDOWS",
    "VOLUME_WINDOW",
    "ComputeFunction",
    "FeaturePipeline",
    "LookaheadReport",
    "ScalerKind",
    "check_lookahead",
    "compute_features",
    "direction_label",
    "feature_names",
    "next_return",
    "warmup_bars",
]
