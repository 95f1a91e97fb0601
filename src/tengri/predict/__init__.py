"""The predictor: LSTMTradingPredictor, its settings, calibration, streaming and signals.

The particle-swarm Optuna sampler lives in :mod:`tengri.predict.pso` (imported on demand, so that
using the predictor does not import Optuna).
"""

from tengri.predict._settings import DEFAULT_HIGHER_FACTORS, VARIANTS, PredictorSettings
from tengri.predict._signals import DEFAULT_THRESHOLD, action_for
from tengri.predict._training import Pacer, TrainingHistory
from tengri.predict.calibration import PlattCalibrator, expected_calibration_error
from tengri.predict.predictor import PREDICTION_COLUMNS, LSTMTradingPredictor

__all__ = [
    "DEFAULT_HIGHER_FACTORS",
    "DEFAULT_THRESHOLD",
    "PREDICTION_COLUMNS",
    "VARIANTS",
    "LSTMTradingPredictor",
    "Pacer",
    "PlattCalibrator",
    "PredictorSettings",
    "TrainingHistory",
    "action_for",
    "expected_calibration_error",
]
