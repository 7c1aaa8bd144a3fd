"""Incident detection and communication: a topic per incident class, PagerDuty for P0, the rollback alarms and their
GitHub bridge."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_pagerduty as pagerduty

from components import app_metrics
from components.aws_iam import web_identity_trust
from components.on_call import OnCall, OnCallArgs
from components.providers import Providers
from components.sns import Subscriber, subscribe
from settings.incident import IncidentSettings, PagerDutySettings, Severity
from settings.stack import StackSettings

# Alarms and their EventBridge rules live where the failover's Route 53 metrics and alarms live.
GLOBAL_REGION = "us-east-1"
DISPATCH_EVENT_TYPE = "incident-rollback"
"""repository_dispatch event_type the rollback workflow listens for (docs/incident-response.md)."""
GITHUB_API = "https://api.github.com"
SEVERITIES: tuple[Severity, ...] = ("P0", "P1", "P2")

RollbackAction = Literal["immediate_rollback", "staged_rollback"]


def topic_name(project_name: str, severity: Severity) -> str:
    """Name of the SNS topic of one incident class."""
    return f"{project_name}-incident-{severity.lower()}"


def rollback_alarm_name(project_name: str, trigger: Literal["error-rate", "p95"]) -> str:
    """Name of a rollback trigger's CloudWatch alarm (the workflow reads it from client_payload.alarm)."""
    return f"{project_name}-rollback-{trigger}"


# The Amazon CloudWatch integration's events endpoint (PagerDuty's "Amazon CloudWatch Integration Guide"): SNS posts
# the alarm there, and PagerDuty confirms the subscription itself. The key in the path is the integration's.
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/integration/{key}/enqueue"
PAGERDUTY_CLOUDWATCH_VENDOR = "Amazon CloudWatch"


@dataclass(frozen=True)
class PagerDutyArgs:
    """The PagerDuty service the classes routed to pagerduty page, and whom its escalation policy pages."""

    provider: pagerduty.Provider
    """PagerDuty, with the stack's API token."""
    severities: Sequence[Severity]
    """The classes routed to pagerduty (the reference: P0)."""
    on_call: OnCallArgs
    """The rotation the escalation policy pages first, and its tech lead, paged next."""
    escalation_delay_minutes: int
    """Minutes before an unacknowledged incident pages the next level."""
    loops: int
    """Times the policy repeats."""

    @classmethod
    def from_settings(
        cls,
        settings: PagerDutySettings,
        severities: Sequence[Severity],
        provider: pagerduty.Provider,
        project_name: str,
    ) -> PagerDutyArgs:
        """The args for these settings."""
        return cls(
            provider=provider,
            severities=tuple(severities),
            on_call=OnCallArgs.from_settings(settings.on_call, project_name, provider),
            escalation_delay_minutes=settings.escalation_delay_minutes,
            loops=settings.loops,
        )


@dataclass(frozen=True)
class RollbackAlarm:
    """One automated rollback trigger."""

    trigger: Literal["error-rate", "p95"]
    """Short name, in resource and alarm names."""
    action: RollbackAction
    """What the rollback workflow does (client_payload.action)."""
    metric: str
    """The app's metric."""
    statistic: str | None
    """Plain statistic, or None when extended_statistic is used."""
    extended_statistic: str | None
    """Percentile statistic, or None."""
    threshold: float
    """Value above which it fires."""
    window_minutes: int
    """Consecutive one-minute data points above the threshold."""
    description: str
    """What it means, in the reference's words."""


@dataclass(frozen=True)
class IncidentResponseArgs:
    """A stack's incident topics, rollback alarms and the bridge that starts the rollback workflow."""

    project_name: str
    """The Vercel project (the metrics' Stack dimension, the names' prefix)."""
    provider: aws.Provider
    """AWS in us-east-1."""
    account_id: str
    """The stack's AWS account (only its EventBridge may assume the dispatch role)."""
    namespace: str
    """CloudWatch namespace of the app's metrics."""
    routing: Mapping[Severity, Sequence[Subscriber]]
    """Each class's e-mail endpoints."""
    pagerduty: PagerDutyArgs | None
    """The PagerDuty service whose integration the classes routed to pagerduty reach, or None."""
    rollback_alarms: Sequence[RollbackAlarm]
    """The automated rollback triggers."""
    rollback_severity: Severity
    """The class a rollback trigger is announced as."""
    dispatch_repository: str
    """owner/name whose workflow repository_dispatch starts."""
    dispatch_token: pulumi.Input[str]
    """Secret GitHub token allowed to dispatch there (Contents: write on that repository only)."""
    vercel_team: str
    """The Vercel team's slug: the issuer of the app's OIDC tokens is https://oidc.vercel.com/<slug>."""
    vercel_environments: Sequence[str]
    """The Vercel targets whose deployments may publish metrics (the `environment` of the token's subject)."""
    owns_vercel_oidc: bool = True
    """Whether this stack declares the account's provider for the team's issuer (else it looks it up)."""
    permissions_boundary: pulumi.Input[str] | None = None
    """ARN of the deploy boundary both roles carry (the deploy role may change them only within it)."""

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        incident: IncidentSettings,
        providers: Providers,
        permissions_boundary: pulumi.Input[str] | None = None,
    ) -> IncidentResponseArgs:
        """The args for the stack these settings describe, whose incident section is `incident`."""
        token = settings.secret("github_dispatch_token")
        error_rate, response_time = incident.rollback.error_rate, incident.rollback.response_time
        return cls(
            project_name=settings.app.project_name,
            provider=providers.aws(GLOBAL_REGION),
            account_id=settings.aws_account_id,
            namespace=incident.metrics_namespace,
            routing={
                severity: tuple(
                    Subscriber(s.channel, s.protocol, s.endpoint)
                    for s in incident.subscribers
                    if s.channel in incident.sns_channels(severity)
                )
                for severity in SEVERITIES
            },
            pagerduty=None
            if incident.pagerduty is None
            else PagerDutyArgs.from_settings(
                incident.pagerduty,
                [severity for severity in SEVERITIES if "pagerduty" in incident.sns_channels(severity)],
                providers.pagerduty,
                settings.app.project_name,
            ),
            rollback_alarms=(
                RollbackAlarm(
                    "error-rate",
                    "immediate_rollback",
                    app_metrics.SERVER_ERROR,
                    "Average",
                    None,
                    error_rate.threshold_percent / 100,
                    error_rate.window_minutes,
                    f"error rate > {error_rate.threshold_percent:g}% over {error_rate.window_minutes} minutes: "
                    "immediate rollback",
                ),
                RollbackAlarm(
                    "p95",
                    "staged_rollback",
                    app_metrics.LATENCY,
                    None,
                    "p95",
                    response_time.p95_seconds * 1000,
                    response_time.window_minutes,
                    f"p95 > {response_time.p95_seconds:g} s over {response_time.window_minutes} minutes: "
                    "staged rollback",
                ),
            ),
            rollback_severity=incident.rollback.severity,
            dispatch_repository=incident.dispatch_repository,
            dispatch_token=pulumi.Output.secret(token.get_secret_value()),
            vercel_team=settings.vercel_team,
            vercel_environments=tuple(settings.app.targets),
            owns_vercel_oidc=incident.owns_vercel_oidc_provider,
            permissions_boundary=permissions_boundary,
        )


class IncidentResponse(pulumi.ComponentResource):
    """SNS topics per incident class, the reference's rollback alarms, and an EventBridge API destination that
    starts the rollback workflow with repository_dispatch when one of them fires."""

    topic_arns: pulumi.Output[dict[str, str]]
    """ARN of each incident class's topic (P0, P1, P2)."""
    rollback_alarm_names: pulumi.Output[list[str]]
    """Names of the rollback alarms."""
    metrics_role_arn: pulumi.Output[str]
    """Role the app assumes (Vercel OIDC) to publish its request metrics; the app's AWS_ROLE_ARN."""

    def __init__(self, name: str, args: IncidentResponseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:incident:IncidentResponse", name, None, opts)
        on_global = pulumi.ResourceOptions(parent=self, provider=args.provider)

        routing = {severity: list(args.routing.get(severity, ())) for severity in SEVERITIES}
        if args.pagerduty is not None:
            url = self._pagerduty(name, args.project_name, args.pagerduty)
            for severity in args.pagerduty.severities:
                routing[severity].append(Subscriber("pagerduty", "https", url))

        self.topics: dict[Severity, aws.sns.Topic] = {}
        self.subscriptions: list[aws.sns.TopicSubscription] = []
        for severity in SEVERITIES:
            topic = aws.sns.Topic(
                f"{name}-{severity.lower()}", name=topic_name(args.project_name, severity), opts=on_global
            )
            self.topics[severity] = topic
            for index, subscriber in enumerate(routing[severity]):
                self.subscriptions.append(
                    subscribe(f"{name}-{severity.lower()}", topic.arn, index, subscriber, on_global)
                )

        notify = self.topics[args.rollback_severity].arn
        self.rollback_alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-rollback-{alarm.trigger}",
                name=rollback_alarm_name(args.project_name, alarm.trigger),
                alarm_description=f"Automated rollback trigger: {alarm.description}. Starts the rollback workflow "
                f"({alarm.action}) and notifies {args.rollback_severity}.",
                namespace=args.namespace,
                metric_name=alarm.metric,
                dimensions=dict(app_metrics.dimensions(args.project_name)),
                statistic=alarm.statistic,
                extended_statistic=alarm.extended_statistic,
                period=60,
                evaluation_periods=alarm.window_minutes,
                datapoints_to_alarm=alarm.window_minutes,
                comparison_operator="GreaterThanThreshold",
                threshold=alarm.threshold,
                # No traffic is no evidence against the deployment: a silent app is the health check's business.
                treat_missing_data="notBreaching",
                alarm_actions=[notify],
                ok_actions=[notify],
                opts=on_global,
            )
            for alarm in args.rollback_alarms
        ]
        self._dispatch_bridge(name, args, on_global)
        self._metrics_publisher(name, args, on_global)

        self.topic_arns = pulumi.Output.all(*(topic.arn for topic in self.topics.values())).apply(
            lambda arns: dict(zip(self.topics, arns, strict=True))
        )
        self.rollback_alarm_names = pulumi.Output.all(*(alarm.name for alarm in self.rollback_alarms)).apply(list)
        self.metrics_role_arn = self.metrics_role.arn
        self.register_outputs(
            {
                "topic_arns": self.topic_arns,
                "rollback_alarm_names": self.rollback_alarm_names,
                "metrics_role_arn": self.metrics_role_arn,
            }
        )

    def _pagerduty(self, name: str, project_name: str, args: PagerDutyArgs) -> pulumi.Output[str]:
        """The escalation policy, the service it pages for, and the service's Amazon CloudWatch integration; returns
        the integration's events URL (secret: whoever holds it can open incidents)."""
        on_pagerduty = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # ---- On call: the schedule pages first, the tech lead when nobody acknowledges (components/on_call.py).
        self.on_call = OnCall(f"{name}-oncall", args.on_call, opts=pulumi.ResourceOptions(parent=self))
        levels = [("schedule_reference", self.on_call.schedule_id), ("user_reference", self.on_call.tech_lead_id)]
        # ----
        # No input of the escalation policy or the service is ForceNew: they are updated in place
        # (PagerDuty/terraform-provider-pagerduty pagerduty/resource_pagerduty_escalation_policy.go,
        # pagerduty/resource_pagerduty_service.go).
        self.escalation_policy = pagerduty.EscalationPolicy(
            f"{name}-pagerduty-escalation",
            name=f"{project_name} incidents",
            description=f"Who is paged for {project_name}'s {', '.join(args.severities)} incidents, in order",
            num_loops=args.loops,
            rules=[
                pagerduty.EscalationPolicyRuleArgs(
                    escalation_delay_in_minutes=args.escalation_delay_minutes,
                    targets=[pagerduty.EscalationPolicyRuleTargetArgs(type=kind, id=target_id)],
                )
                for kind, target_id in levels
            ],
            opts=on_pagerduty,
        )
        # The service holds the incidents' history and the integration's key the P0 topic posts to: protected.
        self.pagerduty_service = pagerduty.Service(
            f"{name}-pagerduty",
            name=f"{project_name} {'/'.join(args.severities)}",
            description=f"{project_name}: {', '.join(args.severities)} incidents from the CloudWatch alarms (SNS)",
            escalation_policy=self.escalation_policy.id,
            # The provider's defaults would resolve an open P0 after 4 hours by itself; the CloudWatch integration
            # resolves it when the alarm returns to OK (its ok_actions), and a person does otherwise.
            auto_resolve_timeout="null",
            # A P0 is always urgent: it pages at any hour.
            incident_urgency_rule=pagerduty.ServiceIncidentUrgencyRuleArgs(type="constant", urgency="high"),
            opts=pulumi.ResourceOptions.merge(on_pagerduty, pulumi.ResourceOptions(protect=True)),
        )
        vendor = pagerduty.get_vendor_output(
            name=PAGERDUTY_CLOUDWATCH_VENDOR, opts=pulumi.InvokeOutputOptions(parent=self, provider=args.provider)
        )
        # service and vendor are ForceNew; a replacement gets a new key, so the topic's subscription follows it
        # (pagerduty/resource_pagerduty_service_integration.go).
        self.pagerduty_integration = pagerduty.ServiceIntegration(
            f"{name}-pagerduty-cloudwatch",
            name=PAGERDUTY_CLOUDWATCH_VENDOR,
            service=self.pagerduty_service.id,
            vendor=vendor.id,
            opts=on_pagerduty,
        )
        # The SDK does not mark integration_key secret; the URL built from it is.
        return pulumi.Output.secret(
            self.pagerduty_integration.integration_key.apply(lambda key: PAGERDUTY_EVENTS_URL.format(key=key))
        )

    def _metrics_publisher(self, name: str, args: IncidentResponseArgs, on_global: pulumi.ResourceOptions) -> None:
        """The identity the app publishes its metrics with: a role its Vercel deployments assume with their OIDC
        token, allowed PutMetricData into the app's namespace and nothing else. No access key exists to leak."""
        issuer = vercel_oidc_issuer(args.vercel_team)
        provider_arn = f"arn:aws:iam::{args.account_id}:oidc-provider/{issuer}"
        self.vercel_oidc: aws.iam.OpenIdConnectProvider | None = None
        if args.owns_vercel_oidc:
            # One provider per issuer and account (IAM refuses a second create for the same url), so one stack owns
            # it, as ci.ownsOidcProvider does GitHub's; its url is ForceNew (iam/openid_connect_provider.go), and
            # roles that trust it break while it is replaced: protected. No thumbprint: AWS validates the issuer
            # through its CAs.
            self.vercel_oidc = aws.iam.OpenIdConnectProvider(
                f"{name}-vercel-oidc",
                url=f"https://{issuer}",
                client_id_lists=[f"https://vercel.com/{args.vercel_team}"],
                opts=pulumi.ResourceOptions.merge(on_global, pulumi.ResourceOptions(protect=True)),
            )
            trusted = pulumi.Output.from_input(provider_arn)
        else:
            # Owned by another stack: looked up, so a preview fails ("not found") before anything is registered
            # while the owning stack has not created it, and the role waits for it.
            trusted = aws.iam.get_open_id_connect_provider_output(
                arn=provider_arn, opts=pulumi.InvokeOptions(parent=self, provider=args.provider)
            ).arn
        subjects = [
            f"owner:{args.vercel_team}:project:{args.project_name}:environment:{environment}"
            for environment in args.vercel_environments
        ]
        self.metrics_role = aws.iam.Role(
            f"{name}-metrics-role",
            name=metrics_role_name(args.project_name),
            description=f"Vercel deployments of {args.project_name} publish request metrics to {args.namespace}",
            # The provider's ARN is known from its issuer; IAM refuses a trust naming a provider that does not exist
            # yet, so the role waits for it.
            assume_role_policy=trusted.apply(
                lambda arn: _vercel_trust(arn, issuer, f"https://vercel.com/{args.vercel_team}", subjects)
            ),
            max_session_duration=3600,
            permissions_boundary=args.permissions_boundary,
            opts=pulumi.ResourceOptions.merge(
                on_global, pulumi.ResourceOptions(depends_on=[self.vercel_oidc] if self.vercel_oidc else [])
            ),
        )
        # PutMetricData has no resource-level permission: the namespace condition is what scopes it.
        self.metrics_policy = aws.iam.RolePolicy(
            f"{name}-metrics-policy",
            name="put-app-metrics",
            role=self.metrics_role.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "cloudwatch:PutMetricData",
                            "Resource": "*",
                            "Condition": {"StringEquals": {"cloudwatch:namespace": args.namespace}},
                        }
                    ],
                }
            ),
            opts=on_global,
        )

    def _dispatch_bridge(self, name: str, args: IncidentResponseArgs, on_global: pulumi.ResourceOptions) -> None:
        """Alarm state change -> EventBridge rule -> API destination -> POST /repos/{repo}/dispatches.

        No code to run or patch: CloudWatch emits every alarm state change to the default event bus, and an API
        destination's connection keeps the token in a Secrets Manager secret EventBridge manages. The only
        principal is EventBridge, allowed to invoke this one destination.
        """
        # The connection's API_KEY auth sends `Authorization: Bearer <token>` on every call; GitHub's REST API wants
        # its media type and version headers too (docs.github.com, "Create a repository dispatch event").
        self.connection = aws.cloudwatch.EventConnection(
            f"{name}-github",
            name=f"{args.project_name}-github-dispatch",
            description=f"GitHub token that may dispatch to {args.dispatch_repository}",
            authorization_type="API_KEY",
            auth_parameters={
                "api_key": {
                    "key": "Authorization",
                    "value": pulumi.Output.concat("Bearer ", args.dispatch_token),
                },
                "invocation_http_parameters": {
                    "headers": [
                        {"key": "Accept", "value": "application/vnd.github+json", "is_value_secret": False},
                        {"key": "X-GitHub-Api-Version", "value": "2022-11-28", "is_value_secret": False},
                    ]
                },
            },
            opts=on_global,
        )
        self.destination = aws.cloudwatch.EventApiDestination(
            f"{name}-github-dispatch",
            name=f"{args.project_name}-github-dispatch",
            description=f"repository_dispatch on {args.dispatch_repository}",
            invocation_endpoint=f"{GITHUB_API}/repos/{args.dispatch_repository}/dispatches",
            http_method="POST",
            # One rollback at a time is the workflow's concurrency; this only keeps a flapping alarm polite.
            invocation_rate_limit_per_second=1,
            connection_arn=self.connection.arn,
            opts=on_global,
        )
        self.dispatch_role = aws.iam.Role(
            f"{name}-dispatch-role",
            name=f"{args.project_name}-incident-dispatch",
            description="EventBridge invokes the GitHub dispatch API destination when a rollback alarm fires",
            assume_role_policy=_events_trust(args.account_id),
            permissions_boundary=args.permissions_boundary,
            opts=on_global,
        )
        self.dispatch_policy = aws.iam.RolePolicy(
            f"{name}-dispatch-policy",
            name="invoke-github-dispatch",
            role=self.dispatch_role.id,
            policy=self.destination.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": arn}],
                    }
                )
            ),
            opts=on_global,
        )
        self.dispatch_rules: list[aws.cloudwatch.EventRule] = []
        self.dispatch_targets: list[aws.cloudwatch.EventTarget] = []
        for alarm, resource in zip(args.rollback_alarms, self.rollback_alarms, strict=True):
            rule = aws.cloudwatch.EventRule(
                f"{name}-dispatch-{alarm.trigger}",
                name=f"{args.project_name}-rollback-{alarm.trigger}-dispatch",
                description=f"{alarm.description}: start the rollback workflow",
                event_pattern=resource.arn.apply(_alarm_pattern),
                opts=on_global,
            )
            self.dispatch_rules.append(rule)
            self.dispatch_targets.append(
                aws.cloudwatch.EventTarget(
                    f"{name}-dispatch-{alarm.trigger}-target",
                    rule=rule.name,
                    arn=self.destination.arn,
                    role_arn=self.dispatch_role.arn,
                    input_transformer={
                        "input_paths": {"alarm": "$.detail.alarmName", "time": "$.time"},
                        "input_template": dispatch_template(alarm, args.rollback_severity),
                    },
                    # A throttled or 5xx dispatch is retried for an hour; later, rolling back is a human's call.
                    retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 10},
                    opts=pulumi.ResourceOptions.merge(
                        on_global, pulumi.ResourceOptions(depends_on=[self.dispatch_policy])
                    ),
                )
            )


def dispatch_template(alarm: RollbackAlarm, severity: Severity) -> str:
    """The repository_dispatch body (event_type and client_payload) a rollback alarm sends."""
    # EventBridge fills <alarm> and <time> from input_paths: an alarm name and a timestamp never hold a quote. The
    # alarm's free-text reason could, and a body that is no longer JSON is refused by GitHub: it is left out, and the
    # reason sent is the trigger's own description, JSON-encoded here.
    payload = {
        "alarm": "<alarm>",
        "action": alarm.action,
        "severity": severity,
        "reason": alarm.description,
        "time": "<time>",
    }
    return json.dumps({"event_type": DISPATCH_EVENT_TYPE, "client_payload": payload})


def vercel_oidc_issuer(team: str) -> str:
    """Host and path of a Vercel team's OIDC issuer (the project's issuer mode `team`)."""
    return f"oidc.vercel.com/{team}"


def metrics_role_name(project_name: str) -> str:
    """Name of the role the app publishes its metrics with."""
    return f"{project_name}-incident-metrics"


def _vercel_trust(provider_arn: str, issuer: str, audience: str, subjects: Sequence[str]) -> str:
    """Only this project's deployments of the named targets, with tokens minted for this team, may assume it."""
    return json.dumps(web_identity_trust(provider_arn, issuer, audience, subjects))


def _alarm_pattern(alarm_arn: str) -> str:
    """Matches the alarm's transition into ALARM (not OK or INSUFFICIENT_DATA)."""
    return json.dumps(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "resources": [alarm_arn],
            "detail": {"state": {"value": ["ALARM"]}},
        }
    )


def _events_trust(account_id: str) -> str:
    """EventBridge of this account only may assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )
