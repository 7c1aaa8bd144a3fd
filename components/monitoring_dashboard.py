"""One CloudWatch dashboard per monitored stack: the app's requests, the health checks, every alarm, the backups."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import app_metrics
from components.backup_vault import DATABASE_CLASSES
from settings import backup_metrics
from settings.stack import StackSettings

WIDTH, HEIGHT = 12, 6
"""Each widget's size in the dashboard's 24-column grid: two a row."""
DAY, WEEK = 86_400, 604_800


@dataclass(frozen=True)
class AppMetrics:
    """Where the app publishes its request metrics (components/app_metrics.py)."""

    namespace: str
    """Its CloudWatch namespace."""
    project_name: str
    """The Stack dimension's value."""


@dataclass(frozen=True)
class BackupMetrics:
    """Where the backup jobs publish theirs (settings/backup_metrics.py)."""

    region: str
    """The vault's region, where the jobs run and publish."""
    stack: str
    """The Stack dimension's value (the jobs' STACK)."""
    rto_minutes: int
    """The database's recovery time objective, drawn on the restore time."""


@dataclass(frozen=True)
class MonitoringDashboardArgs:
    """What one stack's dashboard shows; every part is something the stack declares."""

    name: str
    """The dashboard's name (unique in the account)."""
    account_id: str
    """The stack's account (in the alarms' ARNs)."""
    region: str
    """Where the app's metrics, the Route 53 health checks and the alarms live (us-east-1)."""
    app: AppMetrics | None
    """The app's request metrics, or None where the app publishes none."""
    health_checks: Sequence[tuple[str, pulumi.Input[str]]]
    """(label, id) of each Route 53 health check."""
    alarms: Sequence[pulumi.Input[str]]
    """The name of every CloudWatch alarm the stack declares (all in `region`)."""
    backups: BackupMetrics | None
    """The backup jobs' metrics, or None without backups."""

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        region: str,
        *,
        health_checks: Sequence[tuple[str, pulumi.Input[str]]],
        alarms: Sequence[pulumi.Input[str]],
    ) -> MonitoringDashboardArgs:
        """The args for the stack these settings describe; the health checks and alarms come from its components."""
        incident, backup = settings.incident, settings.backup
        return cls(
            name=dashboard_name(settings.app.project_name),
            account_id=settings.aws_account_id,
            region=region,
            app=None if incident is None else AppMetrics(incident.metrics_namespace, settings.app.project_name),
            health_checks=tuple(health_checks),
            alarms=tuple(alarms),
            backups=None
            if backup is None
            else BackupMetrics(backup.region, settings.environment, backup.recovery_objectives.database.rto_minutes),
        )


def dashboard_name(project_name: str) -> str:
    """Name of a stack's dashboard (unique in the account, as the project's name is in the team)."""
    return project_name


def alarm_arn(region: str, account_id: str, name: str) -> str:
    """A CloudWatch alarm's ARN, which AWS derives from its region, account and name."""
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


def dashboard_body(args: MonitoringDashboardArgs, health_check_ids: Sequence[str], alarm_names: Sequence[str]) -> str:
    """The dashboard's JSON (CloudWatch Dashboard Body Structure): keys sorted and compact, as the provider stores it
    (its StateFunc normalizes the JSON), so a second plan sees no change."""
    widgets: list[dict[str, Any]] = []

    def graph(title: str, region: str, metrics: list[list[Any]], **properties: Any) -> None:
        widgets.append(
            {
                "type": "metric",
                "properties": {"title": title, "region": region, "view": "timeSeries", "metrics": metrics} | properties,
            }
        )

    if args.app is not None:
        app = [args.app.namespace]
        stack = [app_metrics.STACK_DIMENSION, args.app.project_name]
        graph(
            "Requests and error rate",
            args.region,
            [
                [*app, app_metrics.SERVER_ERROR, *stack, {"stat": "SampleCount", "label": "requests"}],
                [*app, app_metrics.SERVER_ERROR, *stack, {"stat": "Average", "label": "error rate", "yAxis": "right"}],
            ],
        )
        graph(
            "Response time (ms)",
            args.region,
            [
                [*app, app_metrics.LATENCY, *stack, {"stat": "p50", "label": "p50"}],
                [*app, app_metrics.LATENCY, *stack, {"stat": "p95", "label": "p95"}],
                [*app, app_metrics.SLOW_REQUEST, *stack, {"stat": "Average", "label": "share over the failover p95"}],
            ],
        )
        graph(
            "Capacity in use (%)",
            args.region,
            [
                [
                    *app,
                    app_metrics.CONNECTION_POOL_UTILIZATION,
                    *stack,
                    {"stat": "Average", "label": "connection pool"},
                ],
                [*app, app_metrics.STORAGE_UTILIZATION, *stack, {"stat": "Maximum", "label": "storage"}],
            ],
            yAxis={"left": {"min": 0, "max": 100}},
        )
    if health_check_ids:
        graph(
            "Route 53 health checks (1 = healthy)",
            # HealthCheckStatus exists only in us-east-1.
            "us-east-1",
            [
                ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", check_id, {"stat": "Minimum", "label": label}]
                for (label, _), check_id in zip(args.health_checks, health_check_ids, strict=True)
            ],
            yAxis={"left": {"min": 0, "max": 1}},
        )
    if alarm_names:
        widgets.append(
            {
                "type": "alarm",
                "properties": {
                    "title": "Alarms",
                    "alarms": [alarm_arn(args.region, args.account_id, name) for name in sorted(alarm_names)],
                },
            }
        )
    if args.backups is not None:
        jobs = [backup_metrics.NAMESPACE]
        stack = [backup_metrics.STACK_DIMENSION, args.backups.stack]
        graph(
            "Database dumps written per day",
            args.backups.region,
            [
                [
                    *jobs,
                    backup_metrics.DUMP_WRITTEN,
                    *stack,
                    backup_metrics.SCHEDULE_DIMENSION,
                    schedule,
                    {"stat": "Sum", "period": DAY, "label": schedule},
                ]
                for schedule in DATABASE_CLASSES
            ],
            view="bar",
        )
        graph(
            "Weekly restore test",
            args.backups.region,
            [
                [
                    *jobs,
                    backup_metrics.RESTORE_TEST_PASSED,
                    *stack,
                    {"stat": "Minimum", "period": WEEK, "label": "passed"},
                ],
                [
                    *jobs,
                    backup_metrics.BACKUP_AGE_HOURS,
                    *stack,
                    {"stat": "Maximum", "period": WEEK, "label": "backup age (h)"},
                ],
                [
                    *jobs,
                    backup_metrics.RESTORE_MINUTES,
                    *stack,
                    {"stat": "Maximum", "period": WEEK, "label": "restore (min)"},
                ],
            ],
            annotations={"horizontal": [{"label": "RTO (min)", "value": args.backups.rto_minutes}]},
        )
    for index, widget in enumerate(widgets):
        widget |= {"x": (index % 2) * WIDTH, "y": (index // 2) * HEIGHT, "width": WIDTH, "height": HEIGHT}
    return json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))


class MonitoringDashboard(pulumi.ComponentResource):
    """The stack's CloudWatch dashboard; what it shows is derived from what the stack declares."""

    dashboard_name: pulumi.Output[str]
    """The dashboard's name."""

    def __init__(self, name: str, args: MonitoringDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:monitoring:MonitoringDashboard", name, None, opts)
        ids = [check_id for _, check_id in args.health_checks]
        body = pulumi.Output.all(pulumi.Output.all(*ids), pulumi.Output.all(*args.alarms)).apply(
            lambda parts: dashboard_body(args, parts[0], parts[1])
        )
        # hashicorp/terraform-provider-aws internal/service/cloudwatch/dashboard.go: dashboard_name ForceNew; Create
        # and Update are one PutDashboard, which overwrites a dashboard of that name.
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = self.dashboard.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name})
