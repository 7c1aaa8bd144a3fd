"""The incident section: rollback and failover triggers on the app's metrics, and who hears of each class."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from settings.base import ConfigModel, CrossFieldError, config_path, setting
from settings.oncall import OnCallSettings
from settings.scaling import ScalingSignals

# The reference's incident classes and its communication plan (Incident Response): who hears of each class.
Severity = Literal["P0", "P1", "P2"]
# Channels an alarm reaches through an SNS subscription (an address or an integration URL).
SnsChannel = Literal["pagerduty", "slack_alert", "email_leadership", "email_team"]
# Channels the runbook workflows post to with the reference's templates (status page webhook, in-app banner) or a
# person announces (twitter, customer e-mail): no subscription, so an alarm alone never reaches them.
AnnouncedChannel = Literal["status_page", "in_app_banner", "twitter", "email_customers"]
IncidentChannel = SnsChannel | AnnouncedChannel
SNS_CHANNELS: tuple[SnsChannel, ...] = ("pagerduty", "slack_alert", "email_leadership", "email_team")
REFERENCE_ROUTING: dict[Severity, list[IncidentChannel]] = {
    "P0": ["slack_alert", "pagerduty", "email_leadership", "status_page", "twitter", "email_customers"],
    "P1": ["slack_alert", "email_team", "status_page", "in_app_banner"],
    "P2": ["slack_alert", "status_page"],
}
GITHUB_REPOSITORY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"


# CloudWatch evaluates at most one day of data points (EvaluationPeriods x Period <= 86,400 s; one a minute here).
ALARM_WINDOW_MAX_MINUTES = 1440


class ErrorRateTrigger(ConfigModel):
    """An error-rate condition: the share of requests answered with a 5xx over a window."""

    threshold_percent: float = setting("Error rate, in percent of requests, above which it fires.", gt=0, le=100)
    window_minutes: int = setting(
        "Minutes the rate must stay above the threshold (one data point a minute).", ge=1, le=ALARM_WINDOW_MAX_MINUTES
    )


class ResponseTimeTrigger(ConfigModel):
    """A latency condition: the 95th percentile of request durations over a window."""

    p95_seconds: float = setting("p95 request duration, in seconds, above which it fires.", gt=0)
    window_minutes: int = setting(
        "Minutes the p95 must stay above the threshold (one data point a minute).", ge=1, le=ALARM_WINDOW_MAX_MINUTES
    )


class RollbackTriggers(ConfigModel):
    """The reference's automated rollback triggers (Rollback Procedures): alarms that start the rollback workflow."""

    error_rate: ErrorRateTrigger = setting(
        "error rate > 5% over 5 minutes: immediate rollback.",
        default_factory=lambda: ErrorRateTrigger.model_validate({"thresholdPercent": 5.0, "windowMinutes": 5}),
    )
    response_time: ResponseTimeTrigger = setting(
        "p95 > 5 s over 10 minutes: staged rollback.",
        default_factory=lambda: ResponseTimeTrigger.model_validate({"p95Seconds": 5.0, "windowMinutes": 10}),
    )
    severity: Severity = setting(
        "Incident class a rollback trigger is announced as (a major feature broken: P1).", example="P1", default="P1"
    )


class FailoverTriggers(ConfigModel):
    """The reference's automatic failover triggers beyond the health check (Failover Procedures)."""

    p95_seconds: float = setting("p95 over this many seconds fails over (the reference: 30).", default=30, gt=0)
    error_rate_percent: float = setting(
        "An error rate over this percentage fails over (the reference: 10).", default=10, gt=0, le=100
    )
    window_minutes: int = setting(
        "Minutes either must last before Route 53 sees its alarm (the reference names none: 5).",
        default=5,
        ge=1,
        le=ALARM_WINDOW_MAX_MINUTES,
    )


class IncidentSubscriber(ConfigModel):
    """One e-mail endpoint of an incident class's SNS topic (PagerDuty is reached by its declared integration)."""

    channel: SnsChannel = setting("The communication plan's channel it delivers.", example="slack_alert")
    protocol: Literal["email"] = setting(
        "email (confirmed once by the recipient). PagerDuty is no subscriber: vibelog:incident.pagerduty declares "
        "its service, whose Amazon CloudWatch integration the topic reaches over https.",
        example="email",
    )
    endpoint: str = setting(
        "The email address.",
        example="incidents@vibelog.io",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    )

    @model_validator(mode="after")
    def _not_pagerduty(self) -> IncidentSubscriber:
        # The declared service is the one place on-call is paged from: a second, e-mail path would page outside its
        # escalation policy (or twice), and its address belongs to an integration nobody declares.
        if self.channel == "pagerduty":
            raise ValueError(
                "pagerduty is reached through the service vibelog:incident.pagerduty declares, not a subscriber: "
                "remove this entry"
            )
        return self


class PagerDutySettings(ConfigModel):
    """The P0 service in PagerDuty and its escalation policy (the provider's token: vibelog:secrets.pagerdutyToken)."""

    on_call: OnCallSettings = setting(
        "The on-call rotation the escalation policy pages first, then its tech lead (docs/incident-response.md)."
    )
    escalation_delay_minutes: int = setting(
        "Minutes before an unacknowledged incident pages the next level (PagerDuty's minimum: 1; at most a day).",
        example=15,
        default=15,
        ge=1,
        le=1440,
    )
    loops: int = setting(
        "Times the policy repeats when nobody acknowledges (PagerDuty: 0 to 9).", example=2, default=2, ge=0, le=9
    )


class IncidentSettings(ConfigModel):
    """Detection and communication of incidents: the app's metrics, the rollback alarms, failover triggers, routing.

    A stack without the section (development) declares no alarms, no rollback bridge and no per-class topics.
    """

    metrics_namespace: str = setting(
        "CloudWatch namespace the app publishes its request metrics to (docs/incident-response.md).",
        example="VibeLog/App",
        default="VibeLog/App",
        pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",
    )
    rollback: RollbackTriggers = setting("Automated rollback triggers.", default_factory=RollbackTriggers)
    failover: FailoverTriggers = setting(
        "Automatic failover triggers, combined with the HTTPS health check (needs vibelog:dns.failover).",
        default_factory=FailoverTriggers,
    )
    scaling: ScalingSignals = setting(
        "Scaling signals: P2 alarms on the functions' p95, the connection pool and storage (docs/monitoring.md).",
        default_factory=ScalingSignals,
    )
    owns_vercel_oidc_provider: bool = setting(
        "This stack owns the account's OIDC provider for the Vercel team's issuer, which the app's metrics role trusts "
        "(one stack per account and team; the others look it up).",
        example=True,
        default=False,
    )
    dispatch_repository: str = setting(
        "owner/name of the repository whose rollback workflow the alarms start (repository_dispatch).",
        example="vibelog/vibelog-infra",
        pattern=GITHUB_REPOSITORY_PATTERN,
    )
    routing: dict[Severity, list[IncidentChannel]] = setting(
        "Which channels each incident class reaches (the reference's communication plan).",
        default_factory=lambda: {severity: list(channels) for severity, channels in REFERENCE_ROUTING.items()},
    )
    subscribers: list[IncidentSubscriber] = setting(
        "E-mail endpoints of the channels an alarm reaches by SNS; every such channel a class routes to needs one.",
        default_factory=list,
    )
    pagerduty: PagerDutySettings | None = setting(
        "The PagerDuty service, escalation policy and CloudWatch integration; required when a class routes to "
        "pagerduty (its token: vibelog:secrets.pagerdutyToken).",
        default=None,
    )

    @model_validator(mode="after")
    def _scaling_before_rollback(self) -> IncidentSettings:
        # A scaling signal is the early warning: one that fires only after the staged rollback has started says
        # nothing new.
        scaling, rollback = self.scaling.functions.p95_seconds, self.rollback.response_time.p95_seconds
        if scaling >= rollback:
            raise CrossFieldError(
                [
                    (
                        config_path(IncidentSettings, "scaling", "functions", "p95_seconds"),
                        f"{scaling:g} s must be below the staged rollback's p95 ({rollback:g} s)",
                    )
                ]
            )
        return self

    def sns_channels(self, severity: Severity) -> list[SnsChannel]:
        """The channels of a class that an alarm reaches through its topic."""
        return [c for c in SNS_CHANNELS if c in self.routing.get(severity, [])]

    @model_validator(mode="after")
    def _routing_rules(self) -> IncidentSettings:
        problems = []
        routing = config_path(IncidentSettings, "routing")
        for severity in ("P0", "P1", "P2"):
            channels = self.routing.get(severity)
            if not channels:
                problems.append((f"{routing}.{severity}", f"{severity} must reach at least one channel"))
            elif len(set(channels)) != len(channels):
                problems.append((f"{routing}.{severity}", "a channel is listed twice"))
        for severity, missing in REFERENCE_ROUTING.items():
            dropped = [c for c in missing if c not in self.routing.get(severity, [])]
            if dropped and self.routing.get(severity):
                problems.append(
                    (
                        f"{routing}.{severity}",
                        f"the reference's communication plan sends {severity} to {', '.join(dropped)} too",
                    )
                )
        subscribed = {s.channel for s in self.subscribers}
        if self.pagerduty is not None:
            subscribed.add("pagerduty")
        routed = {c for severity in ("P0", "P1", "P2") for c in self.sns_channels(severity)}
        if "pagerduty" in routed and self.pagerduty is None:
            problems.append(
                (
                    config_path(IncidentSettings, "pagerduty"),
                    "pagerduty is routed to: the on-call rotation PagerDuty pages (pagerduty.onCall) is required",
                )
            )
            subscribed.add("pagerduty")
        if "pagerduty" not in routed and self.pagerduty is not None:
            problems.append(
                (
                    config_path(IncidentSettings, "pagerduty"),
                    f"no class routes to pagerduty: add it to {routing} (the reference: P0) or remove this section",
                )
            )
        problems += [
            (config_path(IncidentSettings, "subscribers"), f"{channel} is routed to but has no subscriber")
            for channel in sorted(routed - subscribed)
        ]
        if problems:
            raise CrossFieldError(problems)
        return self
