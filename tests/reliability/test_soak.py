"""Soak: several client threads drive POST /tick on loopback for a bounded time; memory stays flat.

The server is the production one (waitress) around an orchestrator on a SQLite file. After a
warm-up, the process's resident memory may grow by at most ``GROWTH_BOUND_MB`` (the engine keeps
bounded windows: latencies, pattern statistics of at most 65,536 codes, the profit window), and
no request may fail.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tengri.api import create_app
from tengri.api.server import background_server
from tengri.config import TengriConfig
from tengri.data import load_ohlcv
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator

SECONDS = float(os.environ.get("SOAK_SECONDS", "40"))
WARM_UP = SECONDS / 4
CLIENTS = 4
GROWTH_BOUND_MB = 30.0


def _client(
    base: str, symbol: str, bars: list[tuple[float, float]], stop: threading.Event, out: dict[str, Any]
) -> None:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    span = bars[-1][0] - bars[0][0] + 3600.0  # each pass over the bars starts after the last one
    sent = failed = 0
    statuses: dict[int, int] = {}
    i = 0
    try:
        while not stop.is_set():
            t, price = bars[i % len(bars)]
            # Each pass over the bars moves on in time: ticks of one symbol never go backwards.
            body = json.dumps({"price": price, "timestamp": t + (i // len(bars)) * span, "symbol": symbol})
            conn.request("POST", "/tick", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            sent += 1
            failed += response.status != 200
            statuses[response.status] = statuses.get(response.status, 0) + 1
            i += 1
    finally:
        conn.close()
        out[symbol] = (sent, failed, statuses)


@pytest.mark.slow
def test_post_tick_soak_memory_stays_flat(tmp_path: Path, reliability_report: Any) -> None:
    frame = load_ohlcv("sample:eurusd_h1")
    bars = [(ts.timestamp(), float(c)) for ts, c in zip(frame.index, frame["Close"], strict=True)]
    clock = ManualClock(1_700_000_000.0)
    config = TengriConfig.load(data_dir=tmp_path).with_overrides(
        trading={"holding_bars": 6, "max_open_executions": 4}, store={"synchronous": "normal"}
    )
    orchestrator = SystemOrchestrator(
        config,
        store=MemoryMap.from_config(config, clock=clock),
        clock=clock,
        sensors=[ScriptedSensor({"cpu": 50.0})],
    )
    process = psutil.Process()
    results: dict[str, Any] = {}
    stop = threading.Event()
    samples: list[tuple[float, float]] = []
    with background_server(create_app(config, orchestrator), threads=CLIENTS) as base:
        clients = [
            threading.Thread(target=_client, args=(base, f"SYM{n}", bars, stop, results))
            for n in range(CLIENTS)
        ]
        started = time.perf_counter()
        for c in clients:
            c.start()
        while (elapsed := time.perf_counter() - started) < SECONDS:
            time.sleep(1.0)
            samples.append((elapsed, process.memory_info().rss / 2**20))
        stop.set()
        for c in clients:
            c.join(timeout=30)
    orchestrator.shutdown()
    orchestrator.store.close()
    sent = sum(r[0] for r in results.values())
    failed = sum(r[1] for r in results.values())
    after_warm_up = [rss for t, rss in samples if t >= WARM_UP]
    growth = max(after_warm_up) - after_warm_up[0]
    print(
        f"\nsoak: {CLIENTS} clients, {SECONDS:.0f} s, {sent} ticks ({sent / SECONDS:.0f}/s), "
        f"{failed} failed; RSS {after_warm_up[0]:.1f} MB after warm-up, peak {max(after_warm_up):.1f} MB, "
        f"growth {growth:.1f} MB (bound {GROWTH_BOUND_MB:.0f} MB)"
    )
    reliability_report.row(
        "soak",
        ["clients", "duration", "ticks", "failed", "RSS after warm-up", "growth after warm-up", "bound"],
        [
            CLIENTS,
            f"{SECONDS:.0f} s",
            sent,
            failed,
            f"{after_warm_up[0]:.1f} MB",
            f"{growth:.1f} MB",
            f"{GROWTH_BOUND_MB:.0f} MB",
        ],
    )
    assert len(results) == CLIENTS
    assert failed == 0, {symbol: r[2] for symbol, r in results.items()}
    assert sent > 1000
    assert growth <= GROWTH_BOUND_MB
