"""check-lookahead checks the predictor's own feature set, and fails on a leaky feature slipped into it."""

from __future__ import annotations

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
