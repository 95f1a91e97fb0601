"""Kill -9 at random points of a replay, resume each time with start(): nothing lost, nothing twice.

A child process (``crash_replay.py``) replays the EURUSD sample through the orchestrator on a store
file; the parent kills it with SIGKILL at seeded random points (exactly ``KILLS`` times: each
child is armed with the next seeded tick and killed once it reports it, whatever the machine's
speed) and starts it again on the same store, where it resumes from the checkpoint
(re-processed ticks adopt what the store already holds). At the end the store must equal that of
an uninterrupted run: the same executions (ids, statuses, profits to the bit), triggers, profit
points and engine state; every confirmed opening and close present; ``PRAGMA integrity_check`` ok.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tengri.data import load_ohlcv
from tengri.engine import MemoryMap

CHILD = Path(__file__).with_name("crash_replay.py")


def _child_checkpoint_interval() -> int:
    spec = importlib.util.spec_from_file_location("crash_replay", CHILD)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.CHECKPOINT_INTERVAL)


CHECKPOINT_INTERVAL = _child_checkpoint_interval()
TICKS = 3000
KILLS = 60
SEED = 20_240_909


def _ticks_file(tmp_path: Path) -> Path:
    frame = load_ohlcv("sample:eurusd_h1").iloc[:TICKS]
    rows = [
        [ts.timestamp(), r.Open, r.High, r.Low, r.Close, r.Volume]
        for ts, r in zip(frame.index, frame.itertuples(), strict=True)
    ]
    path = tmp_path / "ticks.json"
    path.write_text(json.dumps(rows))
    return path


def _spawn(data_dir: Path, ticks: Path, arm_at: int | None = None) -> subprocess.Popen[str]:
    armed = [] if arm_at is None else [str(arm_at)]
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), str(ticks), *armed],
        stdin=subprocess.DEVNULL if arm_at is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


class _Confirmations:
    """What the children said was done: openings and closes that returned."""

    def __init__(self) -> None:
        self.opened: set[str] = set()
        self.closed: dict[str, float] = {}
        self.done = False
        self.last_tick = -1

    def read(self, line: str) -> None:
        kind, _, rest = line.strip().partition(" ")
        if kind == "open":
            self.opened.add(rest)
        elif kind == "close":
            execution_id, profit = rest.split(" ")
            # A close adopted after a crash must report the very profit confirmed before it.
            assert self.closed.setdefault(execution_id, float(profit)) == float(profit), execution_id
        elif kind == "tick":
            self.last_tick = int(rest)
        elif kind == "done":
            self.done = True


def _run_to_end(data_dir: Path, ticks: Path) -> _Confirmations:
    seen = _Confirmations()
    proc = _spawn(data_dir, ticks)
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            seen.read(line)
    assert proc.wait() == 0
    assert seen.done
    return seen


def _contents(data_dir: Path) -> dict[str, Any]:
    with MemoryMap(data_dir=data_dir) as store:
        report = store.integrity_check()
        assert report.ok, report.problems
        return {
            "executions": [
                (e.execution_id, e.status, e.profit, e.entry_price, e.exit_price, e.opened_at, e.closed_at)
                for e in store.executions()
            ],
            "triggers": [(t.trigger_id, t.state, t.stats) for t in store.triggers()],
            "profit_points": store.profit_points("profit"),
            "state": store.items("orchestrator"),
        }


@pytest.mark.crash
@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    tmp_path: Path, reliability_report: Any
) -> None:
    ticks = _ticks_file(tmp_path)
    reference = _run_to_end(tmp_path / "reference", ticks)
    expected = _contents(tmp_path / "reference")

    rng = random.Random(SEED)
    targets = sorted(rng.sample(range(20, TICKS - 20), KILLS))
    crashed = tmp_path / "crashed"
    seen = _Confirmations()
    kills = restarts = 0
    last_reported: set[int] = set()  # the last tick each killed child reported
    started = time.perf_counter()
    while not seen.done:
        # Each child but the last is armed with the next target (or the tick it resumes at, if
        # later) and killed after it reports it: exactly KILLS kills on any machine.
        arm_at = targets.pop(0) if targets else None
        proc = _spawn(crashed, ticks, arm_at)
        restarts += 1
        assert proc.stdout is not None
        killed = False
        try:
            for line in proc.stdout:
                seen.read(line)
                if line == "armed\n":
                    # A random instant later: inside a tick, a write, a checkpoint, …
                    time.sleep(rng.uniform(0.0, 0.004))
                    proc.send_signal(signal.SIGKILL)
                    killed = True
            # Lines already in the pipe when the kill landed were confirmed too (read above).
        finally:
            if proc.poll() is None and not killed:
                proc.kill()
            returncode = proc.wait()
            proc.stdout.close()
            if proc.stdin is not None:
                proc.stdin.close()
        if arm_at is not None:
            assert killed, "an armed child ended without saying 'armed'"
            assert returncode == -signal.SIGKILL, returncode
            kills += 1
            last_reported.add(seen.last_tick)
        else:
            assert returncode == 0, returncode
    elapsed = time.perf_counter() - started

    actual = _contents(crashed)
    stored = {row[0]: row for row in actual["executions"]}
    lost_opens = sorted(i for i in seen.opened if i not in stored)
    lost_closes = sorted(
        i
        for i, profit in seen.closed.items()
        if i not in stored or stored[i][1] == "open" or stored[i][2] != profit
    )
    reference_ids = {row[0] for row in expected["executions"]}
    by_opening = Counter((row[0].rsplit("_", 1)[0], row[5]) for row in actual["executions"])
    duplicated = sorted(i for i in stored if i not in reference_ids) + [
        f"{key}x{n}" for key, n in by_opening.items() if n > 1
    ]
    print(
        f"\ncrash test: {kills} SIGKILLs, {restarts} child runs, {elapsed:.1f} s; "
        f"executions confirmed: {len(seen.opened)} opened, {len(seen.closed)} closed "
        f"(reference run: {len(reference.opened)}, {len(reference.closed)}); "
        f"lost: {len(lost_opens) + len(lost_closes)}, duplicated: {len(duplicated)}; integrity_check ok"
    )
    assert kills == KILLS
    assert not lost_opens
    assert not lost_closes
    assert not duplicated
    # A kill between a tick's commit and the child's report of it loses the report only. When that
    # tick's transaction held a checkpoint (every CHECKPOINT_INTERVAL ticks), the restart resumes
    # past it and never reports it: its openings and closes are in the store unreported. Any
    # other reference event the children did not report is a failure.
    tick_at = {t: i for i, (t, *_) in enumerate(json.loads(ticks.read_text()))}
    stored_at = {row[0]: (row[5], row[6]) for row in actual["executions"]}
    unreported_ticks = {tick + 1 for tick in last_reported}

    def unreported_at_a_checkpoint_after_a_kill(execution_id: str, when: float | None) -> bool:
        tick = tick_at.get(when) if when is not None else None
        return (
            execution_id in stored_at
            and tick is not None
            and tick in unreported_ticks
            and (tick + 1) % CHECKPOINT_INTERVAL == 0
        )

    assert seen.opened <= reference.opened
    assert all(
        unreported_at_a_checkpoint_after_a_kill(i, stored_at.get(i, (None, None))[0])
        for i in reference.opened - seen.opened
    ), sorted(reference.opened - seen.opened)
    assert {i: p for i, p in reference.closed.items() if i in seen.closed} == seen.closed
    assert all(
        unreported_at_a_checkpoint_after_a_kill(i, stored_at.get(i, (None, None))[1])
        for i in set(reference.closed) - set(seen.closed)
    ), sorted(set(reference.closed) - set(seen.closed))
    assert actual["executions"] == expected["executions"]
    assert actual["triggers"] == expected["triggers"]
    assert actual["profit_points"] == expected["profit_points"]
    assert actual["state"] == expected["state"]
    assert len(expected["executions"]) > 50
    reliability_report.row(
        "crash",
        [
            "ticks replayed",
            "SIGKILLs (seed)",
            "child runs",
            "executions confirmed",
            "lost",
            "duplicated",
            "integrity_check",
            "final store = uninterrupted run",
            "time",
        ],
        [
            TICKS,
            f"{kills} ({SEED})",
            restarts,
            f"{len(seen.opened)} opened, {len(seen.closed)} closed",
            0,
            0,
            "ok",
            "yes (executions, triggers, profit points, engine state)",
            f"{elapsed:.0f} s",
        ],
    )
