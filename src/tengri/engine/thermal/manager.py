"""The thermal zone manager: reads temperatures, sets the zone, and gates heavy work by bursts.

DESIGN.md, Thermal zones. Every :meth:`ThermalZoneManager.update_thermal_state` asks each sensor in
turn (NVML, psutil, sysfs by default); a sensor that raises is logged once and skipped, a reading
outside [−50, 150] °C or NaN is ignored with a warning, and when no sensor reads at all the
first-order :class:`~tengri.engine.thermal.sensors.ThermalModel` estimates CPU (and GPU)
temperature from load, marked ``estimated``. The hottest device sets the zone, the zone the GPU
allocation. Heavy work runs inside ``with manager.compute("training") as budget:`` and calls
``budget.pause_point()`` between steps (:mod:`tengri.engine.thermal.compute`).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tengri.config import TengriConfig, ThermalConfig, ThermalZoneSpec
from tengri.engine.clock import Clock, SystemClock
from tengri.engine.store import MemoryMap
from tengri.engine.thermal.bursts import Burst, BurstLedger, BurstRefusal, EndedBurst
from tengri.engine.thermal.compute import ComputeBudget, ComputeStats, RefusalPolicy
from tengri.engine.thermal.governance import ComputeSettings, settings_for
from tengri.engine.thermal.sensors import (
    LoadProbe,
    PsutilLoad,
    Reading,
    Sensor,
    ThermalModel,
    default_sensors,
    sane,
)
from tengri.engine.thermal.zones import classify, drift_coefficient, is_throttling

__all__ = ["ProfitSource", "ThermalSnapshot", "ThermalZoneManager"]

log = logging.getLogger(__name__)


class ProfitSource(Protocol):
    """What the manager needs of the profit coprocessor: the profit window's mean."""

    @property
    def average_profit(self) -> float:
        """P_avg of D_thermal."""
        ...


@dataclass(frozen=True)
class ThermalSnapshot:
    """The result of one :meth:`ThermalZoneManager.update_thermal_state`."""

    timestamp: float
    zone: str
    max_celsius: float
    readings: tuple[Reading, ...]
    estimated: bool
    gpu_allocation: float
    drift_coefficient: float


_CUDA: list[bool] = []


def _cuda_available() -> bool:
    """Whether torch can use CUDA; False while torch is not loaded (no model, no device to choose).

    Asked on every tick, so it neither imports torch (seconds) nor asks the driver twice.
    """
    if _CUDA:
        return _CUDA[0]
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    _CUDA.append(bool(torch.cuda.is_available()))
    return _CUDA[0]


class ThermalZoneManager:
    """Thermal state, GPU allocation and the burst budget of this machine; thread-safe.

    Parameters
    ----------
    profit_coprocessor
        Supplies P_avg for D_thermal (0 without one).
    sensors
        Sensors asked in order (default ``thermal.sensor_files`` if set, else NVML, psutil,
        sysfs); ``[]`` uses only the estimate.
    clock
        Time of every decision (default :class:`SystemClock`).
    store
        Persists the burst budget (``None``: memory only).
    config
        The ``thermal`` section is used (default: built-in defaults).
    load_probe
        CPU/GPU load for the estimating model (default psutil and NVML).
    cuda_available
        Whether CUDA can be used (default asks torch, lazily).
    """

    def __init__(
        self,
        profit_coprocessor: ProfitSource | None = None,
        sensors: Sequence[Sensor] | None = None,
        clock: Clock | None = None,
        store: MemoryMap | None = None,
        *,
        config: TengriConfig | None = None,
        load_probe: LoadProbe | None = None,
        cuda_available: Callable[[], bool] | None = None,
    ) -> None:
        self.config: ThermalConfig = config.thermal if config is not None else ThermalConfig()
        self.profit_coprocessor = profit_coprocessor
        self.sensors: list[Sensor] = list(
            default_sensors(self.config.sensor_files) if sensors is None else sensors
        )
        self.clock: Clock = clock or SystemClock()
        self.store = store
        self._load_probe = load_probe
        self._cuda_available = cuda_available or _cuda_available
        self._model = ThermalModel(
            self.config.ambient_celsius, self.config.model_celsius_per_load, self.config.model_time_constant
        )
        self.ledger = BurstLedger(self.config, self.clock, store)
        self._lock = threading.RLock()
        self._failing: dict[str, str] = {}
        self._garbage: set[str] = set()
        self._snapshot: ThermalSnapshot | None = None
        self.compute_stats = ComputeStats()
        self.zone_max: str | None = None  # the hottest zone seen since start
        self._settings: ComputeSettings | None = None

    # -- temperatures -------------------------------------------------------------------------

    def _read_sensors(self) -> list[Reading]:
        readings: list[Reading] = []
        for sensor in self.sensors:
            name = getattr(sensor, "name", type(sensor).__name__)
            try:
                got = sensor.read()
            except Exception as exc:  # a broken sensor must never take the manager down
                if name not in self._failing:
                    log.warning("thermal sensor %s failed and is skipped: %r", name, exc)
                self._failing[name] = repr(exc)
                continue
            if self._failing.pop(name, None) is not None:
                log.info("thermal sensor %s reads again", name)
            good, bad = sane(got)
            for reading in bad:
                if reading.device not in self._garbage:
                    log.warning("ignoring implausible reading %s = %r °C", reading.device, reading.celsius)
                    self._garbage.add(reading.device)
            for reading in good:
                self._garbage.discard(reading.device)
            readings.extend(good)
        return readings

    def sensor_problems(self) -> list[str]:
        """What the last reading skipped: failing sensors (or load probe) and implausible readings."""
        with self._lock:
            problems = [f"sensor {name} failed: {error}" for name, error in sorted(self._failing.items())]
            problems += [f"implausible reading from {device}" for device in sorted(self._garbage)]
            return problems

    def _estimate(self, now: float) -> list[Reading]:
        loads: dict[str, float] = {}
        try:
            probe = self._load_probe = self._load_probe or PsutilLoad()
            loads["cpu"] = probe.cpu_load()
            gpu = probe.gpu_load()
            if gpu is not None:
                loads["gpu"] = gpu
        except Exception as exc:  # without a load reading the model holds the ambient estimate
            if "load" not in self._failing:
                log.warning("load probe failed; estimating at idle: %r", exc)
            self._failing["load"] = repr(exc)
            loads.setdefault("cpu", 0.0)
        return self._model.step(now, loads)

    def update_thermal_state(self) -> ThermalSnapshot:
        """Read every sensor (or estimate), set the zone, and return the new state."""
        with self._lock:
            now = self.clock.now()
            readings = self._read_sensors()
            estimated = not readings
            if estimated:
                readings = self._estimate(now)
            hottest = max(r.celsius for r in readings)
            zone = classify(hottest, self.config.zones)
            self._note_zone(zone)
            self._snapshot = ThermalSnapshot(
                timestamp=now,
                zone=zone.name,
                max_celsius=hottest,
                readings=tuple(readings),
                estimated=estimated,
                gpu_allocation=zone.gpu_allocation,
                drift_coefficient=drift_coefficient(hottest, self._profit_average(), self.config),
            )
            self.ledger.refresh()
            return self._snapshot

    def _note_zone(self, zone: ThermalZoneSpec) -> None:
        names = [z.name for z in self.config.zones]
        previous = self._snapshot.zone if self._snapshot is not None else None
        if previous != zone.name:
            log.info("thermal zone %s -> %s", previous or "unknown", zone.name)
        if self.zone_max is None or names.index(zone.name) > names.index(self.zone_max):
            self.zone_max = zone.name

    def _profit_average(self) -> float:
        return self.profit_coprocessor.average_profit if self.profit_coprocessor is not None else 0.0

    @property
    def snapshot(self) -> ThermalSnapshot:
        """The latest state (read now if never read)."""
        snapshot = self._snapshot  # replaced whole by each reading: once there, one read needs no lock
        if snapshot is not None:
            return snapshot
        with self._lock:
            return self._snapshot or self.update_thermal_state()

    @property
    def zone_spec(self) -> ThermalZoneSpec:
        """The configured zone the hottest device is in."""
        return classify(self.snapshot.max_celsius, self.config.zones)

    @property
    def zone(self) -> str:
        """The zone's name: ``cool``, ``normal``, ``warm``, ``hot`` or ``critical`` by default."""
        return self.snapshot.zone

    @property
    def temperatures(self) -> dict[str, Reading]:
        """Device → its latest reading (with the reading's source)."""
        return {r.device: r for r in self.snapshot.readings}

    @property
    def estimated(self) -> bool:
        """Whether the temperatures come from the load model rather than a sensor."""
        return self.snapshot.estimated

    @property
    def gpu_allocation(self) -> float:
        """The share of GPU work the zone allows."""
        return self.snapshot.gpu_allocation

    @property
    def drift_coefficient(self) -> float:
        """D_thermal at the hottest device's temperature with the profit window's mean."""
        return drift_coefficient(self.snapshot.max_celsius, self._profit_average(), self.config)

    def is_throttling(self) -> bool:
        """Whether the zone is one of the two hottest (hot, critical)."""
        return is_throttling(self.zone_spec, self.config.zones)

    def should_reduce_gpu_load(self) -> bool:
        """Whether to reduce GPU load: in hot or critical, or when D_thermal ≥ 0.5."""
        return self.is_throttling() or self.drift_coefficient >= 0.5

    def inference_device(self) -> str:
        """``cuda`` when CUDA is available and the allocation is at least ``gpu_min_allocation``."""
        if self.gpu_allocation < self.config.gpu_min_allocation:
            return "cpu"
        return "cuda" if self._cuda_available() else "cpu"

    def compute_settings(self, *, max_threads: int = 1, max_segments: int = 1) -> ComputeSettings:
        """The settings the zone allows now (:mod:`tengri.engine.thermal.governance`).

        ``max_threads`` and ``max_segments`` are the configured maxima the table's shares apply
        to. The extremes used since start are kept in :attr:`compute_stats`; a change is logged.
        """
        with self._lock:
            snap = self.snapshot
            settings = settings_for(
                snap.gpu_allocation,
                reduce=self.should_reduce_gpu_load(),
                max_threads=max_threads,
                max_segments=max_segments,
                gpu_min_allocation=self.config.gpu_min_allocation,
                cuda_available=self._cuda_available(),
            )
            # Logged when the zone's row or the device changes (callers' maxima differ).
            if self._settings is None or (settings.row, settings.device) != (
                self._settings.row,
                self._settings.device,
            ):
                log.info(
                    "compute settings for zone %s: %d torch threads, model every %d bars, "
                    "retrain factor %d, QLSTM %s, device %s",
                    snap.zone,
                    settings.torch_threads,
                    settings.model_every,
                    settings.retrain_factor,
                    "allowed" if settings.qlstm_allowed else "off",
                    settings.device,
                )
                self._settings = settings
            stats = self.compute_stats
            stats.torch_threads_max = max(stats.torch_threads_max, settings.torch_threads)
            stats.model_every_max = max(stats.model_every_max, settings.model_every)
            return settings

    # -- bursts -------------------------------------------------------------------------------

    def try_start_burst(self, requested_s: float | None = None, label: str = "burst") -> Burst | BurstRefusal:
        """Start a burst on a fresh reading, or return why not (never raises a refusal)."""
        self.update_thermal_state()
        zone = self.zone if self.is_throttling() else None
        return self.ledger.try_start(throttling_zone=zone, requested_s=requested_s, label=label)

    def start_burst(self, requested_s: float | None = None, label: str = "burst") -> Burst:
        """Start a burst of at most ``requested_s`` (default and cap ``max_burst_seconds``).

        Raises
        ------
        BurstRefusedError
            With ``reason`` ``zone``, ``cooldown``, ``budget`` or ``active``.
        """
        granted = self.try_start_burst(requested_s, label)
        if isinstance(granted, BurstRefusal):
            raise granted.to_error()
        return granted

    def end_burst(self, burst_id: str | None = None, duration: float | None = None) -> EndedBurst:
        """End the running burst (see :meth:`BurstLedger.end`); the seed's body is ``{"duration": s}``."""
        return self.ledger.end(burst_id, duration)

    def compute(
        self,
        label: str = "burst",
        *,
        policy: RefusalPolicy = "wait",
        on_burst_end: Callable[[EndedBurst, str], None] | None = None,
        check_every_s: float = 1.0,
        max_wait_s: float | None = None,
    ) -> ComputeBudget:
        """Return the context manager that runs heavy work inside bursts (see :class:`ComputeBudget`)."""
        return ComputeBudget(
            self,
            label,
            policy=policy,
            on_burst_end=on_burst_end,
            check_every_s=check_every_s,
            max_wait_s=max_wait_s,
        )

    def budget_status(self) -> dict[str, Any]:
        """Return the burst budget's state (JSON-ready)."""
        return self.ledger.status()

    def status(self) -> dict[str, Any]:
        """Return the whole thermal state (JSON-ready); ``source`` is ``estimated`` for the model."""
        snap = self.snapshot
        sources = sorted({r.source for r in snap.readings})
        return {
            "zone": snap.zone,
            "max_temperature": snap.max_celsius,
            "temperatures": [r.to_dict() for r in snap.readings],
            "source": "estimated" if snap.estimated else ",".join(sources),
            "estimated": snap.estimated,
            "gpu_allocation": snap.gpu_allocation,
            "should_reduce_gpu_load": self.should_reduce_gpu_load(),
            "drift_coefficient": self.drift_coefficient,
            "failing_sensors": dict(self._failing),
            "updated_at": snap.timestamp,
            "budget": self.budget_status(),
        }
