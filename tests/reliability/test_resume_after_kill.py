"""Kill -9 ``tengri backtest`` at seeded points, ``--resume`` each time: the same results as one run.

A child process (``backtest_child.py``) is the real CLI, ``tengri backtest sample:eurusd_h1
--strategy tengri.strategies:SmaCross`` with a short checkpoint interval, which kills itself with
SIGKILL at a seeded bar and place: after a tick, inside a checkpoint between the journal's flush
and the engine's checkpoint, or right after the engine's checkpoint. The next child resumes the
run with ``--resume`` (and is killed again further on) until one completes. The run folder must
then hold the same trades, timeline and summary as an uninterrupted run of the same command.

A second test does the same on a 200,000-bar one-minute random walk (issue 17): the journal's
streamed files are cut at a resume, not reloaded, and the run must still equal one run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

CHILD = Path(__file__).with_name("backtest_child.py")
SEED = 20_261_122
KILLS = 6
BARS = 5_000
WHERE = ("tick", "journal", "engine")


def _config(path: Path) -> Path:
    path.write_text(
        "[engine]\ncheckpoint_interval = 150\n\n"
        "[triggers]\nauto_register_t_stat = 1.5\nauto_register_min_count = 20\n\n"
        "[trading]\nholding_bars = 6\nmax_open_executions = 4\n"
    )
    return path


def _backtest(
    data_dir: Path, config: Path, kill_bar: int, where: str, resume: bool, data: str = "sample:eurusd_h1"
) -> int:
    args = [
        "backtest",
        data,
        "--strategy",
        "tengri.strategies:SmaCross",
        "--config",
        str(config),
    ]
    child = subprocess.run(
        [sys.executable, str(CHILD), str(kill_bar), where, *args, *(["--resume"] if resume else [])],
        env={**os.environ, "TENGRI_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert child.returncode in (0, -9), child.stderr
    return child.returncode


def _folder(data_dir: Path) -> Path:
    (run_dir,) = (data_dir / "runs").iterdir()
    return run_dir


@pytest.mark.slow
@pytest.mark.crash
def test_backtest_killed_and_resumed_equals_uninterrupted(tmp_path: Path, reliability_report: Any) -> None:
    config = _config(tmp_path / "tengri.toml")
    assert _backtest(tmp_path / "whole", config, -1, "none", resume=False) == 0
    rng = random.Random(SEED)
    kill_bars = sorted(rng.sample(range(1, BARS), KILLS))
    kills: list[str] = []
    for i, bar in enumerate(kill_bars):
        where = rng.choice(WHERE)
        # Each child dies at its bar, or at the first checkpoint from there on (journal, engine).
        assert _backtest(tmp_path / "split", config, bar, where, resume=i > 0) == -9
        kills.append(f"{where}@{bar}")
    assert _backtest(tmp_path / "split", config, -1, "none", resume=True) == 0
    whole, split = _folder(tmp_path / "whole"), _folder(tmp_path / "split")
    assert (split / "trades.csv").read_bytes() == (whole / "trades.csv").read_bytes()
    # The machine's temperature (and so its zone) is read, not replayed: the rest must be equal.
    machine = ["temperature", "thermal_zone"]
    pd.testing.assert_frame_equal(
        pd.read_csv(split / "timeline.csv").drop(columns=machine),
        pd.read_csv(whole / "timeline.csv").drop(columns=machine),
    )
    summary = json.loads((whole / "summary.json").read_text())
    split_summary = json.loads((split / "summary.json").read_text())
    # The compute section is the machine's (its zones and bursts), like the temperature.
    assert {k: v for k, v in split_summary.items() if k != "compute"} == {
        k: v for k, v in summary.items() if k != "compute"
    }
    print(f"\nbacktest killed at {', '.join(kills)} and resumed: trades, timeline and summary as one run")
    reliability_report.row(
        "resume",
        ["command", "SIGKILLs (seed)", "killed at (place@bar)", "result"],
        [
            "`tengri backtest sample:eurusd_h1 --strategy tengri.strategies:SmaCross`, then `--resume`",
            f"{len(kills)} ({SEED})",
            ", ".join(kills),
            (
                f"trades.csv, timeline.csv (bar by bar) and summary.json equal to an uninterrupted run "
                f"({summary['num_trades']} trades)"
            ),
        ],
    )


LONG_BARS = 200_000
LONG_KILLS = 3


def _random_walk(path: Path, bars: int) -> Path:
    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, bars)))
    open_ = np.concatenate(([100.0], close[:-1]))
    index = pd.date_range("2024-01-01", periods=bars, freq="min", tz="UTC", name="timestamp")
    frame = pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) * 1.0002,
            "Low": np.minimum(open_, close) * 0.9998,
            "Close": close,
            "Volume": 1000.0,
        },
        index=index,
    ).round(4)
    frame.to_csv(path, index_label="timestamp", lineterminator="\n")
    return path


@pytest.mark.slow
@pytest.mark.crash
def test_long_backtest_killed_and_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    data = str(_random_walk(tmp_path / "walk.csv", LONG_BARS))
    config = tmp_path / "tengri.toml"
    config.write_text("[engine]\ncheckpoint_interval = 5000\n\n[trading]\ncommission = 0.0\n")
    assert _backtest(tmp_path / "whole", config, -1, "none", resume=False, data=data) == 0
    rng = random.Random(SEED)
    kill_bars = sorted(rng.sample(range(1, LONG_BARS), LONG_KILLS))
    for i, bar in enumerate(kill_bars):
        where = rng.choice(WHERE)
        assert _backtest(tmp_path / "split", config, bar, where, resume=i > 0, data=data) == -9
    assert _backtest(tmp_path / "split", config, -1, "none", resume=True, data=data) == 0
    whole, split = _folder(tmp_path / "whole"), _folder(tmp_path / "split")
    for name in ("trades.csv", "executions.csv"):
        assert (split / name).read_bytes() == (whole / name).read_bytes()
    machine = ["temperature", "thermal_zone"]
    split_timeline = pd.read_csv(split / "timeline.csv").drop(columns=machine)
    assert len(split_timeline) == LONG_BARS
    pd.testing.assert_frame_equal(split_timeline, pd.read_csv(whole / "timeline.csv").drop(columns=machine))
    summary = json.loads((whole / "summary.json").read_text())
    split_summary = json.loads((split / "summary.json").read_text())
    assert summary["num_trades"] > 5_000
    assert {k: v for k, v in split_summary.items() if k != "compute"} == {
        k: v for k, v in summary.items() if k != "compute"
    }
