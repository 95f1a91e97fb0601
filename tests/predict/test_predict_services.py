"""The predictor's use cases: train, evaluate, tune, and the engine's model signal source."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.engine import ManualClock, ThermalZoneManager
from tengri.engine.signals import Signal, SignalSource, Tick
from tengri.engine.thermal import ScriptedSensor
from tengri.predict import LSTMTradingPredictor
from tengri.services.model_source import PredictorSignalSource, fit_model_source
from tengri.services.train import train
from tengri.services.tune import tune

SMALL_MODEL = {"epochs": 1, "hidden_size": 8, "num_heads": 2, "memory_slots": 2, "seq_len": 16, "patience": 1}


@pytest.fixture
def config(tmp_path: Path) -> TengriConfig:
    return TengriConfig(data_dir=tmp_path / "data", model=SMALL_MODEL)


def test_train_saves_a_loadable_predictor(config: TengriConfig) -> None:
    result = train(config, "sample:goog_d1", "lstm")
    assert result.directory == config.models_dir / "sample-goog_d1-lstm"
    assert result.manifest.is_file()
    assert result.weights.is_file()
    assert {"validation_loss", "validation_accuracy", "validation_ece"} <= set(result.metrics)
    loaded = LSTMTradingPredictor.load(result.directory)
    assert loaded.metrics == result.metrics


def test_model_source_emits_signals_on_action_changes(
    config: TengriConfig,
    goog: pd.DataFrame,
    tmp_path: Path,
    bar_tick: Callable[[pd.DataFrame, int, int], Tick],
) -> None:
    bars = goog.iloc[:900]
    source, offset = fit_model_source(config, bars, "lstm", tmp_path / "run")
    assert isinstance(source, SignalSource)
    assert offset == int(len(bars) * config.model.train_fraction)
    emitted: list[Signal] = []
    for position in range(offset, len(bars)):
        emitted.extend(source.on_tick(bar_tick(bars, position, offset)))
    assert emitted, "a model that never changes its mind emits one signal at least"
    directions = [signal.direction for signal in emitted]
    assert all(a != b for a, b in itertools.pairwise(directions))
    assert all(signal.source == "model" and signal.strategy_id == "MODEL" for signal in emitted)
    assert [r["direction"] for r in source.records] == directions
    assert [r["stated_confidence"] for r in source.records] == [s.confidence for s in emitted]
    rows = list(source.signal_rows(bars))
    assert [row["bar"] for row in rows] == [r["bar"] for r in source.records]
    assert all(row["hit"] in (True, False, None) for row in rows)
    # A resumed run reuses the saved predictor and replays the same decisions.
    again, _ = fit_model_source(config, bars, "lstm", tmp_path / "run")
    replayed = [s for p in range(offset, len(bars)) for s in again.on_tick(bar_tick(bars, p, offset))]
    assert [(s.direction, s.confidence) for s in replayed] == [(s.direction, s.confidence) for s in emitted]


def test_model_source_signals_carry_the_streamed_predictions(
    config: TengriConfig, goog: pd.DataFrame, bar_tick: Callable[[pd.DataFrame, int, int], Tick]
) -> None:
    bars = goog.iloc[:800]
    predictor = LSTMTradingPredictor(config, model="lstm").fit(bars.iloc[:700])
    expected = predictor.predict(bars)
    predictor.predict(bars.iloc[:700])  # rewind the stream to the end of the fitted bars
    source = PredictorSignalSource(predictor, threshold=0.0)
    emitted = [s for p in range(700, 800) for s in source.on_tick(bar_tick(bars, p, 700))]
    assert len(emitted) == len(source.records) > 0
    for signal, record in zip(emitted, source.records, strict=True):
        row = expected.loc[record["timestamp"]]
        assert signal.info["prob_up"] == pytest.approx(row["prob_up"], abs=1e-5)
        assert record["stated_confidence"] == pytest.approx(row["confidence"], abs=1e-5)
        assert signal.direction == (1 if row["prob_up"] > 0.5 else -1)


def _cool_manager() -> ThermalZoneManager:
    return ThermalZoneManager(sensors=[ScriptedSensor({"cpu": 40.0})], clock=ManualClock())


def test_tune_records_trials_in_a_sqlite_study(config: TengriConfig) -> None:
    thermal = _cool_manager()
    result = tune(config, "sample:goog_d1", trials=2, thermal=thermal)
    assert [row["label"] for row in result["bursts"]] == ["trial 0", "trial 1"]  # a burst per trial
    assert thermal.compute_stats.bursts_granted == 2
    assert result["storage"].startswith("sqlite:///")
    assert result["storage"].endswith("optuna.db")
    assert result["total"] == 2
    assert result["complete"] + result["failed"] == 2
    assert result["complete"] >= 1
    assert result["best_value"] is not None
    again = tune(config, "sample:goog_d1", trials=1)
    assert again["total"] == 3


@pytest.mark.slow
def test_quick_evaluation_writes_the_table(tmp_path: Path) -> None:
    config = TengriConfig(data_dir=tmp_path / "data")
    from tengri.services.evaluate import BASELINES, CONSTANT_STD, NEURAL, evaluate

    result = evaluate(config, "sample:goog_d1", quick=True, thermal=_cool_manager())
    assert [row["label"] for row in result.bursts] == ["fold 1", "fold 2"]  # a burst per fold
    assert result.directory == config.reports_dir / "evaluate-sample-goog_d1-quick"
    table = result.markdown.read_text()
    for name in (*NEURAL, *BASELINES):
        assert f"| {name} |" in table
    frame = pd.read_csv(result.csv)
    assert len(frame) == 2 * (len(NEURAL) + len(BASELINES))
    document = json.loads(result.json.read_text())
    assert document["settings"]["folds"] == 2
    assert len(document["summary"]) == len(NEURAL) + len(BASELINES)
    assert frame.loc[frame["model"] == "flat", "total_return"].eq(0).all()
    # Training curves: one line per epoch of every fit, plotted in the report.
    curves = pd.read_csv(result.directory / "curves.csv")
    assert set(curves["model"]) == set(NEURAL)
    assert curves.groupby(["model", "fold"])["best"].sum().eq(1).all()
    assert "curves.png" in table
    assert (result.directory / "curves.png").stat().st_size > 0
    # A neural row that never trades is flagged constant rather than reported as a result.
    neural = frame[frame["model"].isin(NEURAL)]
    assert (neural["constant"] == (neural["output_std"] < CONSTANT_STD)).all()
    assert not neural.loc[neural["coverage"] == 0, "constant"].eq(False).any()
    # Every variant is compared with plain lstm, the neural ones Holm-adjusted.
    compared = {row["model"]: row for row in document["comparisons"]}
    assert set(compared) == {*NEURAL, *BASELINES} - {"lstm"}
    assert all(compared[name]["p_holm"] >= compared[name]["p"] for name in NEURAL if name != "lstm")


def test_evaluation_needs_a_seed(tmp_path: Path) -> None:
    from tengri.errors import InvalidInputError
    from tengri.services.evaluate import EvaluationSettings

    config = TengriConfig(data_dir=tmp_path / "data")
    with pytest.raises(InvalidInputError, match="seeds must be at least 1"):
        EvaluationSettings.from_config(config, quick=True, seeds=0)
    assert not (tmp_path / "data").exists()
    full = EvaluationSettings.from_config(config, quick=False, seeds=5)
    assert (full.seeds, full.folds, full.epochs, full.patience) == (5, 4, 30, 5)
    assert full.slippage == config.trading.slippage
