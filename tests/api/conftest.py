"""Fixtures for the REST gateway: an app around an orchestrator on fakes (clock, sensor, in-memory store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tengri.api import create_app
from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def make_orchestrator(clock: ManualClock) -> Callable[..., SystemOrchestrator]:
    def build(**api: Any) -> SystemOrchestrator:
        config = TengriConfig.load()
        if api:
            config = config.with_overrides(api=api)
        return SystemOrchestrator(
            config,
            store=MemoryMap.in_memory(clock=clock),
            clock=clock,
            sensors=[ScriptedSensor({"cpu": 50.0})],
        )

    return build


@pytest.fixture
def orchestrator(make_orchestrator: Callable[..., SystemOrchestrator]) -> SystemOrchestrator:
    return make_orchestrator()


@pytest.fixture
def app(orchestrator: SystemOrchestrator) -> Flask:
    return create_app(orchestrator.config, orchestrator)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token_app(make_orchestrator: Callable[..., SystemOrchestrator]) -> Flask:
    orchestrator = make_orchestrator(token=TOKEN)
    return create_app(orchestrator.config, orchestrator)
