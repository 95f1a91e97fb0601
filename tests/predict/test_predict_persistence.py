"""save / load: safetensors plus a JSON manifest round-trips exactly; pickles are refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
import pytest

from tengri.errors import ModelError
from tengri.predict import LSTMTradingPredictor
from tengri.predict._persistence import data_fingerprint


def test_round_trip_gives_identical_predictions(
    fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame, tmp_path: Path
) -> None:
    path = fitted_eurusd.save(tmp_path / "model")
    loaded = LSTMTradingPredictor.load(path)
    bars = eurusd.iloc[:1500]
    pd.testing.assert_frame_equal(loaded.predict(bars), fitted_eurusd.predict(bars), check_exact=True)
    assert loaded.metrics == fitted_eurusd.metrics
    assert loaded.fit_end == fitted_eurusd.fit_end


def test_manifest_describes_the_model(
    fitted_eurusd: LSTMTradingPredictor, eurusd: pd.DataFrame, tmp_path: Path
) -> None:
    path = fitted_eurusd.save(tmp_path / "model")
    assert sorted(item.name for item in path.iterdir()) == ["manifest.json", "model.safetensors"]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["data_fingerprint"] == data_fingerprint(eurusd.iloc[:1200])
    assert manifest["feature_names"] == manifest["pipeline"]["feature_names"]
    assert manifest["calibration"]["method"] == "platt"
    assert {"torch", "numpy", "pandas", "tengri"} <= set(manifest["library_versions"])
    assert manifest["settings"]["variant"] == "enhanced"
    assert manifest["quantum_device"] is None  # a classical model; a QLSTM names its device


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this would run on unpickling",))


def test_a_crafted_pickle_file_is_refused(tmp_path: Path) -> None:
    crafted = tmp_path / "model.pkl"
    crafted.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ModelError, match="pickle"):
        LSTMTradingPredictor.load(crafted)
    disguised = tmp_path / "model.bin"
    disguised.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ModelError, match="pickle"):
        LSTMTradingPredictor.load(disguised)


def test_pickled_weights_inside_a_predictor_directory_are_refused(
    fitted_eurusd: LSTMTradingPredictor, tmp_path: Path
) -> None:
    path = fitted_eurusd.save(tmp_path / "model")
    (path / "model.safetensors").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ModelError, match="pickle"):
        LSTMTradingPredictor.load(path)


def test_tampered_weights_and_foreign_manifests_are_refused(
    fitted_eurusd: LSTMTradingPredictor, tmp_path: Path
) -> None:
    path = fitted_eurusd.save(tmp_path / "model")
    weights = path / "model.safetensors"
    content = bytearray(weights.read_bytes())
    content[-1] ^= 0xFF
    weights.write_bytes(bytes(content))
    with pytest.raises(ModelError, match="checksum"):
        LSTMTradingPredictor.load(path)
    (path / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelError, match="manifest"):
        LSTMTradingPredictor.load(path)
    with pytest.raises(ModelError, match="not a saved predictor"):
        LSTMTradingPredictor.load(tmp_path / "nowhere")


def test_an_unfitted_predictor_cannot_be_saved(make_settings: object, tmp_path: Path) -> None:
    predictor = LSTMTradingPredictor(settings=make_settings())  # type: ignore[operator]
    with pytest.raises(ModelError, match="not fitted"):
        predictor.save(tmp_path / "model")
