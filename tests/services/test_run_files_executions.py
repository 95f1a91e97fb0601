"""executions.csv written a batch at a time is byte for byte the file one frame of every row writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tengri.engine.clock import ManualClock
from tengri.engine.store import ExecutionRecord, MemoryMap
from tengri.services import run_files
from tengri.services.journal import FILES, iso


def _store(count: int, open_ones: set[int], path: Path | None = None) -> MemoryMap:
    """``count`` executions; on a SQLite file at ``path`` (read through its driver) or in memory."""
    clock = ManualClock(1_700_000_000.0)
    store = MemoryMap.in_memory(clock=clock) if path is None else MemoryMap(f"sqlite:///{path}", clock=clock)
    for i in range(count):
        store.insert_execution(
            ExecutionRecord(
                f"e{i:03d}",
                "a",
                "S",
                1 if i % 2 else -1,
                100.0 + i / 3,
                1_700_000_000.0 + 60 * i + (0.25 if i == 5 else 0.0),  # a fraction of a second
                hash_triggers=(f"T{i}",) if i % 3 else (),
                size=1.5,
                confidence=0.5 if i % 4 else None,
                context={
                    "opened_index": i,
                    "symbol": "X",
                    "source": 'a "quoted", source' if i == 3 else "strategy",
                },
            )
        )
        if i not in open_ones:
            store.close_execution(
                f"e{i:03d}", exit_price=100.0 + i / 7, profit=(i - 10) / 3, closed_at=1_700_000_030.0 + 60 * i
            )
    return store


def _trades(ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "execution_id": [f"e{i:03d}" for i in ids],
            "exit_bar": [i + 1 for i in ids],
            "reason": ["signal"] * len(ids),
        }
    )


def _record_row(e: ExecutionRecord, closed: dict[Any, tuple[Any, Any]], offset: int) -> tuple[Any, ...]:
    """An execution's row from its whole record, its context decoded (what the module wrote before
    it read the fields shown alone)."""
    exit_bar, reason = closed.get(e.execution_id, (None, None))
    notional = e.entry_price * e.size
    return (
        e.execution_id,
        e.strategy_id,
        e.context.get("source", ""),
        e.direction,
        e.size,
        iso(e.opened_at),
        e.entry_price,
        iso(e.closed_at) if e.closed_at is not None else None,
        e.exit_price,
        int(e.context.get("opened_index", 0)) + offset,
        exit_bar,
        e.profit,
        100.0 * e.profit / notional if e.profit is not None and notional else None,
        e.costs,
        reason,
        e.confidence,
        e.context.get("symbol", ""),
        e.status,
        " ".join(e.hash_triggers),
    )


def _one_frame(store: MemoryMap, trades: pd.DataFrame, offset: int, path: Path) -> None:
    """The whole-frame write this module did before it wrote in batches and without pandas (the reference).

    The rows with each exit bar as it is: the frame makes them floats when any is missing.
    """
    closed = dict(
        zip(trades["execution_id"], zip(trades["exit_bar"], trades["reason"], strict=True), strict=True)
    )
    rows = [_record_row(e, closed, offset) for e in store.iter_executions()]
    frame = pd.DataFrame.from_records(rows, columns=[*FILES["trades"], "status", "hash_triggers"])
    frame.to_csv(path, index=False, lineterminator="\n")


@pytest.mark.parametrize(
    ("open_ones", "traded"),
    [
        (set(), list(range(11))),  # every execution a trade: exit_bar stays whole numbers
        ({9}, [i for i in range(11) if i != 9]),  # one still open, in the last batch: 12.0 in the first
        (set(), [i for i in range(11) if i != 2]),  # closed but not among the trades
        ({0, 1, 2, 3}, list(range(4, 11))),  # a first batch with no exit bar at all
    ],
)
@pytest.mark.parametrize("on_file", [False, True])
def test_batches_write_the_bytes_of_one_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_ones: set[int], traded: list[int], on_file: bool
) -> None:
    store = _store(11, open_ones, tmp_path / "store.db" if on_file else None)
    monkeypatch.setattr(run_files, "_BATCH", 4)
    run_files.write_executions(store, _trades(traded), 5, tmp_path / "batched.csv")
    _one_frame(store, _trades(traded), 5, tmp_path / "whole.csv")
    assert (tmp_path / "batched.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "batched.csv")) == 11


def test_no_executions_write_the_header(tmp_path: Path) -> None:
    store = _store(0, set())
    run_files.write_executions(store, _trades([]), 0, tmp_path / "batched.csv")
    _one_frame(store, _trades([]), 0, tmp_path / "whole.csv")
    assert (tmp_path / "batched.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
