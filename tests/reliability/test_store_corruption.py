"""A store file that fails its integrity check at start is moved aside and the newest good backup restored."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tengri.engine import ManualClock, MemoryMap
from tengri.engine.store import ExecutionRecord
from tengri.errors import StoreError

T0 = 1_700_000_000.0


def _fill(store: MemoryMap, first: int, n: int) -> None:
    for i in range(first, first + n):
        store.insert_execution(ExecutionRecord(f"e{i:05d}", "agent", "S", 1, 100.0, T0 + i, context={"i": i}))
        store.set("notes", f"k{i:05d}", {"text": "x" * 200})


def _damage(path: Path) -> None:
    """Overwrite the middle of the file (pages of the tables) with garbage, as a bad disk would."""
    size = path.stat().st_size
    with path.open("r+b") as fh:
        for offset in range(4096, size - 4096, 8192):
            fh.seek(offset + 100)
            fh.write(b"\xde\xad\xbe\xef" * 64)


def _store(tmp_path: Path, clock: ManualClock) -> MemoryMap:
    return MemoryMap(data_dir=tmp_path, clock=clock)


def test_a_damaged_file_is_moved_aside_and_the_newest_good_backup_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reliability_report: Any
) -> None:
    clock = ManualClock(T0)
    with _store(tmp_path, clock) as store:
        _fill(store, 0, 50)
        older = store.backup()
        _fill(store, 50, 50)
        clock.advance(60)
        newest = store.backup()
        _fill(store, 100, 50)  # after the last backup: only in the file that will be damaged
    # The newest backup is damaged too, so that the search must skip it for the one before.
    _damage(newest)
    path = tmp_path / "tengri.db"
    _damage(path)
    clock.advance(60)
    with caplog.at_level(logging.WARNING), _store(tmp_path, clock) as store:
        assert store.restored_from == older
        assert store.integrity_check().ok
        assert len(store.executions()) == 50
    aside = sorted(tmp_path.glob("tengri.db.corrupt-*"))
    assert [p.name for p in aside] == ["tengri.db.corrupt-20231114T221520Z"]  # the store clock's time
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert str(aside[0]) in warning
    assert str(older) in warning
    assert newest.is_file()  # a damaged backup is skipped, never deleted
    reliability_report.row(
        "corruption",
        ["case", "outcome"],
        [
            "store file overwritten with garbage, newest backup damaged too",
            (
                f"moved aside to {aside[0].name}; older good backup restored; warning names both; 50 of 50 "
                "executions of that backup present"
            ),
        ],
    )
    print(
        f"\ncorruption: damaged store moved to {aside[0].name}, restored {older.name} (newest backup damaged)"
    )


def test_no_good_backup_is_a_clear_error_never_an_empty_store(
    tmp_path: Path, reliability_report: Any
) -> None:
    clock = ManualClock(T0)
    with _store(tmp_path, clock) as store:
        _fill(store, 0, 100)
    path = tmp_path / "tengri.db"
    _damage(path)
    with pytest.raises(StoreError, match=r"moved aside to .*tengri\.db\.corrupt-.*no good backup"):
        _store(tmp_path, clock)
    assert not path.exists()  # not silently replaced by an empty store
    assert len(list(tmp_path.glob("tengri.db.corrupt-*"))) == 1
    reliability_report.row(
        "corruption",
        ["case", "outcome"],
        ["store file damaged, no backup", "moved aside; StoreError names it; no empty store created"],
    )


def test_a_sound_file_is_opened_as_it_is(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    with _store(tmp_path, clock) as store:
        _fill(store, 0, 10)
    with _store(tmp_path, clock) as store:
        assert store.restored_from is None
        assert len(store.executions()) == 10
    assert not list(tmp_path.glob("*.corrupt-*"))
