"""Benchmark the REST gateway through the real server against a bare Flask app (issue 8).

Run: ``.venv/bin/python benchmarks/bench_api.py [--seconds S] [--clients N] [--rounds R]``

Both apps run under the same waitress server (8 threads) on 127.0.0.1; the load comes from
``--clients`` separate processes, each with one keep-alive connection, so that the load
generator does not share the server's interpreter lock. The bare app answers ``GET /health`` and
``POST /tick`` with a constant; Tengri's ``/tick`` parses and validates the body, runs the tick
through the whole pipeline (hash, triggers, desk, profit, thermal) and formats the result.
Rounds interleave the candidates, so load from other processes hits them alike; read the ratio.

Goal: Tengri's ``POST /tick`` at least 30% of the bare app's rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from typing import Any

from flask import Flask, jsonify

from tengri.api import background_server, create_app
from tengri.config import TengriConfig
from tengri.engine import ManualClock, MemoryMap, ScriptedSensor, SystemOrchestrator

THREADS = 8
TICK = json.dumps({"price": 100.0, "volume": 1.0}).encode()


def bare_app() -> Flask:
    """A Flask app that returns a constant: the ceiling of the server and the framework."""
    app = Flask("bare")

    @app.get("/health")
    def health() -> Any:
        return jsonify({"status": "healthy"})

    @app.post("/tick")
    def tick() -> Any:
        return jsonify({"tick": 0})

    return app


def tengri_app() -> Flask:
    """The gateway around an orchestrator on an in-memory store, a still clock and a fixed sensor.

    The clock stands still so that ticks from concurrent clients never go backwards in time.
    """
    clock = ManualClock()
    config = TengriConfig.load()
    orchestrator = SystemOrchestrator(
        config, store=MemoryMap.in_memory(clock=clock), clock=clock, sensors=[ScriptedSensor({"cpu": 50.0})]
    )
    orchestrator.start(background=False)
    return create_app(config, orchestrator)


def _client(args: tuple[str, int, str, str, float]) -> int:
    host, port, method, path, seconds = args
    connection = http.client.HTTPConnection(host, port, timeout=30)
    body = TICK if method == "POST" else None
    headers = {"Content-Type": "application/json"} if body else {}
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}")
        done += 1
    connection.close()
    return done


def rate(pool: Any, base_url: str, method: str, path: str, seconds: float, clients: int) -> float:
    """Requests per second of ``clients`` processes hitting ``method path`` for ``seconds``."""
    host, port = base_url.removeprefix("http://").split(":")
    started = time.perf_counter()
    counts = pool.map(_client, [(host, int(port), method, path, seconds)] * clients)
    return sum(counts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Seconds per measurement.")
    parser.add_argument("--clients", type=int, default=4, help="Client processes.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds (median reported).")
    args = parser.parse_args(argv)

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"server: waitress, {THREADS} threads, 127.0.0.1; load: {args.clients} client processes, "
          f"{args.seconds:g} s × {args.rounds} rounds, median")  # fmt: skip

    samples: dict[tuple[str, str], list[float]] = {}
    apps = {"bare": bare_app(), "tengri": tengri_app()}
    with (
        multiprocessing.get_context("spawn").Pool(args.clients) as pool,
        background_server(apps["bare"], threads=THREADS) as bare,
        background_server(apps["tengri"], threads=THREADS) as tengri,
    ):
        urls = {"bare": bare, "tengri": tengri}
        for _ in range(args.rounds):
            for endpoint in (("GET", "/health"), ("POST", "/tick")):
                for name, url in urls.items():
                    value = rate(pool, url, *endpoint, args.seconds, args.clients)
                    samples.setdefault((name, " ".join(endpoint)), []).append(value)

    print(f"\n  {'endpoint':<14} {'bare Flask req/s':>17} {'Tengri req/s':>13} {'ratio':>7}  goal")
    for endpoint in ("GET /health", "POST /tick"):
        bare_rate = statistics.median(samples[("bare", endpoint)])
        tengri_rate = statistics.median(samples[("tengri", endpoint)])
        goal = "≥ 30%" if endpoint == "POST /tick" else ""
        ratio = tengri_rate / bare_rate
        print(f"  {endpoint:<14} {bare_rate:>17.0f} {tengri_rate:>13.0f} {ratio:>6.0%}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
