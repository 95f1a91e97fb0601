"""The production WSGI server (waitress, several threads) around the app, and a background variant.

:func:`make_server` is the ``server_factory`` that :func:`tengri.services.serve.serve` takes;
:func:`background_server` runs any WSGI app on loopback in a thread, for integration tests and
benchmarks.

What waitress is told, and what is added to it (issue 18):

- **Body size** is waitress's ``max_request_body_size`` (``api.max_content_length``): a request
  that declares a longer body is answered 413 as soon as its headers are read, before any of the
  body; a chunked one once it passes the limit. Headers are limited to 32 KiB (431).
- **Request deadline.** waitress's ``channel_timeout`` restarts on every byte, so a client that
  sends one header line every few seconds would hold its connection for ever (slowloris).
  :class:`_DeadlineChannel` closes a connection whose request (headers and body) has not arrived
  within ``api.request_timeout`` seconds of its first byte, or of the connection's opening.
  Between requests a keep-alive connection may stay idle ``api.idle_timeout`` seconds.
- **Connections.** At most ``api.connection_limit`` are open at once (waitress's default is 100);
  further clients wait in the listen backlog. The event loop polls (``poll``, not ``select``,
  whose sets stop at 1024 descriptors).
- **Errors** that waitress answers itself (400, 413, 431, 501, 500) have the JSON error body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from tengri.api._app import create_app
from tengri.engine import SystemOrchestrator

__all__ = ["WaitressServer", "background_server", "make_server"]

WsgiApp = Callable[..., Any]

MAX_HEADER_BYTES = 32 * 1024

_WAITRESS_CODES = {
    400: "malformed_request",
    413: "payload_too_large",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}


class _JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's own error answers, as ``{"error": {"code", "message"}}``."""

    def execute(self) -> None:
        error = self.request.error
        status = int(error.code)
        if status == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            message = f"request body is larger than {limit} bytes (api.max_content_length)"
        elif status == 431:
            message = f"request headers are larger than {MAX_HEADER_BYTES} bytes"
        else:
            message = f"{error.reason}: {error.body}"
        body = json.dumps(
            {"error": {"code": _WAITRESS_CODES.get(status, "malformed_request"), "message": message}}
        ).encode()
        self.status = f"{status} {error.reason}"
        self.response_headers.extend(
            [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
        )
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _DeadlineChannel(HTTPChannel):  # type: ignore[misc]
    """A connection whose request must arrive whole within ``request_timeout`` seconds.

    The deadline runs from the request's first byte (or from the connection's opening, for its
    first request); it is checked whenever the event loop asks whether to read, at least once a
    second (``asyncore_loop_timeout``).
    """

    error_task_class = _JsonErrorTask
    request_timeout = 10.0
    will_close: bool  # waitress's flag: close once the output is flushed

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_began: float | None = self.creation_time

    def received(self, data: bytes) -> bool:
        if self.request is None and self.request_began is None:
            self.request_began = time.time()
        done = super().received(data)
        if self.request is None:  # every request read so far is whole
            self.request_began = None
        return bool(done)

    def readable(self) -> bool:
        began = self.request_began
        # Not while a request is being served: its answer would be cut (a pipelined next one waits).
        if (
            began is not None
            and not self.requests
            and time.time() - began > self.request_timeout
            and not self.will_close
        ):
            # Closed by handle_write, which the loop calls because will_close makes it writable.
            self.will_close = True
            return False
        return bool(super().readable())


class WaitressServer:
    """A waitress server: :meth:`run` serves until interrupted or :meth:`close` is called.

    Parameters
    ----------
    app
        The WSGI application.
    host, port
        Where to listen (port 0: an ephemeral port).
    threads
        Worker threads.
    max_body
        Largest request body in bytes; a longer one is refused before it is read.
    connection_limit, request_timeout, idle_timeout
        See the module docstring.
    """

    def __init__(
        self,
        app: WsgiApp,
        host: str,
        port: int,
        threads: int,
        *,
        max_body: int = 64 * 1024,
        connection_limit: int = 500,
        request_timeout: int = 10,
        idle_timeout: int = 30,
    ) -> None:
        adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            ident="tengri",
            clear_untrusted_proxy_headers=True,
            channel_timeout=idle_timeout,
            cleanup_interval=max(1, min(idle_timeout, 10)),
            connection_limit=connection_limit,
            max_request_body_size=max_body + 1,  # waitress refuses a body of this size or more
            max_request_header_size=MAX_HEADER_BYTES,
            asyncore_use_poll=True,
        )
        channel = type("TengriChannel", (_DeadlineChannel,), {"request_timeout": float(request_timeout)})
        server_class = type("TengriServer", (TcpWSGIServer,), {"channel_class": channel})
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(threads)
        self._server = server_class(app, {}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
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


def make_server(
    orchestrator: SystemOrchestrator,
    host: str,
    port: int,
    *,
    live: Callable[[], Mapping[str, Any]] | None = None,
) -> WaitressServer:
    """Build the app around ``orchestrator`` and a waitress server as the ``api`` section says.

    ``live`` is a live run's state, for the status page and ``/metrics`` (``tengri live --serve``).
    """
    api = orchestrator.config.api
    app: Flask = create_app(orchestrator.config, orchestrator, bind_host=host, live=live)
    return WaitressServer(
        app,
        host,
        port,
        api.threads,
        max_body=api.max_content_length,
        connection_limit=api.connection_limit,
        request_timeout=api.request_timeout,
        idle_timeout=api.idle_timeout,
    )


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
