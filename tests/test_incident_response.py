"""IncidentResponse: the reference's rollback triggers as alarms, the GitHub bridge, routing per class, rotation."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml

from components.incident_response import PAGERDUTY_EVENTS_URL
from infra.diffs.changes import diff_plans
from infra.engine.mocks import ASSIGNED, VibelogMocks
from infra.engine.runtime import Plan, Registration, Secret, run_program
from infra.plans.render import plan_json
from policy.type_tokens import EDGE_CONFIG_TOKEN as TOKEN
from policy.type_tokens import ENV_VAR, ROLE_POLICY
from policy.type_tokens import EVENT_API_DESTINATION as DESTINATION
from policy.type_tokens import EVENT_CONNECTION as CONNECTION
from policy.type_tokens import EVENT_RULE as RULE
from policy.type_tokens import EVENT_TARGET as TARGET
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import METRIC_ALARM as ALARM
from policy.type_tokens import OIDC_PROVIDER as OIDC
from policy.type_tokens import RANDOM_PASSWORD as PASSWORD
from policy.type_tokens import SNS_SUBSCRIPTION as SUBSCRIPTION
from policy.type_tokens import SNS_TOPIC as TOPIC
from settings.app_env import NEXTAUTH_SECRET_LENGTH
from settings.env_schema import NEXTAUTH_SECRET_MIN_LENGTH
from settings.incident import REFERENCE_ROUTING
from settings.loader import ConfigError, load_settings
from settings.stackfile import read_stack_config
from tests.helpers.iam_eval import allowed, documents
from tests.helpers.stacks import Edit, committed_document, only_problem, settings_of, stack_config

KEY = bytes(range(32))


def incident(**changes: Any) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:incident"].update(changes)

    return edit


def without_incident(config: dict[str, Any]) -> None:
    config.pop("vibelog:incident")


def region_of(plan: Plan, reg: Registration) -> str:
    provider = plan.by_urn()[reg.provider]
    region: str = provider.inputs["region"]
    return region


# ---------------------------------------------------------------------------------------------- settings


def test_production_commits_the_reference_thresholds() -> None:
    settings = settings_of("production").incident
    assert settings is not None, "production declares its incident alarms"
    assert (settings.rollback.error_rate.threshold_percent, settings.rollback.error_rate.window_minutes) == (5, 5)
    assert (settings.rollback.response_time.p95_seconds, settings.rollback.response_time.window_minutes) == (5, 10)
    assert (settings.failover.p95_seconds, settings.failover.error_rate_percent) == (30, 10)
    assert settings.routing == REFERENCE_ROUTING, "production routes each class as the communication plan says"


def test_development_stays_light() -> None:
    settings = settings_of("development")
    assert settings.incident is None, "development has no alarms"
    assert not settings.declares_aws, "development has no AWS"


def test_a_class_that_drops_a_reference_channel_is_refused() -> None:
    problem = only_problem("production", incident(routing={**REFERENCE_ROUTING, "P0": ["slack_alert", "pagerduty"]}))
    assert problem.path == "vibelog:incident.routing.P0", problem
    assert "email_leadership" in problem.expected, problem
    assert "status_page" in problem.expected, problem


def test_a_routed_channel_without_a_subscriber_is_refused() -> None:
    def edit(config: dict[str, Any]) -> None:
        subscribers = config["vibelog:incident"]["subscribers"]
        config["vibelog:incident"]["subscribers"] = [s for s in subscribers if s["channel"] != "email_team"]

    problem = only_problem("production", edit)
    assert (problem.path, problem.expected) == (
        "vibelog:incident.subscribers",
        "email_team is routed to but has no subscriber",
    ), problem


def test_alarms_without_the_apps_metrics_are_refused() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:monitoring"] = {"level": "disabled"}

    problem = only_problem("production", edit)
    assert problem.path == "vibelog:incident", problem


def missing_secrets(edit: Edit | None = None) -> set[str]:
    """The secrets the loader reports missing for production's file as committed (no secret in it)."""
    config = committed_document("production")["config"]
    # The app's and the pipeline's secrets are set, so the rules that relate settings run and report the rest.
    config["vibelog:secrets"] = {
        "openaiApiKey": "sk-test",
        "databaseUrl": "postgresql://u:p@db.example.com:6543/postgres",
        "directUrl": "postgresql://u:p@db.example.com:5432/postgres",
        "supabaseAnonKey": "anon",
        "supabaseServiceRoleKey": "service",
        "vercelDeployToken": "vercel",
        "statusPageWebhook": "https://status.example.com/hook",
        "slackWebhook": "https://hooks.slack.com/services/x",
    }
    if edit is not None:
        edit(config)
    try:
        load_settings("production", config, {"vibelog:secrets"})
    except ConfigError as error:
        return {p.path for p in error.problems if p.missing_secret}
    return set()


def test_the_dispatch_token_is_a_required_secret_only_with_the_incident_alarms() -> None:
    assert "vibelog:secrets.githubDispatchToken" in missing_secrets()
    assert "vibelog:secrets.githubDispatchToken" not in missing_secrets(without_incident)


def test_the_ai_fallback_needs_its_key_in_the_apps_env_first() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:operations"]["aiProvider"] = "anthropic"

    problem = only_problem("production", edit)
    assert problem.path == "vibelog:operations.aiProvider", problem
    assert "vibelog:secrets.anthropicApiKey" in problem.expected, problem


# ---------------------------------------------------------------------------------------------- component


def test_rollback_alarms_are_the_reference_triggers(production: Plan) -> None:
    error_rate = production.one(ALARM, "incident-rollback-error-rate")
    p95 = production.one(ALARM, "incident-rollback-p95")
    for alarm in (error_rate, p95):
        assert region_of(production, alarm) == "us-east-1", alarm.urn
        assert (alarm.inputs["namespace"], alarm.inputs["dimensions"]) == ("VibeLog/App", {"Stack": "vibelog"})
        assert alarm.inputs["period"] == 60, alarm.urn
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold", alarm.urn
        assert alarm.inputs["datapointsToAlarm"] == alarm.inputs["evaluationPeriods"], f"{alarm.urn}: sustained"
    # error rate > 5% over 5 minutes: the mean of a 0/1 per-request metric is the error rate.
    assert (error_rate.inputs["metricName"], error_rate.inputs["statistic"]) == ("ServerError", "Average")
    assert (error_rate.inputs["threshold"], error_rate.inputs["evaluationPeriods"]) == (0.05, 5), error_rate.urn
    # p95 > 5 s over 10 minutes, on request durations in milliseconds.
    assert (p95.inputs["metricName"], p95.inputs["extendedStatistic"]) == ("Latency", "p95"), p95.urn
    assert (p95.inputs["threshold"], p95.inputs["evaluationPeriods"]) == (5000, 10), p95.urn


def test_the_rollback_alarms_notify_p1_and_the_failover_alarm_p0(production: Plan) -> None:
    p0, p1 = production.one(TOPIC, "incident-p0"), production.one(TOPIC, "incident-p1")
    for name in ("incident-rollback-error-rate", "incident-rollback-p95"):
        alarm = production.one(ALARM, name)
        assert alarm.property_dependencies["alarmActions"] == (p1.urn,), f"{alarm.urn} must reach P1's channels"
    failover = production.one(ALARM, "dns-primary-unhealthy")
    assert p0.urn in failover.property_dependencies["alarmActions"], f"{failover.urn} must reach P0's channels"


def test_every_alarm_reaches_each_channel_once_and_pagerduty_only_through_its_service(production: Plan) -> None:
    topics = {topic.urn: topic.name for topic in production.by_type(TOPIC)}
    subscriptions = production.by_type(SUBSCRIPTION)
    for alarm in production.by_type(ALARM):
        notified = alarm.property_dependencies.get("alarmActions", ())
        reached = [
            (s.name, s.name.removeprefix(f"{topics[topic]}-").rsplit("-", 1)[0])
            for s in subscriptions
            for topic in s.property_dependencies["topic"]
            if topic in notified
        ]
        channels = [channel for _, channel in reached]
        twice = sorted({channel for channel in channels if channels.count(channel) > 1})
        assert not twice, f"{alarm.urn} reaches {twice} twice: {sorted(name for name, _ in reached)}"
        pages = [name for name, channel in reached if channel == "pagerduty"]
        assert pages in ([], ["incident-p0-pagerduty-2"]), f"{alarm.urn} pages PagerDuty outside its service: {pages}"


def test_each_class_topic_reaches_exactly_its_sns_channels(production: Plan) -> None:
    for severity, channels in REFERENCE_ROUTING.items():
        topic = production.one(TOPIC, f"incident-{severity.lower()}")
        subscribed = {
            s.name.removeprefix(f"incident-{severity.lower()}-").rsplit("-", 1)[0]
            for s in production.by_type(SUBSCRIPTION)
            if s.property_dependencies["topic"] == (topic.urn,)
        }
        sns = {
            c.replace("_", "-") for c in channels if c in {"pagerduty", "slack_alert", "email_leadership", "email_team"}
        }
        assert subscribed == sns, f"{topic.urn}: {subscribed} != {sns}"


def dispatch_body(template: str) -> Any:
    """The JSON EventBridge sends, with sample values in the input transformer's placeholders."""
    return json.loads(template.replace("<alarm>", "a").replace("<time>", "t"))


def test_a_firing_rollback_alarm_dispatches_the_rollback_workflow(production: Plan) -> None:
    destination = production.one(DESTINATION, "incident-github-dispatch")
    connection = production.one(CONNECTION, "incident-github")
    role = production.one(ROLE, "incident-dispatch-role")
    assert destination.inputs["invocationEndpoint"] == (
        "https://api.github.com/repos/vibelog/vibelog-infra/dispatches"
    ), destination.urn
    assert destination.inputs["httpMethod"] == "POST", destination.urn
    assert destination.property_dependencies["connectionArn"] == (connection.urn,), destination.urn
    api_key = connection.inputs["authParameters"]["apiKey"]
    assert isinstance(api_key["value"], Secret), f"{connection.urn}: the GitHub token must stay secret"
    for trigger, action in (("error-rate", "immediate_rollback"), ("p95", "staged_rollback")):
        alarm = production.one(ALARM, f"incident-rollback-{trigger}")
        rule = production.one(RULE, f"incident-dispatch-{trigger}")
        target = production.one(TARGET, f"incident-dispatch-{trigger}-target")
        assert rule.property_dependencies["eventPattern"] == (alarm.urn,), f"{rule.urn} must match {alarm.urn}"
        assert region_of(production, rule) == region_of(production, alarm), f"{rule.urn}: alarms emit in their region"
        assert target.property_dependencies["arn"] == (destination.urn,), target.urn
        assert target.property_dependencies["roleArn"] == (role.urn,), target.urn
        body = dispatch_body(target.inputs["inputTransformer"]["inputTemplate"])
        assert body["event_type"] == "incident-rollback", target.urn
        assert body["client_payload"]["action"] == action, target.urn
        assert body["client_payload"]["severity"] == "P1", target.urn
        assert set(body["client_payload"]) == {"alarm", "action", "severity", "reason", "time"}, target.urn
        assert body["client_payload"]["reason"] == alarm.inputs["alarmDescription"].split(". ")[0].removeprefix(
            "Automated rollback trigger: "
        ), target.urn
        paths = target.inputs["inputTransformer"]["inputPaths"]
        assert paths == {"alarm": "$.detail.alarmName", "time": "$.time"}, f"{target.urn}: free text breaks the JSON"


def test_the_dispatch_role_may_only_invoke_its_destination(production: Plan) -> None:
    role = production.one(ROLE, "incident-dispatch-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}, role.urn
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "210987654321"}}, role.urn
    policy = production.one(ROLE_POLICY, "incident-dispatch-policy")
    destination = production.one(DESTINATION, "incident-github-dispatch")
    assert policy.property_dependencies["policy"] == (destination.urn,), f"{policy.urn} names only the destination"


def test_development_declares_no_incident_resources(development: Plan) -> None:
    assert not [r.urn for r in development.registrations if r.type.startswith("aws:")], "development has no AWS"
    assert not [r.urn for r in development.registrations if r.type == "vibelog:incident:IncidentResponse"]


# ---------------------------------------------------------------------------------------------- rotation


def production_up(rotation: int, keep_previous: bool) -> dict[str, Any]:
    """Production's plan as a mock `up` records it (tokens have connection strings) with a rotation counter."""
    document = committed_document("production")
    document["config"]["vibelog:operations"].update({"secretRotation": rotation, "keepPreviousSecrets": keep_previous})
    config = read_stack_config("production", text=yaml.dump(document, Dumper=yaml.CSafeDumper))
    return plan_json(run_program("production", config, mocks=VibelogMocks(preview=False)), KEY)


@pytest.fixture(scope="module")
def rotations() -> dict[str, dict[str, Any]]:
    return {
        "before": production_up(0, False),
        "rotated": production_up(1, True),
        "revoked": production_up(1, False),
    }


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    diff = diff_plans(old, new)
    return sorted((c.op, c.type, c.name, [p.path for p in c.properties]) for c in diff.resources)


def test_a_rotation_bump_mints_a_new_token_and_repoints_the_app_keeping_the_old_one(
    rotations: dict[str, dict[str, Any]],
) -> None:
    found = changes(rotations["before"], rotations["rotated"])
    assert found == [
        ("create", TOKEN, "flags-read-token-r1", []),
        # NextAuth takes one secret: NEXTAUTH_SECRET has no kept generation, a bump replaces it (every session ends).
        ("replace", PASSWORD, "web-nextauth-secret", ["keepers.secretRotation"]),
        ("update", ENV_VAR, "web-env-edge-config", ["value"]),
        ("update", ENV_VAR, "web-env-nextauth-secret", ["value"]),
    ], found


def test_revoking_the_previous_generation_deletes_exactly_its_token(rotations: dict[str, dict[str, Any]]) -> None:
    found = changes(rotations["rotated"], rotations["revoked"])
    assert found == [("delete", TOKEN, "flags-read-token", [])], found


def test_a_bump_without_keeping_the_previous_generation_revokes_it_in_the_same_up(
    rotations: dict[str, dict[str, Any]],
) -> None:
    found = changes(rotations["before"], rotations["revoked"])
    assert found == [
        ("create", TOKEN, "flags-read-token-r1", []),
        ("delete", TOKEN, "flags-read-token", []),
        ("replace", PASSWORD, "web-nextauth-secret", ["keepers.secretRotation"]),
        ("update", ENV_VAR, "web-env-edge-config", ["value"]),
        ("update", ENV_VAR, "web-env-nextauth-secret", ["value"]),
    ], found


def test_every_stack_generates_its_nextauth_secret_and_feeds_it_to_every_target() -> None:
    for stack in ("development", "staging", "production"):
        # A mock `up`: in a preview the generated value is unknown, and the engine records no secrecy for it.
        plan = run_program(stack, stack_config(stack), mocks=VibelogMocks(preview=False))
        [password] = plan.by_type(PASSWORD)
        assert password.inputs["length"] >= NEXTAUTH_SECRET_MIN_LENGTH, f"{password.urn}: the app refuses it"
        assert password.inputs["length"] == NEXTAUTH_SECRET_LENGTH, password.urn
        assert password.inputs["keepers"] == {"secretRotation": "0"}, f"{password.urn} must follow the rotation"
        assert "result" in password.additional_secret_outputs, f"{password.urn}: its result must stay secret"
        env = [r for r in plan.by_type(ENV_VAR) if r.inputs["key"] == "NEXTAUTH_SECRET"]
        targets = sorted(t for r in env for t in r.inputs["targets"])
        assert targets == sorted(settings_of(stack).app.targets), f"{stack}: NEXTAUTH_SECRET reaches {targets}"
        for reg in env:
            assert reg.property_dependencies["value"] == (password.urn,), f"{reg.urn} must be {password.urn}'s result"
            assert isinstance(reg.inputs["value"], Secret), f"{reg.urn} carries NEXTAUTH_SECRET in plaintext"
            sensitive = set(reg.inputs["targets"]) <= {"production", "preview"}
            assert reg.inputs["sensitive"] is sensitive, f"{reg.urn}: sensitive wherever Vercel allows it"


# ---------------------------------------------------------------------------------------------- metrics identity


def test_the_app_publishes_metrics_with_a_role_only_its_deployments_assume(production: Plan) -> None:
    provider = production.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "incident-vercel-oidc")
    assert provider.inputs["url"] == "https://oidc.vercel.com/vibelog", provider.urn
    assert provider.inputs["clientIdLists"] == ["https://vercel.com/vibelog"], provider.urn
    assert provider.protect, f"{provider.urn}: the role that trusts it breaks while it is replaced"
    role = production.one(ROLE, "incident-metrics-role")
    assert provider.urn in role.dependencies, f"{role.urn} must wait for the provider it trusts"
    policy = production.one(ROLE_POLICY, "incident-metrics-policy")
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData", policy.urn
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "VibeLog/App"}}, policy.urn
    [env] = [r for r in production.by_type(ENV_VAR) if r.inputs["key"] == "AWS_ROLE_ARN"]
    assert env.property_dependencies["value"] == (role.urn,), f"{env.urn} must name {role.urn}"


def test_the_metrics_role_trusts_only_this_projects_production_deployments(production: Plan) -> None:
    role = production.one(ROLE, "incident-metrics-role")
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", role.urn
    assert statement["Principal"] == {"Federated": "arn:aws:iam::210987654321:oidc-provider/oidc.vercel.com/vibelog"}, (
        role.urn
    )
    assert statement["Condition"] == {
        "StringEquals": {
            "oidc.vercel.com/vibelog:aud": "https://vercel.com/vibelog",
            "oidc.vercel.com/vibelog:sub": ["owner:vibelog:project:vibelog:environment:production"],
        }
    }, role.urn


def vercel_oidc_owners(plan: Plan) -> list[str]:
    return [r.urn for r in plan.by_type(OIDC) if r.inputs["url"].startswith("https://oidc.vercel.com/")]


def test_one_stack_per_account_and_issuer_declares_the_vercel_oidc_provider(all_plans: dict[str, Plan]) -> None:
    # IAM refuses a second provider for the same url in an account: like GitHub's, one stack owns it.
    declared: dict[tuple[str, str], list[str]] = {}
    for stack, plan in all_plans.items():
        settings = settings_of(stack)
        for _ in vercel_oidc_owners(plan):
            declared.setdefault((settings.aws_account_id, settings.vercel_team), []).append(stack)
        owns = settings.incident is not None and settings.incident.owns_vercel_oidc_provider
        assert bool(vercel_oidc_owners(plan)) == owns, f"{stack}: declares it exactly when it owns it"
    assert declared == {("210987654321", "vibelog"): ["production"]}, declared


def test_a_second_stack_with_incident_alarms_looks_the_provider_up() -> None:
    # Staging enabling vibelog:incident in production's account: it must not create the provider a second time.
    plan = run_program("production", stack_config("production", incident(ownsVercelOidcProvider=False)))
    assert vercel_oidc_owners(plan) == [], "a stack that does not own the provider never creates it"
    role = plan.one(ROLE, "incident-metrics-role")
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": "arn:aws:iam::210987654321:oidc-provider/oidc.vercel.com/vibelog"}
    up = run_program(
        "production",
        stack_config("production", incident(ownsVercelOidcProvider=False)),
        mocks=VibelogMocks(preview=False),
    )
    deploy = up.one(ROLE, "ci-aws-deploy").inputs["name"]
    rights = documents(r for r in up.by_type(ROLE_POLICY) if r.inputs["role"] == deploy)
    arn = "arn:aws:iam::210987654321:oidc-provider/oidc.vercel.com/vibelog"
    assert allowed(rights, "iam:GetOpenIDConnectProvider", arn, {}), "the lookup reads the owner's provider"
    for action in ("iam:CreateOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider"):
        assert not allowed(rights, action, arn, {}), f"a stack that does not own {arn} may {action}"


# ---------------------------------------------------------------------------------------------- deploy role


@pytest.fixture(scope="module")
def deploy_rights() -> dict[str, list[dict[str, Any]]]:
    """Each stack's deploy-role policies, as a mock `up` records them (role names known)."""
    rights = {}
    for stack in ("staging", "production"):
        plan = run_program(stack, stack_config(stack), mocks=VibelogMocks(preview=False))
        role = plan.one(ROLE, "ci-aws-deploy").inputs["name"]
        rights[stack] = documents(r for r in plan.by_type(ROLE_POLICY) if r.inputs["role"] == role)
    return rights


def incident_arns(production: Plan) -> list[tuple[str, str, dict[str, str]]]:
    """Each incident object of production and an action its deploy role needs on it."""
    account, region = "210987654321", "us-east-1"
    found: list[tuple[str, str, dict[str, str]]] = [
        (f"arn:aws:events:{region}:{account}:rule/{r.inputs['name']}", "events:PutRule", {})
        for r in production.by_type(RULE)
    ]
    found += [
        (f"arn:aws:events:{region}:{account}:connection/{r.inputs['name']}", "events:UpdateConnection", {})
        for r in production.by_type(CONNECTION)
    ]
    found += [
        (f"arn:aws:events:{region}:{account}:api-destination/{r.inputs['name']}", "events:UpdateApiDestination", {})
        for r in production.by_type(DESTINATION)
    ]
    found.append(
        (
            f"arn:aws:iam::{account}:role/{production.one(ROLE, 'incident-dispatch-role').inputs['name']}",
            "iam:PassRole",
            {"iam:PassedToService": "events.amazonaws.com"},
        )
    )
    found.append(
        (
            f"arn:aws:iam::{account}:oidc-provider/oidc.vercel.com/vibelog",
            "iam:CreateOpenIDConnectProvider",
            {},
        )
    )
    return found


def test_production_s_deploy_role_manages_the_incident_objects_and_staging_s_does_not(
    production: Plan, deploy_rights: dict[str, list[dict[str, Any]]]
) -> None:
    for arn, action, context in incident_arns(production):
        assert allowed(deploy_rights["production"], action, arn, context), f"production cannot {action} {arn}"
        assert not allowed(deploy_rights["staging"], action, arn, context), f"staging may {action} {arn}"


def test_the_dispatch_role_is_passed_to_eventbridge_only(
    production: Plan, deploy_rights: dict[str, list[dict[str, Any]]]
) -> None:
    role = f"arn:aws:iam::210987654321:role/{production.one(ROLE, 'incident-dispatch-role').inputs['name']}"
    context = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert not allowed(deploy_rights["production"], "iam:PassRole", role, context), f"{role} passed to Lambda"


def test_no_deploy_role_may_delete_the_vercel_oidc_provider(deploy_rights: dict[str, list[dict[str, Any]]]) -> None:
    arn = "arn:aws:iam::210987654321:oidc-provider/oidc.vercel.com/vibelog"
    for stack, policies in deploy_rights.items():
        assert not allowed(policies, "iam:DeleteOpenIDConnectProvider", arn, {}), f"{stack} may delete {arn}"


PD_POLICY = "pagerduty:index/escalationPolicy:EscalationPolicy"
PD_SERVICE = "pagerduty:index/service:Service"
PD_INTEGRATION = "pagerduty:index/serviceIntegration:ServiceIntegration"


def test_p0_pages_pagerduty_through_the_declared_cloudwatch_integration() -> None:
    # A mock `up`: the integration's key is known, so the subscription's URL can be compared with it.
    plan = run_program("production", mocks=VibelogMocks(preview=False))
    integration = plan.one(PD_INTEGRATION, "incident-pagerduty-cloudwatch")
    assert integration.inputs["vendor"] == "PZQ6AUS", f"{integration.urn}: the Amazon CloudWatch vendor"
    p0_topic = plan.one(TOPIC, "incident-p0")
    https = [s for s in plan.by_type(SUBSCRIPTION) if s.inputs["protocol"] == "https"]
    assert [s.name for s in https] == ["incident-p0-pagerduty-2"], "only P0 (the reference) reaches PagerDuty"
    (subscription,) = https
    assert p0_topic.urn in subscription.property_dependencies["topic"], f"{subscription.urn}: P0's topic"
    endpoint = subscription.inputs["endpoint"]
    assert isinstance(endpoint, Secret), f"{subscription.urn}: the integration key is part of the URL"
    key = ASSIGNED[PD_INTEGRATION](cast(Any, SimpleNamespace(name=integration.name)))["integrationKey"]
    assert endpoint.value == PAGERDUTY_EVENTS_URL.format(key=key), f"{subscription.urn}: {integration.urn}'s URL"
    assert integration.urn in subscription.property_dependencies["endpoint"], f"{subscription.urn} follows the key"
    siblings = [s for s in plan.by_type(SUBSCRIPTION) if s.parent == subscription.parent and s is not subscription]
    assert not [s.urn for s in siblings if "pagerduty.com" in str(s.inputs["endpoint"])], (
        "no e-mail path to PagerDuty is left beside the integration"
    )
    provider = plan.by_urn()[integration.provider]
    assert isinstance(provider.inputs["token"], Secret), f"{provider.urn}: the API token is secret"


def test_the_p0_service_is_protected_and_uses_the_escalation_policy(production: Plan) -> None:
    plan = production
    policy = plan.one(PD_POLICY, "incident-pagerduty-escalation")
    service = plan.one(PD_SERVICE, "incident-pagerduty")
    assert service.protect, f"{service.urn} holds the incidents' history: protected"
    assert policy.urn in service.property_dependencies["escalationPolicy"], f"{service.urn} uses {policy.urn}"


def test_a_class_routed_to_pagerduty_without_its_settings_is_refused() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:incident"].pop("pagerduty")

    problem = only_problem("production", edit)
    assert problem.path == "vibelog:incident.pagerduty", problem
    assert "pagerduty.onCall" in problem.expected, problem
    assert "pulumi config set" in problem.fix, problem


def test_a_pagerduty_subscriber_beside_the_integration_is_refused() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:incident"]["subscribers"].append(
            {"channel": "pagerduty", "protocol": "email", "endpoint": "vibelog-p0@vibelog.pagerduty.com"}
        )

    problem = only_problem("production", edit)
    assert problem.path.startswith("vibelog:incident.subscribers"), problem
    assert "vibelog:incident.pagerduty" in problem.expected, problem
