"""The panel experiment's pieces: qlib's cross-sectional metrics, and the pooled data of bokeh's stocks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tengri.errors import DataValidationError, InvalidInputError
from tengri.predict.panel import panel_data
from tengri.predict.panel_metrics import cross_sectional_metrics
from tengri.services.panel_data import STOCKS, stock_bars


def _frames(score: np.ndarray, realised: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    index = pd.date_range("2020-01-01", periods=len(score), freq="D", tz="UTC")
    return pd.DataFrame(score, index=index), pd.DataFrame(realised, index=index)


def test_a_perfect_score_has_rank_ic_one_and_earns_the_spread() -> None:
    rng = np.random.default_rng(1)
    realised = rng.normal(0, 0.01, (300, 4))
    metrics = cross_sectional_metrics(*_frames(realised * 2 + 1, realised), top=1, periods=252)
    assert metrics["rank_ic"] == pytest.approx(1.0)
    assert metrics["ic"] == pytest.approx(1.0)
    spread = np.sort(realised, axis=1)
    assert metrics["long_short_return"] == pytest.approx((spread[:, -1] - spread[:, 0]).mean() * 252)
    reversed_metrics = cross_sectional_metrics(*_frames(-realised, realised))
    assert reversed_metrics["rank_ic"] == pytest.approx(-1.0)
    assert reversed_metrics["long_short_return"] == pytest.approx(-metrics["long_short_return"])


def test_a_random_score_has_an_ic_near_zero_and_a_constant_one_none() -> None:
    rng = np.random.default_rng(2)
    realised = rng.normal(0, 0.01, (2000, 4))
    metrics = cross_sectional_metrics(*_frames(rng.normal(size=(2000, 4)), realised))
    assert abs(metrics["ic"]) < 0.05
    assert abs(metrics["icir"]) < 0.1
    flat = cross_sectional_metrics(*_frames(np.zeros((2000, 4)), realised))
    assert math.isnan(flat["ic"])
    assert flat["long_short_return"] == 0.0


def test_misaligned_frames_are_refused() -> None:
    score, realised = _frames(np.zeros((10, 4)), np.zeros((10, 4)))
    with pytest.raises(InvalidInputError, match="aligned"):
        cross_sectional_metrics(score.iloc[1:], realised.iloc[1:].shift(freq="D"))
    with pytest.raises(InvalidInputError, match="top must be"):
        cross_sectional_metrics(score, realised, top=3)


def test_bokeh_stocks_pool_into_cross_sectional_features() -> None:
    data = panel_data({symbol: stock_bars(symbol) for symbol in STOCKS})
    assert data.instruments == STOCKS
    dates, stocks, features = data.features.shape
    assert stocks == 4
    assert features == 51
    assert dates > 1800
    # Normalised across the stocks of each date: mean 0 wherever nothing was clipped.
    unclipped = (np.abs(data.features) < 3).all(axis=1)
    means = data.features.mean(axis=1)
    assert np.abs(means[unclipped]).max() < 1e-5
    np.testing.assert_allclose(data.excess.sum(axis=1), 0.0, atol=1e-12)


def test_an_unknown_stock_is_refused() -> None:
    with pytest.raises(DataValidationError, match="bokeh-sampledata ships AAPL"):
        stock_bars("TSLA")
