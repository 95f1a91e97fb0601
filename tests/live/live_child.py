"""A `tengri live` process for the kill test: a file feed, the ccxt broker on the emulator.

Usage: ``python live_child.py DATA_DIR FEED_CSV EMULATOR_URL [kill]``. With ``kill``, the process
kills itself with SIGKILL right after its first order is sent, before it is recorded. Prints the
run's reconciliation as JSON when it ends.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from tengri.cli import _strategy_trading
from tengri.config import TengriConfig
from tengri.engine import Strategy
from tengri.live import ExchangeSettings, FileFeed, Order, OrderReport
from tengri.live.ccxt_broker import CcxtBroker
from tengri.services.live import LiveOptions, LiveSession, run_live


class InAndOut(Strategy):
    """Long from bar 35 to bar 45, long again from bar 50 (a spot account cannot go short)."""

    def next(self) -> int | None:
        bar = len(self.closes)
        return {35: 1, 45: 0, 50: 1}.get(bar)


def main() -> None:
    data_dir, feed_path, url = sys.argv[1:4]
    kill = sys.argv[4:] == ["kill"]
    config = _strategy_trading(TengriConfig.load(data_dir=Path(data_dir)))
    settings = ExchangeSettings(urls={"api": {"public": url, "private": url}}, rate_limit_ms=1)
    broker = CcxtBroker("binance", "GOOG/USDT", settings=settings, live_orders=True)
    if kill:
        send = broker.submit

        def submit_then_die(order: Order) -> OrderReport:
            send(order)
            os.kill(os.getpid(), signal.SIGKILL)  # sent, not recorded
            raise AssertionError("unreachable")

        broker.submit = submit_then_die  # type: ignore[method-assign]
    sessions: list[LiveSession] = []
    options = LiveOptions(strategy=InAndOut(), idle_exit=0.0, max_gap=5, build_html=False, run_id="killed")
    run_live(config, FileFeed(feed_path), broker, options, session_ready=sessions.append)
    reconciliation = sessions[0].reconciliation
    print(json.dumps(reconciliation.to_dict() if reconciliation else None))


if __name__ == "__main__":
    main()
