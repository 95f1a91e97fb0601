"""A burst ended over REST is charged at least its measured length: a stated duration only adds."""

from __future__ import annotations

from flask.testing import FlaskClient

from tengri.engine import ManualClock


def test_a_burst_end_stating_zero_after_299_seconds_is_charged_299(
    client: FlaskClient, clock: ManualClock
) -> None:
    assert client.post("/thermal/burst/start", json={}).status_code == 200
    clock.advance(299.0)
    ended = client.post("/thermal/burst/end", json={"duration": 0})
    assert ended.status_code == 200
    assert ended.get_json()["length_s"] == 299.0
    budget = client.get("/thermal/status").get_json()["budget"]
    assert budget["used_s"] == 299.0
    assert budget["cooldown_remaining_s"] == 598.0  # twice the charged length
    refused = client.post("/thermal/burst/start", json={})
    assert refused.status_code == 409
    assert "cooling" in refused.get_json()["error"]["message"]
