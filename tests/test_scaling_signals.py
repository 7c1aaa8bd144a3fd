"""The reference's Scaling Strategy: the P2 scaling alarms, the metrics they read, and the functions' resources."""

from __future__ import annotations

from typing import Any

import pytest

from infra.diffs.changes import diff_plans
from infra.engine.runtime import Plan
from infra.plans.render import plan_json
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import METRIC_ALARM as ALARM
from policy.type_tokens import ROLE_POLICY
from policy.type_tokens import SNS_TOPIC as TOPIC
from policy.type_tokens import VERCEL_PROJECT as PROJECT
from settings.scaling import CPU_TYPE_MEMORY_MB, FUNCTION_MEMORY_CAP_MB, CpuType, FunctionSettings, ScalingSignals
from settings.stacks import PROJECT_DIR
from tests.helpers.iam_eval import allowed, documents
from tests.helpers.stacks import Edit, only_problem, plan_of, settings_of

SCALING = ("functions-p95", "database-pool", "storage")


def functions(**changes: Any) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:app"].setdefault("functions", {}).update(changes)

    return edit


def scaling(signal: str, **changes: Any) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:incident"].setdefault("scaling", {}).setdefault(signal, {}).update(changes)

    return edit


def region_of(plan: Plan, urn: str) -> str:
    provider = plan.by_urn()[plan.by_urn()[urn].provider]
    region: str = provider.inputs["region"]
    return region


# ---------------------------------------------------------------------------------------------- settings


def test_the_defaults_and_production_are_the_reference_numbers() -> None:
    incident = settings_of("production").incident
    assert incident is not None, "production declares its incident alarms"
    for signals, where in ((ScalingSignals(), "the defaults"), (incident.scaling, "production")):
        assert signals.functions.p95_seconds == 3, f"{where}: response_time_p95 > 3s"
        assert signals.database_pool.threshold_percent == 80, f"{where}: connection_pool_utilization > 80%"
        assert signals.storage.threshold_percent == 80, f"{where}: storage_usage > 80%"
    for stack in ("development", "staging", "production"):
        cpu_type = settings_of(stack).app.functions.cpu_type
        assert CPU_TYPE_MEMORY_MB[cpu_type] <= FUNCTION_MEMORY_CAP_MB == 1024, f"{stack}: {cpu_type} is over 1GB max"
    assert FunctionSettings().cpu_type == "standard_legacy", "the default is within the reference's cap"


@pytest.mark.parametrize("cpu_type", ["standard", "performance"])
def test_a_cpu_type_over_the_1gb_cap_is_refused(cpu_type: CpuType) -> None:
    problem = only_problem("production", functions(cpuType=cpu_type))
    assert problem.path == "vibelog:app.functions.cpuType", problem
    assert f"{cpu_type} gives {CPU_TYPE_MEMORY_MB[cpu_type]} MB" in problem.expected, problem
    assert "1024 MB cap" in problem.expected, problem


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (functions(regions=["us-east-1"]), "vibelog:app.functions.regions[0]"),
        (functions(regions=[]), "vibelog:app.functions.regions"),
        (functions(timeoutSeconds=901), "vibelog:app.functions.timeoutSeconds"),
        (functions(timeoutSeconds=0), "vibelog:app.functions.timeoutSeconds"),
        (scaling("databasePool", thresholdPercent=100), "vibelog:incident.scaling.databasePool.thresholdPercent"),
        (scaling("storage", windowMinutes=1441), "vibelog:incident.scaling.storage.windowMinutes"),
    ],
    ids=["aws-region", "no-region", "timeout-over-900", "timeout-0", "pool-100", "window-over-a-day"],
)
def test_function_settings_and_signals_out_of_range_are_refused(edit: Edit, path: str) -> None:
    problem = only_problem("production", edit)
    assert problem.path == path, problem


def test_a_repeated_region_is_refused() -> None:
    problem = only_problem("production", functions(regions=["iad1", "iad1"]))
    assert (problem.path, problem.expected) == ("vibelog:app.functions.regions", "a region is listed twice"), problem


def test_a_scaling_p95_at_or_over_the_staged_rollbacks_is_refused() -> None:
    problem = only_problem("production", scaling("functions", p95Seconds=5))
    assert problem.path == "vibelog:incident.scaling.functions.p95Seconds", problem
    assert "below the staged rollback's p95 (5 s)" in problem.expected, problem


# ---------------------------------------------------------------------------------------------- alarms


def test_scaling_alarms_are_the_reference_triggers_routed_as_p2(production: Plan) -> None:
    p2 = production.one(TOPIC, "incident-p2")
    alarms = {key: production.one(ALARM, f"scaling-{key}") for key in SCALING}
    for alarm in alarms.values():
        assert region_of(production, alarm.urn) == "us-east-1", alarm.urn
        assert (alarm.inputs["namespace"], alarm.inputs["dimensions"]) == ("VibeLog/App", {"Stack": "vibelog"})
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold", alarm.urn
        # One period as long as the window: the statistic is taken over all of the window's data points.
        assert alarm.inputs["evaluationPeriods"] == 1, alarm.urn
        assert alarm.property_dependencies["alarmActions"] == (p2.urn,), f"{alarm.urn} must reach P2's channels"
        assert alarm.property_dependencies["okActions"] == (p2.urn,), alarm.urn
        assert alarm.inputs["alarmDescription"].startswith("Scaling signal (P2): "), alarm.urn
    functions_p95, pool, storage = alarms["functions-p95"], alarms["database-pool"], alarms["storage"]
    assert (functions_p95.inputs["metricName"], functions_p95.inputs["extendedStatistic"]) == ("Latency", "p95")
    assert (functions_p95.inputs["threshold"], functions_p95.inputs["period"]) == (3000, 900), functions_p95.urn
    assert (pool.inputs["metricName"], pool.inputs["statistic"]) == ("ConnectionPoolUtilization", "Average")
    assert (pool.inputs["threshold"], pool.inputs["period"]) == (80, 900), pool.urn
    assert (storage.inputs["metricName"], storage.inputs["statistic"]) == ("StorageUtilization", "Maximum")
    assert (storage.inputs["threshold"], storage.inputs["period"]) == (80, 3600), storage.urn
    # The reference's action, and its limit, in the text the on-call engineer reads.
    for alarm, words in (
        (functions_p95, ["p95 > 3 s", "increase_function_memory", "standard_legacy = 1024 MB", "limit: 1024 MB"]),
        (pool, ["> 80%", "increase_pool_size", "Supabase plan"]),
        (storage, ["> 80%", "archive_old_files", "upgrade_plan"]),
    ):
        missing = [word for word in words if word not in alarm.inputs["alarmDescription"]]
        assert not missing, f"{alarm.urn}: its description lacks {missing}"
    # A storage gauge that stops reporting shows as such; no traffic is no evidence of a saturated pool.
    assert storage.inputs["treatMissingData"] == "missing", storage.urn
    assert pool.inputs["treatMissingData"] == functions_p95.inputs["treatMissingData"] == "notBreaching"


def test_a_changed_signal_moves_its_alarm() -> None:
    plan = plan_of("production", scaling("databasePool", thresholdPercent=90, windowMinutes=30))
    pool = plan.one(ALARM, "scaling-database-pool")
    assert (pool.inputs["threshold"], pool.inputs["period"]) == (90, 1800), pool.urn
    assert "> 90% in use over 30 minutes" in pool.inputs["alarmDescription"], pool.urn


def test_only_stacks_with_incident_alarms_declare_scaling_alarms(all_plans: dict[str, Plan]) -> None:
    for stack, plan in all_plans.items():
        declared = sorted(r.name for r in plan.by_type(ALARM) if r.name.startswith("scaling-"))
        expected = sorted(f"scaling-{key}" for key in SCALING) if settings_of(stack).incident is not None else []
        assert declared == expected, f"{stack}: {declared}"


def test_the_apps_role_may_publish_exactly_the_metrics_the_alarms_read(production: Plan) -> None:
    role = production.one(ROLE, "incident-metrics-role")
    policies = [r for r in production.by_type(ROLE_POLICY) if r.property_dependencies.get("role") == (role.urn,)]
    assert [r.name for r in policies] == ["incident-metrics-policy"], f"{role.urn}: one policy, {policies}"
    [document] = documents(policies)
    [statement] = document["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("cloudwatch:PutMetricData", "*"), role.urn
    for key in SCALING:
        alarm = production.one(ALARM, f"scaling-{key}")
        namespace = alarm.inputs["namespace"]
        assert allowed([document], "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": namespace}), (
            f"{role.urn} cannot publish {namespace} that {alarm.urn} reads"
        )
    assert not allowed([document], "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "VibeLog/Other"}), (
        f"{role.urn} may publish into another namespace"
    )


# ---------------------------------------------------------------------------------------------- Vercel functions


def test_every_stack_declares_its_functions_resources(all_plans: dict[str, Plan]) -> None:
    for stack, plan in all_plans.items():
        settings = settings_of(stack).app.functions
        [project] = plan.by_type(PROJECT)
        assert project.inputs["resourceConfig"] == {
            "functionDefaultCpuType": settings.cpu_type,
            "functionDefaultTimeout": settings.timeout_seconds,
            "functionDefaultRegions": settings.regions,
            # The provider refuses fluid compute with standard_legacy, the one CPU type within 1 GB.
            "fluid": False,
        }, project.urn


def test_changing_the_functions_resources_updates_the_project_in_place(production: Plan) -> None:
    changed = plan_of("production", functions(timeoutSeconds=120, regions=["iad1", "sfo1"]))
    diff = diff_plans(plan_json(production), plan_json(changed))
    found = sorted((c.op, c.type, c.name, [p.path for p in c.properties]) for c in diff.resources)
    assert found == [
        (
            "update",
            PROJECT,
            "web-project",
            ["resourceConfig.functionDefaultRegions[1]", "resourceConfig.functionDefaultTimeout"],
        )
    ], found


def test_the_metric_contract_is_documented_beside_the_request_metrics() -> None:
    text = (PROJECT_DIR / "docs" / "incident-response.md").read_text(encoding="utf-8")
    for metric in ("ConnectionPoolUtilization", "StorageUtilization"):
        assert f"| `{metric}` | Percent |" in text, f"docs/incident-response.md does not document {metric}"
