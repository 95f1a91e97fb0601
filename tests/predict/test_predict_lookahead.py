"""Predictions never use later bars: check_lookahead with the predictor as the compute function."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tengri.features import check_lookahead
from tengri.predict import LSTMTradingPredictor

COLUMNS = ["predicted_return", "prob_up", "confidence", "prob_up_raw"]


def _compute(predictor: LSTMTradingPredictor) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def compute(bars: pd.DataFrame) -> pd.DataFrame:
        return predictor.predict(bars).loc[:, COLUMNS]

    return compute


@pytest.mark.parametrize(
    ("sample", "predictor_name", "length"),
    [("eurusd", "fitted_eurusd", 1400), ("goog", "fitted_goog", 1200)],
)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_predictions_do_not_look_ahead(
    sample: str, predictor_name: str, length: int, data: st.DataObject, request: pytest.FixtureRequest
) -> None:
    bars: pd.DataFrame = request.getfixturevalue(sample).iloc[:length]
    predictor: LSTMTradingPredictor = request.getfixturevalue(predictor_name)
    first = predictor.pipeline.warmup_bars if predictor.pipeline is not None else 0
    cut = data.draw(st.integers(min_value=first, max_value=length - 2), label="cut point")
    report = check_lookahead(bars, _compute(predictor), cut_points=[cut])
    assert report.ok, report.message
