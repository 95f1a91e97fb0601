"""`tengri live` on a paper broker: the backtest's trades, bar by bar; a stale feed holds entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tengri.cli import _strategy_trading, main
from tengri.config import TengriConfig
from tengri.engine import ManualClock
from tengri.engine.desk import Decision
from tengri.live import Bar, FileFeed, PaperBroker
from tengri.services.live import LiveOptions, LiveSession, run_live
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross

GOOG = Path("src/tengri/data/samples/goog_d1.csv")


def _appender(path: Path, lines: list[str], clock: ManualClock) -> tuple[Iterator[None], object]:
    remaining = iter(lines)

    def sleep(seconds: float) -> None:
        # The writer: each time the live run waits for the feed, one more bar is appended.
        clock.advance(seconds)
        line = next(remaining, None)
        if line is not None:
            with path.open("a") as handle:
                handle.write(line)

    return remaining, sleep


def _config(tmp_path: Path) -> TengriConfig:
    return _strategy_trading(TengriConfig.load(data_dir=tmp_path / "data"))


@pytest.mark.slow
def test_goog_bar_by_bar_through_a_file_trades_as_the_backtest(tmp_path: Path) -> None:
    lines = GOOG.read_text().splitlines(keepends=True)
    path = tmp_path / "goog.csv"
    path.write_text("".join(lines[:31]))  # the header and 30 bars, before the run starts
    clock = ManualClock(0.0)
    remaining, sleep = _appender(path, lines[31:], clock)
    options = LiveOptions(strategy=SmaCross(), idle_exit=5.0, max_gap=5.0, build_html=False, run_id="live")
    outcome = run_live(
        _config(tmp_path), FileFeed(path), PaperBroker(), options, machine_clock=clock, sleep=sleep
    )  # type: ignore[arg-type]
    assert outcome is not None
    assert next(remaining, None) is None  # every bar was written, one per wait
    backtest = run_replay(_config(tmp_path), path, strategy=SmaCross(), build_html=False)
    live_trades = pd.read_csv(outcome.run_dir / "trades.csv")
    backtest_trades = pd.read_csv(backtest.run_dir / "trades.csv")
    assert len(live_trades) == 93
    pd.testing.assert_frame_equal(live_trades, backtest_trades)
    # Every fill went to the paper broker, at the desk's price.
    book = (outcome.run_dir / "paper_orders.jsonl").read_text().splitlines()
    assert len(book) in (2 * len(live_trades), 2 * len(live_trades) + 1)  # + one still open


@pytest.mark.slow
def test_the_live_command_on_a_file_writes_the_backtests_trades(tmp_path: Path) -> None:
    data = tmp_path / "goog.csv"
    data.write_text(GOOG.read_text())
    live_args = ["--idle-exit", "0", "--poll", "0.01", "--max-gap", "5", "--run", "cli-live"]
    strategy = ["--strategy", "tengri.strategies:SmaCross"]
    assert main(["live", "--feed", f"file:{data}", *strategy, *live_args]) == 0
    assert main(["backtest", str(data)]) == 0
    runs = tmp_path / "data" / "runs"
    backtest_dir = next(d for d in runs.iterdir() if d.name != "cli-live")
    live = (runs / "cli-live" / "trades.csv").read_text()
    assert live == (backtest_dir / "trades.csv").read_text()
    assert (runs / "cli-live" / "report.html").is_file()
    assert (runs / "cli-live" / "summary.json").is_file()


def test_a_stale_feed_holds_entries_and_degrades_health(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    path = tmp_path / "bars.csv"
    path.write_text("".join(GOOG.read_text().splitlines(keepends=True)[:41]))
    session = LiveSession(
        _config(tmp_path),
        FileFeed(path, interval=60.0),
        PaperBroker(),
        LiveOptions(stale_intervals=3, max_gap=1e9, run_id="stale"),  # no entries but the test's
        machine_clock=clock,
    )
    session.begin(session.admit(session.feed.poll()))
    assert session.replay is not None
    desk = session.replay.orchestrator.desk
    clock.advance(181.0)
    session.idle()
    assert session.status.feed_stale
    assert session.replay.orchestrator.health.reasons()["feed"].startswith("no bar from bars.csv")
    assert desk.risk.entries_held == "the feed is stale"
    # A strategy's entry decided before the feed went stale does not fill on the bar after it.
    before = desk.risk.counts.get("entries_held_refused", 0)
    desk.pending.append(_entry_decision())
    session.feed_bars(session.admit([Bar(session.watch.last_bar.timestamp + 86_400, 100, 101, 99, 100, 1)]))  # type: ignore[union-attr]
    assert desk.risk.counts["entries_held_refused"] == before + 1
    session.idle()
    assert session.replay.orchestrator.health.status == "healthy"
    session.finish()


def _entry_decision() -> Decision:
    return Decision(strategy_id="manual", direction=1, decided_index=0, confidence=0.5, source="strategy")
