"""Results are unchanged by performance work: four runs' files byte for byte against committed fixtures.

``tengri backtest`` and ``tengri run --model none`` on both bundled samples, through the CLI, must
write the same ``trades.csv``, ``executions.csv`` and ``summary.json`` as the code that produced
``tests/fixtures/results/`` (issue 17). Nothing is masked: a run's id is a digest of its
configuration without its data directory, and none of these files holds a wall-clock time, a
duration or a path. Regenerate the fixtures with ``python tests/fixtures/results/regenerate.py``
only when a change means to change results.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fixtures.results.regenerate import CASES, FILES, HERE, produce


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_run_files_match_the_fixtures_byte_for_byte(tmp_path: Path, case: str) -> None:
    run_dir = produce(case, tmp_path / "data")
    for name in FILES:
        expected = (HERE / case / name).read_bytes()
        actual = (run_dir / name).read_bytes()
        if actual != expected:
            ours, theirs = actual.decode().splitlines(), expected.decode().splitlines()
            line = next(
                (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
                min(len(ours), len(theirs)),
            )
            pytest.fail(
                f"{case}/{name} differs from its fixture at line {line + 1} "
                f"(of {len(ours)} vs {len(theirs)}):\n"
                f"  got:      {ours[line] if line < len(ours) else '<end>'}\n"
                f"  expected: {theirs[line] if line < len(theirs) else '<end>'}"
            )
