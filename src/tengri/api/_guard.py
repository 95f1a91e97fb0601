"""The request guard: which requests may reach a view at all (host, origin, media type, the token).

Checked in this order, before a body is parsed (issue 18):

1. **Host.** The ``Host`` header must name the server: a loopback name, the bind address, or one
   of ``api.allowed_hosts`` (``"*"`` accepts any). This closes DNS rebinding, where a foreign
   name resolves to 127.0.0.1 and a browser then reads the answers as same-origin. 403.
2. **Origin** (writes). A browser's cross-site request carries an ``Origin`` that is not the
   server's own; it is refused unless listed in ``api.allowed_origins``. 403.
3. **The token.** Writes always need it when one is configured; reads too when reads are
   protected (``api.protect_reads``). Wrong tokens are counted per client address: past
   ``api.auth_failures_per_minute`` in a sliding minute, that address gets 429 (whatever it
   sends) until the minute has passed. Every failure is logged with the address, never the token.
   A request without any ``Authorization`` header is not counted: a browser sends none cross-site,
   so a foreign page cannot lock the operator out.
4. **Media type** (writes). The body must be declared ``application/json``: a form, ``text/plain``
   or XML body is never read as JSON, and a JSON write cannot be a browser's "simple" request
   (it needs a CORS preflight, which this server never grants). 415.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from flask import request

from tengri.errors import AuthenticationError, ForbiddenError, RateLimitedError, UnsupportedMediaTypeError

__all__ = ["LOOPBACK_NAMES", "FailureLimiter", "Guard"]

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
_WINDOW = 60.0
_TRACKED_ADDRESSES = 10_000


def _host_name(value: str) -> str:
    """``example.org:5000`` → ``example.org``; ``[::1]:5000`` → ``::1``; lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class FailureLimiter:
    """Failed authentications per client address in a sliding window, with a bounded memory.

    Parameters
    ----------
    limit
        Failures per window an address may have; the next attempt is refused until the oldest
        failure leaves the window.
    clock
        Monotonic seconds (a fake in tests).
    """

    def __init__(
        self, limit: int, clock: Callable[[], float] = time.monotonic, window: float = _WINDOW
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if failures is None or len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def fail(self, address: str) -> int:
        """Count a failure of ``address``; return its failures in the window."""
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now) or deque()
            failures.append(now)
            self._failures[address] = failures
            self._failures.move_to_end(address)
            while len(self._failures) > _TRACKED_ADDRESSES:
                self._failures.popitem(last=False)
            return len(failures)


class Guard:
    """The checks of the module docstring, for one app.

    Parameters
    ----------
    token
        The bearer token; ``None`` leaves every route open (loopback only, see ``serve``).
    protect_reads
        Whether reads need the token too (``/health`` answers its status without it).
    bind_host
        The address the server listens on; a specific one is an allowed ``Host`` name.
    allowed_hosts, allowed_origins
        ``api.allowed_hosts`` and ``api.allowed_origins``.
    limiter
        Counts wrong tokens per client address.
    """

    def __init__(
        self,
        *,
        token: str | None,
        protect_reads: bool,
        bind_host: str,
        allowed_hosts: Iterable[str],
        allowed_origins: Iterable[str],
        limiter: FailureLimiter,
    ) -> None:
        self._token = token.encode() if token is not None else None
        self.protect_reads = protect_reads and token is not None
        hosts = {h.strip().lower() for h in allowed_hosts}
        self._any_host = "*" in hosts
        bind = _host_name(bind_host)
        self._hosts = frozenset(LOOPBACK_NAMES | {_host_name(h) for h in hosts} | ({bind} - _WILDCARD_BINDS))
        self._origins = frozenset(o.strip().lower().rstrip("/") for o in allowed_origins)
        self.limiter = limiter

    @property
    def has_token(self) -> bool:
        """Whether a token is configured (mutating routes need it)."""
        return self._token is not None

    def check_host(self) -> None:
        """Refuse a ``Host`` header that does not name this server (DNS rebinding)."""
        if self._any_host:
            return
        host = _host_name(request.host)
        if host not in self._hosts:
            raise ForbiddenError(
                f"host {host[:100]!r} is not served here; add it to api.allowed_hosts if it names this server"
            )

    def check_origin(self) -> None:
        """Refuse a write whose ``Origin`` is another site's."""
        origin = request.headers.get("Origin")
        if origin is None:
            return
        origin = origin.strip().lower().rstrip("/")
        if origin in self._origins:
            return
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc == request.host.lower():
            return
        raise ForbiddenError(
            f"cross-site write from origin {origin[:100]!r} refused; "
            "list it in api.allowed_origins to allow it"
        )

    def check_media_type(self) -> None:
        """Refuse a write whose body is not declared ``application/json``."""
        if request.mimetype != "application/json":
            shown = request.mimetype or "none"
            raise UnsupportedMediaTypeError(
                f"a write needs 'Content-Type: application/json', got {shown[:100]!r}"
            )

    def presents_token(self) -> bool:
        """Whether the request carries an ``Authorization`` header."""
        return "Authorization" in request.headers

    def authorise(self) -> None:
        """Raise unless the request carries the token (constant-time), counting wrong ones per address.

        Raises
        ------
        RateLimitedError
            When the client address has had too many wrong tokens in the last minute.
        AuthenticationError
            When the token is missing or wrong.
        """
        if self._token is None:
            return
        header = request.headers.get("Authorization")
        if header is None:
            raise AuthenticationError("this endpoint needs 'Authorization: Bearer <token>'")
        address = request.remote_addr or "unknown"
        wait = self.limiter.retry_after(address)
        if wait:
            raise RateLimitedError(
                f"too many failed authentications from this address; retry in {wait} s", retry_after=wait
            )
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token):
            return
        failures = self.limiter.fail(address)
        log.warning(
            "authentication failed from %s on %s %s (%d in the last minute%s)",
            address,
            request.method,
            request.path[:200],
            failures,
            "; further attempts refused for a while" if failures >= self.limiter.limit else "",
        )
        raise AuthenticationError("wrong bearer token")
