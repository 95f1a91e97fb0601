"""Heavy work in bursts: a fit paused between bursts ends as an unbroken one; services record bursts."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.engine import ComputeBudget, EndedBurst, ManualClock, ThermalZoneManager
from tengri.engine.signals import Tick
from tengri.engine.thermal import ScriptedSensor
from tengri.errors import BurstRefusedError
from tengri.predict import LSTMTradingPredictor, PredictorSettings
from tengri.services.model_source import PredictorSignalSource
from tengri.services.train import train

MIDDAY = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC).timestamp()
STEP_S = 0.3  # the clock time one training step (one optimiser step, one inference window) takes
SMALL_MODEL = {"epochs": 1, "hidden_size": 8, "num_heads": 2, "memory_slots": 2, "seq_len": 16, "patience": 1}


class SteppingPacer:
    """Each natural point costs ``STEP_S`` on the manual clock, then asks the real budget."""

    def __init__(self, clock: ManualClock, budget: ComputeBudget) -> None:
        self.clock, self.budget, self.points = clock, budget, 0

    def pause_point(self) -> None:
        self.points += 1
        self.clock.advance(STEP_S)
        self.budget.pause_point()


def _manager(celsius: float, clock: ManualClock, **thermal: float) -> ThermalZoneManager:
    config = TengriConfig().with_overrides(thermal=thermal)
    return ThermalZoneManager(sensors=[ScriptedSensor({"cpu": celsius})], clock=clock, config=config)


def test_a_fit_split_into_one_second_bursts_equals_an_unbroken_fit(
    goog: pd.DataFrame, make_settings: Callable[..., PredictorSettings]
) -> None:
    bars = goog.iloc[:700]
    clock = ManualClock(MIDDAY)
    manager = _manager(40.0, clock, max_burst_seconds=1.0)
    lengths: list[float] = []

    def record(ended: EndedBurst, label: str) -> None:
        lengths.append(ended.length_s)

    with manager.compute("training", on_burst_end=record) as budget:
        pacer = SteppingPacer(clock, budget)
        paused = LSTMTradingPredictor(settings=make_settings("lstm")).fit(bars, budget=pacer)
    unbroken = LSTMTradingPredictor(settings=make_settings("lstm")).fit(bars)
    assert len(lengths) >= 5
    assert budget.pauses == len(lengths) - 1
    assert max(lengths) <= 1.0 + STEP_S + 1e-9  # never past the limit by more than one step
    assert sum(lengths) == pytest.approx(pacer.points * STEP_S)
    np.testing.assert_array_equal(paused.predict(bars).to_numpy(), unbroken.predict(bars).to_numpy())
    assert paused.metrics == unbroken.metrics


def test_a_fit_refused_midway_leaves_the_previous_fit(
    goog: pd.DataFrame, make_settings: Callable[..., PredictorSettings]
) -> None:
    clock = ManualClock(MIDDAY)
    manager = _manager(40.0, clock, max_burst_seconds=1.0)
    fitted = LSTMTradingPredictor(settings=make_settings("lstm", epochs=1)).fit(goog.iloc[:700])
    before = fitted.predict(goog.iloc[:900])
    sensor = manager.sensors[0]
    assert isinstance(sensor, ScriptedSensor)

    class HeatsUp(SteppingPacer):
        def pause_point(self) -> None:
            if self.points == 3:
                sensor.set("cpu", 95.0)  # critical: this burst pauses, the next is refused
            super().pause_point()

    budget = manager.compute("retraining", policy="skip")
    pacer = HeatsUp(clock, budget)
    with pytest.raises(BurstRefusedError), budget:
        fitted.fit(goog.iloc[:900], budget=pacer)
    assert pacer.points >= 3
    pd.testing.assert_frame_equal(fitted.predict(goog.iloc[:900]), before)


def test_train_records_its_bursts(tmp_path: Path) -> None:
    config = TengriConfig(data_dir=tmp_path, model=SMALL_MODEL)
    clock = ManualClock(MIDDAY)
    result = train(config, "sample:goog_d1", "lstm", thermal=_manager(40.0, clock))
    assert [row["label"] for row in result.bursts] == ["training"]
    assert result.bursts[0]["seconds"] == 0.0  # the manual clock did not move


def test_train_in_a_hot_zone_waits_then_gives_up(tmp_path: Path) -> None:
    config = TengriConfig(data_dir=tmp_path, model=SMALL_MODEL, thermal={"max_wait_seconds": 60.0})
    clock = ManualClock(MIDDAY)
    manager = _manager(95.0, clock, max_wait_seconds=60.0)
    with pytest.raises(BurstRefusedError):
        train(config, "sample:goog_d1", "lstm", thermal=manager)
    assert clock.now() == MIDDAY + 60.0  # polled every 5 s on the clock, never slept
    assert not (config.models_dir / "sample-goog_d1-lstm").exists()


def test_quantum_inference_streams_in_bursts_and_waits_while_hot(
    goog: pd.DataFrame,
    make_settings: Callable[..., PredictorSettings],
    bar_tick: Callable[[pd.DataFrame, int, int], Tick],
) -> None:
    fitted = LSTMTradingPredictor(settings=make_settings("lstm", epochs=1)).fit(goog.iloc[:700])
    # Treated as a quantum model by the source (the flag is all it reads); the network is an LSTM.
    quantum = replace(fitted.settings, model=replace(fitted.settings.model, use_quantum=True))
    clock = ManualClock(MIDDAY)
    manager = _manager(40.0, clock, max_burst_seconds=1.0)
    sensor = manager.sensors[0]
    assert isinstance(sensor, ScriptedSensor)
    bursts: list[str] = []
    governed = PredictorSignalSource(
        copy.deepcopy(fitted),
        thermal=manager,
        policy="skip",
        on_burst_end=lambda e, label: bursts.append(label),
    )
    governed.predictor.settings = quantum
    free = PredictorSignalSource(copy.deepcopy(fitted))
    asks_while_hot = None
    for position in range(700, 800):
        clock.advance(0.4)  # each bar's inference costs 0.4 s of the clock
        if position == 740:
            sensor.set("cpu", 95.0)
            manager.update_thermal_state()
            asks_while_hot = governed.asks
        if position == 770:
            sensor.set("cpu", 40.0)
            manager.update_thermal_state()
            assert governed.asks == asks_while_hot  # not asked while critical
        governed.on_tick(bar_tick(goog, position, 700))
        free.on_tick(bar_tick(goog, position, 700))
    governed.close()
    assert len(bursts) > 3
    assert set(bursts) == {"quantum inference"}
    assert not governed._waiting  # the bars that waited were streamed when it cooled
    bar = {"timestamp": goog.index[800], **goog.iloc[800].to_dict()}
    assert governed.predictor.update(bar) == free.predictor.update(bar)  # the same stream


def test_use_multi_timeframe_is_honoured_end_to_end(goog: pd.DataFrame, tmp_path: Path) -> None:
    config = TengriConfig(model={**SMALL_MODEL, "use_multi_timeframe": True})
    settings = PredictorSettings.from_config(config, "lstm")
    assert settings.model.use_multi_timeframe
    assert not PredictorSettings.from_config(config, "qlstm").model.use_multi_timeframe  # one timeframe
    predictor = LSTMTradingPredictor(settings=settings).fit(goog.iloc[:700])
    network = predictor.network
    assert network is not None
    assert network.config.timeframes == (1, *settings.higher_factors)  # a branch per timeframe
    assert network.config.input_size * 3 == len(predictor.pipeline.feature_names)  # type: ignore[union-attr]
    batch = predictor.predict(goog.iloc[:760])
    loaded = LSTMTradingPredictor.load(predictor.save(tmp_path / "multi"))
    loaded.predict(goog.iloc[:759])
    bar = {"timestamp": goog.index[759], **goog.iloc[759].to_dict()}
    streamed = loaded.update(bar)
    assert streamed is not None
    assert streamed["prob_up"] == pytest.approx(batch["prob_up"].iloc[-1], abs=1e-5)


@pytest.mark.parametrize(
    ("device", "celsius", "allow_cuda"),
    [("auto", 40.0, True), ("auto", 95.0, False), ("cpu", 40.0, False)],
)
def test_the_device_is_model_device_within_the_zones_say(
    device: str, celsius: float, allow_cuda: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import tengri.models
    from tengri.services.model_source import choose_device

    asked: list[bool] = []

    def select(*, allow_cuda: bool) -> torch.device:
        asked.append(allow_cuda)
        return torch.device("cpu")

    monkeypatch.setattr(tengri.models, "select_device", select)
    thermal = ThermalZoneManager(
        sensors=[ScriptedSensor({"gpu0": celsius})], clock=ManualClock(MIDDAY), cuda_available=lambda: True
    )
    config = TengriConfig(model={"device": device})
    assert choose_device(config, thermal) == torch.device("cpu")
    assert asked == [allow_cuda]


def test_model_device_cuda_without_a_gpu_is_a_configuration_error() -> None:
    import torch

    from tengri.errors import ConfigError
    from tengri.services.model_source import choose_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="no CUDA device"):
        choose_device(TengriConfig(model={"device": "cuda"}), None)
