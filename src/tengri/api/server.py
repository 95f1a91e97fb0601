"""The production WSGI server (waitress, several threads) around the app, and a background variant.

:func:`make_server` is the ``server_factory`` that :func:`tengri.services.serve.serve` takes;
:func:`background_server` runs any WSGI app on loopback in a thread, for integration tests and
benchmarks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import waitress
from flask import Flask
from waitress import wasyncore

from tengri.api._app import create_app
from tengri.engine import SystemOrchestrator

__all__ = ["WaitressServer", "background_server", "make_server"]

WsgiApp = Callable[..., Any]


class WaitressServer:
    """A waitress server: :meth:`run` serves until interrupted or :meth:`close` is called."""

    def __init__(self, app: WsgiApp, host: str, port: int, threads: int) -> None:
        self._server = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="tengri",
            clear_untrusted_proxy_headers=True,
            channel_timeout=30,
        )
        self.host = host
        self._running = threading.Event()
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.effective_port)

    def run(self) -> None:
        """Serve until interrupted or closed (waitress drains its workers on KeyboardInterrupt)."""
        self._running.set()
        try:
            self._server.run()
        finally:
            self._running.clear()
            self._stopped.set()

    def close(self) -> None:
        """Stop listening, close connections and stop the worker threads (from any thread)."""
        sockets = self._server._map
        if self._running.is_set():
            # The event loop owns its sockets: ask it to close them, which ends its loop.
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
            self._stopped.wait(timeout=10.0)
        else:
            wasyncore.close_all(sockets)
        self._server.task_dispatcher.shutdown()


def make_server(orchestrator: SystemOrchestrator, host: str, port: int) -> WaitressServer:
    """Build the app around ``orchestrator`` and a waitress server with ``api.threads`` threads."""
    app: Flask = create_app(orchestrator.config, orchestrator)
    return WaitressServer(app, host, port, orchestrator.config.api.threads)


@contextmanager
def background_server(app: WsgiApp, *, threads: int = 8, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on an ephemeral loopback port in a thread; yield its base URL, then stop it."""
    server = WaitressServer(app, host, 0, threads)
    thread = threading.Thread(target=server.run, name="tengri-waitress", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.port}"
    finally:
        server.close()
        thread.join(timeout=10.0)
