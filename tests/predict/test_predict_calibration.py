"""Calibration: Platt scaling fitted on held-out bars lowers the expected calibration error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tengri.features import next_return
from tengri.predict import LSTMTradingPredictor, PlattCalibrator, expected_calibration_error


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from true probabilities σ(z) while the model states σ(3z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 0.4, n)
    outcomes = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-z))).astype(float)
    return 3.0 * z, outcomes


def test_platt_scaling_lowers_ece_on_held_out_data() -> None:
    calibration_logits, calibration_outcomes = _overconfident(2000, seed=1)
    test_logits, test_outcomes = _overconfident(2000, seed=2)
    calibrator = PlattCalibrator.fit(calibration_logits, calibration_outcomes)
    raw = expected_calibration_error(1.0 / (1.0 + np.exp(-test_logits)), test_outcomes)
    calibrated = expected_calibration_error(calibrator(test_logits), test_outcomes)
    assert calibrated < raw / 3
    assert calibrator.slope == pytest.approx(1 / 3, rel=0.25)


def test_calibrated_predictor_is_better_calibrated_out_of_sample(
    fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame
) -> None:
    predictions = fitted_eurusd.predict(eurusd.iloc[:2500])
    held_out = predictions.loc[~predictions["in_sample"]]
    up = (next_return(eurusd.iloc[:2501]).loc[held_out.index] > 0).to_numpy(dtype=float)
    raw = expected_calibration_error(held_out["prob_up_raw"], up)
    calibrated = expected_calibration_error(held_out["prob_up"], up)
    assert calibrated < raw


def test_single_class_outcomes_leave_the_identity() -> None:
    assert PlattCalibrator.fit([0.1, 0.2, 0.3], [1, 1, 1]) == PlattCalibrator()


def test_ece_of_a_perfectly_calibrated_constant_is_zero() -> None:
    assert expected_calibration_error([0.7] * 10, [1] * 7 + [0] * 3) == pytest.approx(0.0)
    assert np.isnan(expected_calibration_error([], []))


def test_a_backwards_model_gets_no_confidence() -> None:
    logits, outcomes = _overconfident(500, seed=3)
    calibrator = PlattCalibrator.fit(-logits, outcomes)
    assert calibrator.slope == 0.0
    np.testing.assert_allclose(calibrator([-2.0, 0.0, 3.0]), 0.5)


def test_a_stated_half_is_calibrated_whatever_happens() -> None:
    assert expected_calibration_error([0.5] * 4, [1, 0, 0, 0]) == 0.0
