"""The predictor: LSTMTradingPredictor, training, calibration, evaluation and swarm tuning."""
