"""Fixtures of the live tests: GOOG's daily bars and a Binance emulator serving them on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from tests.live.binance_emulator import BinanceEmulator

from tengri.data import load_ohlcv
from tengri.live import ExchangeSettings

KEY, SECRET = "emulator-key-4f1c", "emulator-secret-9d2e"


@pytest.fixture
def goog() -> pd.DataFrame:
    return load_ohlcv("sample:goog_d1")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENGRI_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("TENGRI_BINANCE_SECRET", SECRET)


@pytest.fixture
def emulator(goog: pd.DataFrame) -> Iterator[BinanceEmulator]:
    with BinanceEmulator(goog, start=31) as running:
        yield running


def settings(emulator: BinanceEmulator) -> ExchangeSettings:
    """ccxt pointed at the emulator; its limiter spaces requests by 1 ms (a loopback server)."""
    return ExchangeSettings(urls=emulator.urls, rate_limit_ms=1)
