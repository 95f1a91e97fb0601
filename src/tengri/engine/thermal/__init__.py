"""Thermal zones, sensors and the burst budget (DESIGN.md, Thermal zones)."""

from tengri.engine.thermal.bursts import Burst, BurstLedger, BurstRefusal, EndedBurst
from tengri.engine.thermal.compute import ComputeBudget, ComputeStats, RefusalPolicy
from tengri.engine.thermal.governance import ALLOCATION_TABLE, ComputeSettings
from tengri.engine.thermal.manager import ThermalSnapshot, ThermalZoneManager
from tengri.engine.thermal.sensors import (
    FileSensor,
    LoadProbe,
    NvmlSensor,
    PsutilLoad,
    PsutilSensor,
    Reading,
    ScriptedLoad,
    ScriptedSensor,
    Sensor,
    SysfsThermalSensor,
    ThermalModel,
)

__all__ = [
    "ALLOCATION_TABLE",
    "Burst",
    "BurstLedger",
    "BurstRefusal",
    "ComputeBudget",
    "ComputeSettings",
    "ComputeStats",
    "EndedBurst",
    "FileSensor",
    "LoadProbe",
    "NvmlSensor",
    "PsutilLoad",
    "PsutilSensor",
    "Reading",
    "RefusalPolicy",
    "ScriptedLoad",
    "ScriptedSensor",
    "Sensor",
    "SysfsThermalSensor",
    "ThermalModel",
    "ThermalSnapshot",
    "ThermalZoneManager",
]
