"""Schemathesis, in process, against the app's own /openapi.json with its default checks.

Every operation gets positive and negative cases (schema-valid and schema-violating data), and
every case runs all of schemathesis's default checks (server errors, status codes, content types,
response schema conformance, positive data acceptance, negative data rejection, …), once against
an app without a token and once against an app with one (sending it).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from tests.api.conftest import TOKEN

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40


@pytest.mark.parametrize("protected", [False, True], ids=["open", "token"])
def test_schemathesis_finds_nothing(app: Flask, token_app: Flask, protected: bool) -> None:
    target = token_app if protected else app
    schema = schemathesis.openapi.from_wsgi("/openapi.json", target)
    headers = {"Authorization": f"Bearer {TOKEN}"} if protected else None
    cases = dict.fromkeys(GenerationMode, 0)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in GenerationMode:
            try:
                _fuzz(operation, mode, headers, cases)
            except Unsatisfiable:
                # An operation without parameters or body has no schema-violating input.
                assert mode is GenerationMode.NEGATIVE
    counts = ", ".join(f"{mode.value} {n}" for mode, n in cases.items())
    print(
        f"\nschemathesis ({'token' if protected else 'open'}): {len(operations)} operations, "
        f"{sum(cases.values())} cases ({counts})"
    )
    assert len(operations) == 16
    assert cases[GenerationMode.NEGATIVE] > 0


def _fuzz(
    operation: Any, mode: GenerationMode, headers: dict[str, str] | None, cases: dict[GenerationMode, int]
) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        cases[mode] += 1
        case.call_and_validate(headers=headers)

    run()
