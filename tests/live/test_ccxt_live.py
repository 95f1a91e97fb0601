"""`tengri live` through ccxt on the Binance emulator: the backtest's trades, and a kill -9
between sending an order and recording it leaves no duplicate order and one consistent position."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from tests.live.binance_emulator import BinanceEmulator
from tests.live.conftest import settings

from tengri.cli import _strategy_trading
from tengri.config import TengriConfig
from tengri.data import write_ohlcv
from tengri.engine import ManualClock, MemoryMap
from tengri.live.ccxt_broker import CcxtBroker
from tengri.live.ccxt_feed import CcxtFeed
from tengri.live.orders import ORDERS_NAMESPACE
from tengri.services.live import LiveOptions, run_live
from tengri.services.replay import run_replay
from tengri.strategies import SmaCross

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("keys")


@pytest.mark.slow
def test_ccxt_feed_and_broker_trade_as_the_backtest(tmp_path: Path, goog: pd.DataFrame) -> None:
    frame = goog.iloc[:400]
    config = _strategy_trading(TengriConfig.load(data_dir=tmp_path / "data")).with_overrides(
        trading={"fill_policy": "this_tick"}
    )
    # Inventory and cash enough for every order SmaCross sends, shorts included.
    with BinanceEmulator(frame, start=31, balances={"GOOG": 1e6, "USDT": 1e9}) as exchange:
        clock = ManualClock(0.0)

        def sleep(seconds: float) -> None:  # each wait for the feed: the exchange's next bar
            clock.advance(seconds)
            exchange.advance()

        feed = CcxtFeed("binance", "GOOG/USDT", "1d", settings=settings(exchange), warmup=200)
        broker = CcxtBroker("binance", "GOOG/USDT", settings=settings(exchange), live_orders=True)
        options = LiveOptions(strategy=SmaCross(), idle_exit=5.0, max_gap=5, build_html=False, run_id="ccxt")
        outcome = run_live(config, feed, broker, options, machine_clock=clock, sleep=sleep)
        assert outcome is not None
        posted = exchange.posted_orders()
        base = exchange.balances["GOOG"]
    # The last bar is still forming when the exchange's series ends: the backtest's data stop before it.
    backtest = run_replay(config, frame.iloc[:-1], strategy=SmaCross(), build_html=False)
    live_trades = pd.read_csv(outcome.run_dir / "trades.csv")
    assert len(live_trades) > 10
    # The symbol is the feed's (its exchange, market and timeframe); the backtest's frame has none.
    assert set(live_trades.pop("symbol")) == {"binance-goog-usdt-1d"}
    backtest_trades = pd.read_csv(backtest.run_dir / "trades.csv").drop(columns="symbol")
    pd.testing.assert_frame_equal(live_trades, backtest_trades)
    store = MemoryMap(f"sqlite:///{outcome.run_dir / 'store.db'}")
    orders = store.items(ORDERS_NAMESPACE)
    open_now = store.open_executions()
    store.close()
    assert posted == len(orders) == 2 * len(live_trades) + len(open_now)
    assert {o["status"] for o in orders.values()} == {"filled"}
    assert base == 1e6 + sum(r.direction * r.size for r in open_now)


@pytest.mark.crash
@pytest.mark.slow
def test_kill_9_between_sending_and_recording_an_order_then_a_restart(
    tmp_path: Path, goog: pd.DataFrame
) -> None:
    feed = write_ohlcv(goog.iloc[:60], tmp_path / "goog.csv")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    with BinanceEmulator(goog, start=59) as exchange:
        child = [
            sys.executable,
            str(ROOT / "tests/live/live_child.py"),
            str(tmp_path / "data"),
            str(feed),
            exchange.url,
        ]
        killed = subprocess.run(
            [*child, "kill"], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert killed.returncode == -9, killed.stderr[-2000:]
        assert exchange.posted_orders() == 1  # the first order went out; the process died before recording it
        restarted = subprocess.run(child, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert restarted.returncode == 0, restarted.stderr[-2000:]
        reconciliation = json.loads(restarted.stdout.strip().splitlines()[-1])
        posted = [p for m, p in exchange.requests if m == "POST"]
        client_ids = [o.client_id for o in exchange.orders.values()]
        base = exchange.balances["GOOG"]
    # The order sent before the kill was found by its client id and adopted, not sent again.
    assert len(reconciliation["adopted"]) == 1
    assert reconciliation["sent"] == []
    assert len(client_ids) == len(set(client_ids)) == len(posted) == 3  # in, out, in again
    store = MemoryMap(f"sqlite:///{tmp_path / 'data' / 'runs' / 'killed' / 'store.db'}")
    open_now = store.open_executions()
    recorded = store.items(ORDERS_NAMESPACE)
    store.close()
    assert len(open_now) == 1
    assert base == open_now[0].size > 0  # one position, the same at the exchange and in the store
    assert set(recorded) == set(client_ids)
