"""Every endpoint through Flask's test client, with valid and invalid input."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.api.conftest import TOKEN

from tengri.engine import ManualClock, SystemOrchestrator

START = {"strategy_id": "STRATEGY_001", "hash_triggers": ["TRIGGER_001", "TRIGGER_002"], "entry_price": 100.0,
         "initial_confidence": 0.8}  # fmt: skip


def error_of(response: Any) -> str:
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def start(client: FlaskClient, agent: str = "agent_1", **changes: Any) -> str:
    response = client.post(f"/agent/{agent}/strategy/start", json={**START, **changes})
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["execution_id"])


# -- health, statistics, metrics, openapi, status page -------------------------------------------
def test_health_is_the_seeds_check(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "healthy"
    assert body["thermal_zone"] == "cool"
    assert body["agents"] == 1  # a count: the size of /health does not grow with the agents


def test_statistics(client: FlaskClient) -> None:
    client.post("/tick", json={"price": 100.0})
    body = client.get("/statistics").get_json()
    assert body["ticks_processed"] == 1
    assert "executions" in body
    assert "system_state" in body


def test_metrics_in_prometheus_text_format(client: FlaskClient) -> None:
    client.post("/tick", json={"price": 100.0})
    execution_id = start(client)
    client.post("/agent/agent_1/strategy/complete", json={"execution_id": execution_id, "exit_price": 90.0})
    client.post("/tick", json={"price": -1})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    for line in (
        "tengri_ticks_processed_total 1.0",
        "tengri_tick_latency_seconds_count 1.0",
        'tengri_executions{agent="agent_1",outcome="failure"} 1.0',
        'tengri_realised_profit{agent="agent_1"} -10.0',
        'tengri_temperature_celsius{device="cpu",source="scripted"} 50.0',
        "tengri_burst_seconds_used 0.0",
        'tengri_api_errors_total{code="invalid_input",endpoint="ticks.tick"} 1.0',
    ):
        assert line in text


def test_two_apps_have_their_own_metrics(make_orchestrator: Any) -> None:
    from tengri.api import create_app

    first, second = (create_app(orchestrator=make_orchestrator()) for _ in range(2))
    first.test_client().post("/tick", json={"price": -1})
    assert "tengri_api_errors_total{" in first.test_client().get("/metrics").get_data(as_text=True)
    assert "tengri_api_errors_total{" not in second.test_client().get("/metrics").get_data(as_text=True)


def test_openapi_document_is_generated_from_the_models(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/health", "/tick", "/agent/{agent_id}/strategy/start", "/hash/process"} <= set(doc["paths"])
    body = doc["paths"]["/tick"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/TickRequest")
    assert "TickRequest" in doc["components"]["schemas"]
    assert "409" in doc["paths"]["/agent/{agent_id}/strategy/complete"]["post"]["responses"]
    assert "securitySchemes" not in doc.get("components", {})


def test_status_page_renders_everything_without_external_assets(
    client: FlaskClient, clock: ManualClock
) -> None:
    for i in range(5):
        clock.advance(60)
        client.post("/profit/update", json={"profit": float(i * i)})
    hostile = client.post("/agent/<script>/strategy/start", json=START)
    assert hostile.status_code == 422
    execution_id = start(client)
    client.post("/agent/agent_1/strategy/complete", json={"execution_id": execution_id, "exit_price": 105.0})
    start(client, strategy_id="STRATEGY_002")
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in html
    assert "<polyline" in html
    assert "STRATEGY_001" in html
    assert "STRATEGY_002" in html
    assert "healthy" in html
    assert "cool" in html
    assert "Burst budget" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html


# -- profit ---------------------------------------------------------------------------------------
def test_profit_update_with_the_seeds_body(client: FlaskClient, clock: ManualClock) -> None:
    clock.set(1_704_110_400.0)  # 2024-01-01T12:00:00Z: the seed's time is not ahead of the clock
    response = client.post("/profit/update", json={"profit": 150.75, "timestamp": "2024-01-01T12:00:00Z"})
    assert response.status_code == 200
    assert response.get_json()["n_points"] == 1
    status = client.get("/profit/status").get_json()
    assert status["n_points"] == 1
    assert status["zone_state"] == "unknown"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, "malformed_request"),
        (b"[]", 400, "malformed_request"),
        (b"{}", 400, "malformed_request"),
        (b'{"profit": "150"}', 400, "malformed_request"),
        (b'{"profit": 1, "extra": 2}', 400, "malformed_request"),
        (b'{"profit": NaN}', 422, "invalid_input"),
        (b'{"profit": Infinity}', 422, "invalid_input"),
        (b'{"profit": 1e400}', 422, "invalid_input"),
        (b'{"profit": 1, "timestamp": "yesterday"}', 400, "malformed_request"),
    ],
)
def test_profit_update_rejects(client: FlaskClient, body: bytes, status: int, code: str) -> None:
    response = client.post("/profit/update", data=body, content_type="application/json")
    assert response.status_code == status
    assert error_of(response) == code
    assert client.get("/profit/status").get_json()["n_points"] == 0  # a rejected input changes nothing


def test_profit_update_going_back_in_time_conflicts(client: FlaskClient) -> None:
    assert client.post("/profit/update", json={"profit": 1.0, "timestamp": 1_700_000_100}).status_code == 200
    response = client.post("/profit/update", json={"profit": 2.0, "timestamp": 1_700_000_000})
    assert response.status_code == 409
    assert error_of(response) == "conflict"


def test_profit_update_without_timestamp_on_a_still_clock(client: FlaskClient) -> None:
    for profit in (1.0, 2.0, 3.0):
        assert client.post("/profit/update", json={"profit": profit}).status_code == 200


# -- thermal --------------------------------------------------------------------------------------
def test_thermal_status(client: FlaskClient) -> None:
    body = client.get("/thermal/status").get_json()
    assert body["zone"] == "cool"
    assert body["temperatures"] == [{"device": "cpu", "celsius": 50.0, "source": "scripted"}]


def test_burst_start_end_and_refusals(client: FlaskClient, clock: ManualClock) -> None:
    started = client.post("/thermal/burst/start", json={"duration": 60})
    assert started.status_code == 200
    assert started.get_json()["max_seconds"] == 60
    refused = client.post("/thermal/burst/start", json={})
    assert refused.status_code == 409
    assert error_of(refused) == "burst_refused"
    ended = client.post("/thermal/burst/end", json={"duration": 30.5})
    assert ended.status_code == 200
    assert ended.get_json()["length_s"] == 30.5
    assert client.get("/thermal/status").get_json()["budget"]["used_s"] == 30.5
    cooling = client.post("/thermal/burst/start", json={})
    assert cooling.status_code == 409
    assert "cooling" in cooling.get_json()["error"]["message"]
    assert error_of(client.post("/thermal/burst/end", json={})) == "conflict"


def test_burst_end_of_an_unknown_burst(client: FlaskClient) -> None:
    client.post("/thermal/burst/start", json={})
    response = client.post("/thermal/burst/end", json={"burst_id": "burst_nope"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/thermal/burst/start", {"duration": -1}, 422),
        ("/thermal/burst/start", {"duration": "long"}, 400),
        ("/thermal/burst/end", {"duration": -0.5}, 422),
        ("/thermal/burst/end", {"duration": None, "x": 1}, 400),
    ],
)
def test_burst_rejects(client: FlaskClient, path: str, body: dict[str, Any], status: int) -> None:
    assert client.post(path, json=body).status_code == status


# -- agents ---------------------------------------------------------------------------------------
def test_strategy_start_complete_confidence(client: FlaskClient) -> None:
    execution_id = start(client)
    done = client.post(
        "/agent/agent_1/strategy/complete",
        json={"execution_id": execution_id, "exit_price": 105.0, "execution_time": 30.5},
    )
    assert done.status_code == 200
    outcome = done.get_json()
    assert outcome["profit"] == 5.0
    assert outcome["success"] is True
    assert outcome["execution_time"] == 30.5
    again = client.post(
        "/agent/agent_1/strategy/complete", json={"execution_id": execution_id, "exit_price": 1.0}
    )
    assert again.status_code == 409
    assert error_of(again) == "execution_already_completed"
    repeated = client.get("/agent/agent_1/confidence?strategy_id=STRATEGY_001&hash_triggers=TRIGGER_001")
    both = client.get(
        "/agent/agent_1/confidence?strategy_id=STRATEGY_001&hash_triggers=TRIGGER_001&hash_triggers=TRIGGER_002"
    )
    assert repeated.status_code == both.status_code == 200
    assert repeated.get_json()["n_total"] == 1
    assert both.get_json()["hash_triggers"] == ["TRIGGER_001", "TRIGGER_002"]
    # As the document says (form style, exploded): a comma is part of a value, which it does not fit.
    for query in (
        "hash_triggers=TRIGGER_001,TRIGGER_002",
        "hash_triggers=",
        "hash_triggers=T1&hash_triggers=",
    ):
        response = client.get(f"/agent/agent_1/confidence?strategy_id=STRATEGY_001&{query}")
        assert response.status_code == 422, query
    in_context = client.get(
        "/agent/agent_1/confidence?strategy_id=STRATEGY_001&thermal_state=hot&profit_zone=drawdown"
    )
    assert in_context.status_code == 200
    assert 0.0 <= in_context.get_json()["confidence"] <= 1.0


def test_unknown_agent_and_execution(client: FlaskClient) -> None:
    assert error_of(client.get("/agent/ghost/confidence?strategy_id=S")) == "agent_not_found"
    response = client.post("/agent/ghost/strategy/complete", json={"execution_id": "x_1", "exit_price": 1.0})
    assert response.status_code == 404
    assert error_of(response) == "agent_not_found"
    start(client)
    response = client.post(
        "/agent/agent_1/strategy/complete", json={"execution_id": "nope", "exit_price": 1.0}
    )
    assert response.status_code == 404
    assert error_of(response) == "execution_not_found"


def test_completing_another_agents_execution_is_not_found(client: FlaskClient) -> None:
    execution_id = start(client, agent="alice")
    start(client, agent="bob")
    response = client.post(
        "/agent/bob/strategy/complete", json={"execution_id": execution_id, "exit_price": 1.0}
    )
    assert response.status_code == 404
    assert error_of(response) == "execution_foreign"


def test_an_agent_with_stored_executions_is_known_after_a_restart(
    make_orchestrator: Any, orchestrator: SystemOrchestrator
) -> None:
    from tengri.api import create_app

    execution_id = start(create_app(orchestrator=orchestrator).test_client())
    restarted = SystemOrchestrator(orchestrator.config, store=orchestrator.store, clock=orchestrator.clock)
    client = create_app(orchestrator=restarted).test_client()
    response = client.post(
        "/agent/agent_1/strategy/complete", json={"execution_id": execution_id, "exit_price": 101.0}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"entry_price": -1.0}, 422),
        ({"entry_price": 0}, 422),
        ({"entry_price": "100"}, 400),
        ({"initial_confidence": 1.5}, 422),
        ({"direction": 2}, 422),
        ({"direction": 1.0}, 201),
        ({"hash_triggers": "T1"}, 400),
        ({"hash_triggers": ["bad id"]}, 422),
        ({"strategy_id": ""}, 422),
        ({"strategy_id": "x" * 129}, 422),
        ({"context": {"thermal_state": "hot"}}, 201),
        ({"context": {"colour": "red"}}, 400),
    ],
)
def test_strategy_start_validation(client: FlaskClient, changes: dict[str, Any], status: int) -> None:
    response = client.post("/agent/agent_1/strategy/start", json={**START, **changes})
    assert response.status_code == status, response.get_json()


def test_strategy_start_missing_field_is_malformed(client: FlaskClient) -> None:
    response = client.post("/agent/agent_1/strategy/start", json={"strategy_id": "S"})
    assert response.status_code == 400


@pytest.mark.parametrize("agent_id", ["a b", "a%00b", "x" * 129, "%3Cscript%3E", "..%2F..%2Fetc"])
def test_hostile_agent_ids_never_fail_the_server(client: FlaskClient, agent_id: str) -> None:
    for response in (
        client.post(f"/agent/{agent_id}/strategy/start", json=START),
        client.get(f"/agent/{agent_id}/confidence?strategy_id=S"),
    ):
        assert response.status_code in (404, 422)
        error_of(response)


@pytest.mark.parametrize(
    "query",
    ["", "?strategy_id=", "?strategy_id=S&strategy_id=T", "?strategy_id=S&hash_triggers=a%20b"],
)
def test_confidence_query_validation(client: FlaskClient, query: str) -> None:
    start(client)
    response = client.get(f"/agent/agent_1/confidence{query}")
    assert response.status_code in (400, 422)


def test_a_desk_position_of_the_default_agent_closes_through_the_desk(
    client: FlaskClient, orchestrator: SystemOrchestrator
) -> None:
    execution_id = start(client, agent="main_agent")
    response = client.post(
        "/agent/main_agent/strategy/complete", json={"execution_id": execution_id, "exit_price": 99}
    )
    assert response.status_code == 200
    assert response.get_json()["profit"] == -1.0


# -- hash triggers --------------------------------------------------------------------------------
def test_hash_register_process_active(client: FlaskClient) -> None:
    registered = client.post(
        "/hash/register", json={"pattern": 0xEAAA, "strategy_id": "S1", "trigger_id": "T1"}
    )
    assert registered.status_code == 201
    assert registered.get_json()["trigger_id"] == "T1"
    assert (
        client.post(
            "/hash/register", json={"pattern": 1, "strategy_id": "S1", "trigger_id": "T1"}
        ).status_code
        == 409
    )
    by_prices = client.post("/hash/process", json={"prices": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
    assert by_prices.status_code == 200
    assert by_prices.get_json()["hash_hex"] == "0xEAAA"
    assert by_prices.get_json()["fired_triggers"] == ["T1"]
    by_value = client.post(
        "/hash/process",
        json={
            "hash_value": 0xEAAA,
            "cursor_state": {"triplet": [7, 8, 9], "delta_idx": 1, "braid_angle": 12.0},
        },
    )
    assert by_value.get_json()["fired_triggers"] == ["T1"]
    active = client.get("/hash/active").get_json()
    assert active["count"] == 1
    assert active["triggers"][0]["trigger_id"] == "T1"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/hash/register", {"pattern": 0x10000, "strategy_id": "S"}, 422),
        ("/hash/register", {"pattern": 1, "mask": 0, "strategy_id": "S"}, 422),
        ("/hash/register", {"pattern": 1.5, "strategy_id": "S"}, 400),
        ("/hash/register", {"pattern": "1", "strategy_id": "S"}, 400),
        ("/hash/register", {"strategy_id": "S"}, 400),
        ("/hash/process", {"prices": [1, 2, 3]}, 422),
        ("/hash/process", {"prices": [1, 2, 3, 4, 5, 6, 7, 8, -9]}, 422),
        ("/hash/process", {"prices": [5e-324] * 9}, 422),
        ("/hash/process", {"hash_value": 70000, "cursor_state": {"triplet": [1, 2, 3]}}, 422),
        ("/hash/process", {"hash_value": 1}, 400),
        ("/hash/process", {}, 400),
    ],
)
def test_hash_rejects(client: FlaskClient, path: str, body: dict[str, Any], status: int) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status, response.get_json()
    error_of(response)


# -- ticks ----------------------------------------------------------------------------------------
def test_tick(client: FlaskClient) -> None:
    response = client.post("/tick", json={"price": 100.0, "volume": 5.0, "symbol": "EURUSD"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["symbol"] == "EURUSD"
    assert body["tick"] == 0
    assert body["hash"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"price": -1.0}, 422),
        ({"price": 0.0}, 422),
        ({"price": "1"}, 400),
        ({"price": True}, 400),
        ({"volume": 1.0}, 400),
        ({"price": 1.0, "volume": -1.0}, 422),
        ({"price": 1.0, "symbol": ""}, 422),
        ({"price": 1.0, "symbol": "a/b"}, 422),
    ],
)
def test_tick_rejects(client: FlaskClient, body: dict[str, Any], status: int) -> None:
    response = client.post("/tick", json=body)
    assert response.status_code == status
    error_of(response)
    assert client.get("/statistics").get_json()["ticks_processed"] == 0


def test_tick_going_backwards_conflicts(client: FlaskClient) -> None:
    assert client.post("/tick", json={"price": 1.0, "timestamp": 1_700_000_100}).status_code == 200
    response = client.post("/tick", json={"price": 1.0, "timestamp": "2023-11-14T22:13:20Z"})
    assert response.status_code == 409


# -- the edges: size, routes, methods, auth -------------------------------------------------------
def test_a_body_over_the_limit_is_413(client: FlaskClient) -> None:
    response = client.post(
        "/tick", data=b'{"price": 1' + b" " * 70_000 + b"}", content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response) == "payload_too_large"


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    assert error_of(client.get("/nope")) == "not_found"
    response = client.delete("/health")
    assert response.status_code == 405
    assert error_of(response) == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_a_json_500_without_traceback(
    client: FlaskClient, orchestrator: SystemOrchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(orchestrator, "process_tick", explode)
    response = client.post("/tick", json={"price": 1.0})
    assert response.status_code == 500
    assert error_of(response) == "internal_error"
    assert "secret detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


MUTATING = [
    ("/profit/update", {"profit": 1.0}),
    ("/thermal/burst/start", {}),
    ("/thermal/burst/end", {}),
    ("/agent/agent_1/strategy/start", START),
    ("/agent/agent_1/strategy/complete", {"execution_id": "e", "exit_price": 1.0}),
    ("/hash/register", {"pattern": 1, "strategy_id": "S"}),
    ("/hash/process", {"prices": [1.0] * 9}),
    ("/tick", {"price": 1.0}),
]


@pytest.mark.parametrize(("path", "body"), MUTATING)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_mutating_endpoints_need_the_token(
    token_app: Flask, path: str, body: dict[str, Any], authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = token_app.test_client().post(path, json=body, headers=headers)
    assert response.status_code == 401
    assert error_of(response) == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("path", "body"), MUTATING)
def test_mutating_endpoints_accept_the_token(token_app: Flask, path: str, body: dict[str, Any]) -> None:
    response = token_app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code != 401


def test_reads_need_the_token_and_the_document_declares_it(token_app: Flask) -> None:
    client = token_app.test_client()
    assert client.get("/health").get_json() == {"status": "healthy"}  # only the status without it
    assert client.get("/openapi.json").status_code == 401
    doc = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["paths"]["/tick"]["post"]["security"] == [{"bearer": []}]
    assert doc["paths"]["/statistics"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/health"]["get"]


def test_each_request_error_is_logged_at_info(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tengri.api")
    assert client.post("/tick", json={"price": -1}).status_code == 422
    assert client.post("/tick", data="x", content_type="text/plain").status_code == 415
    assert client.get("/nowhere").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("tengri.api")]
    assert lines[0].startswith("POST /tick -> 422 invalid_input: ")
    assert lines[1].startswith("POST /tick -> 415 unsupported_media_type: ")
    assert lines[2].startswith("GET /nowhere -> 404 ")
    assert len(lines) == 3


def test_ticks_of_two_symbols_mark_one_account(client: FlaskClient, orchestrator: SystemOrchestrator) -> None:
    from tengri.engine import Strategy, StrategySource

    class LongOnX(Strategy):
        name = "long-x"

        def next(self) -> int | None:
            assert self.tick is not None
            return 1 if self.tick.symbol == "X" else None

    orchestrator.signal_sources.append(StrategySource(LongOnX()))
    t = 1_700_000_000
    bodies = [("X", 100.0), ("Y", 50.0), ("X", 100.0), ("Y", 50.0), ("X", 110.0), ("Y", 40.0)]
    equities = []
    for i, (symbol, price) in enumerate(bodies):
        response = client.post("/tick", json={"price": price, "symbol": symbol, "timestamp": t + i})
        assert response.status_code == 200
        equities.append(response.get_json()["equity"])
    account = orchestrator.account
    (position,) = account.positions.values()
    assert position.symbol == "X"  # opened at X's second tick (the next tick's price)
    assert account.marks == {"X": 110.0, "Y": 40.0}
    # Y's tick after X rose reports the account's equity with X's open profit, not a copy of its own.
    assert equities[-1] == pytest.approx(account.equity())
    assert equities[-1] == equities[-2]
    assert equities[-1] > equities[3]
