"""LSTMTradingPredictor: fitting, determinism, signals, and the seed's usage example."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from tengri.errors import ConfigError, InvalidInputError, ModelError
from tengri.predict import PREDICTION_COLUMNS, LSTMTradingPredictor, PredictorSettings, action_for


def test_same_data_and_seed_give_identical_predictions(
    make_settings: Callable[..., PredictorSettings], goog: pd.DataFrame
) -> None:
    bars = goog.iloc[:900]
    first = LSTMTradingPredictor(settings=make_settings("lstm+lif", seed=3)).fit(bars).predict(bars)
    second = LSTMTradingPredictor(settings=make_settings("lstm+lif", seed=3)).fit(bars).predict(bars)
    other = LSTMTradingPredictor(settings=make_settings("lstm+lif", seed=4)).fit(bars).predict(bars)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert not np.allclose(first["prob_up_raw"], other["prob_up_raw"])


def test_fit_reports_validation_metrics(fitted_eurusd: LSTMTradingPredictor) -> None:
    metrics = fitted_eurusd.metrics
    assert metrics["validation_bars"] > 0
    assert np.isfinite(metrics["validation_loss"])
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] <= 2
    assert metrics["validation_ece"] <= metrics["validation_ece_raw"] + 1e-12


def test_predictions_have_the_documented_columns(
    fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame
) -> None:
    predictions = fitted_eurusd.predict(eurusd.iloc[:1500], seq_len=16)
    assert tuple(predictions.columns) == PREDICTION_COLUMNS
    assert predictions.index[0] == eurusd.index[fitted_eurusd.pipeline.warmup_bars]  # type: ignore[union-attr]
    assert predictions["prob_up"].between(0, 1).all()
    np.testing.assert_allclose(
        predictions["confidence"], np.maximum(predictions["prob_up"], 1 - predictions["prob_up"])
    )
    assert predictions["in_sample"].sum() == 1200 - fitted_eurusd.pipeline.warmup_bars  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError, match="seq_len"):
        fitted_eurusd.predict(eurusd.iloc[:1500], seq_len=60)


def test_signals_follow_the_calibrated_probability(
    fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame
) -> None:
    predictions = fitted_eurusd.predict(eurusd.iloc[:1500])
    signals = fitted_eurusd.generate_signals(predictions)
    assert len(signals) == len(predictions)
    assert set(signals[0]) == {"timestamp", "action", "confidence", "predicted_return", "prob_up"}
    # The action follows the calibrated probability, whatever the sign of predicted_return.
    for signal in signals:
        assert signal["action"] == action_for(signal["prob_up"])
    for signal, prob in zip(signals, predictions["prob_up"], strict=True):
        assert signal["action"] == ("buy" if prob > 0.5 else "sell" if prob < 0.5 else "hold")
    strict = fitted_eurusd.generate_signals(predictions, threshold=0.99)
    assert {signal["action"] for signal in strict} == {"hold"}


@pytest.mark.parametrize(
    ("prob", "threshold", "action"),
    [(0.7, None, "buy"), (0.3, None, "sell"), (0.5, None, "hold"), (0.6, 0.65, "hold"), (0.3, 0.65, "sell")],
)
def test_action_for(prob: float, threshold: float | None, action: str) -> None:
    assert action_for(prob, threshold) == action


def test_errors_are_named(make_settings: Callable[..., PredictorSettings], goog: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="too few"):
        LSTMTradingPredictor(settings=make_settings()).fit(goog.iloc[:330])
    with pytest.raises(ModelError, match="not fitted"):
        LSTMTradingPredictor(settings=make_settings()).update({"timestamp": goog.index[0]})
    with pytest.raises(ConfigError, match="unknown model"):
        LSTMTradingPredictor(model="transformer")


def test_qlstm_variant_fits_and_streams(
    make_settings: Callable[..., PredictorSettings], goog: pd.DataFrame
) -> None:
    predictor = LSTMTradingPredictor(settings=make_settings("qlstm", epochs=1)).fit(goog.iloc[:700])
    predictions = predictor.predict(goog.iloc[:720])
    update = predictor.update({"timestamp": goog.index[720], **goog.iloc[720].to_dict()})
    assert update is not None
    assert np.isfinite(predictions.to_numpy(dtype=float)).all()


@pytest.mark.slow
def test_seed_usage_example_runs_with_the_tengri_prefix(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """seeds/000: "Use in Trading Strategy", as written, on the bundled EUR/USD sample."""
    import tengri

    if "LSTMTradingPredictor" not in getattr(tengri, "__all__", ()):
        pytest.skip("tengri does not export LSTMTradingPredictor yet (the lead wires tengri/__init__.py)")
    # Keep the example literal but affordable: fewer epochs and a narrower model via the config.
    monkeypatch.setenv("TENGRI_MODEL__EPOCHS", "2")
    monkeypatch.setenv("TENGRI_MODEL__HIDDEN_SIZE", "16")
    ohlcv_data = tengri.load_ohlcv("sample:eurusd_h1")
    executed: list[dict[str, object]] = []

    def execute_trade(signal: dict[str, object]) -> None:
        executed.append(signal)

    with caplog.at_level(logging.WARNING):
        from tengri import LSTMTradingPredictor as SeedPredictor

        # Initialize predictor
        predictor = SeedPredictor()

        # Make predictions
        predictions = predictor.predict(ohlcv_data, seq_len=60)
        signals = predictor.generate_signals(predictions)

        # Execute trades based on signals
        for signal in signals:
            if signal["confidence"] > 0.8:
                execute_trade(signal)
    assert "not fitted" in caplog.text
    assert predictions["in_sample"].any()
    assert not predictions["in_sample"].all()
    print(f"{len(signals)} signals, {len(executed)} above confidence 0.8; the last five:")
    for signal in signals[-5:]:
        print(signal)
    out = capsys.readouterr().out
    assert "signals" in out
    assert "'action'" in out
