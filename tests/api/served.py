"""A real `tengri serve` subprocess for tests: started on a free port, ready when it prints its address."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN = "served-token-0d9c5f3a"
START_TIMEOUT = 120.0  # generous: the machine is shared; only a server that never starts fails
_LISTENING = re.compile(r"listening on http://([^ ]+):(\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running server: its port, data directory, and the output lines read so far."""

    proc: subprocess.Popen[str]
    port: int
    data_dir: Path
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection; returns status, headers and the raw body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        sent = dict(headers or {})
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        status, _headers, raw = self.call(method, path, body, **kwargs)
        return status, json.loads(raw)


def _pump(stream: Any, lines: list[str], ready: queue.Queue[str] | None) -> None:
    for line in stream:
        lines.append(line)
        if ready is not None and _LISTENING.search(line):
            ready.put(line)
            ready = None


@contextmanager
def serve(tmp_path: Path, **env: str) -> Iterator[Served]:
    """Run `tengri serve` with ``TENGRI_*`` variables ``env`` (on top of a clean environment)."""
    port = free_port()
    data_dir = tmp_path / "data"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TENGRI_")}
    environment.update({"TENGRI_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tengri", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(proc, port, data_dir)
    ready: queue.Queue[str] = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, served.stdout, ready), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, served.stderr, None), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        try:
            line = ready.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"server did not start: {''.join(served.stderr)[-2000:]}") from None
        match = _LISTENING.search(line)
        assert match is not None
        assert int(match.group(2)) == port
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pump in pumps:
            pump.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
