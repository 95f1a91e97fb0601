"""Through a real waitress server on loopback: concurrency, and `serve` end to end."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from tengri.api import background_server, create_app, make_server
from tengri.engine import SystemOrchestrator
from tengri.errors import ConfigError
from tengri.services.serve import check_bind, is_loopback, serve

THREADS = 8
REQUESTS_PER_THREAD = 500


class Client:
    """One keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())

    def close(self) -> None:
        self.connection.close()


@pytest.mark.slow
def test_concurrent_start_and_complete_on_one_agent(orchestrator: SystemOrchestrator) -> None:
    app = create_app(orchestrator.config, orchestrator)

    def worker(base_url: str, n: int) -> list[str]:
        client = Client(base_url)
        completed = []
        try:
            for i in range(REQUESTS_PER_THREAD // 2):
                status, body = client.call(
                    "POST",
                    "/agent/agent_1/strategy/start",
                    {"strategy_id": f"S{n}", "hash_triggers": [f"T{i % 3}"], "entry_price": 100.0},
                )
                assert status == 201, body
                execution_id = body["execution_id"]
                status, body = client.call(
                    "POST",
                    "/agent/agent_1/strategy/complete",
                    {"execution_id": execution_id, "exit_price": 100.0 + (i % 5) - 2},
                )
                assert status == 200, body
                completed.append(execution_id)
        finally:
            client.close()
        return completed

    with background_server(app, threads=THREADS) as base_url, ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda n: worker(base_url, n), range(THREADS)))

    completed = [e for batch in results for e in batch]
    assert len(completed) == THREADS * REQUESTS_PER_THREAD // 2
    stored = orchestrator.store.executions(agent_id="agent_1")
    counts = Counter(e.execution_id for e in stored)
    assert set(counts) == set(completed)
    assert set(counts.values()) == {1}  # every completed execution is in the store exactly once
    assert all(e.status == "closed" for e in stored)
    stats = orchestrator.agents["agent_1"].statistics()
    assert stats["completed"] == len(completed)
    assert stats["open"] == 0
    assert stats["successes"] == sum(1 for e in stored if e.success)
    for n in range(THREADS):
        assert stats["strategies"][f"S{n}"]["executions"] == REQUESTS_PER_THREAD // 2


def test_serve_answers_the_seeds_health_check_and_shuts_down(orchestrator: SystemOrchestrator) -> None:
    ready = threading.Event()
    servers: list[Any] = []
    address: list[int] = []

    def factory(orch: SystemOrchestrator, host: str, port: int) -> Any:
        server = make_server(orch, host, port)
        servers.append(server)
        return server

    def on_ready(_host: str, port: int) -> None:
        address.append(port)
        ready.set()

    thread = threading.Thread(
        target=serve,
        kwargs={
            "config": orchestrator.config,
            "port": 0,
            "server_factory": factory,
            "orchestrator": orchestrator,
            "handle_signals": False,
            "on_ready": on_ready,
        },
        daemon=True,
    )
    thread.start()
    assert ready.wait(timeout=30)
    client = Client(f"http://127.0.0.1:{address[0]}")
    try:
        status, body = client.call("GET", "/health")
        assert status == 200
        assert body["status"] == "healthy"
        status, body = client.call(
            "POST", "/agent/agent_1/strategy/start", {"strategy_id": "S", "entry_price": 1.0}
        )
        assert status == 201
    finally:
        client.close()
    servers[0].close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert orchestrator.get_statistics()["system_state"]["started"] is False
    assert len(orchestrator.store.open_executions("agent_1")) == 1  # open executions persist


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_a_non_loopback_bind_without_a_token_refuses_to_start(
    orchestrator: SystemOrchestrator, host: str
) -> None:
    def never(*_args: Any) -> Any:
        raise AssertionError("no server may be built")

    with pytest.raises(ConfigError, match="non-loopback address needs a bearer token"):
        serve(orchestrator.config, host=host, port=0, server_factory=never, orchestrator=orchestrator)


def test_loopback_rules() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    check_bind("0.0.0.0", "a-token")
    check_bind("127.0.0.1", None)


def test_an_empty_token_is_refused(make_orchestrator: Any) -> None:
    with pytest.raises(ConfigError, match="empty"):
        create_app(orchestrator=make_orchestrator(token="  "))
