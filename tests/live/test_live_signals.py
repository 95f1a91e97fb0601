"""`tengri live` stops cleanly on SIGTERM, and --flatten-on-exit closes its position first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOG = ROOT / "src/tengri/data/samples/goog_d1.csv"


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_flattens(tmp_path: Path) -> None:
    feed = tmp_path / "goog.csv"
    feed.write_text("".join(GOOG.read_text().splitlines(keepends=True)[:301]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENGRI_")}
    env |= {"TENGRI_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT / "src")}
    args = ["--feed", f"file:{feed}", "--strategy", "tengri.strategies:SmaCross", "--max-gap", "5"]
    live = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tengri",
            "live",
            *args,
            "--poll",
            "0.05",
            "--run",
            "sig",
            "--flatten-on-exit",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    status = tmp_path / "data" / "runs" / "sig" / "live.json"
    # It writes live.json once it has caught up with the file; then it only waits for bars.
    for _ in range(6000):
        if status.is_file() and json.loads(status.read_text())["bars"] == 300:
            break
        assert live.poll() is None, live.communicate()[1][-2000:]
        time.sleep(0.1)
    else:
        pytest.fail("the live run never caught up with its file")
    live.send_signal(signal.SIGTERM)
    out, err = live.communicate(timeout=600)
    assert live.returncode == 0, err[-2000:]
    assert "signal 15, stopping" in err
    assert "tengri live: sig" in out
    trades = pd.read_csv(tmp_path / "data" / "runs" / "sig" / "trades.csv")
    assert trades["reason"].iloc[-1] == "manual"  # the position open at the signal, flattened
    summary = json.loads((tmp_path / "data" / "runs" / "sig" / "summary.json").read_text())
    assert summary["num_trades"] == len(trades)
    book = (tmp_path / "data" / "runs" / "sig" / "paper_orders.jsonl").read_text().splitlines()
    assert len(book) == 2 * len(trades)  # every open and every close went to the broker
