"""A replay's heavy work under the thermal manager: bursts of bounded length, refusals, the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.engine import ManualClock
from tengri.services.replay import ProgressEvent, run_replay

START = 1_700_000_000.0
CALL_S = 0.02  # the machine clock's time per reading: the test's unit of work, not the machine's speed
SMALL_MODEL = {
    "epochs": 2,
    "hidden_size": 8,
    "num_heads": 2,
    "memory_slots": 2,
    "seq_len": 16,
    "patience": 2,
    "train_fraction": 0.6,
}


class TickingClock(ManualClock):
    """A machine clock that moves ``CALL_S`` each time it is read, and jumps when slept on."""

    def now(self) -> float:
        return self.advance(CALL_S)


def _config(data_dir: Path, celsius: float = 40.0, **thermal: float) -> TengriConfig:
    """A small model; the machine's temperature pinned by a sensor file (the zone sets the fit)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sensor = data_dir / "temp"
    sensor.write_text(f"{celsius}\n")
    return TengriConfig(
        data_dir=data_dir, model=SMALL_MODEL, thermal={**thermal, "sensor_files": [str(sensor)]}
    )


@pytest.mark.slow
def test_one_second_bursts_bound_the_fit_and_change_no_result(tmp_path: Path) -> None:
    short = run_replay(
        _config(tmp_path / "short", max_burst_seconds=1.0),
        "sample:goog_d1",
        model="lstm",
        build_html=False,
        machine_clock=TickingClock(START),
    )
    whole = run_replay(
        _config(tmp_path / "whole"),
        "sample:goog_d1",
        model="lstm",
        build_html=False,
        machine_clock=TickingClock(START),
    )
    bursts = pd.read_csv(short.run_dir / "bursts.csv")
    assert len(bursts) >= 3
    assert set(bursts["label"]) == {"training"}
    # A step (an optimiser step or an inference window) reads the clock a few times at most.
    assert bursts["seconds"].max() <= 1.0 + 5 * CALL_S
    assert len(pd.read_csv(whole.run_dir / "bursts.csv")) == 1
    compute = short.summary["compute"]
    assert compute["bursts_granted"] == len(bursts)
    assert compute["work_paused"] == len(bursts) - 1
    assert compute["burst_seconds"] == pytest.approx(bursts["seconds"].sum(), abs=1e-3)
    # The paused fit ends with the same weights as the unbroken one, and the same trades.
    for name in ("model/model.safetensors", "signals.csv", "trades.csv"):
        assert (short.run_dir / name).read_bytes() == (whole.run_dir / name).read_bytes()
    saved = json.loads((short.run_dir / "summary.json").read_text())
    assert saved["compute"]["bursts_granted"] == len(bursts)


@pytest.mark.parametrize(("celsius", "granted"), [(40.0, True), (95.0, False)])
def test_a_file_temperature_grants_or_refuses_the_fit_and_sets_threads_and_cadence(
    tmp_path: Path, celsius: float, granted: bool
) -> None:
    config = _config(tmp_path, celsius).with_overrides(model={"torch_threads": 2})
    sensor = Path(config.thermal.sensor_files[0])
    sensor.write_text(f"{int(celsius * 1000)}\n")  # as sysfs writes it
    outcome = run_replay(
        config, "sample:goog_d1", model="lstm", build_html=False, machine_clock=TickingClock(START)
    )
    compute = outcome.summary["compute"]
    assert compute["zone_max"] == ("cool" if granted else "critical")
    assert (compute["bursts_granted"] >= 1) is granted
    assert (compute["bursts_refused"] >= 1) is not granted
    assert (compute["model_skipped"] is None) is granted
    # Refused: the run went on without its model (no fit was saved).
    assert (outcome.run_dir / "model" / "manifest.json").is_file() is granted
    # 40 °C: both threads, the model asked on every bar; 95 °C: one thread, every 8th bar.
    assert compute["torch_threads_max"] == (2 if granted else 1)
    assert compute["model_every_max"] == (1 if granted else 8)
    assert compute["device"] == "cpu"


def test_a_zone_turning_critical_mid_run_asks_the_model_less_often(tmp_path: Path) -> None:
    runs = {}
    for name, heat_at in (("cool", None), ("heated", 1_700)):
        # Sensors read every machine second: a few bars (each reads the ticking clock).
        config = _config(tmp_path / name).with_overrides(engine={"thermal_monitoring_interval": 1.0})
        sensor = Path(config.thermal.sensor_files[0])

        def heat(event: ProgressEvent, at: int | None = heat_at, path: Path = sensor) -> None:
            if event.bar == at:
                path.write_text("95\n")

        runs[name] = run_replay(
            config,
            "sample:goog_d1",
            model="lstm",
            build_html=False,
            machine_clock=TickingClock(START),
            on_progress=heat,
        ).summary["compute"]
    streamed = 2_148 - int(2_148 * SMALL_MODEL["train_fraction"])
    assert runs["cool"]["model_asks"] == streamed
    assert runs["heated"]["zone_max"] == "critical"
    assert runs["heated"]["model_every_max"] == 8
    # Up to bar 1,700 on every bar, then about every 8th.
    asked_cool = 1_700 - (2_148 - streamed)
    assert asked_cool < runs["heated"]["model_asks"] < asked_cool + (2_148 - 1_700) // 8 + 20


@pytest.mark.slow
@pytest.mark.parametrize("data", ["sample:eurusd_h1", "sample:goog_d1"])
def test_at_most_explore_outcomes_entries_per_strategy_open_below_min_confidence(
    tmp_path: Path, data: str
) -> None:
    # Pattern trading with more (less certain) triggers than the defaults, so that both series trade.
    config = TengriConfig(
        data_dir=tmp_path,
        triggers={"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
        trading={"holding_bars": 6, "max_open_executions": 4},
    )
    outcome = run_replay(config, data, model="none", build_html=False)
    executions = pd.read_csv(outcome.run_dir / "executions.csv")
    below = executions[executions["confidence"] < config.trading.min_confidence]
    assert len(executions) > 0
    assert below.groupby("strategy_id").size().max() <= config.trading.explore_outcomes
    entries = outcome.summary["entries"]
    assert entries["taken"] == len(executions)
    # Exploring entries are those under the threshold, which in a drawdown adds the defensive margin.
    assert entries["exploring"] >= len(below)
    assert entries["refused_low_confidence"] > 0
