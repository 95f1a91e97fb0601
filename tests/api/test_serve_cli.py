"""`tengri serve` as a user runs it: the seed's curl against /health, graceful SIGTERM, refusals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tengri() -> str:
    return str(Path(sys.executable).parent / "tengri")


@pytest.mark.slow
def test_serve_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "TENGRI_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [_tengri(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:  # bounded wait for the server to come up
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    body = json.loads(response.read())
            except OSError:
                time.sleep(0.2)
        assert body is not None, "server did not come up"
        assert body["status"] == "healthy"
        # The seed's own check.
        curl = subprocess.run(
            ["curl", "-s", f"http://localhost:{port}/health"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if curl.returncode != 127:
            assert json.loads(curl.stdout)["status"] == "healthy"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # It says where it listens when it starts, and that it stopped (issues 18 and 19).
    lines = out.splitlines()
    assert lines[0].startswith(f"tengri serve: listening on http://127.0.0.1:{port} ")
    assert lines[-1].startswith("tengri serve: stopped")
    assert (tmp_path / "data" / "tengri.db").is_file()


def test_non_loopback_without_token_refuses(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENGRI_")}
    env["TENGRI_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [_tengri(), "serve", "--host", "0.0.0.0", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TENGRI_API_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
