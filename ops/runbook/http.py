"""A small JSON-over-HTTP client whose base URL tests point at a stand-in server; it never prints its token."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ops.errors import BadInputError, JobError

TIMEOUT_SECONDS = 10.0
"""The longest wait for one step of a request (connecting, one read): a server that accepts and never answers."""
TOTAL_SECONDS = 30.0
"""The longest a whole request may take: a server that answers a byte every few seconds never trips the step's
timeout, and a job (or the failure report a cancelled job sends, holding back SIGTERM) would wait on it for ever."""


@dataclass(frozen=True)
class Response:
    """What a request answered: its status, headers and body."""

    status: int
    """HTTP status code."""
    body: bytes
    """The raw body."""

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Client:
    """Requests to one base URL (https in production, a loopback stand-in in tests), with an optional bearer token."""

    base_url: str
    """Scheme, host and optional path prefix every request path is appended to."""
    token: str = field(default="", repr=False)
    """Bearer token; kept out of repr, errors and logs."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters every request carries (Vercel's teamId)."""
    variable: str = ""
    """The environment variable the URL comes from, named when the URL is refused (its value never is)."""

    def __post_init__(self) -> None:
        # The URL comes from a variable, often a secret one: refusing it never shows it, nor the parser's words on it.
        url = f"${self.variable}" if self.variable else "the URL"
        try:
            parts = urllib.parse.urlsplit(self.base_url)
            _ = parts.port  # a port that is not a number from 0 to 65535 is refused here, not mid-runbook
        except ValueError:
            raise BadInputError(
                f"refusing {url}: malformed (a bracketed host or a port that is not a number)"
            ) from None
        scheme = parts.scheme
        if not _leaves_safely(parts):
            raise BadInputError(f"refusing {url}: only https (or http on loopback), not {scheme or 'a relative URL'}")
        # urllib sends no user-info (it would take the password for the host), and every error line names the host.
        if "@" in parts.netloc:
            raise BadInputError(
                f"refusing {url}: it holds a user or password (for {parts.hostname or ''}; send a token instead)"
            )

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        """The full URL of `path` with the client's and the call's query parameters."""
        params = {**self.query, **(query or {})}
        suffix = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.base_url.rstrip("/") + path + suffix

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        ok: Callable[[int], bool] = lambda status: 200 <= status < 300,
    ) -> Response:
        """Send one request; JobError (method, path and status, never the token or body) unless `ok(status)`."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url(path, query), data=data, headers=headers, method=method)  # noqa: S310 - scheme checked in __post_init__
        failure = ""
        with _Deadline(TOTAL_SECONDS) as deadline:
            try:
                with deadline.opener.open(request, timeout=TIMEOUT_SECONDS) as answer:
                    response = Response(int(answer.status), answer.read())
            except urllib.error.HTTPError as error:
                try:
                    body = error.read()
                except (OSError, http.client.HTTPException):  # its body cut short: the status is the answer
                    body = b""
                response = Response(int(error.code), body)
            # ValueError: http.client's InvalidURL, whose text quotes the URL; HTTPException: an answer that is not
            # HTTP, or cut short (BadStatusLine, IncompleteRead), which is no OSError.
            except (OSError, ValueError, http.client.HTTPException) as error:
                failure = type(error).__name__
        # Checked whatever happened: headers cut short by the deadline read as complete ones, and a body without a
        # length as one that ended.
        if deadline.expired:
            raise JobError(f"{method} {self.describe(path)}: no whole answer within {TOTAL_SECONDS:g} s")
        if failure:
            raise JobError(f"{method} {self.describe(path)}: {failure}")
        if not ok(response.status):
            raise JobError(f"{method} {self.describe(path)} answered {response.status}")
        return response

    def describe(self, path: str) -> str:
        """Host and path only: webhook URLs carry their secret in the path, so theirs is never shown."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.netloc.rpartition("@")[2]  # never the user-info, whatever __post_init__ let through
        return f"{host}{path}" if parts.path in ("", "/") else f"{host}/..."


def _leaves_safely(parts: urllib.parse.SplitResult) -> bool:
    """Only https leaves the machine; plain http is allowed to the loopback stand-ins of the tests."""
    host = parts.hostname or ""
    return parts.scheme == "https" or (parts.scheme == "http" and host in ("127.0.0.1", "localhost", "::1"))


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, held to the client's rule: one to plain http beyond loopback is not followed (its 3xx is
    the answer), and the token is not sent on to another host (urllib would resend every header, Authorization
    included, wherever the redirect points)."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        before, after = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(new.full_url)
        try:
            if not _leaves_safely(after):
                return None
            if (before.scheme, before.hostname, before.port) != (after.scheme, after.hostname, after.port):
                new.remove_header("Authorization")
        except ValueError:  # a port that is no number
            return None
        return new


class _Deadline:
    """One request's deadline: when it passes, the request's connections are shut down (through duplicates of their
    descriptors, closed on exit), which ends whatever read or write is waiting on them (the TLS handshake's, the
    headers', the body's), over http and https alike."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        watched = self._watched

        def timed(base: type[http.client.HTTPConnection]) -> Callable[..., http.client.HTTPConnection]:
            def connection(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
                made = base(*args, **kwargs)
                create = made._create_connection  # type: ignore[attr-defined]  # socket.create_connection, per instance
                made._create_connection = lambda *a, **k: watched(create(*a, **k))  # type: ignore[attr-defined]
                return made

            return connection

        class Plain(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(timed(http.client.HTTPConnection), req)

        class Secure(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                context = getattr(self, "_context", None)
                return self.do_open(timed(http.client.HTTPSConnection), req, context=context)

        self.opener = urllib.request.build_opener(Plain, Secure, _Redirects)
        """urllib's opener (proxies from the environment included, redirects held to the client's rule) whose
        connections the deadline watches."""

    def _watched(self, sock: socket.socket) -> socket.socket:
        # A duplicate of the connection's descriptor, shut down when the deadline passes: https wraps `sock` in TLS by
        # detaching it (ssl.SSLSocket._create), after which shutting `sock` itself ends nothing.
        try:
            watch = sock.dup()
        except OSError:  # no descriptor left: the connection fails here, and is not left open behind
            sock.close()
            raise
        with self._lock:
            self._sockets.append(watch)
            if self.expired:
                _shut(self._sockets[-1])
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
