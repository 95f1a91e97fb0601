"""The replay path imports nothing that only the HTML report or a model needs.

``tengri backtest`` imports :mod:`tengri.cli` and then :mod:`tengri.services.replay`; bokeh and
matplotlib (the report's charts) and torch, scipy, pennylane and snntorch (the models) cost seconds
to import, so they are imported when a report is built or a model is used, not before. Each check
runs in a fresh interpreter: this test process has imported them already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tengri.report

HEAVY = ("bokeh", "matplotlib", "scipy", "torch", "pennylane", "snntorch")


def _loaded_after(code: str) -> list[str]:
    """The heavy top-level packages in ``sys.modules`` after a fresh interpreter runs ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    return sorted(loaded & set(HEAVY))


@pytest.mark.parametrize(
    "module", ["tengri", "tengri.cli", "tengri.services.replay", "tengri.services.run_files", "tengri.report"]
)
def test_the_replay_path_imports_no_report_or_model_library(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_building_a_report_imports_its_chart_libraries() -> None:
    # The lazy names still lead to the report's modules, and those still draw with bokeh.
    assert "bokeh" in _loaded_after("from tengri.report import build_report")


def test_report_exports_every_public_name() -> None:
    for name in tengri.report.__all__:
        assert getattr(tengri.report, name) is not None
    assert set(tengri.report.__all__) <= set(dir(tengri.report))


def test_report_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute"):
        _ = tengri.report.DoesNotExist  # type: ignore[attr-defined]
