"""The DNS section: the stack's Route 53 zone, its delegations, and the health-checked failover."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from settings.base import (
    AwsRegion,
    ConfigModel,
    CrossFieldError,
    Hostname,
    config_path,
    setting,
)
from settings.incident import REFERENCE_ROUTING, SNS_CHANNELS, SnsChannel

# Where Route 53 may probe from (the API's HealthCheckRegion values); it wants at least 3 when any are named.
HealthCheckRegion = Literal[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
]
# The channels an SNS subscription reaches, as the incident routing names them; a failover is a P0 event, so its
# alarm reaches the channels the reference's communication plan gives P0.
AlertChannel = SnsChannel
P0_CHANNELS: tuple[AlertChannel, ...] = tuple(c for c in REFERENCE_ROUTING["P0"] if c in SNS_CHANNELS)
# A name server as `pulumi stack output dns_name_servers` prints it (a trailing dot is tolerated).
NameServer = Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")]
IPV4_PATTERN = r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$"


class VercelDnsTargets(ConfigModel):
    """What Vercel asks a domain's records to point at; newer Vercel accounts get project-specific values."""

    apex_a: str = setting(
        "IPv4 address of the A record at a zone apex (Vercel's documented 76.76.21.21).",
        example="76.76.21.21",
        default="76.76.21.21",
        pattern=IPV4_PATTERN,
    )
    cname: Hostname = setting(
        "Target of the CNAME record of a name below the apex (Vercel's documented cname.vercel-dns.com).",
        example="cname.vercel-dns.com",
        default="cname.vercel-dns.com",
    )


class HealthCheckSettings(ConfigModel):
    """The Route 53 health check on the primary origin; defaults are the reference's numbers."""

    path: str = setting(
        "Path probed on the origin: the app's health endpoint (503 when any dependency is unhealthy).",
        example="/api/health",
        default="/api/health",
        pattern=r"^/[^\s]{0,254}$",
    )
    search_string: str = setting(
        "Text the first 5,120 bytes of the response must contain, so an error page served with 200 counts as down.",
        example='"status":"healthy"',
        default='"status":"healthy"',
        min_length=1,
        max_length=255,
    )
    failure_threshold: int = setting(
        "Consecutive failed probes before the origin is unhealthy (the reference: 3).",
        example=3,
        default=3,
        ge=1,
        le=10,
    )
    request_interval: Literal[10, 30] = setting(
        "Seconds between probes from each checker; Route 53 takes 10 or 30 only, and never changes it in place.",
        example=30,
        default=30,
    )
    regions: list[HealthCheckRegion] = setting(
        "Route 53 checker regions probing the origin (at least 3).",
        example=["us-east-1", "us-west-2", "eu-west-1"],
        default_factory=lambda: ["us-east-1", "us-west-2", "eu-west-1"],
        min_length=3,
    )

    @model_validator(mode="after")
    def _regions_unique(self) -> HealthCheckSettings:
        if len(set(self.regions)) != len(self.regions):
            raise CrossFieldError([(config_path(HealthCheckSettings, "regions"), "regions must not repeat a region")])
        return self


class AlertSubscriber(ConfigModel):
    """One endpoint of the on-call SNS topic."""

    channel: AlertChannel = setting("Which channel of the reference's communication plan this is.", example="pagerduty")
    protocol: Literal["email", "https"] = setting(
        "email (confirmed once by the recipient) or https (PagerDuty's CloudWatch integration URL, a chat webhook).",
        example="email",
    )
    endpoint: str = setting(
        "The address or URL; plaintext config, so not a URL that embeds a key (use an email integration).",
        example="oncall@vibelog.io",
        min_length=3,
    )

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> AlertSubscriber:
        if self.protocol == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.endpoint):
            raise ValueError("endpoint must be an email address when protocol is email")
        if self.protocol == "https" and not re.fullmatch(r"https://[^\s/]+(/\S*)?", self.endpoint):
            raise ValueError("endpoint must be an https:// URL when protocol is https")
        return self


class ZoneDelegation(ConfigModel):
    """A subzone another stack owns: this zone only holds the NS record that points at it."""

    name: Hostname = setting("The delegated name (a zone another stack owns).", example="staging.vibelog.io")
    name_servers: list[NameServer] = setting(
        "The subzone's name servers, exactly as its stack exports them (`pulumi stack output dns_name_servers`): "
        "Route 53 gives every zone four.",
        example=["ns-1.awsdns-01.org", "ns-512.awsdns-00.net", "ns-1024.awsdns-00.co.uk", "ns-1536.awsdns-00.com"],
        min_length=2,
        max_length=13,
    )

    @model_validator(mode="after")
    def _name_servers_unique(self) -> ZoneDelegation:
        # A repeated server is a copy-paste slip that leaves one of the zone's real servers out of the delegation.
        if len({server.rstrip(".") for server in self.name_servers}) != len(self.name_servers):
            raise ValueError(f"{config_path(ZoneDelegation, 'name_servers')} must not repeat a server")
        return self


class DnsSettings(ConfigModel):
    """The stack's own Route 53 zone, the app's records in it, and (optionally) health-checked failover."""

    zone: Hostname = setting(
        "The hosted zone this stack owns, creates and protects (vibelog.io for production).", example="vibelog.io"
    )
    create_zone: bool = setting(
        "Create the hosted zone (an empty account). Route 53 creates a second zone of the same name without error, "
        "so this is never assumed: a zone that exists is adopted with zoneId instead.",
        example=True,
        default=False,
    )
    zone_id: str | None = setting(
        "Id of the existing hosted zone to adopt (`import`) instead of creating one: "
        "aws route53 list-hosted-zones-by-name --dns-name <zone> --query 'HostedZones[0].Id'.",
        example="Z0123456789ABCDEFGHIJ",
        default=None,
        pattern=r"^(/hostedzone/)?Z[A-Z0-9]{1,32}$",
    )
    delegations: list[ZoneDelegation] = setting(
        "Subzones owned by other stacks, delegated from this zone with NS records.", default_factory=list
    )
    vercel: VercelDnsTargets = setting("Vercel's DNS targets.", default_factory=VercelDnsTargets)
    record_ttl: int = setting(
        "TTL of records that are not health-checked, in seconds.", example=300, default=300, ge=60, le=172800
    )
    failover: bool = setting(
        "Fail the app's names over to a degraded-mode page when the Vercel origin is unhealthy.",
        example=True,
        default=False,
    )
    failover_ttl: int = setting(
        "TTL of the failover records, in seconds; short, so resolvers follow a failover quickly.",
        example=60,
        default=60,
        ge=1,
        le=60,
    )
    degraded_region: AwsRegion | None = setting(
        "AWS region of the degraded-mode page's bucket; another region than aws:region.",
        example="us-west-2",
        default=None,
    )
    health_check: HealthCheckSettings = setting("The origin's health check.", default_factory=HealthCheckSettings)
    alerts: list[AlertSubscriber] = setting(
        "Who the health-check alarm notifies: the reference's P0 channels, on a stack without vibelog:incident. With "
        "it, the alarm notifies the incident P0 topic, which reaches them already: no channel of P0 may be repeated "
        "here (PagerDuty would be paged twice, once outside its escalation policy).",
        default_factory=list,
    )
    force_failover: bool = setting(
        "Runbook switch: send traffic to the degraded-mode page now (inverts the health check); false to undo.",
        example=False,
        default=False,
    )

    @model_validator(mode="after")
    def _failover_rules(self) -> DnsSettings:
        problems = []
        if self.create_zone == (self.zone_id is not None):
            problems.append(
                (
                    config_path(DnsSettings, "zone_id"),
                    f"say whether {self.zone} exists: zoneId adopts the existing hosted zone, createZone: true creates "
                    "one (never both)",
                )
            )
        if self.force_failover and not self.failover:
            problems.append(
                (
                    config_path(DnsSettings, "force_failover"),
                    "forceFailover needs failover: true (there is no secondary)",
                )
            )
        if self.failover and self.degraded_region is None:
            problems.append(
                (config_path(DnsSettings, "degraded_region"), "failover needs the region of the degraded-mode page")
            )
        seen: set[str] = set()
        for index, delegation in enumerate(self.delegations):
            if not delegation.name.endswith(f".{self.zone}"):
                problems.append(
                    (config_path(DnsSettings, "delegations", index, "name"), f"must be a name below {self.zone}")
                )
            elif delegation.name in seen:
                problems.append(
                    (config_path(DnsSettings, "delegations", index, "name"), f"{delegation.name} is delegated twice")
                )
            seen.add(delegation.name)
        if problems:
            raise CrossFieldError(problems)
        return self
