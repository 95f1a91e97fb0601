"""Tengri: market data to trading signals that learn from their outcomes.

The public API is this module's ``__all__``. Names are imported on first use, so that
``import tengri`` (and ``tengri --help``) does not pay for torch, Flask or pydantic until they are needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tengri._lazy import lazy_exports
from tengri.errors import TengriError

if TYPE_CHECKING:
    from tengri.config import TengriConfig
    from tengri.data import load_ohlcv, read_ohlcv
    from tengri.engine import (
        CursorState,
        HashTriggerEngine,
        ManualClock,
        MemoryAgent,
        MemoryMap,
        ProfitTrajectoryCoprocessor,
        Strategy,
        SystemOrchestrator,
        Target,
        ThermalZoneManager,
    )
    from tengri.features import FeaturePipeline, check_lookahead, compute_features
    from tengri.models import EnhancedLSTMConfig, create_enhanced_lstm
    from tengri.predict import LSTMTradingPredictor

__version__ = "0.1.0"

# Public name -> module that defines it. A name is listed here once it exists.
_LAZY: dict[str, str] = {
    "CursorState": "tengri.engine",
    "EnhancedLSTMConfig": "tengri.models",
    "FeaturePipeline": "tengri.features",
    "check_lookahead": "tengri.features",
    "compute_features": "tengri.features",
    "create_enhanced_lstm": "tengri.models",
    "HashTriggerEngine": "tengri.engine",
    "LSTMTradingPredictor": "tengri.predict",
    "ManualClock": "tengri.engine",
    "MemoryAgent": "tengri.engine",
    "MemoryMap": "tengri.engine",
    "ProfitTrajectoryCoprocessor": "tengri.engine",
    "Strategy": "tengri.engine",
    "SystemOrchestrator": "tengri.engine",
    "Target": "tengri.engine",
    "TengriConfig": "tengri.config",
    "ThermalZoneManager": "tengri.engine",
    "load_ohlcv": "tengri.data",
    "read_ohlcv": "tengri.data",
}

__all__ = [
    "CursorState",
    "EnhancedLSTMConfig",
    "FeaturePipeline",
    "HashTriggerEngine",
    "LSTMTradingPredictor",
    "ManualClock",
    "MemoryAgent",
    "MemoryMap",
    "ProfitTrajectoryCoprocessor",
    "Strategy",
    "SystemOrchestrator",
    "Target",
    "TengriConfig",
    "TengriError",
    "ThermalZoneManager",
    "__version__",
    "check_lookahead",
    "compute_features",
    "create_enhanced_lstm",
    "load_ohlcv",
    "read_ohlcv",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
