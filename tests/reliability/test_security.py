"""Security: the token is never shown or logged, compared in constant time; oversized bodies are refused
before parsing; a crafted pickle is never loaded; files are the owner's only; no sequence of valid prices
overflows the engine's bounds. (Hostile ids in the store's SQL: test_store_backends; the served
server's limits: tests/api/test_served_hardening.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tengri.api import create_app
from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator
from tengri.engine.profit import MAX_ABS_PROFIT
from tengri.errors import ConfigError, TengriError
from tengri.services.serve import check_bind

TOKEN = "tok-9f2b7c1e-very-secret"


def _app(**api: Any) -> Any:
    clock = ManualClock(1_700_000_000.0)
    config = TengriConfig.load().with_overrides(api=api)
    orchestrator = SystemOrchestrator(
        config, store=MemoryMap.in_memory(clock=clock), clock=clock, sensors=[ScriptedSensor({"cpu": 50.0})]
    )
    return create_app(config, orchestrator), config


def test_token_is_never_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENGRI_API_TOKEN", TOKEN)
    config = TengriConfig.load()
    assert config.api.token is not None
    assert config.api.token.get_secret_value() == TOKEN
    shown = [repr(config), str(config), repr(config.api), config.model_dump_json(), str(config.model_dump())]
    for text in shown:
        assert TOKEN not in text


def test_token_is_never_logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = _app(token=TOKEN)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        for header in (f"Bearer {TOKEN}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
            client.post("/tick", json={"price": 1.1}, headers={"Authorization": header})
        client.post("/tick", json={"price": 1.1})
    out = capsys.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records) + out.out + out.err
    assert TOKEN not in logged


def test_token_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    app, _ = _app(token=TOKEN)
    client = app.test_client()
    assert (
        client.post("/tick", json={"price": 1.1}, headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    assert (
        client.post("/tick", json={"price": 1.1}, headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        < 300
    )
    assert len(calls) == 2  # both checks went through hmac.compare_digest, none through ==


def test_oversized_body_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    app, config = _app()
    client = app.test_client()
    parsed: list[int] = []
    real_loads = json.loads

    def counting_loads(*args: Any, **kwargs: Any) -> Any:
        parsed.append(1)
        return real_loads(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    limit = config.api.max_content_length
    body = b'{"price": 1.1, "pad": "' + b"x" * limit + b'"}'
    response = client.post("/tick", data=body, content_type="application/json")
    assert parsed == []  # the body was never handed to a JSON parser
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


class _Boom:
    """A pickle that, when loaded, creates a file: what an attacker's payload would do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.target}",))


def test_a_crafted_pickle_is_refused(tmp_path: Path) -> None:
    predict = pytest.importorskip("tengri.predict")
    load = predict.LSTMTradingPredictor.load
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps(_Boom(sentinel))
    # 1. A pickle file given as the model.
    for name in ("model.pkl", "model.pt", "model.bin"):
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(TengriError):
            load(tmp_path / name)
    # 2. A predictor directory whose weights are a pickle (with a manifest whose checksum matches).
    model_dir = tmp_path / "predictor"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(payload)
    manifest = {
        "format": "tengri.predict.LSTMTradingPredictor",
        "version": 1,
        "weights": "model.safetensors",
        "weights_sha256": hashlib.sha256(payload).hexdigest(),
    }
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TengriError, match="pickle"):
        load(model_dir)
    assert not sentinel.exists()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_its_wal_and_backups_are_the_owners_only(tmp_path: Path) -> None:
    data = tmp_path / "deep" / "data"
    clock = ManualClock(1_700_000_000.0)
    store = MemoryMap(f"sqlite:///{data / 'tengri.db'}", clock=clock)
    try:
        store.set("ns", "key", {"v": 1})
        assert _mode(data) == 0o700
        assert _mode(data / "tengri.db") == 0o600
        assert (data / "tengri.db-wal").exists()
        assert _mode(data / "tengri.db-wal") == 0o600
        backup = store.backup()
        assert _mode(backup) == 0o600
        assert _mode(backup.parent) == 0o700
    finally:
        store.close()


def test_an_existing_store_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "tengri.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    store = MemoryMap(f"sqlite:///{path}", clock=ManualClock(0.0))
    store.close()
    assert _mode(path) == 0o600


def test_model_files_are_the_owners_only(tmp_path: Path) -> None:
    persistence = pytest.importorskip("tengri.predict._persistence")
    torch = pytest.importorskip("torch")
    target = persistence.write_predictor(tmp_path / "model", {"kind": "test"}, {"w": torch.zeros(2)})
    assert _mode(target) == 0o700
    assert {p.name: _mode(p) for p in target.iterdir()} == {
        "model.safetensors": 0o600,
        "manifest.json": 0o600,
    }


def test_the_bind_refusal_names_the_documented_variable() -> None:
    with pytest.raises(ConfigError) as refused:
        check_bind("0.0.0.0", None)
    assert "TENGRI_API_TOKEN" in refused.value.message
    assert "TENGRI_API__TOKEN" not in refused.value.message


PRICE = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(prices=st.lists(st.one_of(PRICE, st.sampled_from([1e-9, 1e12])), min_size=20, max_size=80))
def test_no_sequence_of_valid_prices_overflows(prices: list[float]) -> None:
    """Issue 18: 1e-9 then 1e12 opened a position of 2.5e12 units and ended in a profit of 2.5e24."""
    clock = ManualClock(1_700_000_000.0)
    config = TengriConfig.load().with_overrides(trading={"holding_bars": 2})
    orchestrator = SystemOrchestrator(
        config, store=MemoryMap.in_memory(clock=clock), clock=clock, sensors=[ScriptedSensor({"cpu": 50.0})]
    )
    engine = orchestrator.hash_trigger_engine
    for pattern in (0, 1):  # every hash fires one of them: the desk trades on every chance
        engine.register(pattern=pattern, mask=1, strategy_id="S", direction=1 - 2 * pattern)
    for price in [1e-9 * (1 + 0.1 * (i % 4)) for i in range(12)] + prices:
        clock.advance(1.0)
        orchestrator.process_tick(price)  # raises if the profit trajectory refuses a point
    cap = config.trading.notional_cap
    assert orchestrator.desk.closed_count > 0
    for execution in orchestrator.store.executions():
        assert execution.entry_price * execution.size <= cap * (1 + 1e-9)
        if execution.profit is not None:
            assert abs(execution.profit) <= 1.2 * cap
    assert abs(orchestrator.desk.realised) < MAX_ABS_PROFIT
    assert orchestrator.health.status == "healthy", orchestrator.health.reasons()
