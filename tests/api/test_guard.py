"""The request guard and strict parsing, in process: host, origin, media type, the token on reads,
failed-authentication limits, strict bodies and query strings, time bounds, the agent cap, headers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.api.conftest import TOKEN

from tengri.api import create_app
from tengri.api._guard import FailureLimiter
from tengri.engine import ManualClock, SystemOrchestrator
from tengri.errors import ConfigError

AUTH = {"Authorization": f"Bearer {TOKEN}"}
START = {"strategy_id": "S", "entry_price": 1.0}


def error_of(response: Any) -> str:
    return str(response.get_json()["error"]["code"])


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- host and origin ------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000"])
def test_loopback_host_names_are_served(client: FlaskClient, host: str) -> None:
    assert client.get("/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:5000", "10.0.0.1:5000", "localhost.evil.example"]
)
def test_a_foreign_host_is_refused_on_every_route(client: FlaskClient, host: str) -> None:
    for method, path in (("GET", "/health"), ("GET", "/"), ("POST", "/tick")):
        response = client.open(path, method=method, json={"price": 1.0}, headers={"Host": host})
        assert response.status_code == 403
        assert error_of(response) == "forbidden"
    assert client.get("/health").get_json()["agents"] == 1


def test_allowed_hosts_and_the_bind_address(make_orchestrator: Callable[..., SystemOrchestrator]) -> None:
    orchestrator = make_orchestrator(allowed_hosts=["tengri.internal"])
    app = create_app(orchestrator.config, orchestrator, bind_host="192.168.1.10")
    client = app.test_client()
    for host in ("tengri.internal:8000", "192.168.1.10:5000", "localhost"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host
    assert client.get("/health", headers={"Host": "other.internal"}).status_code == 403
    anything = make_orchestrator(allowed_hosts=["*"])
    assert (
        create_app(anything.config, anything)
        .test_client()
        .get("/health", headers={"Host": "whatever.example"})
        .status_code
        == 200
    )


def test_a_foreign_origin_is_refused_on_writes_only(client: FlaskClient) -> None:
    evil = {"Origin": "http://evil.example"}
    response = client.post("/agent/victim/strategy/start", json=START, headers=evil)
    assert response.status_code == 403
    assert "origin" in response.get_json()["error"]["message"]
    assert client.get("/health", headers=evil).status_code == 200  # a read: the browser hides it
    same = client.post("/agent/a1/strategy/start", json=START, headers={"Origin": "http://localhost"})
    assert same.status_code == 201
    assert client.get("/health").get_json()["agents"] == 2  # main_agent and a1; no victim


def test_allowed_origins(make_orchestrator: Callable[..., SystemOrchestrator]) -> None:
    orchestrator = make_orchestrator(allowed_origins=["https://dashboard.example"])
    client = create_app(orchestrator.config, orchestrator).test_client()
    ok = client.post("/tick", json={"price": 1.0}, headers={"Origin": "https://dashboard.example"})
    assert ok.status_code == 200
    assert (
        client.post("/tick", json={"price": 1.0}, headers={"Origin": "https://x.example"}).status_code == 403
    )


# -- media type -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml", None],
)
def test_writes_accept_only_json(client: FlaskClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/tick", data=b'{"price": 1.0}', headers=headers)
    assert response.status_code == 415
    assert error_of(response) == "unsupported_media_type"
    assert client.get("/statistics").get_json()["ticks_processed"] == 0


def test_json_with_a_charset_is_json(client: FlaskClient) -> None:
    response = client.post("/tick", data=b'{"price": 1.0}', content_type="application/json; charset=utf-8")
    assert response.status_code == 200


# -- the token on reads ---------------------------------------------------------------------------
READS = ["/", "/statistics", "/metrics", "/hash/active", "/profit/status", "/thermal/status", "/openapi.json"]


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_token_when_one_is_set(token_app: Flask, path: str) -> None:
    client = token_app.test_client()
    assert client.get(path).status_code == 401
    assert client.get(path, headers=AUTH).status_code == 200


def test_health_shows_only_its_status_without_the_token(token_app: Flask) -> None:
    client = token_app.test_client()
    assert client.get("/health").get_json() == {"status": "healthy"}
    assert client.get("/health", headers=AUTH).get_json()["version"]
    assert client.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_protect_reads_can_be_turned_off_but_not_on_without_a_token(
    make_orchestrator: Callable[..., SystemOrchestrator],
) -> None:
    orchestrator = make_orchestrator(token=TOKEN, protect_reads=False)
    client = create_app(orchestrator.config, orchestrator).test_client()
    assert client.get("/statistics").status_code == 200
    assert client.post("/tick", json={"price": 1.0}).status_code == 401
    with pytest.raises(ConfigError, match="protect_reads needs a token"):
        make_orchestrator(protect_reads=True)


# -- failed authentication ------------------------------------------------------------------------
def _limited_app(make_orchestrator: Callable[..., SystemOrchestrator], clock: FakeMonotonic) -> Flask:
    orchestrator = make_orchestrator(token=TOKEN, auth_failures_per_minute=3)
    return create_app(orchestrator.config, orchestrator, auth_clock=clock)


def test_wrong_tokens_are_limited_per_address_for_a_minute(
    make_orchestrator: Callable[..., SystemOrchestrator],
) -> None:
    clock = FakeMonotonic()
    client = _limited_app(make_orchestrator, clock).test_client()
    wrong = {"Authorization": "Bearer nope"}
    assert [client.get("/statistics", headers=wrong).status_code for _ in range(5)] == [
        401,
        401,
        401,
        429,
        429,
    ]
    locked = client.get("/statistics", headers=AUTH)
    assert locked.status_code == 429
    assert error_of(locked) == "too_many_auth_failures"
    assert locked.headers["Retry-After"] == "60"
    # Another address is not affected; requests without any token are not counted.
    other = {"REMOTE_ADDR": "10.1.1.1"}
    assert client.get("/statistics", headers=AUTH, environ_base=other).status_code == 200
    assert all(client.get("/statistics", environ_base=other).status_code == 401 for _ in range(10))
    assert client.get("/statistics", headers=AUTH, environ_base=other).status_code == 200
    clock.now += 59.0
    assert client.get("/statistics", headers=AUTH).headers["Retry-After"] == "1"
    clock.now += 1.0  # the window has passed
    assert client.get("/statistics", headers=AUTH).status_code == 200


def test_failed_authentication_is_logged_without_the_token(
    make_orchestrator: Callable[..., SystemOrchestrator], caplog: pytest.LogCaptureFixture
) -> None:
    client = _limited_app(make_orchestrator, FakeMonotonic()).test_client()
    with caplog.at_level(logging.WARNING, logger="tengri.api._guard"):
        for given in ("Bearer guess-one", f"Bearer {TOKEN}x", f"Basic {TOKEN}"):
            client.post("/tick", json={"price": 1.0}, headers={"Authorization": given})
        client.post("/tick", json={"price": 1.0})  # no token at all: not an attempt, not logged
    messages = [r.getMessage() for r in caplog.records if r.name == "tengri.api._guard"]
    assert len(messages) == 3
    assert all("authentication failed from 127.0.0.1 on POST /tick" in m for m in messages)
    assert "further attempts refused" in messages[-1]
    assert not any(TOKEN in m or "guess-one" in m for m in messages)


def test_the_limiter_forgets_old_addresses() -> None:
    clock = FakeMonotonic()
    limiter = FailureLimiter(2, clock=clock)
    for i in range(20_000):
        limiter.fail(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._failures) == 10_000  # bounded memory
    limiter.fail("a")
    limiter.fail("a")
    assert limiter.retry_after("a") == 60
    clock.now += 60.0
    assert limiter.retry_after("a") == 0


# -- strict input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/tick", b'{"price": 1.0, "price": 2.0}', 400),
        ("/profit/update", b'{"profit": 1, "profit": 1}', 400),
        ("/hash/register", b'{"pattern": 1, "strategy_id": "S", "direction": true}', 400),
        ("/hash/register", b'{"pattern": true, "strategy_id": "S"}', 400),
        ("/hash/register", b'{"pattern": 1, "strategy_id": "S", "mask": false}', 400),
        (
            "/hash/process",
            b'{"hash_value": 1, "cursor_state": {"triplet": [1, 1, 1], "delta_idx": true}}',
            400,
        ),
        ("/thermal/burst/start", b'{"duration": 1e-300}', 422),
        ("/thermal/burst/start", b'{"duration": 0.5}', 422),
        ("/thermal/burst/start", b"", 400),
        ("/tick", b"", 400),
    ],
)
def test_strict_bodies(client: FlaskClient, path: str, body: bytes, status: int) -> None:
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == status, response.get_json()
    assert client.get("/thermal/status").get_json()["budget"]["active_burst"] is None
    assert client.get("/statistics").get_json()["ticks_processed"] == 0


def test_a_duplicate_key_is_named(client: FlaskClient) -> None:
    response = client.post("/tick", data=b'{"price": 1.0, "price": 2.0}', content_type="application/json")
    assert "'price' is given twice" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/health?verbose=1",
        "/statistics?x",
        "/hash/active?page=2",
        "/agent/main_agent/confidence?strategy_id=S&x=1",
    ],
)
def test_unknown_query_parameters_are_refused(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert "unknown query parameter" in response.get_json()["error"]["message"]


def test_query_parameters_on_writes_are_refused(client: FlaskClient) -> None:
    assert client.post("/tick?symbol=X", json={"price": 1.0}).status_code == 400


# -- time -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "timestamp",
    ["9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59Z", 1_700_000_301.0, "2023-11-14T22:18:21Z"],
)
def test_a_tick_ahead_of_the_clock_is_refused(client: FlaskClient, timestamp: Any) -> None:
    response = client.post("/tick", json={"price": 1.0, "timestamp": timestamp})
    assert response.status_code == 409
    assert error_of(response) == "timestamp_ahead"
    assert client.post("/tick", json={"price": 1.0}).status_code == 200  # nothing was taken


def test_the_skew_is_configurable_and_checked_after_the_offset(
    make_orchestrator: Callable[..., SystemOrchestrator],
) -> None:
    orchestrator = make_orchestrator(max_clock_skew_seconds=0)
    client = create_app(orchestrator.config, orchestrator).test_client()
    # 1_700_000_000 is 2023-11-14T22:13:20Z; the same instant written with an offset is accepted,
    # one second later is not.
    assert (
        client.post("/tick", json={"price": 1.0, "timestamp": "2023-11-14T23:13:20+01:00"}).status_code == 200
    )
    response = client.post("/tick", json={"price": 1.0, "timestamp": "2023-11-14T21:13:21-01:00"})
    assert error_of(response) == "timestamp_ahead"


def test_a_profit_point_ahead_of_the_clock_is_refused(client: FlaskClient) -> None:
    response = client.post("/profit/update", json={"profit": 1.0, "timestamp": 99_999_999_999})
    assert (response.status_code, error_of(response)) == (409, "timestamp_ahead")
    assert client.get("/profit/status").get_json()["n_points"] == 0
    assert client.post("/profit/update", json={"profit": 1.0}).status_code == 200
    assert client.get("/health").get_json()["status"] == "healthy"


def test_reset_time_lets_a_symbol_go_on(client: FlaskClient, clock: ManualClock) -> None:
    assert (
        client.post("/tick", json={"price": 1.0, "symbol": "X", "timestamp": 1_700_000_200}).status_code
        == 200
    )
    assert error_of(client.post("/tick", json={"price": 1.0, "symbol": "X"})) == "out_of_order"
    reset = client.post("/tick/reset-time", json={"symbol": "X"})
    assert reset.get_json() == {"symbol": "X", "previous_timestamp": 1_700_000_200}
    assert client.post("/tick", json={"price": 1.0, "symbol": "X"}).status_code == 200
    again = client.post("/tick/reset-time", json={"symbol": "never_seen"})
    assert again.get_json()["previous_timestamp"] is None


def test_reset_time_needs_the_token(token_app: Flask) -> None:
    client = token_app.test_client()
    assert client.post("/tick/reset-time", json={"symbol": "X"}).status_code == 401
    assert client.post("/tick/reset-time", json={"symbol": "X"}, headers=AUTH).status_code == 200


# -- size bounds ----------------------------------------------------------------------------------
def test_agents_are_capped(make_orchestrator: Callable[..., SystemOrchestrator]) -> None:
    orchestrator = make_orchestrator(max_agents=3)
    client = create_app(orchestrator.config, orchestrator).test_client()
    statuses = [client.post(f"/agent/a{i}/strategy/start", json=START).status_code for i in range(5)]
    assert statuses == [201, 201, 409, 409, 409]  # main_agent is the first of three
    assert error_of(client.post("/agent/a9/strategy/start", json=START)) == "agent_limit_reached"
    assert client.post("/agent/a0/strategy/start", json=START).status_code == 201  # existing ones work
    assert client.get("/health").get_json()["agents"] == 3


def test_the_status_page_lists_a_page_of_agents(client: FlaskClient) -> None:
    for i in range(30):
        assert client.post(f"/agent/a{i:02d}/strategy/start", json=START).status_code == 201
    html = client.get("/").get_data(as_text=True)
    assert "and 6 more agents" in html  # 31 agents, 25 listed
    assert '<tr><td>a00</td><td colspan="5">' in html
    assert '<tr><td>a29</td><td colspan="5">' not in html  # (it is among the latest executions)


def test_metric_labels_are_bounded(client: FlaskClient) -> None:
    for i in range(30):
        client.post(f"/agent/a{i:02d}/strategy/start", json=START)
    text = client.get("/metrics").get_data(as_text=True)
    agents = {line.split('agent="')[1].split('"')[0] for line in text.splitlines() if 'agent="' in line}
    assert len(agents) == 21
    assert "_other" in agents


# -- headers and the document ---------------------------------------------------------------------
def test_the_status_page_has_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert client.get("/health").headers["X-Content-Type-Options"] == "nosniff"


def test_the_document_lists_exactly_what_a_route_answers(client: FlaskClient, token_app: Flask) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert sorted(paths["/hash/active"]["get"]["responses"]) == ["200", "400", "403"]
    assert sorted(paths["/tick"]["post"]["responses"]) == ["200", "400", "403", "409", "413", "415", "422"]
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert list(paths["/"]["get"]["responses"]["200"]["content"]) == ["text/html"]
    assert paths["/thermal/burst/start"]["post"]["requestBody"]["required"] is True
    minimum = client.get("/openapi.json").get_json()["components"]["schemas"]["BurstStartRequest"]
    assert "1" in str(minimum["properties"]["duration"])
    secured = token_app.test_client().get("/openapi.json", headers=AUTH).get_json()["paths"]
    assert sorted(secured["/hash/active"]["get"]["responses"]) == ["200", "400", "401", "403", "429"]
