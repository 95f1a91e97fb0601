"""`schemathesis run … --checks all` against a real `tengri serve`, without and with a token: 0 failures.

Every operation of the served /openapi.json goes through schemathesis's phases (coverage, fuzzing,
stateful sequences) and every check it has: server errors, status codes, content types, response
headers and schemas, acceptance of schema-valid data and rejection of schema-violating data,
missing required headers, unsupported methods, the Allow header, use after free, resource
availability, ignored authentication. The seed is fixed, so a run is repeatable.

With a token, schemathesis's own wrong and missing tokens would trip the failed-authentication
limit (and then most operations answer 429, leaving their logic untested), so that run raises
``api.auth_failures_per_minute``; the limit has its own test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.api.served import TOKEN, serve

pytestmark = pytest.mark.slow

SEED = "20261205"


def _schemathesis() -> str:
    return str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.parametrize("protected", [False, True], ids=["open", "token"])
def test_schemathesis_checks_all_finds_nothing(tmp_path: Path, protected: bool) -> None:
    env = {"TENGRI_API_TOKEN": TOKEN, "TENGRI_API__AUTH_FAILURES_PER_MINUTE": "10000"} if protected else {}
    with serve(tmp_path, **env) as served:
        command = [
            _schemathesis(),
            "run",
            f"http://127.0.0.1:{served.port}/openapi.json",
            "--checks",
            "all",
            "--seed",
            SEED,
            "--workers",
            "1",
            "--request-timeout",
            "30",
        ]
        if protected:
            command += ["--header", f"Authorization: Bearer {TOKEN}"]
        # Run in the temporary directory: schemathesis keeps its replay cache (.schemathesis/) in the cwd.
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path
        )
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    print(f"\nschemathesis ({'token' if protected else 'open'}):\n{summary}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Operations:       17 selected / 17 total" in result.stdout
    assert "No issues found" in result.stdout or "warnings in" in result.stdout
