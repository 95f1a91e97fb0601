"""The status page and /metrics of a live run: feed lag, last bar, orders in flight, broker errors."""

from __future__ import annotations

from pathlib import Path

from tengri.api import create_app
from tengri.cli import _strategy_trading
from tengri.config import TengriConfig
from tengri.engine import ManualClock
from tengri.errors import BrokerError
from tengri.live import FileFeed, Order, OrderReport, PaperBroker
from tengri.services.live import LiveOptions, LiveSession
from tengri.strategies import SmaCross

GOOG = Path("src/tengri/data/samples/goog_d1.csv")


def _value(metrics: str, name: str) -> float:
    return float(next(line.split()[1] for line in metrics.splitlines() if line.startswith(name + " ")))


class _FailingBroker(PaperBroker):
    """Paper fills, except that the broker cannot be reached for closing orders."""

    name = "flaky"

    def submit(self, order: Order) -> OrderReport:
        if order.purpose == "close":
            raise BrokerError("connection refused")
        return super().submit(order)


def test_status_page_and_metrics_show_the_live_run(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("".join(GOOG.read_text().splitlines(keepends=True)[:200]))
    clock = ManualClock(2_000_000_000.0)
    session = LiveSession(
        _strategy_trading(TengriConfig.load(data_dir=tmp_path / "data")),
        FileFeed(path, interval=86_400.0),
        _FailingBroker(),
        LiveOptions(strategy=SmaCross(), max_gap=5, run_id="monitored"),
        machine_clock=clock,
    )
    session.begin(session.admit(session.feed.poll()))
    assert session.replay is not None
    assert session.router is not None
    assert session.router.errors > 0  # SmaCross reversed at least once: a close failed
    app = create_app(
        session.replay.orchestrator.config, session.replay.orchestrator, live=session.status.to_dict
    )
    client = app.test_client()
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "tengri_live_feed_stale 0.0" in metrics
    assert f"tengri_live_broker_errors_total {float(session.router.errors)}" in metrics
    assert "tengri_live_orders_in_flight 0.0" in metrics
    assert _value(metrics, "tengri_live_orders_unsent") == session.router.errors  # closes, tried again later
    last = session.watch.last_bar
    assert last is not None
    assert _value(metrics, "tengri_live_last_bar_timestamp_seconds") == last.timestamp
    assert _value(metrics, "tengri_live_feed_lag_seconds") == clock.now() - last.timestamp - 86_400.0
    clock.advance(4 * 86_400.0)
    session.idle()
    page = client.get("/").get_data(as_text=True)
    assert "<h2>Live</h2>" in page
    assert "bars.csv" in page
    assert "stale" in page
    assert "connection refused" in page
    assert "tengri_live_feed_stale 1.0" in client.get("/metrics").get_data(as_text=True)
    # A posted tick would trade past the feed's watch and the broker: refused, nothing processed.
    ticks = session.replay.orchestrator.tick_index
    refused = client.post("/tick", json={"price": 100.0, "symbol": session.symbol})
    assert refused.status_code == 409
    assert "tengri live --feed" in refused.get_json()["error"]["message"]
    assert session.replay.orchestrator.tick_index == ticks
    session.finish()
