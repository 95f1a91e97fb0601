"""The predictor: LSTMTradingPredictor, its settings, calibration and streaming.

The particle-swarm Optuna sampler lives in :mod:`tengri.predict.pso` (imported on demand, so that
using the predictor does not import Optuna).
"""

from tengri.predict._settings import DEFAULT_HIGHER_FACTORS, VARIANTS, PredictorSettings
from tengri.predict.calibration import PlattCalibrator, expected_calibration_error
from tengri.predict.predictor import DEFAULT_THRESHOLD, PREDICTION_COLUMNS, LSTMTradingPredictor, action_for

__all__ = [
    "DEFAULT_HIGHER_FACTORS",
    "DEFAULT_THRESHOLD",
    "PREDICTION_COLUMNS",
    "VARIANTS",
    "LSTMTradingPredictor",
    "PlattCalibrator",
    "PredictorSettings",
    "action_for",
    "expected_calibration_error",
]
