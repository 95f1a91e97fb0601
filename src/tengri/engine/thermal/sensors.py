"""Temperature sensors behind one small protocol, and the load-driven model used when none reads.

Real sensors, in the order the manager asks them: :class:`NvmlSensor` (GPUs, nvidia-ml-py),
:class:`PsutilSensor` (``psutil.sensors_temperatures``), :class:`SysfsThermalSensor`
(``/sys/class/thermal``); or, when ``thermal.sensor_files`` names files, :class:`FileSensor`
alone. A machine without any (a CI runner, a container) gets its temperatures
from :class:`ThermalModel`, a first-order model driven by CPU and GPU load, whose readings are
marked ``estimated``. :class:`ScriptedSensor` and :class:`ScriptedLoad` are fakes for tests; they
are never a default.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import psutil

__all__ = [
    "FileSensor",
    "LoadProbe",
    "NvmlSensor",
    "PsutilLoad",
    "PsutilSensor",
    "Reading",
    "ScriptedLoad",
    "ScriptedSensor",
    "Sensor",
    "SysfsThermalSensor",
    "ThermalModel",
    "default_sensors",
    "sane",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """One temperature: the device, degrees Celsius, and where it came from (``nvml``, ``psutil``,
    ``sysfs``, ``estimated`` or ``scripted``)."""

    device: str
    celsius: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"device": self.device, "celsius": self.celsius, "source": self.source}


@runtime_checkable
class Sensor(Protocol):
    """Something that reads temperatures; it may return nothing, and it may raise."""

    name: str

    def read(self) -> list[Reading]:
        """Return the current readings (empty when the sensor has no device here)."""
        ...


class NvmlSensor:
    """GPU temperatures through NVML (nvidia-ml-py); reads nothing where NVML is not installed."""

    name = "nvml"
    #: Whether a sensor of this process found the NVML library missing (see :meth:`_init`).
    library_missing: ClassVar[bool] = False

    def __init__(self) -> None:
        self._handles: list[Any] | None = None
        self._unavailable = False

    def _init(self) -> list[Any]:
        if self._handles is None:
            import pynvml

            if NvmlSensor.library_missing:
                self._unavailable = True
                return []
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as exc:
                # No driver or library: this machine has no NVIDIA GPU to read, which is no error.
                # A library that is not installed stays so for the process: later sensors do
                # not look for it again (each search is a failed dlopen, a fifth of a millisecond).
                self._unavailable = True
                NvmlSensor.library_missing = isinstance(exc, pynvml.NVMLError_LibraryNotFound)
                log.debug("NVML unavailable: %s", exc)
                return []
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        return self._handles

    def read(self) -> list[Reading]:
        """Return one reading per GPU."""
        if self._unavailable:
            return []
        import pynvml

        handles = self._init()
        return [
            Reading(
                f"gpu{i}",
                float(pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)),
                self.name,
            )
            for i, h in enumerate(handles)
        ]

    def utilisation(self) -> float | None:
        """Return the busiest GPU's utilisation in [0, 1], or ``None`` without NVML."""
        if self._unavailable:
            return None
        import pynvml

        handles = self._init()
        if not handles:
            return None
        return max(float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu) for h in handles) / 100.0


class PsutilSensor:
    """Temperatures from ``psutil.sensors_temperatures()`` (hwmon on Linux)."""

    name = "psutil"

    def read(self) -> list[Reading]:
        """Return one reading per chip and label."""
        read_all = getattr(psutil, "sensors_temperatures", None)
        if read_all is None:
            return []
        readings = []
        for chip, entries in read_all().items():
            for i, entry in enumerate(entries):
                label = entry.label or str(i)
                readings.append(Reading(f"{chip}/{label}", float(entry.current), self.name))
        return readings


class SysfsThermalSensor:
    """Temperatures from the kernel's thermal zones (``/sys/class/thermal/thermal_zone*/temp``)."""

    name = "sysfs"

    def __init__(self, root: str | Path = "/sys/class/thermal") -> None:
        self.root = Path(root)

    def read(self) -> list[Reading]:
        """Return one reading per thermal zone (millidegrees in the file)."""
        if not self.root.is_dir():
            return []
        readings = []
        for zone in sorted(self.root.glob("thermal_zone*")):
            temp = zone / "temp"
            if not temp.is_file():
                continue
            kind_file = zone / "type"
            kind = kind_file.read_text().strip() if kind_file.is_file() else zone.name
            readings.append(Reading(f"{zone.name}/{kind}", int(temp.read_text().strip()) / 1000.0, self.name))
        return readings


#: A file value above this is in millidegrees (sysfs writes 47500 for 47.5 °C).
_MILLIDEGREES_ABOVE = 1_000.0


class FileSensor:
    """Temperatures an operator feeds from files (``thermal.sensor_files``), one per file.

    Each file holds one number: millidegrees as sysfs writes them (``47500``) or degrees Celsius
    (``47.5``); a value above 1,000 is taken as millidegrees. The device is the file's path. A
    missing or unreadable file raises, so the manager reports the sensor as failing.
    """

    name = "file"

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(path) for path in paths]

    def read(self) -> list[Reading]:
        """Return one reading per file."""
        readings = []
        for path in self.paths:
            value = float(path.read_text(encoding="utf-8").strip())
            celsius = value / 1000.0 if abs(value) > _MILLIDEGREES_ABOVE else value
            readings.append(Reading(str(path), celsius, self.name))
        return readings


def default_sensors(sensor_files: Sequence[str | Path] = ()) -> list[Sensor]:
    """The real sensors: the operator's files if any are configured, else NVML, psutil, sysfs.

    Configured files replace the automatic sensors: the operator has said where the machine's
    temperature is read.
    """
    if sensor_files:
        return [FileSensor(sensor_files)]
    return [NvmlSensor(), PsutilSensor(), SysfsThermalSensor()]


class ScriptedSensor:
    """A fake sensor for tests: returns what it was told, or raises what it was told.

    Parameters
    ----------
    readings
        Device name → °C; change with :meth:`set`.
    error
        If given, :meth:`read` raises it (until :meth:`fail` is called with ``None``).
    """

    def __init__(
        self,
        readings: dict[str, float] | None = None,
        *,
        error: Exception | None = None,
        name: str = "scripted",
    ) -> None:
        self.name = name
        self._readings = dict(readings or {})
        self._error = error
        self.calls = 0

    def set(self, device: str, celsius: float) -> None:
        """Make ``device`` read ``celsius`` from now on."""
        self._readings[device] = celsius

    def fail(self, error: Exception | None) -> None:
        """Make :meth:`read` raise ``error`` (``None`` to read again)."""
        self._error = error

    def read(self) -> list[Reading]:
        """Return the scripted readings or raise the scripted error."""
        self.calls += 1
        if self._error is not None:
            raise self._error
        return [Reading(d, c, "scripted") for d, c in self._readings.items()]


class LoadProbe(Protocol):
    """Current load of the machine, each in [0, 1]; ``gpu_load`` is ``None`` without a GPU."""

    def cpu_load(self) -> float:
        """Return the CPU load since the last call."""
        ...

    def gpu_load(self) -> float | None:
        """Return the busiest GPU's utilisation, or ``None``."""
        ...


class PsutilLoad:
    """CPU load from ``psutil.cpu_percent`` (non-blocking) and GPU load from NVML."""

    def __init__(self, nvml: NvmlSensor | None = None) -> None:
        self._nvml = nvml or NvmlSensor()
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def cpu_load(self) -> float:
        """Return the CPU load since the last call, in [0, 1]."""
        return min(max(psutil.cpu_percent(interval=None) / 100.0, 0.0), 1.0)

    def gpu_load(self) -> float | None:
        """Return the GPU utilisation, or ``None`` when it cannot be read."""
        try:
            return self._nvml.utilisation()
        except Exception:  # a GPU that cannot report load is treated as absent
            return None


class ScriptedLoad:
    """A fake load probe for tests: the loads it was given (callables allowed)."""

    def __init__(self, cpu: float | Callable[[], float] = 0.0, gpu: float | None = None) -> None:
        self.cpu = cpu
        self.gpu = gpu

    def cpu_load(self) -> float:
        """Return the scripted CPU load."""
        return self.cpu() if callable(self.cpu) else self.cpu

    def gpu_load(self) -> float | None:
        """Return the scripted GPU load."""
        return self.gpu


class ThermalModel:
    """First-order thermal model: ``dT/dt = (T_ambient + k·load − T)/τ`` per device.

    Integrated exactly over the clock time between calls, with the load held constant over the
    step: ``T ← T_ss + (T − T_ss)·e^(−Δt/τ)``, ``T_ss = T_ambient + k·load``. A device starts at
    the steady state of its first load. Readings are marked ``estimated``.
    """

    def __init__(
        self, ambient: float = 35.0, celsius_per_load: float = 45.0, time_constant: float = 60.0
    ) -> None:
        self.ambient = ambient
        self.celsius_per_load = celsius_per_load
        self.time_constant = time_constant
        self._state: dict[str, float] = {}
        self._last: float | None = None

    def step(self, now: float, loads: dict[str, float]) -> list[Reading]:
        """Advance to ``now`` with the given device loads and return the estimates."""
        dt = 0.0 if self._last is None else max(now - self._last, 0.0)
        self._last = now
        decay = math.exp(-dt / self.time_constant)
        readings = []
        for device, load in loads.items():
            steady = self.ambient + self.celsius_per_load * min(max(load, 0.0), 1.0)
            current = self._state.get(device, steady)
            current = steady + (current - steady) * decay
            self._state[device] = current
            readings.append(Reading(device, current, "estimated"))
        return readings


def sane(readings: Sequence[Reading]) -> tuple[list[Reading], list[Reading]]:
    """Split readings into plausible ones and garbage (NaN, below −50 °C, above 150 °C)."""
    good: list[Reading] = []
    bad: list[Reading] = []
    for r in readings:
        ok = isinstance(r.celsius, int | float) and math.isfinite(r.celsius) and -50.0 <= r.celsius <= 150.0
        (good if ok else bad).append(r)
    return good, bad
