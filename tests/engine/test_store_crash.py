"""A write that returned survives SIGKILL: kill a writer mid-stream, reopen, find every confirmed write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tengri.engine.store import MemoryMap

_WRITER = textwrap.dedent(
    """
    import sys
    from tengri.engine.store import ExecutionRecord, MemoryMap

    store = MemoryMap(data_dir=sys.argv[1])
    i = 0
    while True:
        store.set("crash", f"k{i:06d}", {"i": i})
        store.insert_execution(ExecutionRecord(f"e{i:06d}", "a", "S", 1, 100.0, float(i)))
        store.close_execution(f"e{i:06d}", exit_price=101.0, profit=1.0)
        # Confirm only after every write above returned.
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1
    """
)


@pytest.mark.crash
def test_confirmed_writes_survive_sigkill(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    confirmed = -1
    try:
        for line in proc.stdout:
            confirmed = int(line)
            if confirmed >= 150:
                break
        # Killed while it is writing the next ones: it never stops between confirmations.
        proc.send_signal(signal.SIGKILL)
        # Lines already in the pipe were confirmed too.
        for line in proc.stdout:
            confirmed = int(line)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert confirmed >= 150
    with MemoryMap(data_dir=tmp_path) as store:
        assert store.integrity_check().ok
        keys = store.items("crash")
        for i in range(confirmed + 1):
            assert keys[f"k{i:06d}"] == {"i": i}
            assert store.get_execution(f"e{i:06d}").status == "closed"
        # At most the one write in flight beyond the last confirmation may also have landed.
        assert len(keys) <= confirmed + 2
