"""docs/evidence.md states its command, machine, date and scale, and says when it is incomplete."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tengri.services.evidence import EVIDENCE_SETTINGS, PARTS, _write, main


def test_a_partial_document_says_so_and_a_complete_one_does_not(tmp_path: Path) -> None:
    out = tmp_path / "evidence.md"
    started = dt.datetime(2026, 12, 5, 5, 0, tzinfo=dt.UTC)
    parts = [("sample:goog_d1", ["| model |", "|---|", "| lstm |"])]
    _write(out, "python -m tengri.services.evidence", EVIDENCE_SETTINGS, started, 90.0, parts, len(PARTS))
    text = out.read_text()
    assert "**Incomplete: 1 of 4 parts finished**" in text
    assert "- Command: `python -m tengri.services.evidence`" in text
    assert "- Machine: " in text
    assert "Started 2026-12-05T05:00:00+00:00, 1.5 minutes so far." in text
    assert "5 seeds, 2 walk-forward folds" in text
    assert "## sample:goog_d1" in text
    _write(out, "python -m tengri.services.evidence", EVIDENCE_SETTINGS, started, 90.0, parts, 1)
    assert "Incomplete" not in out.read_text()


def test_an_unknown_part_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--parts", "sample:goog_d1,nope", "--out", str(tmp_path / "e.md"), "--work", str(tmp_path)])
    assert stop.value.code == 2
    assert not (tmp_path / "e.md").exists()
