"""The engine: hash triggers, memory agent, profit trajectory, thermal zones, store, orchestrator."""

from tengri.engine.account import Account
from tengri.engine.agent import ExecutionOutcome, MemoryAgent
from tengri.engine.clock import Clock, ManualClock, SystemClock
from tengri.engine.confidence import ConfidenceExplanation
from tengri.engine.desk import Decision, ExecutionDesk
from tengri.engine.orchestrator import SystemOrchestrator
from tengri.engine.pattern_hash import CursorState, PatternEncoder, encode
from tengri.engine.profit import ProfitTrajectoryCoprocessor, ProfitVector, ZoneState
from tengri.engine.signals import Bar, Signal, SignalSource, Strategy, StrategySource, Target, Tick
from tengri.engine.store import (
    BudgetRecord,
    CleanupReport,
    ExecutionRecord,
    IntegrityReport,
    MemoryMap,
    TriggerRecord,
)
from tengri.engine.thermal import (
    Burst,
    BurstRefusal,
    ComputeBudget,
    EndedBurst,
    NvmlSensor,
    PsutilSensor,
    Reading,
    ScriptedLoad,
    ScriptedSensor,
    Sensor,
    SysfsThermalSensor,
    ThermalModel,
    ThermalZoneManager,
)
from tengri.engine.triggers import HashTriggerEngine, PatternStats, Trigger, TriggerState

__all__ = [
    "Account",
    "Bar",
    "BudgetRecord",
    "Burst",
    "BurstRefusal",
    "CleanupReport",
    "Clock",
    "ComputeBudget",
    "ConfidenceExplanation",
    "CursorState",
    "Decision",
    "EndedBurst",
    "ExecutionDesk",
    "ExecutionOutcome",
    "ExecutionRecord",
    "HashTriggerEngine",
    "IntegrityReport",
    "ManualClock",
    "MemoryAgent",
    "MemoryMap",
    "NvmlSensor",
    "PatternEncoder",
    "PatternStats",
    "ProfitTrajectoryCoprocessor",
    "ProfitVector",
    "PsutilSensor",
    "Reading",
    "ScriptedLoad",
    "ScriptedSensor",
    "Sensor",
    "Signal",
    "SignalSource",
    "Strategy",
    "StrategySource",
    "SysfsThermalSensor",
    "SystemClock",
    "SystemOrchestrator",
    "Target",
    "ThermalModel",
    "ThermalZoneManager",
    "Tick",
    "Trigger",
    "TriggerRecord",
    "TriggerState",
    "ZoneState",
    "encode",
]
