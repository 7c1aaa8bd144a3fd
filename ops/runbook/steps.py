"""Each runbook as a sequence of steps: verify, act, wait (bounded), check, announce. Every step logs one line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from ops.errors import JobError
from ops.runbook.http import Client
from ops.runbook.messages import Announcement, announce, public_message
from ops.runbook.vercel import VercelApi


class CloudWatchClient(Protocol):
    """The one CloudWatch call the failover check makes (boto3's client, or a stand-in's)."""

    def get_metric_statistics(self, **kwargs: Any) -> Any:
        """GetMetricStatistics."""


Log = Callable[[str], None]


def any_status(_: int) -> bool:
    """Accept every status: the smoke check judges it, not the client."""
    return True


Sleep = Callable[[float], None]

# Edge Config keys the app reads per request (components/feature_flags.py declares them from vibelog:operations).
MAINTENANCE_MODE = "MAINTENANCE_MODE"
DEGRADED_MODE = "DEGRADED_MODE"
AI_PROVIDER = "AI_PROVIDER"
SECURITY_MODE = "SECURITY_MODE"
SWITCHES: dict[str, tuple[Any, ...]] = {
    MAINTENANCE_MODE: (True, False),
    DEGRADED_MODE: (True, False),
    AI_PROVIDER: ("openai", "anthropic"),
    SECURITY_MODE: ("standard", "enhanced"),
}


@dataclass(frozen=True)
class Waiting:
    """How long a step polls: `attempts` tries `interval` seconds apart, never an unbounded loop."""

    attempts: int = 30
    """Tries before giving up."""
    interval: float = 10.0
    """Seconds between tries."""
    sleep: Sleep = time.sleep
    """Injected so a test's stand-in answers without waiting."""

    def until(self, what: str, done: Callable[[], bool]) -> int:
        """Poll `done` until it holds; the number of tries it took, or JobError naming `what` after the last."""
        for attempt in range(1, self.attempts + 1):
            if done():
                return attempt
            if attempt < self.attempts:
                self.sleep(self.interval)
        raise JobError(f"gave up waiting for {what} after {self.attempts} tries {self.interval:g} s apart")


@dataclass(frozen=True)
class SmokeResult:
    """The reference's smoke tests (tests/smoke.spec.ts) against the live URL, as HTTP checks."""

    failures: tuple[str, ...]
    """What failed, one line each; empty when every check passed."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.failures


def smoke(app: Client) -> SmokeResult:
    """Homepage names VibeLog; /api/health answers 200 with status healthy; /api/vibelogs answers below 500."""
    failures: list[str] = []
    home = app.request("GET", "/", ok=any_status)
    if home.status != 200 or "VibeLog" not in home.text:
        failures.append(f"homepage: {home.status}, {'names' if 'VibeLog' in home.text else 'does not name'} VibeLog")
    health = app.request("GET", "/api/health", ok=any_status)
    status = _field(health.body, "status")
    if health.status != 200 or status != "healthy":
        failures.append(f"/api/health: {health.status}, status {status!r}")
    vibelogs = app.request("GET", "/api/vibelogs", ok=any_status)
    if vibelogs.status >= 500:
        failures.append(f"/api/vibelogs: {vibelogs.status}")
    return SmokeResult(tuple(failures))


def _field(body: bytes, name: str) -> object:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get(name) if isinstance(data, dict) else None


@dataclass(frozen=True)
class Channels:
    """Where announcements go."""

    status_page: Client
    """The status page webhook (STATUS_PAGE_WEBHOOK)."""
    slack: Client
    """The team's Slack incoming webhook (SLACK_WEBHOOK)."""
    service: str
    """The service name the public templates speak of."""


def rollback(
    vercel: VercelApi,
    *,
    project_id: str,
    deployment_id: str,
    reason: str,
    app: Client,
    channels: Channels,
    waiting: Waiting,
    log: Log = print,
) -> SmokeResult:
    """scripts/rollback.sh: verify the target, roll back, wait until it serves, smoke-test, announce."""
    target = vercel.deployment(deployment_id)
    if target is None:
        raise JobError(f"deployment {deployment_id} does not exist")
    if target.project_id != project_id:
        raise JobError(f"deployment {deployment_id} belongs to another project, not {project_id}")
    if target.target != "production" or target.ready_state != "READY":
        raise JobError(
            f"deployment {deployment_id} is {target.ready_state} with target {target.target}: "
            "only a READY production deployment can serve production again"
        )
    log(f"1. target {deployment_id} exists: READY, production")
    current = vercel.production_deployment_id(project_id)
    if current == deployment_id:
        log(f"2. production already serves {deployment_id}; no rollback request sent")
    else:
        vercel.rollback(project_id, deployment_id, reason)
        log(f"2. rollback from {current} to {deployment_id} requested")
    tries = waiting.until(
        f"production to serve {deployment_id}",
        lambda: vercel.production_deployment_id(project_id) == deployment_id,
    )
    log(f"3. production serves {deployment_id} (after {tries} check(s))")
    health_tries = waiting.until(
        "/api/health to answer 200", lambda: app.request("GET", "/api/health", ok=any_status).status == 200
    )
    result = smoke(app)
    log(f"4. smoke tests {'passed' if result.ok else 'FAILED: ' + '; '.join(result.failures)} ({health_tries} wait(s))")
    verdict = "smoke tests passed" if result.ok else "smoke tests FAILING: " + "; ".join(result.failures)
    announce(
        channels.status_page,
        channels.slack,
        Announcement(
            "investigating",
            f"{public_message('investigating', channels.service)} Rolled back due to: {reason}",
            f"🔄 Production rolled back to {deployment_id}. Reason: {reason}. {verdict}.",
        ),
    )
    log("5-6. status page (investigating) and Slack told")
    return result


def set_switches(
    vercel: VercelApi, edge_config_id: str, switches: Mapping[str, Any], *, waiting: Waiting, log: Log = print
) -> None:
    """Upsert runbook switches in Edge Config and read each back until it holds (no redeploy: read per request)."""
    for key, value in switches.items():
        if key not in SWITCHES or value not in SWITCHES[key]:
            raise JobError(f"{key}={value!r} is not a runbook switch (known: {sorted(SWITCHES)})")
    vercel.set_items(edge_config_id, switches)
    for key, value in switches.items():

        def holds(key: str = key, value: Any = value) -> bool:
            return bool(vercel.item(edge_config_id, key) == value)

        waiting.until(f"Edge Config {key} to read {value!r}", holds)
        log(f"Edge Config {key} = {value!r}")


HealthState = Literal["healthy", "unhealthy"]


def health_check_state(cloudwatch: CloudWatchClient, health_check_id: str, *, minutes: int = 3) -> HealthState | None:
    """The health check's state as Route 53 decides it (AWS/Route53 HealthCheckStatus, 1 healthy, 0 unhealthy).

    The metric, not GetHealthCheckStatus: it is the state after inversion (forceFailover inverts the HTTPS check)
    and it exists for CALCULATED checks, which GetHealthCheckStatus does not report. None without data points.
    """
    end = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": health_check_id}],
        StartTime=end - timedelta(minutes=minutes),
        EndTime=end,
        Period=60,
        Statistics=["Minimum"],
    )["Datapoints"]
    if not points:
        return None
    newest = max(points, key=lambda point: point["Timestamp"])
    return "healthy" if newest["Minimum"] >= 1 else "unhealthy"


def verify_failover(
    cloudwatch: CloudWatchClient,
    health_check_id: str,
    *,
    failed_over: bool,
    waiting: Waiting,
    log: Log = print,
) -> None:
    """Wait until the primary's health check reads unhealthy (failed over) or healthy (failed back)."""
    wanted: HealthState = "unhealthy" if failed_over else "healthy"
    tries = waiting.until(
        f"health check {health_check_id} to read {wanted}",
        lambda: health_check_state(cloudwatch, health_check_id) == wanted,
    )
    log(
        f"health check {health_check_id} reads {wanted} (after {tries} check(s)): traffic goes to the "
        f"{'secondary' if failed_over else 'primary'}"
    )


@dataclass(frozen=True)
class RestoreOutcome:
    """What the restore step reports back to the database-corruption sequence."""

    ok: bool
    """Whether the restore and its integrity checks passed."""
    lines: Sequence[str]
    """One line per check, for the log and the job summary."""
    switch_over: str | None = None
    """Set when the dump went into a new database beside the live one: what a person does next. Maintenance stays
    on, since the live database is still the one that failed."""


def database_corruption(
    vercel: VercelApi,
    edge_config_id: str,
    restore: Callable[[], RestoreOutcome],
    *,
    waiting: Waiting,
    log: Log = print,
) -> RestoreOutcome:
    """scripts/disaster-recovery.sh database_corruption: maintenance on, restore, integrity check, maintenance off.

    Maintenance stays on when the restore or a check fails: serving a database that failed its checks is the
    incident this runbook exists for.
    """
    set_switches(vercel, edge_config_id, {MAINTENANCE_MODE: True}, waiting=waiting, log=log)
    try:
        outcome = restore()
    except JobError as error:
        log(f"restore failed: {error}; maintenance mode stays on")
        raise
    for line in outcome.lines:
        log(line)
    if not outcome.ok:
        log("integrity checks failed; maintenance mode stays on")
        return outcome
    if outcome.switch_over is not None:
        log(f"maintenance mode stays on until the switch-over: {outcome.switch_over}")
        return outcome
    set_switches(vercel, edge_config_id, {MAINTENANCE_MODE: False}, waiting=waiting, log=log)
    return outcome
