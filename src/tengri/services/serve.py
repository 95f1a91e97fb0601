"""The serve use case: start the orchestrator, run a WSGI server, shut both down on SIGINT or SIGTERM.

The server itself comes from the caller (``server_factory``): the services layer imports neither
Flask nor waitress, so the CLI passes :func:`tengri.api.make_server`::

    from tengri.api import make_server
    from tengri.services.serve import serve

    serve(config, host=host, port=port, server_factory=make_server)

Security rules (issues 8 and 18): the bind address defaults to 127.0.0.1 (``api.host``); a bind
address that is not loopback needs a bearer token (``api.token``, from the config file or
``TENGRI_API_TOKEN``), else :func:`serve` refuses to start. With a token, reads need it too
(:func:`reads_protected`). Debug mode is never on.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

from tengri.config import TengriConfig
from tengri.engine import SystemOrchestrator
from tengri.errors import ConfigError, TengriError

__all__ = [
    "ServerFactory",
    "WsgiServer",
    "check_bind",
    "is_loopback",
    "reads_protected",
    "reset_symbol_time",
    "resolve_token",
    "serve",
]

log = logging.getLogger(__name__)


class WsgiServer(Protocol):
    """What :func:`serve` needs of a server: its port, run until stopped, and close."""

    @property
    def port(self) -> int:
        """The port it listens on (the real one when 0 was asked for)."""

    def run(self) -> None:
        """Serve until interrupted (KeyboardInterrupt) or closed."""

    def close(self) -> None:
        """Stop listening and release the worker threads."""


ServerFactory = Callable[[SystemOrchestrator, str, int], WsgiServer]


def resolve_token(config: TengriConfig) -> str | None:
    """Return the configured bearer token, or None when mutating endpoints are open.

    Raises
    ------
    ConfigError
        If a token is configured but empty or blank (an empty token would let anyone in).
    """
    secret = config.api.token
    if secret is None:
        return None
    token = secret.get_secret_value()
    if not token.strip():
        raise ConfigError("api.token is set but empty; set a real token or unset it")
    return token.strip()


def reads_protected(config: TengriConfig) -> bool:
    """Whether reads need the token: ``api.protect_reads``, by default whenever a token is set.

    A non-loopback bind needs a token (:func:`check_bind`), so it protects reads by default too.
    """
    if config.api.protect_reads is not None:
        return config.api.protect_reads
    return config.api.token is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token.

    Raises
    ------
    ConfigError
        With a message that says how to fix it.
    """
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host}: a non-loopback address needs a bearer token "
            "(set TENGRI_API_TOKEN or api.token in the config file), or bind 127.0.0.1"
        )


def serve(
    config: TengriConfig | None = None,
    host: str | None = None,
    port: int | None = None,
    *,
    server_factory: ServerFactory,
    orchestrator: SystemOrchestrator | None = None,
    handle_signals: bool = True,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve the REST gateway until SIGINT or SIGTERM, then shut down gracefully.

    Parameters
    ----------
    config
        The configuration (default: :meth:`TengriConfig.load`).
    host, port
        Bind address and port; default ``api.host`` (127.0.0.1) and ``api.port`` (5000).
    server_factory
        Builds the WSGI server for an orchestrator, host and port (:func:`tengri.api.make_server`).
    orchestrator
        The orchestrator to serve (default: a new one from ``config``).
    handle_signals
        Install SIGINT/SIGTERM handlers (only possible from the main thread).
    on_ready
        Called with the host and port once the server is listening.

    The orchestrator is started before the server listens. On SIGINT or SIGTERM the server
    stops accepting, lets the requests in flight finish and closes; then the orchestrator shuts
    down (it writes its state; open executions stay open in the store, which persists them).

    Raises
    ------
    ConfigError
        If the bind address is not loopback and no token is configured, or the token is empty.
    """
    cfg = config or (orchestrator.config if orchestrator is not None else TengriConfig.load())
    bind_host = host or cfg.api.host
    bind_port = cfg.api.port if port is None else port
    check_bind(bind_host, resolve_token(cfg))
    orch = orchestrator or SystemOrchestrator(cfg)
    orch.start()
    previous: dict[signal.Signals, Any] = {}
    try:
        server = server_factory(orch, bind_host, bind_port)
        if handle_signals and threading.current_thread() is threading.main_thread():

            def interrupt(signum: int, _frame: FrameType | None) -> None:
                log.info("signal %d: stopping the server", signum)
                raise KeyboardInterrupt

            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, interrupt)
        log.info("serving on http://%s:%d (debug off)", bind_host, bind_port)
        if on_ready is not None:
            on_ready(bind_host, server.port)
        try:
            server.run()
        except KeyboardInterrupt:
            log.info("interrupted")
        finally:
            server.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        orch.shutdown()
        log.info("orchestrator shut down; open executions persisted in %s", orch.store.url)


def reset_symbol_time(
    base_url: str, symbol: str, *, token: str | None, timeout: float = 30.0
) -> dict[str, Any]:
    """Ask the server at ``base_url`` to forget ``symbol``'s last tick time; return its answer.

    Raises
    ------
    TengriError
        With the server's error message, or why it could not be reached.
    """
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token.strip()}"
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/tick/reset-time",
        data=json.dumps({"symbol": symbol}).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise TengriError(f"the server refused ({exc.code}): {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TengriError(f"cannot reach {base_url}: {exc}") from None
