"""Streaming: incremental features equal compute_features, and update equals predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tengri.features import compute_features
from tengri.predict import DEFAULT_HIGHER_FACTORS, LSTMTradingPredictor
from tengri.predict._streaming import HISTORY, StreamingFeatures

# update() rescales its streamed features itself; the float64 features agree to ~1e-12 relative,
# which can flip the last bit of a float32 input, so allow float32-level differences downstream.
TOLERANCE = 1e-5


def _bars(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {"timestamp": stamp, **row} for stamp, row in zip(frame.index, frame.to_dict("records"), strict=True)
    ]


@pytest.mark.parametrize("sample", ["eurusd", "goog"])
def test_streaming_features_equal_compute_features(sample: str, request: pytest.FixtureRequest) -> None:
    bars: pd.DataFrame = request.getfixturevalue(sample)
    bars = bars.iloc[: 8 * HISTORY + 700]  # past the buffer, so the EMA seeds differ
    full = compute_features(bars, higher_factors=DEFAULT_HIGHER_FACTORS).to_numpy()
    cut = len(bars) - 600
    stream = StreamingFeatures.from_bars(bars.iloc[:cut], DEFAULT_HIGHER_FACTORS)
    rows = np.array([stream.append(row) for row in bars.iloc[cut:].to_numpy()])
    np.testing.assert_allclose(rows, full[cut:], rtol=1e-9, atol=1e-12)


def test_streaming_features_from_the_first_bar_keep_the_warm_up(eurusd: pd.DataFrame) -> None:
    bars = eurusd.iloc[:400]
    full = compute_features(bars, higher_factors=DEFAULT_HIGHER_FACTORS).to_numpy()
    stream = StreamingFeatures(DEFAULT_HIGHER_FACTORS)
    rows = np.array([stream.append(row) for row in bars.to_numpy()])
    assert np.array_equal(np.isnan(rows), np.isnan(full))
    np.testing.assert_allclose(rows, full, rtol=1e-9, atol=1e-12)


def test_update_continues_predict(fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame) -> None:
    head, tail = eurusd.iloc[:1500], eurusd.iloc[1500:1700]
    fitted_eurusd.predict(head)
    updates = [fitted_eurusd.update(bar) for bar in _bars(tail)]
    batch = fitted_eurusd.predict(eurusd.iloc[:1700]).iloc[-len(tail) :]
    assert all(update is not None for update in updates)
    streamed = pd.DataFrame([u for u in updates if u is not None]).set_index("timestamp")
    assert streamed.index.equals(batch.index)
    for column in ("predicted_return", "prob_up", "confidence", "prob_up_raw"):
        np.testing.assert_allclose(streamed[column], batch[column], rtol=0, atol=TOLERANCE)
    assert (streamed["in_sample"] == batch["in_sample"]).all()


def test_update_after_load_starts_a_fresh_stream_equal_to_predict(
    fitted_goog: LSTMTradingPredictor, goog: pd.DataFrame, tmp_path: Path
) -> None:
    bars = goog.iloc[:700]
    predictor = LSTMTradingPredictor.load(fitted_goog.save(tmp_path / "model"))
    updates = [predictor.update(bar) for bar in _bars(bars)]
    warm = predictor.pipeline.warmup_bars if predictor.pipeline is not None else 0
    assert warm > 0
    assert all(update is None for update in updates[:warm])
    streamed = pd.DataFrame(updates[warm:]).set_index("timestamp")
    batch = fitted_goog.predict(bars)
    np.testing.assert_allclose(streamed["prob_up"], batch["prob_up"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(
        streamed["predicted_return"], batch["predicted_return"], rtol=0, atol=TOLERANCE
    )


def test_update_rejects_a_bar_that_does_not_move_forward(
    fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame
) -> None:
    from tengri.errors import InvalidInputError

    fitted_eurusd.predict(eurusd.iloc[:1300])
    with pytest.raises(InvalidInputError, match="not after"):
        fitted_eurusd.update(_bars(eurusd.iloc[1299:1300])[0])
    with pytest.raises(InvalidInputError, match="numeric"):
        fitted_eurusd.update({"timestamp": eurusd.index[1300], "Close": 1.0})
