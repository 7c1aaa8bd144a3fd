"""The stack's Route 53 zone and the app's names in it, failed over to a degraded-mode page when Vercel is down.

Over 450 lines on purpose: the zone, the health checks, the alarm and the failover record pairs are one capability
whose pieces reference each other (a record pair names its check, the alarm its check); the static site, the one
part that stands alone, lives in components/degraded_site.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import app_metrics
from components.degraded_site import DegradedSite, DegradedSiteArgs
from components.providers import IMPORT_IGNORES, Providers
from components.sns import Subscriber, subscribe
from settings.dns import DnsSettings
from settings.stack import StackSettings

# Route 53 publishes health-check metrics only in us-east-1, and CloudFront takes ACM certificates only from
# there: the global half of the failover lives in this region whatever the stack's aws:region is.
GLOBAL_REGION = "us-east-1"
# Relative to the project directory, where Pulumi runs the program and reads assets.
DEGRADED_PAGE = "components/degraded_page/index.html"
DELEGATION_TTL = 172800  # NS records change only when a subzone is recreated: the TTL Route 53 itself uses
VALIDATION_TTL = 60
# hashicorp/terraform-provider-aws internal/service/route53/record.go (resourceRecordCreate): a new record is sent as
# CREATE unless allow_overwrite, and CREATE fails when the zone already holds that name and type. Records here never
# overwrite: a record made by hand (or left from before an imported zone) stops the `up` with Route 53's error
# instead of being silently taken over; import it or delete it (docs/dns-failover.md).
ALLOW_OVERWRITE = False
PRIMARY_SET_ID = "primary-vercel"
ZONE_IMPORT_IGNORES = ("comment",)
"""What an adopted zone's declaration leaves as it is, besides tags: hashicorp/terraform-provider-aws
internal/service/route53/zone.go resourceZoneRead sets `comment` from the zone, so the import step compares it."""
SECONDARY_SET_ID = "secondary-degraded-page"

RecordType = Literal["A", "CNAME"]


def degraded_bucket_name(zone: str, region: str, account_id: str) -> str:
    """Global name of the degraded-mode page's bucket; known before it exists, so policies can name it."""
    return f"{zone.replace('.', '-')}-degraded-{region}-{account_id}"


def oncall_topic_name(zone: str) -> str:
    """Name of the on-call SNS topic of a zone's failover."""
    return f"{zone.replace('.', '-')}-dns-failover"


def alarm_name(fqdn: str) -> str:
    """Name of the CloudWatch alarm on the health check of a name's primary origin."""
    return f"{fqdn}-primary-origin-unhealthy"


def failover_alarm_name(fqdn: str, trigger: Literal["error-rate", "p95"]) -> str:
    """Name of the CloudWatch alarm a failover trigger's Route 53 health check watches."""
    return f"{fqdn}-failover-{trigger}"


@dataclass(frozen=True)
class AppName:
    """One name the app is served on, and what Vercel asks it to point at."""

    fqdn: str
    """The fully qualified name."""
    label: str
    """Short name used in resource names: `apex` for the zone apex, else the part below the zone."""
    type: RecordType
    """A at the zone apex (no CNAME allowed there), CNAME below it."""
    value: str
    """Vercel's target for that type."""


@dataclass(frozen=True)
class Delegation:
    """An NS record delegating a subzone that another stack owns."""

    fqdn: str
    """The delegated name."""
    label: str
    """Short name used in resource names."""
    name_servers: Sequence[str]
    """The subzone's name servers."""


@dataclass(frozen=True)
class HealthCheckArgs:
    """The probe of the primary origin: Vercel's address with the app's name for SNI and Host."""

    fqdn: str
    """Name sent as SNI and Host, so Vercel answers as the app."""
    ip_address: str
    """Vercel's address, probed directly, so the check measures the origin and not whichever side DNS serves."""
    path: str
    """Path of the app's health endpoint."""
    search_string: str
    """Text a healthy response contains."""
    failure_threshold: int
    """Consecutive failures before the origin is unhealthy."""
    request_interval: int
    """Seconds between probes (10 or 30)."""
    regions: Sequence[str]
    """Checker regions."""
    inverted: bool
    """Forced failover: the check reports the opposite of what it sees."""


@dataclass(frozen=True)
class MetricTriggers:
    """Failover on the app's own metrics, beside the HTTPS check (the reference's automatic failover triggers)."""

    namespace: str
    """CloudWatch namespace of the app's metrics."""
    dimensions: Mapping[str, str]
    """Dimensions of the stack's data points."""
    error_rate_percent: float
    """Error rate over which traffic fails over."""
    p95_seconds: float
    """p95 over which traffic fails over."""
    window_minutes: int
    """Minutes either condition lasts before its alarm fires."""


@dataclass(frozen=True)
class FailoverArgs:
    """The health check, the degraded-mode site in a second region and who hears of a failover."""

    health_check: HealthCheckArgs
    """The probe of the primary origin."""
    ttl: int
    """TTL of the failover records (at most 60)."""
    site_provider: aws.Provider
    """AWS in the degraded-mode page's region."""
    site_region: str
    """That region."""
    bucket_name: str
    """Name of the private bucket holding the page."""
    page_path: str
    """The degraded-mode page's HTML file, relative to the project directory."""
    subscribers: Sequence[Subscriber]
    """Endpoints of the on-call topic."""
    triggers: MetricTriggers | None = None
    """Failover triggers on the app's metrics, or None for the HTTPS check alone."""
    forced: bool = False
    """forceFailover: the records answer with the degraded page whatever the checks see."""
    notify: Sequence[pulumi.Input[str]] = ()
    """Further SNS topics the failover alarm notifies (the incident class P0's topic)."""


@dataclass(frozen=True)
class DnsFailoverArgs:
    """A stack's zone, its records, and optionally the failover of the app's names."""

    zone_name: str
    """The hosted zone this stack owns."""
    global_provider: aws.Provider
    """AWS in us-east-1: Route 53, its metrics and alarm, CloudFront and its certificate."""
    names: Sequence[AppName]
    """The app's names in the zone."""
    delegations: Sequence[Delegation]
    """Subzones other stacks own."""
    record_ttl: int
    """TTL of records that are not health-checked."""
    failover: FailoverArgs | None
    """The failover, or None for plain records."""
    zone_only: bool = False
    """Bootstrap phase `zone`: only the zone and its delegations, so the zone's name servers exist (and can be
    delegated to) before a certificate is validated against them."""
    zone_id: str | None = None
    """The existing hosted zone to adopt instead of creating one (Route 53 would create a second zone silently)."""

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        dns: DnsSettings,
        providers: Providers,
        notify: Sequence[pulumi.Input[str]] = (),
    ) -> DnsFailoverArgs:
        """The args for the stack these settings describe, whose DNS section is `dns`; `notify` are further topics
        the failover alarm reaches (the incident class P0's)."""
        incident = settings.incident
        zone = dns.zone
        fqdns = [settings.domain] + ([f"www.{settings.domain}"] if settings.app.www_redirect else [])
        names = [
            AppName(fqdn, _label(fqdn, zone), "A", dns.vercel.apex_a)
            if fqdn == zone
            else AppName(fqdn, _label(fqdn, zone), "CNAME", dns.vercel.cname)
            for fqdn in fqdns
        ]
        failover = None
        if dns.failover and dns.degraded_region is not None:
            check = dns.health_check
            failover = FailoverArgs(
                health_check=HealthCheckArgs(
                    fqdn=settings.domain,
                    ip_address=dns.vercel.apex_a,
                    path=check.path,
                    search_string=check.search_string,
                    failure_threshold=check.failure_threshold,
                    request_interval=check.request_interval,
                    regions=tuple(check.regions),
                    inverted=dns.force_failover,
                ),
                ttl=dns.failover_ttl,
                site_provider=providers.aws(dns.degraded_region),
                site_region=dns.degraded_region,
                bucket_name=degraded_bucket_name(zone, dns.degraded_region, settings.aws_account_id),
                page_path=DEGRADED_PAGE,
                subscribers=tuple(Subscriber(a.channel, a.protocol, a.endpoint) for a in dns.alerts),
                triggers=MetricTriggers(
                    namespace=incident.metrics_namespace,
                    dimensions=app_metrics.dimensions(settings.app.project_name),
                    error_rate_percent=incident.failover.error_rate_percent,
                    p95_seconds=incident.failover.p95_seconds,
                    window_minutes=incident.failover.window_minutes,
                )
                if incident is not None
                else None,
                forced=dns.force_failover,
                notify=tuple(notify),
            )
        return cls(
            zone_name=zone,
            global_provider=providers.aws(GLOBAL_REGION),
            names=tuple(names),
            delegations=tuple(Delegation(d.name, _label(d.name, zone), tuple(d.name_servers)) for d in dns.delegations),
            record_ttl=dns.record_ttl,
            failover=failover,
            zone_only=settings.bootstrap_phase == "zone",
            zone_id=dns.zone_id.removeprefix("/hostedzone/") if dns.zone_id else None,
        )


class DnsFailover(pulumi.ComponentResource):
    """The zone (protected), the app's Vercel records, and when asked, a health-checked failover pair per name
    whose secondary is a static degraded-mode page served by CloudFront from a private bucket in a second region.
    """

    zone_id: pulumi.Output[str]
    """Id of the hosted zone."""
    name_servers: pulumi.Output[Sequence[str]]
    """The zone's name servers (what the parent zone delegates to)."""
    health_check_id: pulumi.Output[str] | None
    """Id of the health check the failover records follow (the calculated one when metric triggers exist)."""
    https_health_check_id: pulumi.Output[str] | None
    """Id of the HTTPS check of the primary origin (Vercel), if the stack fails over."""
    degraded_page_domain: pulumi.Output[str] | None
    """CloudFront domain of the degraded-mode page, if the stack fails over."""

    def __init__(self, name: str, args: DnsFailoverArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:dns:DnsFailover", name, None, opts)
        on_global = pulumi.ResourceOptions(parent=self, provider=args.global_provider)

        # The zone is the domain's identity: recreating it changes its name servers at the registrar.
        self.zone = aws.route53.Zone(
            f"{name}-zone",
            name=args.zone_name,
            comment=f"{args.zone_name}, owned by vibelog-infra stack {pulumi.get_stack()}",
            # Adopted by id when it exists. The engine's import step fails the `up` ("inputs to import do not match
            # the existing resource", pulumi/pulumi pkg/resource/deploy/step.go ImportStep.Apply) when a declared
            # input differs from what the provider reads, and ignoreChanges is the only way past it: the tags,
            # since the provider's default tags make the import's inputs differ (pulumi/pulumi-aws#5284), and the
            # comment, which resourceZoneRead reads from the zone (a registrar's "HostedZone created by Route53
            # Registrar", the console's empty one) and which this declaration, or pulumi-aws's default "Managed by
            # Pulumi" without it, never matches. An adopted zone keeps the comment it has.
            opts=pulumi.ResourceOptions.merge(
                on_global,
                pulumi.ResourceOptions(
                    protect=True,
                    import_=args.zone_id,
                    ignore_changes=[*IMPORT_IGNORES, *ZONE_IMPORT_IGNORES] if args.zone_id else None,
                ),
            ),
        )
        self.delegations = [
            aws.route53.Record(
                f"{name}-{delegation.label}-ns",
                zone_id=self.zone.zone_id,
                name=delegation.fqdn,
                type="NS",
                ttl=DELEGATION_TTL,
                records=list(delegation.name_servers),
                allow_overwrite=ALLOW_OVERWRITE,
                opts=on_global,
            )
            for delegation in args.delegations
        ]

        self.records: list[aws.route53.Record] = []
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        """Every CloudWatch alarm of the failover."""
        self.health_checks: list[tuple[str, aws.route53.HealthCheck]] = []
        """(label, check) of every Route 53 health check of the failover."""
        self.health_check_id = None
        self.https_health_check_id = None
        self.degraded_page_domain = None
        if args.zone_only:
            pass  # phase `zone`: nothing below may wait on a delegation that does not exist yet
        elif args.failover is None:
            self.records = [
                aws.route53.Record(
                    f"{name}-{app_name.label}",
                    zone_id=self.zone.zone_id,
                    name=app_name.fqdn,
                    type=app_name.type,
                    ttl=args.record_ttl,
                    records=[app_name.value],
                    allow_overwrite=ALLOW_OVERWRITE,
                    # Switching failover off turns the primary back into this record (one Route 53 change batch);
                    # the secondary must be deleted first (docs/dns-failover.md, policy/collisions.py).
                    opts=pulumi.ResourceOptions.merge(
                        on_global,
                        pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{name}-{app_name.label}-primary")]),
                    ),
                )
                for app_name in args.names
            ]
        else:
            health_check, distribution = self._failover(name, args, args.failover, on_global)
            self.health_check_id = health_check.id
            self.https_health_check_id = self.health_check.id
            self.degraded_page_domain = distribution.domain_name

        self.zone_id = self.zone.zone_id
        self.name_servers = self.zone.name_servers
        outputs: dict[str, pulumi.Output[str] | pulumi.Output[Sequence[str]]] = {
            "zone_id": self.zone_id,
            "name_servers": self.name_servers,
        }
        if self.health_check_id is not None:
            outputs["health_check_id"] = self.health_check_id
        if self.degraded_page_domain is not None:
            outputs["degraded_page_domain"] = self.degraded_page_domain
        self.register_outputs(outputs)

    def _failover(
        self, name: str, args: DnsFailoverArgs, failover: FailoverArgs, on_global: pulumi.ResourceOptions
    ) -> tuple[aws.route53.HealthCheck, aws.cloudfront.Distribution]:
        """The failover's resources; returns the primary's health check and the degraded page's distribution."""
        on_site = pulumi.ResourceOptions(parent=self, provider=failover.site_provider)
        check = failover.health_check

        self.health_check = aws.route53.HealthCheck(
            f"{name}-primary-health",
            type="HTTPS_STR_MATCH",
            fqdn=check.fqdn,
            ip_address=check.ip_address,
            port=443,
            enable_sni=True,
            resource_path=check.path,
            search_string=check.search_string,
            failure_threshold=check.failure_threshold,
            request_interval=check.request_interval,
            regions=list(check.regions),
            # With metric triggers, forceFailover acts on the calculated check below instead.
            invert_healthcheck=check.inverted and failover.triggers is None,
            tags={"Name": f"{check.fqdn} primary origin (Vercel {check.ip_address})"},
            opts=on_global,
        )
        self.routing_health_check = self.health_check
        self.health_checks.append((f"{check.fqdn} HTTPS", self.health_check))
        if failover.triggers is not None:
            self.routing_health_check = self._metric_checks(name, check.fqdn, failover, failover.triggers, on_global)
            self.health_checks.append((f"{check.fqdn} HTTPS and triggers", self.routing_health_check))

        # The on-call topic and the alarm: HealthCheckStatus exists only in us-east-1, so both live there. A stack
        # whose alarm notifies the incident P0 topic has no subscriber of its own (settings/stack.py): no topic.
        actions: list[pulumi.Input[str]] = list(failover.notify)
        self.subscriptions: list[aws.sns.TopicSubscription] = []
        if failover.subscribers:
            self.topic = aws.sns.Topic(f"{name}-oncall", name=oncall_topic_name(args.zone_name), opts=on_global)
            self.subscriptions = [
                subscribe(f"{name}-oncall", self.topic.arn, index, subscriber, on_global)
                for index, subscriber in enumerate(failover.subscribers)
            ]
            actions.insert(0, self.topic.arn)
        self.alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-primary-unhealthy",
            name=alarm_name(check.fqdn),
            alarm_description=(
                f"Route 53 sees {check.fqdn} on Vercel as unhealthy (or forceFailover is on): the failover records "
                "now answer with the degraded-mode page. P0: follow the region_failure runbook."
            ),
            namespace="AWS/Route53",
            metric_name="HealthCheckStatus",
            dimensions={"HealthCheckId": self.routing_health_check.id},
            statistic="Minimum",
            period=60,
            evaluation_periods=1,
            comparison_operator="LessThanThreshold",
            threshold=1,
            # No data means Route 53 stopped reporting: treat it as the outage it most likely is.
            treat_missing_data="breaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=on_global,
        )
        self.alarms.append(self.alarm)

        self.site = DegradedSite(
            name,
            DegradedSiteArgs(
                zone_id=self.zone.zone_id,
                zone_name=args.zone_name,
                names=tuple((app_name.label, app_name.fqdn) for app_name in args.names),
                bucket_name=failover.bucket_name,
                page_path=failover.page_path,
                validation_ttl=VALIDATION_TTL,
                allow_overwrite=ALLOW_OVERWRITE,
            ),
            on_site=on_site,
            on_global=on_global,
        )
        self.distribution = self.site.distribution

        for app_name in args.names:
            primary = aws.route53.Record(
                f"{name}-{app_name.label}-primary",
                zone_id=self.zone.zone_id,
                name=app_name.fqdn,
                type=app_name.type,
                ttl=failover.ttl,
                records=[app_name.value],
                set_identifier=PRIMARY_SET_ID,
                failover_routing_policies=[{"type": "PRIMARY"}],
                health_check_id=self.routing_health_check.id,
                allow_overwrite=ALLOW_OVERWRITE,
                # Switching failover on turns the plain record into the primary: a change of set_identifier, which
                # terraform-provider-aws route53/record.go resourceRecordUpdate sends as one change batch (DELETE
                # the simple record, CREATE the primary), instead of a new record refused beside the simple one.
                opts=pulumi.ResourceOptions.merge(
                    on_global, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{name}-{app_name.label}")])
                ),
            )
            # The secondary is created once the primary holds the name: Route 53 refuses it beside a simple record.
            after_primary = pulumi.ResourceOptions.merge(on_global, pulumi.ResourceOptions(depends_on=[primary]))
            # Alias records cannot be CNAMEs, so a CNAME pair's secondary is a CNAME to the distribution.
            if app_name.type == "A":
                secondary = aws.route53.Record(
                    f"{name}-{app_name.label}-secondary",
                    zone_id=self.zone.zone_id,
                    name=app_name.fqdn,
                    type=app_name.type,
                    set_identifier=SECONDARY_SET_ID,
                    failover_routing_policies=[{"type": "SECONDARY"}],
                    aliases=[
                        {
                            "name": self.distribution.domain_name,
                            "zone_id": self.distribution.hosted_zone_id,
                            "evaluate_target_health": False,
                        }
                    ],
                    allow_overwrite=ALLOW_OVERWRITE,
                    opts=after_primary,
                )
            else:
                secondary = aws.route53.Record(
                    f"{name}-{app_name.label}-secondary",
                    zone_id=self.zone.zone_id,
                    name=app_name.fqdn,
                    type=app_name.type,
                    ttl=failover.ttl,
                    records=[self.distribution.domain_name],
                    set_identifier=SECONDARY_SET_ID,
                    failover_routing_policies=[{"type": "SECONDARY"}],
                    allow_overwrite=ALLOW_OVERWRITE,
                    opts=after_primary,
                )
            self.records += [primary, secondary]
        return self.routing_health_check, self.distribution

    def _metric_checks(
        self,
        name: str,
        fqdn: str,
        failover: FailoverArgs,
        triggers: MetricTriggers,
        on_global: pulumi.ResourceOptions,
    ) -> aws.route53.HealthCheck:
        """The failover triggers' alarms, a CLOUDWATCH_METRIC check on each, and the CALCULATED check over them and
        the HTTPS check that the failover records follow; returns the calculated check."""
        # Route 53 watches only standard-resolution alarms on a plain statistic (API Reference, AlarmIdentifier):
        # both alarms take the Average of a 0/1 metric the app publishes per request (components/app_metrics.py).
        conditions: list[tuple[Literal["error-rate", "p95"], str, float, str]] = [
            (
                "error-rate",
                app_metrics.SERVER_ERROR,
                triggers.error_rate_percent / 100,
                f"error rate over {triggers.error_rate_percent:g}% for {triggers.window_minutes} minutes",
            ),
            (
                "p95",
                app_metrics.SLOW_REQUEST,
                app_metrics.P95_SHARE,
                f"p95 over {triggers.p95_seconds:g} s for {triggers.window_minutes} minutes (more than 5% of "
                f"requests slower than {triggers.p95_seconds:g} s)",
            ),
        ]
        self.failover_alarms: list[aws.cloudwatch.MetricAlarm] = []
        self.metric_health_checks: list[aws.route53.HealthCheck] = []
        for trigger, metric, threshold, what in conditions:
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-failover-{trigger}",
                name=failover_alarm_name(fqdn, trigger),
                alarm_description=f"Automatic failover trigger of {fqdn}: {what}. P0: the region_failure runbook.",
                namespace=triggers.namespace,
                metric_name=metric,
                dimensions=dict(triggers.dimensions),
                statistic="Average",
                period=60,
                evaluation_periods=triggers.window_minutes,
                datapoints_to_alarm=triggers.window_minutes,
                comparison_operator="GreaterThanThreshold",
                threshold=threshold,
                # No requests at night is no data, not an outage: the HTTPS check covers a silent origin.
                treat_missing_data="notBreaching",
                opts=on_global,
            )
            # hashicorp/terraform-provider-aws internal/service/route53/health_check.go: type is ForceNew; the alarm
            # identifier is re-sent on Update only when its name/region or `triggers` change. Route 53 keeps a copy
            # of the alarm's configuration from when the check was told about it, so a changed threshold travels
            # through `triggers`.
            self.failover_alarms.append(alarm)
            self.alarms.append(alarm)
            self.metric_health_checks.append(
                aws.route53.HealthCheck(
                    f"{name}-failover-{trigger}-health",
                    type="CLOUDWATCH_METRIC",
                    cloudwatch_alarm_name=alarm.name,
                    cloudwatch_alarm_region=GLOBAL_REGION,
                    insufficient_data_health_status="LastKnownStatus",
                    triggers={"threshold": f"{threshold:g}", "window": str(triggers.window_minutes)},
                    tags={"Name": f"{fqdn} failover trigger: {what}"},
                    opts=on_global,
                )
            )
        self.health_checks += [
            (f"{fqdn} failover trigger {trigger}", check)
            for (trigger, *_), check in zip(conditions, self.metric_health_checks, strict=True)
        ]
        children = [self.health_check, *self.metric_health_checks]
        # Healthy only while every child is; forceFailover asks for one more healthy child than there are, which
        # Route 53 answers with "always unhealthy" (API Reference, HealthCheckConfig.HealthThreshold): the records
        # fail over whatever the origin does, and turning it off restores the real verdict.
        return aws.route53.HealthCheck(
            f"{name}-primary-calculated-health",
            type="CALCULATED",
            child_healthchecks=[child.id for child in children],
            child_health_threshold=len(children) + 1 if failover.forced else len(children),
            tags={"Name": f"{fqdn} primary origin: HTTPS check and failover triggers"},
            opts=on_global,
        )


def _label(fqdn: str, zone: str) -> str:
    """`apex` for the zone apex, else the name below the zone with dots as dashes."""
    return "apex" if fqdn == zone else fqdn.removesuffix(f".{zone}").replace(".", "-")
