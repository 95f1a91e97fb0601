"""Shared fixtures: an isolated environment for every test (no stray TENGRI_* variables, tmp data dir)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("TENGRI_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TENGRI_DATA_DIR", str(tmp_path / "data"))
