"""check-lookahead checks the predictor's own feature set, and fails on a leaky feature slipped into it."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.errors import ConfigError
from tengri.features import _pipeline
from tengri.predict import DEFAULT_HIGHER_FACTORS, LSTMTradingPredictor
from tengri.services.lookahead import check_data


def test_checks_the_predictors_timeframes(tmp_path: object) -> None:
    reports = check_data(TengriConfig(), "sample:goog_d1", cuts=3)
    (label, report), *_ = reports.items()
    assert report.ok, report.message
    assert label == "features (higher timeframes 4x, 8x)"
    assert LSTMTradingPredictor(model="lstm").settings.higher_factors == DEFAULT_HIGHER_FACTORS == (4, 8)


def test_a_leaky_feature_in_the_predictors_set_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    honest = _pipeline.compute_features

    def leaky(ohlcv: pd.DataFrame, *, higher_factors: tuple[int, ...]) -> pd.DataFrame:
        features = honest(ohlcv, higher_factors=higher_factors)
        # Tomorrow's return, in place of today's: what a shift(-1) mistake would do.
        features["ret_1"] = np.log(ohlcv["Close"]).diff().shift(-1)
        return features

    monkeypatch.setattr(_pipeline, "compute_features", leaky)
    (report,) = check_data(TengriConfig(), "sample:goog_d1", cuts=3).values()
    assert not report.ok
    assert report.column == "ret_1"


def test_an_unknown_model_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="unknown model 'lstm2'"):
        check_data(TengriConfig(), "sample:goog_d1", cuts=3, model="lstm2")


class _CausalPredictor:
    """A stand-in whose prediction at bar t is the close at t: causal by construction (tests only)."""

    fitted: ClassVar[list[str]] = []

    def __init__(self, config: TengriConfig, *, model: str) -> None:
        self.model = model

    def fit(self, bars: pd.DataFrame) -> _CausalPredictor:
        _CausalPredictor.fitted.append(self.model)
        return self

    def predict(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["Close"]
        return pd.DataFrame({"predicted_return": close, "prob_up": close, "confidence": close})


def test_model_all_checks_every_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    import tengri.predict
    from tengri.predict import VARIANTS

    _CausalPredictor.fitted = []
    monkeypatch.setattr(tengri.predict, "LSTMTradingPredictor", _CausalPredictor)
    reports = check_data(TengriConfig(), "sample:goog_d1", cuts=4, model="all")
    assert _CausalPredictor.fitted == list(VARIANTS)
    assert [name for name in reports if name.startswith("predictions")] == [
        f"predictions ({name})" for name in VARIANTS
    ]
    assert all(report.ok for report in reports.values())
