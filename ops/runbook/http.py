"""A small JSON-over-HTTP client whose base URL tests point at a stand-in server; it never prints its token."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ops.errors import BadInputError, JobError

TIMEOUT_SECONDS = 10.0


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
        scheme, host = parts.scheme, parts.hostname or ""
        # Only https leaves the machine; plain http is allowed to the loopback stand-ins of the tests.
        if scheme != "https" and not (scheme == "http" and host in ("127.0.0.1", "localhost", "::1")):
            raise BadInputError(f"refusing {url}: only https (or http on loopback), not {scheme or 'a relative URL'}")
        # urllib sends no user-info (it would take the password for the host), and every error line names the host.
        if "@" in parts.netloc:
            raise BadInputError(f"refusing {url}: it holds a user or password (for {host}; send a token instead)")

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
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                response = Response(int(answer.status), answer.read())
        except urllib.error.HTTPError as error:
            response = Response(int(error.code), error.read())
        # ValueError: http.client's InvalidURL, whose text quotes the URL; HTTPException: an answer that is not HTTP,
        # or cut short (BadStatusLine, IncompleteRead), which is no OSError.
        except (OSError, ValueError, http.client.HTTPException) as error:
            raise JobError(f"{method} {self.describe(path)}: {type(error).__name__}") from None
        if not ok(response.status):
            raise JobError(f"{method} {self.describe(path)} answered {response.status}")
        return response

    def describe(self, path: str) -> str:
        """Host and path only: webhook URLs carry their secret in the path, so theirs is never shown."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.netloc.rpartition("@")[2]  # never the user-info, whatever __post_init__ let through
        return f"{host}{path}" if parts.path in ("", "/") else f"{host}/..."
