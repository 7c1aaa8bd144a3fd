"""The monitored stacks' CloudWatch dashboards: each widget names a metric or an alarm its stack declares, and every
alarm, health check and published metric the stack declares is on it."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.monitoring_dashboard import alarm_arn
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, run_program
from policy.type_tokens import DASHBOARD, HEALTH_CHECK, ROLE_POLICY
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import METRIC_ALARM as ALARM
from settings import backup_metrics
from tests.helpers.iam_eval import allowed, documents
from tests.helpers.stacks import settings_of, stack_config

STACKS = ("development", "staging", "production")
MONITORED = ("staging", "production")


@functools.cache
def applied(stack: str) -> Plan:
    """The stack as a mock `up` records it: health checks have ids, so the dashboard's body is known."""
    return run_program(stack, stack_config(stack), mocks=VibelogMocks(preview=False))


def body(plan: Plan) -> dict[str, Any]:
    [dashboard] = plan.by_type(DASHBOARD)
    parsed: dict[str, Any] = json.loads(dashboard.inputs["dashboardBody"])
    return parsed


def region_of(plan: Plan, reg: Registration) -> str:
    region: str = plan.by_urn()[reg.provider].inputs["region"]
    return region


def metric_rows(widget: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(namespace, name, dimensions) of each metric of a metric widget."""
    for row in widget["properties"]["metrics"]:
        fields = [part for part in row if not isinstance(part, dict)]
        namespace, name, *pairs = fields
        yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))


def publishers(plan: Plan, namespace: str) -> list[str]:
    """The roles of the plan that may put metric data into `namespace`."""
    found = []
    for role in plan.by_type(ROLE):
        policies = [
            r
            for r in plan.by_type(ROLE_POLICY)
            # A document built from another resource's ARN is unknown in a preview; none of those grants metrics.
            if r.property_dependencies.get("role") == (role.urn,) and isinstance(r.inputs["policy"], str)
        ]
        if allowed(documents(policies), "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": namespace}):
            found.append(role.urn)
    return found


def job_variable(plan: Plan, name: str) -> set[str]:
    return {r.inputs["value"] for r in plan.by_type(VARIABLE) if r.inputs["variableName"] == name}


def test_a_dashboard_exists_exactly_for_the_monitored_stacks(all_plans: dict[str, Plan]) -> None:
    for stack in STACKS:
        settings = settings_of(stack)
        dashboards = all_plans[stack].by_type(DASHBOARD)
        expected = 1 if settings.monitoring.level != "disabled" else 0
        assert len(dashboards) == expected, f"{stack} (monitoring {settings.monitoring.level}): {len(dashboards)}"
        for dashboard in dashboards:
            assert dashboard.inputs["dashboardName"] == settings.app.project_name, dashboard.urn
            assert region_of(all_plans[stack], dashboard) == "us-east-1", dashboard.urn


@pytest.mark.parametrize("stack", MONITORED)
def test_every_widget_names_a_metric_or_alarm_the_stack_declares(stack: str) -> None:
    plan = applied(stack)
    account = settings_of(stack).aws_account_id
    alarms = plan.by_type(ALARM)
    watched = {
        (a.inputs["namespace"], a.inputs["metricName"], json.dumps(a.inputs["dimensions"], sort_keys=True)): a
        for a in alarms
    }
    health_checks = {f"{check.name}-id" for check in plan.by_type(HEALTH_CHECK)}
    job_regions = job_variable(plan, "BACKUP_VAULT_REGION")
    widgets = body(plan)["widgets"]
    assert widgets, f"{stack}: an empty dashboard"
    for index, widget in enumerate(widgets):
        where = f"{stack} widget {index} ({widget['properties'].get('title')})"
        if widget["type"] == "alarm":
            declared = {alarm_arn(region_of(plan, a), account, a.inputs["name"]) for a in alarms}
            unknown = set(widget["properties"]["alarms"]) - declared
            assert not unknown, f"{where}: names alarms the stack does not declare: {sorted(unknown)}"
            continue
        rows = list(metric_rows(widget))
        assert rows, f"{where}: no metric"
        for namespace, name, dimensions in rows:
            key = (namespace, name, json.dumps(dimensions, sort_keys=True))
            if key in watched:
                # A metric an alarm of the stack reads: the widget looks where the alarm does.
                alarm = watched[key]
                assert widget["properties"]["region"] == region_of(plan, alarm), f"{where}: {name} in another region"
            elif namespace == "AWS/Route53":
                assert name == "HealthCheckStatus", f"{where}: {name}"
                assert dimensions["HealthCheckId"] in health_checks, f"{where}: {dimensions} is no declared check"
            else:
                # A metric the stack's own jobs publish: a role it declares may put it, it is in the contract, and
                # the widget looks in the region the jobs publish to.
                assert publishers(plan, namespace), f"{where}: no role of {stack} publishes into {namespace}"
                assert namespace == backup_metrics.NAMESPACE, f"{where}: {namespace} has no contract"
                assert name in vars(backup_metrics).values(), f"{where}: {name} is not in settings/backup_metrics.py"
                assert dimensions[backup_metrics.STACK_DIMENSION] == stack, f"{where}: {dimensions}"
                assert {widget["properties"]["region"]} == job_regions, f"{where}: the jobs publish in {job_regions}"


@pytest.mark.parametrize("stack", MONITORED)
def test_every_alarm_health_check_and_job_metric_of_the_stack_is_on_its_dashboard(stack: str) -> None:
    plan = applied(stack)
    account = settings_of(stack).aws_account_id
    widgets = body(plan)["widgets"]
    shown_alarms = {arn for w in widgets if w["type"] == "alarm" for arn in w["properties"]["alarms"]}
    for alarm in plan.by_type(ALARM):
        assert alarm_arn(region_of(plan, alarm), account, alarm.inputs["name"]) in shown_alarms, (
            f"{alarm.urn} is missing from {stack}'s dashboard"
        )
    rows = [row for w in widgets if w["type"] == "metric" for row in metric_rows(w)]
    shown_checks = {dims.get("HealthCheckId") for namespace, _, dims in rows if namespace == "AWS/Route53"}
    for check in plan.by_type(HEALTH_CHECK):
        assert f"{check.name}-id" in shown_checks, f"{check.urn} is missing from {stack}'s dashboard"
    shown = {(namespace, name) for namespace, name, _ in rows}
    if settings_of(stack).backup is not None:
        for name in (
            backup_metrics.DUMP_WRITTEN,
            backup_metrics.RESTORE_TEST_PASSED,
            backup_metrics.BACKUP_AGE_HOURS,
            backup_metrics.RESTORE_MINUTES,
        ):
            assert (backup_metrics.NAMESPACE, name) in shown, f"{stack}: {name} is not on the dashboard"
    incident = settings_of(stack).incident
    if incident is not None:
        for name in ("ServerError", "Latency"):
            assert (incident.metrics_namespace, name) in shown, f"{stack}: the app's {name} is not on the dashboard"


def test_production_shows_its_alarms_health_checks_and_request_metrics() -> None:
    widgets = body(applied("production"))["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == [
        "Requests and error rate",
        "Response time (ms)",
        "Capacity in use (%)",
        "Route 53 health checks (1 = healthy)",
        "Alarms",
        "Database dumps written per day",
        "Weekly restore test",
    ], titles
    [alarms] = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarms["properties"]["alarms"]) == 8, "3 failover, 2 rollback, 3 scaling"


def test_a_stack_without_alarms_shows_its_backups_and_its_body_is_known_in_a_preview(staging: Plan) -> None:
    # Staging has no alarm or health check: nothing of its body waits for an id, so a preview shows it all.
    titles = [w["properties"]["title"] for w in body(staging)["widgets"]]
    assert titles == ["Database dumps written per day", "Weekly restore test"], titles


def test_the_body_is_stored_as_the_provider_normalizes_it() -> None:
    text = applied("production").one(DASHBOARD, "monitoring-dashboard").inputs["dashboardBody"]
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")), (
        "the provider stores the body as normalized JSON: anything else shows as a change on every plan"
    )


@pytest.mark.parametrize("role_name", ["backup-writer", "backup-restore-test"])
def test_the_job_roles_may_put_exactly_the_jobs_metrics(production: Plan, role_name: str) -> None:
    role = production.one(ROLE, role_name)
    [policy] = [
        r
        for r in production.by_type(ROLE_POLICY)
        if r.property_dependencies.get("role") == (role.urn,) and r.inputs["name"] == "put-job-metrics"
    ]
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == ["cloudwatch:PutMetricData"], policy.urn
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": backup_metrics.NAMESPACE}}, policy.urn
    assert not allowed([json.loads(policy.inputs["policy"])], "cloudwatch:PutMetricData", "*", {}), (
        f"{policy.urn} allows a publish without the namespace condition"
    )
    assert not allowed(
        [json.loads(policy.inputs["policy"])], "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "VibeLog/App"}
    ), f"{policy.urn} allows the app's namespace"
