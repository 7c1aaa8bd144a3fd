"""Stand-in HTTP servers on 127.0.0.1 for the runbooks' tests: Vercel's API, a webhook recorder, the app."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "vercel-token-never-printed"


@dataclass
class World:
    """What the stand-ins know and what they were sent."""

    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    production: str = "dpl_bad"
    pending: str | None = None
    propagation_reads: int = 2
    """Project reads after a rollback request before production points at the target (Vercel takes a moment)."""
    items: dict[str, Any] = field(default_factory=dict)
    item_log: list[tuple[str, Any]] = field(default_factory=list)
    posts: list[tuple[str, Any]] = field(default_factory=list)
    rollbacks: list[tuple[str, str]] = field(default_factory=list)
    last_alias: dict[str, Any] | None = None
    """The project's lastAliasRequest: Vercel's record of the last rollback or promotion."""
    healthy: bool = True
    unauthorised: int = 0
    envs: list[dict[str, Any]] = field(default_factory=list)
    """The project's environment variables, each with its value (a `sensitive` one's is never returned)."""
    env_next_page: int | None = None
    """`pagination.next` of the variables' list (None: one page, as the endpoint answers today)."""
    value_reads: list[str] = field(default_factory=list)
    """The ids whose decrypted value was asked for."""


def _handler(world: World) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            return

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else None

        def _api(self) -> tuple[list[str], dict[str, list[str]]] | None:
            url = urlsplit(self.path)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}" or parse_qs(url.query).get("teamId") != [
                "team_1"
            ]:
                world.unauthorised += 1
                self._send(403, {"error": {"code": "forbidden"}})
                return None
            return url.path.strip("/").split("/"), parse_qs(url.query)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/":
                self._send(200, "<html><h1>VibeLog</h1></html>", "text/html")
            elif path == "/api/health":
                status = "healthy" if world.healthy else "unhealthy"
                self._send(200 if world.healthy else 503, {"status": status, "checks": []})
            elif path == "/api/vibelogs":
                self._send(200, [])
            elif (api := self._api()) is not None:
                self._api_get(*api)

        def _api_get(self, parts: list[str], query: dict[str, list[str]]) -> None:
            if parts[:2] == ["v6", "deployments"]:
                listed = sorted(world.deployments.values(), key=lambda d: -int(d.get("createdAt", 0)))
                self._send(
                    200,
                    {
                        "deployments": [
                            {"uid": d["id"], "created": d.get("createdAt", 0)}
                            for d in listed
                            if d["projectId"] == query["projectId"][0] and d["target"] == "production"
                        ]
                    },
                )
            elif parts[:2] == ["v13", "deployments"]:
                found = world.deployments.get(parts[2])
                self._send(200, found) if found else self._send(404, {"error": {"code": "not_found"}})
            elif parts[:2] == ["v9", "projects"]:
                if world.pending is not None:
                    world.propagation_reads -= 1
                    if world.propagation_reads <= 0:
                        world.production, world.pending = world.pending, None
                        if world.last_alias is not None:
                            world.last_alias["jobStatus"] = "succeeded"
                project = {"id": parts[2], "targets": {"production": {"id": world.production}}}
                self._send(200, {**project, "lastAliasRequest": world.last_alias})
            elif parts[:2] in (["v10", "projects"], ["v1", "projects"]) and parts[3:4] == ["env"]:
                self._env_get(parts)
            elif parts[:2] == ["v1", "edge-config"] and parts[3] == "item":
                key = parts[4]
                if key in world.items:
                    self._send(200, {"key": key, "value": world.items[key]})
                else:
                    self._send(404, {"error": {"code": "not_found"}})
            else:
                self._send(404, {})

        def _env_get(self, parts: list[str]) -> None:
            """The project's variables (v10, values left out), or one variable's value (v1, decrypted)."""
            if parts[0] == "v10":
                listed = [{k: v for k, v in e.items() if k != "value"} for e in world.envs]
                pagination = {"count": len(listed), "next": world.env_next_page, "prev": None}
                self._send(200, {"envs": listed, "pagination": pagination})
                return
            world.value_reads.append(parts[4])
            found = next((e for e in world.envs if e["id"] == parts[4]), None)
            if found is None:
                self._send(404, {"error": {"code": "not_found"}})
            elif found["type"] == "sensitive":
                self._send(200, {k: v for k, v in found.items() if k != "value"})
            else:
                self._send(200, {**found, "decrypted": True})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/hooks/"):
                world.posts.append((path, self._body()))
                self._send(200, "ok", "text/plain")
            elif (api := self._api()) is not None:
                parts, query = api
                if parts[:2] == ["v1", "projects"] and parts[3] == "rollback":
                    world.rollbacks.append((parts[4], query.get("description", [""])[0]))
                    world.pending = parts[4]
                    world.last_alias = {
                        "type": "rollback",
                        "fromDeploymentId": world.production,
                        "toDeploymentId": parts[4],
                        "jobStatus": "in-progress",
                    }
                    self._send(201, {})
                else:
                    self._send(404, {})

        def do_PATCH(self) -> None:
            if self._api() is not None:
                body = self._body()
                for item in body["items"]:
                    assert item["operation"] == "upsert"
                    world.items[item["key"]] = item["value"]
                    world.item_log.append((item["key"], item["value"]))
                self._send(200, {"status": "ok"})

    return Handler


@contextmanager
def stand_in(world: World) -> Iterator[str]:
    """One server playing Vercel's API, the webhooks (/hooks/...) and the app; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(world))
    # shutdown() waits for serve_forever to notice it, which it checks once per poll interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
