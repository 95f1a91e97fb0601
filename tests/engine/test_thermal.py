"""Thermal zones, D_thermal, sensors and the burst budget, with a manual clock and scripted sensors."""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path

import pytest

from tengri.config import TengriConfig
from tengri.engine.clock import ManualClock
from tengri.engine.profit import ProfitTrajectoryCoprocessor
from tengri.engine.store import MemoryMap
from tengri.engine.thermal import (
    BurstRefusal,
    Reading,
    ScriptedLoad,
    ScriptedSensor,
    SysfsThermalSensor,
    ThermalModel,
    ThermalZoneManager,
)
from tengri.engine.thermal.governance import markdown_table
from tengri.errors import BurstRefusedError, ConflictError, NotFoundError

MIDDAY = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC).timestamp()


def _manager(
    celsius: float = 50.0, clock: ManualClock | None = None, store: MemoryMap | None = None
) -> tuple[ThermalZoneManager, ScriptedSensor, ManualClock]:
    sensor = ScriptedSensor({"gpu0": celsius})
    clock = clock or ManualClock(MIDDAY)
    manager = ThermalZoneManager(sensors=[sensor], clock=clock, store=store, cuda_available=lambda: True)
    return manager, sensor, clock


def test_seed_direct_component_usage_on_this_machine() -> None:
    profit_coprocessor = ProfitTrajectoryCoprocessor()
    thermal_manager = ThermalZoneManager(profit_coprocessor)
    profit_coprocessor.update(profit=150.0)
    thermal_manager.update_thermal_state()
    assert isinstance(thermal_manager.should_reduce_gpu_load(), bool)
    assert thermal_manager.zone in {"cool", "normal", "warm", "hot", "critical"}


@pytest.mark.parametrize(
    ("celsius", "zone", "allocation"),
    [
        (-10.0, "cool", 0.7),
        (59.99, "cool", 0.7),
        (60.0, "normal", 0.6),
        (69.99, "normal", 0.6),
        (70.0, "warm", 0.4),
        (79.99, "warm", 0.4),
        (80.0, "hot", 0.2),
        (89.99, "hot", 0.2),
        (90.0, "critical", 0.1),
        (140.0, "critical", 0.1),
    ],
)
def test_zone_boundaries(celsius: float, zone: str, allocation: float) -> None:
    manager, _, _ = _manager(celsius)
    manager.update_thermal_state()
    assert (manager.zone, manager.gpu_allocation) == (zone, allocation)
    assert manager.should_reduce_gpu_load() is (zone in ("hot", "critical") or celsius >= 70.0)
    assert manager.inference_device() == ("cuda" if allocation >= 0.3 else "cpu")


def test_hottest_device_sets_the_zone() -> None:
    manager, sensor, _ = _manager(50.0)
    sensor.set("cpu", 85.0)
    manager.update_thermal_state()
    assert manager.zone == "hot"
    assert {d: r.source for d, r in manager.temperatures.items()} == {"gpu0": "scripted", "cpu": "scripted"}


@pytest.mark.parametrize(
    ("celsius", "profit_avg", "expected"),
    [
        (70.0, 0.0, 0.5),
        (71.0, 0.0, 1 / (1 + math.exp(-1))),
        (65.0, 0.0, 1 / (1 + math.exp(5))),
        (75.0, 10.0, 0.5),  # 10 units of profit buy 5 °C of headroom
        (72.0, -4.0, 1 / (1 + math.exp(-4))),
        (20.0, 0.0, 1 / (1 + math.exp(50))),
    ],
)
def test_drift_coefficient_formula(celsius: float, profit_avg: float, expected: float) -> None:
    profit = ProfitTrajectoryCoprocessor()
    profit.update(profit_avg, MIDDAY - 10)
    manager = ThermalZoneManager(
        profit, sensors=[ScriptedSensor({"gpu0": celsius})], clock=ManualClock(MIDDAY)
    )
    manager.update_thermal_state()
    assert manager.drift_coefficient == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert profit.drift_coefficient(celsius) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert manager.should_reduce_gpu_load() is (expected >= 0.5)


def test_failing_sensor_is_logged_once_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    broken = ScriptedSensor(name="broken", error=OSError("i2c bus gone"))
    good = ScriptedSensor({"cpu": 65.0})
    manager = ThermalZoneManager(sensors=[broken, good], clock=ManualClock(MIDDAY))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            manager.update_thermal_state()
    assert manager.zone == "normal"
    assert broken.calls == 3
    assert sum("broken" in r.getMessage() for r in caplog.records) == 1
    assert "broken" in manager.status()["failing_sensors"]
    broken.fail(None)
    manager.update_thermal_state()
    assert manager.status()["failing_sensors"] == {}


def test_garbage_readings_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    sensor = ScriptedSensor({"a": float("nan"), "b": -60.0, "c": 151.0, "d": 62.0})
    manager = ThermalZoneManager(sensors=[sensor], clock=ManualClock(MIDDAY))
    with caplog.at_level(logging.WARNING):
        manager.update_thermal_state()
    assert list(manager.temperatures) == ["d"]
    assert manager.zone == "normal"
    assert sum("implausible" in r.getMessage() for r in caplog.records) == 3


def test_estimated_when_no_sensor_reads() -> None:
    clock = ManualClock(MIDDAY)
    load = ScriptedLoad(cpu=0.0, gpu=None)
    manager = ThermalZoneManager(sensors=[ScriptedSensor({})], clock=clock, load_probe=load)
    manager.update_thermal_state()
    assert manager.estimated
    assert manager.status()["source"] == "estimated"
    assert manager.temperatures["cpu"].celsius == pytest.approx(manager.config.ambient_celsius)
    ambient, rise, tau = (
        manager.config.ambient_celsius,
        manager.config.model_celsius_per_load,
        manager.config.model_time_constant,
    )
    load.cpu = 1.0
    clock.advance(tau)  # one time constant: 1 − 1/e of the way to ambient + rise
    manager.update_thermal_state()
    assert manager.temperatures["cpu"].celsius == pytest.approx(ambient + rise - rise / math.e)
    clock.advance(10 * tau)
    manager.update_thermal_state()
    assert manager.temperatures["cpu"].celsius == pytest.approx(ambient + rise, abs=0.01)
    load.cpu = 0.0
    clock.advance(1.0)
    manager.update_thermal_state()
    assert manager.temperatures["cpu"].celsius < ambient + rise
    assert manager.temperatures["cpu"].source == "estimated"


def test_thermal_model_and_sysfs_sensor(tmp_path: Path) -> None:
    model = ThermalModel(ambient=30.0, celsius_per_load=50.0, time_constant=10.0)
    assert model.step(0.0, {"cpu": 0.5})[0].celsius == 55.0
    assert model.step(-5.0, {"cpu": 1.0})[0].celsius == 55.0  # a clock going back does not integrate
    zone = tmp_path / "thermal_zone0"
    zone.mkdir()
    (zone / "temp").write_text("47500\n")
    (zone / "type").write_text("x86_pkg_temp\n")
    readings = SysfsThermalSensor(tmp_path).read()
    assert [(r.device, r.celsius, r.source) for r in readings] == [
        ("thermal_zone0/x86_pkg_temp", 47.5, "sysfs")
    ]
    assert SysfsThermalSensor(tmp_path / "none").read() == []


# -- bursts -------------------------------------------------------------------------------------


def test_burst_refused_in_hot_and_critical() -> None:
    for celsius in (80.0, 95.0):
        manager, _, _ = _manager(celsius)
        with pytest.raises(BurstRefusedError) as info:
            manager.start_burst()
        assert info.value.reason == "zone"
    manager, _, _ = _manager(79.0)
    assert manager.start_burst().max_seconds == 300.0


def test_burst_capped_and_ended_automatically_then_cooldown() -> None:
    manager, _, clock = _manager()
    burst = manager.start_burst(requested_s=1_000.0)
    assert burst.max_seconds == 300.0
    refusal = manager.try_start_burst()
    assert isinstance(refusal, BurstRefusal)
    assert refusal.reason == "active"
    clock.advance(301.0)
    status = manager.budget_status()
    assert status["active_burst"] is None
    assert status["used_s"] == 300.0
    assert status["last_burst"]["automatic"] is True
    assert status["cooldown_until"] == burst.deadline + 600.0
    refusal = manager.try_start_burst()
    assert isinstance(refusal, BurstRefusal)
    assert refusal.reason == "cooldown"
    assert refusal.retry_after_s == pytest.approx(599.0)
    # Its owner ends it 1 s after the deadline: the overrun is charged, with its cooldown, once.
    ended = manager.end_burst(burst.burst_id)
    assert (ended.automatic, ended.length_s) == (True, 301.0)
    assert manager.end_burst(burst.burst_id).length_s == 301.0
    assert manager.budget_status()["used_s"] == 301.0
    clock.advance(602.0)  # twice the 301 s charged
    assert not isinstance(manager.try_start_burst(), BurstRefusal)


def test_a_quiet_refresh_still_sees_the_deadline_the_new_day_and_a_clock_set_back() -> None:
    manager, _, clock = _manager()
    ledger = manager.ledger
    burst = manager.start_burst()
    for _ in range(3):  # nothing due: the later reads take the quiet path
        clock.advance(burst.max_seconds / 4)
        assert ledger.active == burst
    clock.set(burst.deadline)  # at the deadline, not a moment later
    assert ledger.active is None
    assert ledger.last_ended is not None
    assert ledger.last_ended.automatic
    used = manager.budget_status()["used_s"]
    midnight = dt.datetime(2024, 3, 2, tzinfo=dt.UTC).timestamp()
    assert clock.now() < midnight
    clock.set(midnight - 1.0)
    assert ledger.refresh() is None
    assert manager.budget_status()["used_s"] == used
    clock.set(midnight)  # a new UTC day resets the budget
    assert manager.budget_status()["used_s"] == 0.0
    clock.set(midnight - 10.0)  # the clock set back into yesterday: its day again
    assert manager.budget_status()["day"] == "2024-03-01"


def test_end_burst_with_duration_sets_cooldown() -> None:
    manager, _, clock = _manager()
    manager.start_burst()
    clock.advance(20.0)
    ended = manager.end_burst(duration=30.5)  # a stated length longer than measured adds
    assert (ended.length_s, ended.automatic) == (30.5, False)
    assert ended.cooldown_until == clock.now() + 61.0
    assert manager.budget_status()["used_s"] == 30.5
    with pytest.raises(ConflictError):
        manager.end_burst()
    clock.advance(61.0)
    manager.start_burst()
    with pytest.raises(NotFoundError):
        manager.end_burst("burst_unknown")


def test_a_stated_duration_never_undercharges() -> None:
    manager, _, clock = _manager()
    manager.start_burst()
    clock.advance(299.0)
    ended = manager.end_burst(duration=0.0)  # the REST case: {"duration": 0} after 299 s
    assert ended.length_s == 299.0
    assert manager.budget_status()["used_s"] == 299.0
    assert ended.cooldown_until == clock.now() + 598.0
    refusal = manager.try_start_burst()
    assert isinstance(refusal, BurstRefusal)
    assert refusal.reason == "cooldown"


def test_daily_budget_and_midnight_reset() -> None:
    manager, _, clock = _manager()
    midnight = dt.datetime(2024, 3, 2, tzinfo=dt.UTC).timestamp()
    for _ in range(28):  # 28 × 300 s = 8,400 s of the 8,640 s budget
        manager.start_burst()
        clock.advance(300.0)  # ends automatically at its deadline
        clock.advance(600.0)
    last = manager.start_burst()
    assert last.max_seconds == pytest.approx(240.0)  # capped by the budget left
    clock.advance(240.0)
    clock.advance(480.0)
    refusal = manager.try_start_burst()
    assert isinstance(refusal, BurstRefusal)
    assert refusal.reason == "budget"
    assert clock.now() < midnight
    assert refusal.retry_after_s == pytest.approx(midnight - clock.now())
    with pytest.raises(BurstRefusedError) as info:
        manager.start_burst()
    assert info.value.reason == "budget"
    clock.set(midnight)
    status = manager.budget_status()
    assert (status["day"], status["used_s"]) == ("2024-03-02", 0.0)
    assert not isinstance(manager.try_start_burst(), BurstRefusal)


def test_budget_and_cooldown_survive_restart(tmp_path: Path) -> None:
    clock = ManualClock(MIDDAY)
    with MemoryMap(data_dir=tmp_path, clock=clock) as store:
        manager, _, _ = _manager(clock=clock, store=store)
        manager.start_burst()
        clock.advance(100.0)
        manager.end_burst()
        clock.advance(200.0)  # the cooldown
        manager.start_burst()
        clock.advance(50.0)
        # The process dies here, with a burst running.
    clock.advance(10.0)
    with MemoryMap(data_dir=tmp_path, clock=clock) as store:
        restarted, _, _ = _manager(clock=clock, store=store)
        status = restarted.budget_status()
        assert status["used_s"] == pytest.approx(160.0)  # 100 s + the interrupted 60 s
        assert status["active_burst"] is None
        assert status["cooldown_until"] == pytest.approx(clock.now() + 120.0)
        refusal = restarted.try_start_burst()
        assert isinstance(refusal, BurstRefusal)
        assert refusal.reason == "cooldown"
    clock.set(dt.datetime(2024, 3, 2, 0, 0, 1, tzinfo=dt.UTC).timestamp())
    with MemoryMap(data_dir=tmp_path, clock=clock) as store:
        next_day, _, _ = _manager(clock=clock, store=store)
        assert next_day.budget_status()["used_s"] == 0.0


def test_compute_budget_pauses_when_the_zone_worsens_and_waits_until_it_cools() -> None:
    clock = ManualClock(MIDDAY)

    class HotForAWhile:
        """85 °C from 5 s to 30 s after midday, 65 °C otherwise."""

        name = "scripted"

        def read(self) -> list[Reading]:
            hot = MIDDAY + 5.0 <= clock.now() < MIDDAY + 30.0
            return [Reading("gpu0", 85.0 if hot else 65.0, "scripted")]

    manager = ThermalZoneManager(sensors=[HotForAWhile()], clock=clock, cuda_available=lambda: True)
    with manager.compute("training", check_every_s=1.0) as budget:
        assert budget.device == "cuda"
        for _ in range(8):
            budget.pause_point()
            clock.advance(1.0)
    # Paused at 5 s (hot); under "wait" refused at 5, 10, 15, 20 and 25 s (polled every 5 s of
    # the clock, no sleep), granted at 30 s when it cooled.
    assert budget.pauses == 1
    assert [e.length_s for e in budget.ended] == [5.0, 3.0]
    assert manager.compute_stats.work_paused == 1
    assert manager.compute_stats.bursts_granted == 2
    assert manager.compute_stats.bursts_refused == 5
    assert clock.now() == MIDDAY + 33.0


def test_compute_budget_refused_in_a_hot_zone_under_skip() -> None:
    manager, _, _ = _manager(95.0)
    with pytest.raises(BurstRefusedError) as info, manager.compute("training", policy="skip"):
        pass
    assert info.value.reason == "zone"
    assert manager.compute_stats.bursts_refused == 1
    with pytest.raises(BurstRefusedError), manager.compute("training", max_wait_s=60.0):
        pass  # "wait" polls every 5 s of the clock, and gives up after 60
    assert manager.compute_stats.bursts_refused == 1 + 13


def test_compute_budget_splits_work_into_bursts_of_the_limit_plus_one_step() -> None:
    config = TengriConfig().with_overrides(thermal={"max_burst_seconds": 1.0})
    clock = ManualClock(MIDDAY)
    manager = ThermalZoneManager(sensors=[ScriptedSensor({"cpu": 40.0})], clock=clock, config=config)
    ended: list[float] = []
    with manager.compute("training", on_burst_end=lambda e, _: ended.append(e.length_s)) as budget:
        for _ in range(20):
            budget.pause_point()
            clock.advance(0.3)  # one step of work
    # 0.3 s steps: a burst sees its deadline after its fourth step, at 1.2 s; the cooldown (2.4 s)
    # is waited out on the clock, so the 20 steps need five bursts.
    assert ended == pytest.approx([1.2, 1.2, 1.2, 1.2, 1.2])
    assert all(length <= 1.0 + 0.3 + 1e-9 for length in ended)
    assert budget.pauses == 4
    assert clock.now() == pytest.approx(MIDDAY + 20 * 0.3 + 4 * 2.4)


def test_status_is_json_ready() -> None:
    import json

    manager, _, _ = _manager(72.0)
    status = json.loads(json.dumps(manager.status()))
    assert status["zone"] == "warm"
    assert status["source"] == "scripted"
    assert status["budget"]["budget_s"] == 8640.0


# -- operator's sensor files and the estimating model -----------------------------------------


def test_sensor_files_in_millidegrees_or_celsius_set_the_zone(tmp_path: Path) -> None:
    sysfs_style, celsius = tmp_path / "gpu_temp", tmp_path / "cpu_temp"
    sysfs_style.write_text("41500\n")
    celsius.write_text("38.0\n")
    config = TengriConfig().with_overrides(thermal={"sensor_files": [str(sysfs_style), str(celsius)]})
    manager = ThermalZoneManager(clock=ManualClock(MIDDAY), config=config)
    assert [type(sensor).__name__ for sensor in manager.sensors] == ["FileSensor"]
    manager.update_thermal_state()
    assert {r.device: r.celsius for r in manager.temperatures.values()} == {
        str(sysfs_style): 41.5,
        str(celsius): 38.0,
    }
    assert (manager.zone, manager.status()["source"]) == ("cool", "file")
    assert not isinstance(manager.try_start_burst(), BurstRefusal)
    manager.end_burst()
    celsius.write_text("95\n")
    manager.update_thermal_state()
    assert manager.zone == "critical"
    refusal = manager.try_start_burst()
    assert isinstance(refusal, BurstRefusal)
    assert refusal.reason == "zone"


def test_a_missing_sensor_file_is_reported_and_the_estimate_takes_over(tmp_path: Path) -> None:
    config = TengriConfig().with_overrides(thermal={"sensor_files": [str(tmp_path / "absent")]})
    manager = ThermalZoneManager(clock=ManualClock(MIDDAY), config=config, load_probe=ScriptedLoad(cpu=0.0))
    manager.update_thermal_state()
    assert manager.estimated
    assert manager.sensor_problems()[0].startswith("sensor file failed")


@pytest.mark.parametrize(("rise", "zone"), [(40.0, "warm"), (50.0, "hot"), (60.0, "critical")])
def test_sustained_full_load_reaches_the_zone_its_parameters_say(rise: float, zone: str) -> None:
    clock = ManualClock(MIDDAY)
    config = TengriConfig().with_overrides(thermal={"model_celsius_per_load": rise})
    load = ScriptedLoad(cpu=0.0)
    manager = ThermalZoneManager(sensors=[], clock=clock, config=config, load_probe=load)
    assert manager.update_thermal_state().zone == "cool"  # idle: the ambient 35 °C
    load.cpu = 1.0
    for _ in range(10):  # ten minutes of full load, τ = 60 s
        clock.advance(60.0)
        manager.update_thermal_state()
    assert manager.zone == zone
    assert manager.temperatures["cpu"].celsius == pytest.approx(35.0 + rise, abs=0.01)


# -- what each zone sets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("celsius", "threads", "segments", "every", "retrain", "qlstm", "device"),
    [
        (40.0, 4, 8, 1, 1, True, "cuda"),  # cool
        (65.0, 4, 8, 1, 1, True, "cuda"),  # normal
        (69.0, 4, 8, 1, 1, True, "cuda"),  # normal, D_thermal just under 0.5
        (75.0, 1, 2, 4, 0, False, "cpu"),  # warm, but D_thermal ≥ 0.5 at no profit: one row down
        (85.0, 1, 2, 8, 0, False, "cpu"),  # hot: reduce, the critical row
        (95.0, 1, 2, 8, 0, False, "cpu"),  # critical
    ],
)
def test_the_zone_sets_threads_batch_cadence_retrains_qlstm_and_device(
    tmp_path: Path,
    celsius: float,
    threads: int,
    segments: int,
    every: int,
    retrain: int,
    qlstm: bool,
    device: str,
) -> None:
    sensor = tmp_path / "temp"
    sensor.write_text(f"{celsius}\n")
    config = TengriConfig().with_overrides(thermal={"sensor_files": [str(sensor)]})
    manager = ThermalZoneManager(clock=ManualClock(MIDDAY), config=config, cuda_available=lambda: True)
    settings = manager.compute_settings(max_threads=4, max_segments=8)
    assert (settings.torch_threads, settings.segments, settings.model_every) == (threads, segments, every)
    assert (settings.retrain_factor, settings.qlstm_allowed, settings.device) == (retrain, qlstm, device)


def test_warm_with_profit_headroom_uses_the_warm_row_and_cooling_raises_settings_again(
    tmp_path: Path,
) -> None:
    class Profit:
        average_profit = 20.0  # 10 °C of headroom: D_thermal < 0.5 at 75 °C

    sensor = tmp_path / "temp"
    sensor.write_text("75\n")
    config = TengriConfig().with_overrides(thermal={"sensor_files": [str(sensor)]})
    manager = ThermalZoneManager(
        Profit(), clock=ManualClock(MIDDAY), config=config, cuda_available=lambda: True
    )
    warm = manager.compute_settings(max_threads=4, max_segments=8)
    assert (warm.torch_threads, warm.segments, warm.model_every, warm.retrain_factor) == (2, 4, 2, 2)
    assert warm.device == "cuda"  # allocation 0.4 ≥ gpu_min_allocation 0.3
    sensor.write_text("95\n")
    manager.update_thermal_state()
    assert manager.compute_settings(max_threads=4, max_segments=8).torch_threads == 1
    sensor.write_text("40\n")
    manager.update_thermal_state()
    assert manager.compute_settings(max_threads=4, max_segments=8).torch_threads == 4
    assert manager.compute_stats.torch_threads_max == 4


def test_the_readme_prints_the_zone_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme


@pytest.mark.parametrize(
    ("error", "code", "inits"),
    [
        ("NVMLError_LibraryNotFound", "NVML_ERROR_LIBRARY_NOT_FOUND", 1),  # stays missing: once
        ("NVMLError_DriverNotLoaded", "NVML_ERROR_DRIVER_NOT_LOADED", 3),  # may load: each sensor tries
    ],
)
def test_a_missing_nvml_library_is_looked_for_once_a_process(
    monkeypatch: pytest.MonkeyPatch, error: str, code: str, inits: int
) -> None:
    import pynvml

    from tengri.engine.thermal import sensors

    calls: list[str] = []

    def failing() -> None:
        calls.append("init")
        raise getattr(pynvml, error)(getattr(pynvml, code))

    monkeypatch.setattr(sensors.NvmlSensor, "library_missing", False)
    monkeypatch.setattr(pynvml, "nvmlInit", failing)
    assert sensors.NvmlSensor().read() == []
    assert sensors.NvmlSensor().read() == []
    assert sensors.NvmlSensor().utilisation() is None
    assert len(calls) == inits
