"""Heavy work in bursts: a fit paused between bursts ends as an unbroken one; services record bursts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.engine import ComputeBudget, EndedBurst, ManualClock, ThermalZoneManager
from tengri.engine.thermal import ScriptedSensor
from tengri.errors import BurstRefusedError
from tengri.predict import LSTMTradingPredictor, PredictorSettings
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
