"""The replay service: deterministic runs, interrupt and resume, a user's strategy, bad input."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tengri.config import TengriConfig
from tengri.errors import DataValidationError, InvalidInputError, StoreError
from tengri.services.replay import ProgressEvent, load_strategy, run_replay
from tengri.strategies import SmaCross


def _config(data_dir: Path) -> TengriConfig:
    # Pattern trading with more (less certain) triggers than the defaults, so that the replay trades.
    return TengriConfig.load(data_dir=data_dir).with_overrides(
        triggers={"auto_register_t_stat": 1.5, "auto_register_min_count": 20},
        trading={"holding_bars": 6, "max_open_executions": 4},
        engine={"checkpoint_interval": 500},
    )


@pytest.mark.slow
def test_replay_is_deterministic(tmp_path: Path) -> None:
    # The temperature pinned, as the README says a run to be reproduced exactly does: a busy host's
    # estimate could move the thermal zone, which the summary's compute section reports.
    sensor = tmp_path / "celsius"
    sensor.write_text("40.0\n")

    def config(data_dir: Path) -> TengriConfig:
        return _config(data_dir).with_overrides(thermal={"sensor_files": [str(sensor)]})

    first = run_replay(config(tmp_path / "a"), "sample:eurusd_h1", model="none", build_html=False)
    second = run_replay(config(tmp_path / "b"), "sample:eurusd_h1", model="none", build_html=False)
    # The files the README calls byte-identical.
    for name in ("trades.csv", "executions.csv", "confidences.csv", "signals.csv", "summary.json"):
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes(), name
    # timeline.csv but for the host's measured temperature.
    timelines = [pd.read_csv(o.run_dir / "timeline.csv").drop(columns="temperature") for o in (first, second)]
    pd.testing.assert_frame_equal(*timelines)
    assert len(pd.read_csv(first.run_dir / "trades.csv")) > 50
    assert first.summary["num_trades"] == second.summary["num_trades"]
    for name in ("summary.json", "executions.csv", "timeline.csv", "run.json"):
        assert (first.run_dir / name).is_file()


@pytest.mark.slow
def test_interrupt_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    whole = run_replay(_config(tmp_path / "whole"), "sample:eurusd_h1", model="none", build_html=False)

    def interrupt(event: ProgressEvent) -> None:
        if event.bar == 2_345:
            raise KeyboardInterrupt

    config = _config(tmp_path / "split")
    with pytest.raises(KeyboardInterrupt):
        run_replay(config, "sample:eurusd_h1", model="none", on_progress=interrupt, build_html=False)
    resumed = run_replay(config, "sample:eurusd_h1", model="none", resume=True, build_html=False)
    assert (resumed.run_dir / "trades.csv").read_bytes() == (whole.run_dir / "trades.csv").read_bytes()
    timeline_whole = pd.read_csv(whole.run_dir / "timeline.csv")
    timeline_resumed = pd.read_csv(resumed.run_dir / "timeline.csv")
    assert timeline_resumed["bar"].tolist() == list(range(5_000))
    pd.testing.assert_series_equal(timeline_resumed["equity"], timeline_whole["equity"])
    keep = {
        k: v for k, v in whole.summary.items() if k not in ("run_id", "compute")
    }  # compute: the machine's
    assert {k: resumed.summary[k] for k in keep} == keep


def _stored_executions(data_dir: Path) -> int:
    """Executions another process would see in the run's store now (committed ones only)."""
    (path,) = (data_dir / "runs").glob("*/store.db")
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0])


@pytest.mark.parametrize("commit", ["checkpoint", "tick"])
def test_a_replay_commits_its_store_with_each_checkpoint_or_each_tick(tmp_path: Path, commit: str) -> None:
    seen: dict[int, int] = {}

    def look(event: ProgressEvent) -> None:
        if event.bar in (1_000, 1_400):  # right after the checkpoint at bar 1,000; 400 bars later
            seen[event.bar] = _stored_executions(tmp_path)

    config = _config(tmp_path).with_overrides(store={"replay_commit": commit})
    outcome = run_replay(config, "sample:eurusd_h1", model="none", on_progress=look, build_html=False)
    assert seen[1_000] > 0
    if commit == "checkpoint":
        assert seen[1_400] == seen[1_000]  # the bars since the checkpoint are not committed yet
    else:
        assert seen[1_400] > seen[1_000]
    assert (
        _stored_executions(tmp_path)
        == outcome.summary["executions_completed"] + outcome.summary["executions_open"]
    )


@pytest.mark.timeout(60, method="thread")  # a deadlock does not yield to a signal
def test_a_pause_between_bars_leaves_no_duty_waiting_on_the_batch(tmp_path: Path) -> None:
    # The replay's batch holds the store between bars. A duty thread that woke in such a pause
    # and flushed trigger counts would wait for the store while holding the engine's lock, and
    # the next bar would wait for that lock: the replay runs its duties on its own bars instead.
    def pause(event: ProgressEvent) -> None:
        if event.bar == 900:  # trigger outcomes wait unflushed here; the flush duty falls due
            time.sleep(3.0)

    config = _config(tmp_path).with_overrides(
        engine={
            "checkpoint_interval": 1_000,
            "system_monitoring_interval": 2.5,
            "thermal_monitoring_interval": 2.5,
        }
    )
    outcome = run_replay(config, "sample:eurusd_h1", model="none", on_progress=pause, build_html=False)
    assert outcome.summary["bars_replayed"] == 5_000


def test_resume_without_a_run_starts_anew_and_says_so(tmp_path: Path) -> None:
    outcome = run_replay(_config(tmp_path), "sample:goog_d1", model="none", resume=True, build_html=False)
    assert outcome.summary["bars_replayed"] == 2148
    assert len(outcome.notes) == 1
    assert outcome.notes[0].startswith("nothing to resume")
    assert outcome.summary["notes"] == list(outcome.notes)
    run_info = json.loads((outcome.run_dir / "run.json").read_text())
    assert run_info["notes"] == list(outcome.notes)
    # run.json records the checkpoint interval the replay kept, not the engine's disabled one.
    assert run_info["config"]["engine"]["checkpoint_interval"] == 500


class _SilentPredictor:
    """A predictor whose calibrated probability never leaves (0.4, 0.6): no buy or sell."""

    class settings:  # noqa: N801 (stands for the predictor's settings object)
        variant = "stub"

    def __init__(self) -> None:
        self.calls = 0

    def update(self, bar: dict[str, object]) -> dict[str, object] | None:
        self.calls += 1
        if self.calls <= 2:
            return None  # still warming up
        prob_up = 0.45 if self.calls % 2 else 0.58
        return {
            "timestamp": bar["timestamp"],
            "prob_up": prob_up,
            "confidence": 0.5,
            "predicted_return": 0.0,
            "in_sample": False,
        }


def test_a_model_that_never_signals_says_why() -> None:
    from tengri.engine.signals import Tick
    from tengri.services.model_source import PredictorSignalSource

    source = PredictorSignalSource(_SilentPredictor(), threshold=0.6)  # type: ignore[arg-type]
    for i in range(10):
        assert source.on_tick(Tick("X", 1_700_000_000.0 + 3600 * i, 1.0, i)) == ()
    (note,) = source.silence_notes()
    assert "no buy or sell in 8 predictions" in note
    assert "the strongest was 0.580" in note
    assert "more than 0.600" in note
    # One signal, and there is nothing to explain.
    source.threshold = 0.55
    assert source.on_tick(Tick("X", 1_700_100_000.0, 1.0, 11)) == ()  # 0.45: hold
    assert len(source.on_tick(Tick("X", 1_700_200_000.0, 1.0, 12))) == 1  # 0.58 > 0.55: buy
    assert source.silence_notes() == []


def test_a_model_whose_calibration_collapsed_says_so() -> None:
    from tengri.engine.signals import Tick
    from tengri.services.model_source import PredictorSignalSource

    predictor = _SilentPredictor()
    predictor.update = lambda bar: {  # type: ignore[method-assign]
        "timestamp": bar["timestamp"],
        "prob_up": 0.5,
        "confidence": 0.5,
        "predicted_return": 0.001,
        "in_sample": False,
    }
    source = PredictorSignalSource(predictor)  # type: ignore[arg-type]
    for i in range(3):
        source.on_tick(Tick("X", 1_700_000_000.0 + 3600 * i, 1.0, i))
    (note,) = source.silence_notes()
    assert "in 3 predictions: its calibration set every probability of an up move to 0.5" in note


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="model"):
        run_replay(_config(tmp_path), "sample:goog_d1", model="gpt")
    with pytest.raises(DataValidationError):
        run_replay(_config(tmp_path), "sample:nope", model="none")
    with pytest.raises(InvalidInputError, match="module:Class"):
        load_strategy("no_colon")
    with pytest.raises(InvalidInputError, match="cannot import"):
        load_strategy("no.such.module:Thing")
    with pytest.raises(InvalidInputError, match="not a subclass"):
        load_strategy("json:JSONDecoder")


def test_strategy_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "my_rule.py"
    path.write_text(
        "from tengri import Strategy\n\nclass AlwaysLong(Strategy):\n    def next(self):\n        return 1\n"
    )
    strategy = load_strategy(f"{path}:AlwaysLong")
    assert strategy.name == "AlwaysLong"
    config = TengriConfig.load(data_dir=tmp_path / "d").with_overrides(
        trading={"trade_patterns": False, "min_confidence": 0.0, "holding_bars": None}
    )
    outcome = run_replay(config, "sample:goog_d1", model="none", strategy=strategy, build_html=False)
    executions = pd.read_csv(outcome.run_dir / "executions.csv")
    assert executions["status"].tolist() == ["open"]  # bought at bar 1's open and held
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert summary["exposure_pct"] > 99


def test_the_callers_strategy_keeps_its_history_after_the_run(tmp_path: Path) -> None:
    """The replay frees what it owns before its run files; a strategy the caller passed is theirs."""
    from tengri.strategies import SmaCross

    config = TengriConfig.load(data_dir=tmp_path / "d").with_overrides(
        trading={"trade_patterns": False, "min_confidence": 0.0, "holding_bars": None}
    )
    strategy = SmaCross()
    outcome = run_replay(config, "sample:goog_d1", model="none", strategy=strategy, build_html=False)
    assert len(strategy) == outcome.summary["bars_replayed"] == 2148
    assert len(strategy.closes) == strategy.history_bars == 21  # SmaCross reads no further back
    assert strategy.sma(10) == pytest.approx(float(strategy.closes[-10:].mean()), rel=1e-12)
    by_spec = run_replay(config, "sample:goog_d1", model="none", strategy="tengri.strategies:SmaCross")
    assert by_spec.summary["num_trades"] == outcome.summary["num_trades"]  # the same run either way


def test_a_panel_handed_over_in_an_iterator_is_freed_while_the_replay_runs(tmp_path: Path) -> None:
    """``iter([panel])`` leaves the replay the only holder of the bars: it drops the frame before its loop."""
    import weakref

    from tengri.data import read_panel
    from tengri.strategies import SmaCross

    config = TengriConfig.load(data_dir=tmp_path / "d").with_overrides(
        trading={"trade_patterns": False, "min_confidence": 0.0, "holding_bars": None}
    )
    panel = read_panel(["sample:goog_d1"])
    frame = weakref.ref(next(iter(panel.data.values())).frame)
    alive: list[bool] = []
    handed_over = iter([panel])
    del panel
    outcome = run_replay(
        config,
        handed_over,
        strategy=SmaCross(),
        build_html=False,
        on_progress=lambda _event: alive.append(frame() is not None),
    )
    assert len(alive) == outcome.summary["bars_replayed"] == 2148
    assert not any(alive)  # from the first bar on, nothing holds the frame
    kept = read_panel(["sample:goog_d1"])
    run_replay(config, [kept], strategy=SmaCross(), build_html=False)  # a list the caller keeps
    assert len(next(iter(kept.data.values())).frame) == 2148  # is the caller's still, whole


def test_progress_comes_every_so_many_bars_and_after_the_last(tmp_path: Path) -> None:
    bars: list[int] = []
    outcome = run_replay(
        _config(tmp_path),
        "sample:goog_d1",
        model="none",
        on_progress=lambda event: bars.append(event.bar),
        build_html=False,
        progress_every=500,
    )
    total = outcome.summary["bars"]
    assert bars == [*range(500, total + 1, 500), total]
    with pytest.raises(InvalidInputError, match="progress_every"):
        run_replay(_config(tmp_path), "sample:goog_d1", on_progress=print, progress_every=0)


def test_the_end_of_run_backup_runs_beside_the_run_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tengri.engine import MemoryMap
    from tengri.services import run_files

    executions_written = threading.Event()
    seen: dict[str, bool] = {}
    backup, write = MemoryMap.backup, run_files.write_executions

    def backup_after_the_executions(store: MemoryMap) -> Path:
        # Backs up only once executions.csv is written: a replay whose files waited for its
        # backup would time out here.
        seen["beside"] = executions_written.wait(timeout=300)
        return backup(store)

    def writing(*args: Any, **kwargs: Any) -> None:
        write(*args, **kwargs)
        executions_written.set()

    monkeypatch.setattr(MemoryMap, "backup", backup_after_the_executions)
    monkeypatch.setattr(run_files, "write_executions", writing)
    outcome = run_replay(
        TengriConfig.load(data_dir=tmp_path), "sample:goog_d1", strategy=SmaCross(), build_html=False
    )
    assert seen == {"beside": True}
    assert len(list((outcome.run_dir / "backups").glob("tengri-*.db"))) == 1
    assert outcome.summary["system_health"] == "healthy"
    # The summary waited for the backup: its health is the engine's after it.

    def full(store: MemoryMap) -> Path:
        raise StoreError("the disk is full")

    monkeypatch.setattr(MemoryMap, "backup", full)
    failed = run_replay(
        TengriConfig.load(data_dir=tmp_path / "failed"),
        "sample:goog_d1",
        strategy=SmaCross(),
        build_html=False,
    )
    assert failed.summary["system_health"] == "degraded"
    assert not list((failed.run_dir / "backups").glob("tengri-*.db"))
    assert failed.summary["num_trades"] == outcome.summary["num_trades"]  # the run itself is whole
