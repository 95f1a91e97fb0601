"""Every public name of DESIGN.md that exists is importable from ``tengri``."""

from __future__ import annotations

import importlib

import pytest

import tengri

DESIGN_NAMES = [
    "SystemOrchestrator",
    "create_app",
    "MemoryMap",
    "ProfitTrajectoryCoprocessor",
    "ThermalZoneManager",
    "MemoryAgent",
    "HashTriggerEngine",
    "CursorState",
    "EnhancedLSTMConfig",
    "create_enhanced_lstm",
    "LSTMTradingPredictor",
]


@pytest.mark.parametrize("name", sorted(tengri.__all__))
def test_every_exported_name_imports(name: str) -> None:
    module = importlib.import_module("tengri")
    assert getattr(module, name) is not None


def test_design_names_exported_as_they_exist() -> None:
    # Each issue that adds a DESIGN.md name exports it under its own name.
    for name in set(tengri.__all__) & set(DESIGN_NAMES):
        assert getattr(tengri, name).__name__ == name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute"):
        _ = tengri.DoesNotExist  # type: ignore[attr-defined]


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, tengri, tengri.cli; print('torch' in sys.modules, 'flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_all_matches_the_lazy_table() -> None:
    lazy = set(tengri._LAZY)
    assert lazy <= set(tengri.__all__), "every lazily exported name is in __all__"
