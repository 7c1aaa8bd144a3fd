"""The Vercel REST API calls the jobs make: a deployment, the project's production target, rollback, Edge Config, and
the project's environment variables (the configuration backup)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops.errors import JobError
from ops.runbook.http import Client

API_URL = "https://api.vercel.com"
# A listing paged further than this is not a project's environment.


@dataclass(frozen=True)
class Deployment:
    """One deployment as GET /v13/deployments/{id} describes it."""

    id: str
    """Its id (dpl_...)."""
    project_id: str
    """The project it belongs to."""
    ready_state: str
    """READY, ERROR, BUILDING, ..."""
    target: str | None
    """production for a production deployment (only those can be rolled back to)."""


@dataclass(frozen=True)
class VercelApi:
    """Calls on behalf of the team the client's `teamId` names."""

    client: Client
    """Bearer-token client of api.vercel.com (a stand-in in tests)."""

    def deployment(self, deployment_id: str) -> Deployment | None:
        """The deployment, or None when Vercel does not know it."""
        answer = self.client.request(
            "GET", f"/v13/deployments/{_segment(deployment_id)}", ok=lambda s: s == 404 or 200 <= s < 300
        )
        if answer.status == 404:
            return None
        data = answer.json()
        return Deployment(
            id=str(data["id"]),
            project_id=str(data.get("projectId", "")),
            ready_state=str(data.get("readyState", "")),
            target=data.get("target"),
        )

    def production_deployment_id(self, project_id: str) -> str | None:
        """The deployment the project's production domains point at (GET /v9/projects/{id}: targets.production)."""
        production = (self._project(project_id).get("targets") or {}).get("production") or {}
        return str(production["id"]) if "id" in production else None

    def previous_production_deployment(self, project_id: str) -> str | None:
        """What an automatic rollback goes to: the newest READY production deployment older than the one serving.

        While production is rolled back (the project's last alias request is a rollback to the deployment serving),
        it is the one serving: a second rollback for the same incident changes nothing instead of walking one more
        deployment back (going further back takes a deployment named by a person). GET /v9/projects/{id}
        (`lastAliasRequest`: type, toDeploymentId), then GET /v6/deployments (newest first; each with `uid` and
        `created`, in milliseconds).
        """
        project = self._project(project_id)
        current = ((project.get("targets") or {}).get("production") or {}).get("id")
        last = project.get("lastAliasRequest") or {}
        if current is not None and last.get("type") == "rollback" and last.get("toDeploymentId") == current:
            return str(current)
        data: Any = self.client.request(
            "GET",
            "/v6/deployments",
            query={"projectId": project_id, "target": "production", "state": "READY", "limit": "20"},
        ).json()
        listed = [(str(d["uid"]), int(d["created"])) for d in data.get("deployments", [])]
        serving = next((created for uid, created in listed if uid == current), None)
        if serving is None:
            return None
        older = [(created, uid) for uid, created in listed if created < serving]
        return max(older)[1] if older else None

    def _project(self, project_id: str) -> dict[str, Any]:
        data: Any = self.client.request("GET", f"/v9/projects/{_segment(project_id)}").json()
        return data if isinstance(data, dict) else {}

    def rollback(self, project_id: str, deployment_id: str, reason: str) -> None:
        """Point every production domain at `deployment_id` (POST /v1/projects/{id}/rollback/{deploymentId}).

        vercel.com/docs/rest-api/projects/points-all-production-domains-for-a-project-to-the-given-deploy: 201 on
        success; `description` is the reason shown in the dashboard.
        """
        self.client.request(
            "POST",
            f"/v1/projects/{_segment(project_id)}/rollback/{_segment(deployment_id)}",
            query={"description": reason},
        )

    def set_items(self, edge_config_id: str, items: Mapping[str, Any]) -> None:
        """Upsert Edge Config items (PATCH /v1/edge-config/{id}/items); the app reads them on its next request."""
        self.client.request(
            "PATCH",
            f"/v1/edge-config/{_segment(edge_config_id)}/items",
            body={"items": [{"operation": "upsert", "key": key, "value": value} for key, value in items.items()]},
        )

    def item(self, edge_config_id: str, key: str) -> Any:
        """The value of one Edge Config item (GET /v1/edge-config/{id}/item/{key})."""
        data: Any = self.client.request(
            "GET", f"/v1/edge-config/{_segment(edge_config_id)}/item/{_segment(key)}"
        ).json()
        return data.get("value")

    def environment_variables(self, project_id: str) -> list[dict[str, Any]]:
        """The project's environment variables (GET /v10/projects/{id}/env), each with its id, key, target, type,
        gitBranch and updatedAt, in one request as the Vercel provider reads them (vercel/terraform-provider-vercel
        client/environment_variables_get.go getEnvironmentVariables). The endpoint documents no paging; a response
        that names a next page, or lists one id twice, is refused rather than kept as a partial inventory."""
        data: Any = self.client.request("GET", f"/v10/projects/{_segment(project_id)}/env").json()
        envs = data.get("envs") if isinstance(data, dict) else None
        if not isinstance(envs, list):
            raise JobError(f"the Vercel API listed no `envs` for project {project_id}")
        pagination = data.get("pagination")
        if isinstance(pagination, dict) and pagination.get("next") is not None:
            raise JobError(
                f"the Vercel API listed the variables of project {project_id} in pages, which its list endpoint "
                "does not document; this job reads one page and keeps no partial inventory"
            )
        found = [item for item in envs if isinstance(item, dict)]
        ids = [item.get("id") for item in found]
        if len(ids) != len(set(map(str, ids))):
            raise JobError(f"the Vercel API listed one variable of project {project_id} twice")
        return found

    def environment_value(self, project_id: str, env_id: str) -> str | None:
        """One variable's value, decrypted (GET /v1/projects/{id}/env/{envId}); None when the API returns none (a
        `sensitive` variable's value is never returned). The caller keeps it out of every output."""
        data: Any = self.client.request("GET", f"/v1/projects/{_segment(project_id)}/env/{_segment(env_id)}").json()
        value = data.get("value") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None


def _segment(value: str) -> str:
    """One path segment; ids never contain a slash, and a value that tries to is refused."""
    if not value or "/" in value:
        raise JobError(f"not an id: {value!r}")
    return urllib.parse.quote(value, safe="")
