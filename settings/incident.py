"""The incident section: rollback and failover triggers on the app's metrics, and who hears of each class."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from settings.base import ConfigModel, CrossFieldError, config_path, setting

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
    """One endpoint of an incident class's SNS topic."""

    channel: SnsChannel = setting("The communication plan's channel it delivers.", example="slack_alert")
    protocol: Literal["email", "https"] = setting(
        "email (confirmed once by the recipient) or https (PagerDuty's Amazon CloudWatch integration URL, read from "
        "vibelog:secrets.pagerdutyIntegrationUrl: its key is in the URL, so it never sits in plain config).",
        example="email",
    )
    endpoint: str | None = setting(
        "The email address (protocol email); omitted for https, whose URL is the secret pagerdutyIntegrationUrl.",
        example="incidents@vibelog.io",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        default=None,
    )

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> IncidentSubscriber:
        endpoint = config_path(IncidentSubscriber, "endpoint")
        if self.protocol == "email" and self.endpoint is None:
            raise ValueError(f"{endpoint} (an email address) is required when protocol is email")
        if self.protocol == "https" and (self.endpoint is not None or self.channel != "pagerduty"):
            raise ValueError(
                f"protocol https is PagerDuty's integration URL: channel pagerduty, no {endpoint} here (set "
                "vibelog:secrets.pagerdutyIntegrationUrl, encrypted)"
            )
        return self


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
        "Endpoints of the channels an alarm reaches by SNS; every such channel a class routes to needs one.",
        default_factory=list,
    )

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
        routed = {c for severity in ("P0", "P1", "P2") for c in self.sns_channels(severity)}
        problems += [
            (config_path(IncidentSettings, "subscribers"), f"{channel} is routed to but has no subscriber")
            for channel in sorted(routed - subscribed)
        ]
        if problems:
            raise CrossFieldError(problems)
        return self
