"""DnsFailover: the protected zone, Vercel records, and the health-checked failover pairs with their alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.dns_failover import DnsFailover, DnsFailoverArgs
from components.providers import Providers
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, Secret, run_program
from infra.plans.render import plan_json
from policy.type_tokens import (
    BUCKET,
    BUCKET_OBJECT,
    BUCKET_POLICY,
    CERTIFICATE,
    CERTIFICATE_VALIDATION,
    DISTRIBUTION,
    HEALTH_CHECK,
    RECORD,
)
from policy.type_tokens import HOSTED_ZONE as ZONE
from policy.type_tokens import METRIC_ALARM as ALARM
from policy.type_tokens import SNS_SUBSCRIPTION as SUBSCRIPTION
from policy.type_tokens import SNS_TOPIC as TOPIC
from policy.unknowns import UNKNOWN
from settings.loader import load_settings
from tests.helpers.stacks import plan_of, problems_of, stack_config

COMPONENT = "vibelog:dns:DnsFailover"


def dns_program() -> None:
    settings = load_settings()
    assert settings.dns is not None, "the stack declares its DNS"
    DnsFailover("dns", DnsFailoverArgs.from_settings(settings, settings.dns, Providers.for_stack(settings)))


def dns_plan(stack: str = "production", edit: Any = None) -> Plan:
    return plan_of(stack, edit, program=dns_program)


def dns_up(stack: str = "production", edit: Any = None) -> Plan:
    """The component as a mock `pulumi up` records it: cloud-assigned outputs have stand-in values."""
    return run_program(stack, stack_config(stack, edit), program=dns_program, mocks=VibelogMocks(preview=False))


def set_dns(**changes: Any) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:dns"].update(changes)

    return edit


def region_of(plan: Plan, reg: Registration) -> str:
    provider = plan.by_urn().get(reg.provider)
    assert provider is not None, f"{reg.urn} uses no explicit provider (the ambient default is disabled)"
    region: str = provider.inputs["region"]
    return region


def failover_pairs(plan: Plan) -> dict[str, tuple[Registration, Registration]]:
    records = [r for r in plan.by_type(RECORD) if "failoverRoutingPolicies" in r.inputs]
    pairs: dict[str, list[Registration]] = {}
    for record in records:
        pairs.setdefault(record.inputs["name"], []).append(record)
    result = {}
    for name, found in pairs.items():
        by_role = {r.inputs["failoverRoutingPolicies"][0]["type"]: r for r in found}
        assert len(found) == 2, f"{name}: {[r.urn for r in found]}"
        assert set(by_role) == {"PRIMARY", "SECONDARY"}, f"{name}: {[r.urn for r in found]}"
        result[name] = (by_role["PRIMARY"], by_role["SECONDARY"])
    return result


@pytest.fixture(scope="module")
def production() -> Plan:
    return dns_plan("production")


def test_production_owns_the_apex_zone_and_protects_it(production: Plan) -> None:
    zone = production.one(ZONE, "dns-zone")
    assert zone.inputs["name"] == "vibelog.io", zone.urn
    assert zone.protect, f"{zone.urn} is the domain's identity and must be protected"
    assert "forceDestroy" not in zone.inputs or zone.inputs["forceDestroy"] is False, zone.urn


def test_the_health_check_probes_vercel_directly_with_the_reference_numbers(production: Plan) -> None:
    check = production.one(HEALTH_CHECK, "dns-primary-health")
    inputs = check.inputs
    assert inputs["type"] == "HTTPS_STR_MATCH", check.urn
    assert inputs["searchString"] == '"status":"healthy"', f"{check.urn}: a 200 error page must count as down"
    assert inputs["resourcePath"] == "/api/health", check.urn
    assert inputs["failureThreshold"] == 3, f"{check.urn}: the reference fails over after 3 consecutive failures"
    assert inputs["requestInterval"] in (10, 30), f"{check.urn}: Route 53 takes 10 or 30 only"
    assert len(set(inputs["regions"])) >= 3, f"{check.urn}: at least 3 checker regions"
    assert inputs["enableSni"] is True, check.urn
    assert inputs["port"] == 443, check.urn
    # The origin itself (Vercel's address, the app's name for SNI/Host), never the failover name alone.
    assert (inputs["ipAddress"], inputs["fqdn"]) == ("76.76.21.21", "vibelog.io"), check.urn
    assert inputs["invertHealthcheck"] is False, check.urn


def test_apex_and_www_are_failover_pairs_with_the_check_on_the_primary(production: Plan) -> None:
    # With the incident triggers the records follow the calculated check over the HTTPS check and the triggers.
    check = production.one(HEALTH_CHECK, "dns-primary-calculated-health")
    pairs = failover_pairs(production)
    assert set(pairs) == {"vibelog.io", "www.vibelog.io"}
    for name, (primary, secondary) in pairs.items():
        assert primary.inputs["type"] == secondary.inputs["type"], f"{name}: a pair shares name and type"
        assert primary.inputs["setIdentifier"] != secondary.inputs["setIdentifier"], name
        assert primary.property_dependencies["healthCheckId"] == (check.urn,), f"{primary.urn} is not health-checked"
        assert "healthCheckId" not in secondary.inputs, secondary.urn
        assert 0 < primary.inputs["ttl"] <= 60, f"{primary.urn}: a health-checked record needs a short TTL"
    zone = production.one(ZONE, "dns-zone")
    for record in production.by_type(RECORD):
        assert record.property_dependencies["zoneId"] == (zone.urn,), f"{record.urn} is not in the zone"


def test_primaries_point_at_vercel_and_secondaries_at_the_degraded_page(production: Plan) -> None:
    distribution = production.one(DISTRIBUTION, "dns-degraded-cdn")
    apex_primary, apex_secondary = failover_pairs(production)["vibelog.io"]
    www_primary, www_secondary = failover_pairs(production)["www.vibelog.io"]
    assert (apex_primary.inputs["type"], apex_primary.inputs["records"]) == ("A", ["76.76.21.21"]), apex_primary.urn
    assert (www_primary.inputs["type"], www_primary.inputs["records"]) == ("CNAME", ["cname.vercel-dns.com"])
    # An alias excludes ttl and records; CloudFront's alias zone is a constant a preview already knows.
    assert "ttl" not in apex_secondary.inputs, apex_secondary.urn
    assert "records" not in apex_secondary.inputs, apex_secondary.urn
    [alias] = apex_secondary.inputs["aliases"]
    assert (alias["zoneId"], alias["evaluateTargetHealth"]) == ("Z2FDTNDATAQYW2", False), apex_secondary.urn
    assert apex_secondary.property_dependencies["aliases"] == (distribution.urn,), apex_secondary.urn
    assert www_secondary.property_dependencies["records"] == (distribution.urn,), www_secondary.urn
    assert 0 < www_secondary.inputs["ttl"] <= 60, www_secondary.urn


def test_the_alarm_watches_the_primary_check_in_us_east_1(production: Plan) -> None:
    check = production.one(HEALTH_CHECK, "dns-primary-calculated-health")
    alarm = production.one(ALARM, "dns-primary-unhealthy")
    inputs = alarm.inputs
    assert (inputs["namespace"], inputs["metricName"]) == ("AWS/Route53", "HealthCheckStatus"), alarm.urn
    assert set(inputs["dimensions"]) == {"HealthCheckId"}, alarm.urn
    assert alarm.property_dependencies["dimensions"] == (check.urn,), f"{alarm.urn} must watch {check.urn}"
    assert (inputs["comparisonOperator"], inputs["threshold"], inputs["statistic"]) == (
        "LessThanThreshold",
        1,
        "Minimum",
    ), alarm.urn
    assert region_of(production, alarm) == "us-east-1", f"{alarm.urn}: Route 53 metrics exist only in us-east-1"
    assert region_of(production, check) == "us-east-1", check.urn
    # Production's alarm reaches the P0 channels through vibelog:incident's P0 topic (tests/test_incident_response.py).
    assert production.by_type(TOPIC) == [], "production's P0 topic reaches the P0 channels: no on-call topic"


# A stack with failover and without vibelog:incident: its on-call topic reaches the reference's P0 channels.
P0_ALERTS = [
    {"channel": "pagerduty", "protocol": "email", "endpoint": "vibelog-p0@vibelog.pagerduty.com"},
    {"channel": "slack_alert", "protocol": "email", "endpoint": "incidents@vibelog.io"},
    {"channel": "email_leadership", "protocol": "email", "endpoint": "leadership@vibelog.io"},
]


def staging_failover(alerts: list[dict[str, str]] | None = None) -> Any:
    return set_dns(failover=True, degradedRegion="us-west-2", alerts=P0_ALERTS if alerts is None else alerts)


def test_without_incident_the_alarm_notifies_an_on_call_topic_reaching_the_p0_channels() -> None:
    plan = dns_plan("staging", staging_failover())
    alarm = plan.one(ALARM, "dns-primary-unhealthy")
    topic = plan.one(TOPIC, "dns-oncall")
    assert alarm.property_dependencies["alarmActions"] == (topic.urn,), alarm.urn
    assert region_of(plan, topic) == "us-east-1", topic.urn
    subscriptions = plan.by_type(SUBSCRIPTION)
    channels = {s.name.removeprefix("dns-oncall-").rsplit("-", 1)[0] for s in subscriptions}
    assert channels == {"pagerduty", "slack-alert", "email-leadership"}, "the reference's P0 internal channels"
    for subscription in subscriptions:
        assert subscription.property_dependencies["topic"] == (topic.urn,), subscription.urn


def test_with_incident_a_p0_channel_in_the_alerts_is_refused() -> None:
    # The failover alarm notifies the incident P0 topic too: this entry would page PagerDuty a second time, by
    # e-mail, outside the declared service's escalation policy.
    extra = {"channel": "email_team", "protocol": "email", "endpoint": "engineering@vibelog.io"}
    problems = problems_of("production", set_dns(alerts=[P0_ALERTS[0], extra, P0_ALERTS[1]]))
    # Last entry first: each fix, run in the order printed, removes the entry it names.
    assert [(p.path, p.fix) for p in problems] == [
        ("vibelog:dns.alerts[2]", "pulumi config rm --stack production --path 'vibelog:dns.alerts[2]'"),
        ("vibelog:dns.alerts[0]", "pulumi config rm --stack production --path 'vibelog:dns.alerts[0]'"),
    ], problems
    assert all("P0 topic" in p.expected for p in problems), problems


def test_the_degraded_page_is_a_private_bucket_in_a_second_region_behind_cloudfront(production: Plan) -> None:
    bucket = production.one(BUCKET, "dns-degraded-bucket")
    assert region_of(production, bucket) == "us-west-2", f"{bucket.urn} belongs in the second region"
    block = production.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "dns-degraded-bucket-public-access"
    )
    for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[key] is True, f"{block.urn}.{key}"
    page = production.one(BUCKET_OBJECT, "dns-degraded-page")
    assert page.inputs["key"] == "index.html", page.urn
    assert page.inputs["contentType"].startswith("text/html"), page.urn
    assert region_of(production, page) == "us-west-2", page.urn

    distribution = production.one(DISTRIBUTION, "dns-degraded-cdn")
    certificate = production.one(CERTIFICATE, "dns-degraded-cert")
    validation = production.one(CERTIFICATE_VALIDATION, "dns-degraded-cert-validation")
    inputs = distribution.inputs
    assert inputs["aliases"] == ["vibelog.io", "www.vibelog.io"], distribution.urn
    assert inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https", distribution.urn
    assert inputs["viewerCertificate"]["sslSupportMethod"] == "sni-only", distribution.urn
    assert distribution.property_dependencies["viewerCertificate"] == (validation.urn,), distribution.urn
    assert set(distribution.property_dependencies["origins"]) == {
        bucket.urn,
        production.one("aws:cloudfront/originAccessControl:OriginAccessControl", "dns-degraded-oac").urn,
    }, f"{distribution.urn} reads the bucket through Origin Access Control"
    assert certificate.inputs["validationMethod"] == "DNS", certificate.urn
    for reg in (certificate, validation, distribution):
        assert region_of(production, reg) == "us-east-1", f"{reg.urn}: CloudFront takes certificates from us-east-1"


def test_every_path_of_the_degraded_site_answers_503_the_root_too() -> None:
    # CloudFront sends `/` to the origin as the default root object. Were it the page's key, S3 would answer 200 and
    # `/` alone would serve the page as content (a crawler reading 200 + noindex drops the home page). A key the
    # bucket lacks is S3's 403 without s3:ListBucket, which the error responses turn into the page with 503.
    plan = dns_up()
    distribution = plan.one(DISTRIBUTION, "dns-degraded-cdn")
    objects = {reg.inputs["key"] for reg in plan.by_type(BUCKET_OBJECT)}
    root = distribution.inputs["defaultRootObject"]
    assert root, f"{distribution.urn}: has no default root object (Security Hub CloudFront.1 asks for one)"
    assert root not in objects, f"{distribution.urn}: `/` is served {root!r}, an object of the bucket, with 200"
    policy = json.loads(plan.one(BUCKET_POLICY, "dns-degraded-bucket-policy").inputs["policy"])
    actions = {s["Action"] for s in policy["Statement"] if s["Effect"] == "Allow"}
    assert actions == {"s3:GetObject"}, f"without s3:ListBucket a missing key is a 403, not a listing: {actions}"
    errors = {e["errorCode"]: e for e in distribution.inputs["customErrorResponses"]}
    page = plan.one(BUCKET_OBJECT, "dns-degraded-page").inputs["key"]
    assert errors[403]["responseCode"] == 503, f"{distribution.urn}: S3's 403 must answer 503"
    assert errors[403]["responsePagePath"] == f"/{page}", f"{distribution.urn}: the 503 must carry the page"


def test_every_child_is_parented_prefixed_and_on_an_explicit_provider(production: Plan) -> None:
    component = production.one(COMPONENT, "dns")
    children = [r for r in production.registrations if r.custom and not r.type.startswith("pulumi:providers:")]
    assert children, "the component declared nothing"
    for reg in children:
        assert reg.parent == component.urn, f"{reg.urn} is not a child of {component.urn}"
        assert reg.name.startswith("dns-"), f"{reg.urn} is not prefixed with the component's name"
        assert region_of(production, reg) in {"us-east-1", "us-west-2"}, reg.urn
    for provider in production.by_type("pulumi:providers:aws"):
        # A provider's object inputs travel as JSON text.
        assert json.loads(provider.inputs["allowedAccountIds"]) == ["210987654321"], provider.urn


def test_failover_happens_on_whichever_fires_first_the_https_check_or_a_metric_trigger(production: Plan) -> None:
    https = production.one(HEALTH_CHECK, "dns-primary-health")
    calculated = production.one(HEALTH_CHECK, "dns-primary-calculated-health")
    triggers = {name: production.one(HEALTH_CHECK, f"dns-failover-{name}-health") for name in ("error-rate", "p95")}
    children = set(calculated.property_dependencies["childHealthchecks"])
    assert children == {https.urn, *(t.urn for t in triggers.values())}, f"{calculated.urn}: {children}"
    # Healthy only while every child is: any one unhealthy child fails the records over.
    assert calculated.inputs["childHealthThreshold"] == 3, calculated.urn
    expected = {"error-rate": ("ServerError", 0.10), "p95": ("SlowRequest", 0.05)}
    for name, check in triggers.items():
        alarm = production.one(ALARM, f"dns-failover-{name}")
        assert check.inputs["type"] == "CLOUDWATCH_METRIC", check.urn
        assert check.property_dependencies["cloudwatchAlarmName"] == (alarm.urn,), f"{check.urn} watches {alarm.urn}"
        assert check.inputs["cloudwatchAlarmRegion"] == "us-east-1" == region_of(production, alarm), alarm.urn
        # No requests is no data: the last verdict stands and the HTTPS check covers a silent origin.
        assert check.inputs["insufficientDataHealthStatus"] == "LastKnownStatus", check.urn
        inputs = alarm.inputs
        # Route 53 watches only alarms on a plain statistic (no percentiles, no metric math).
        assert inputs["statistic"] == "Average", alarm.urn
        assert "extendedStatistic" not in inputs, alarm.urn
        assert (inputs["namespace"], inputs["dimensions"]) == ("VibeLog/App", {"Stack": "vibelog"}), alarm.urn
        assert (inputs["metricName"], inputs["threshold"]) == expected[name], alarm.urn
        assert inputs["evaluationPeriods"] * inputs["period"] == 5 * 60, alarm.urn


def test_the_failover_triggers_follow_the_incident_settings() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:incident"]["failover"] = {"p95Seconds": 20, "errorRatePercent": 15, "windowMinutes": 3}

    plan = dns_plan("production", edit)
    error_rate = plan.one(ALARM, "dns-failover-error-rate")
    assert error_rate.inputs["threshold"] == 0.15, error_rate.urn
    assert error_rate.inputs["evaluationPeriods"] == 3, error_rate.urn
    check = plan.one(HEALTH_CHECK, "dns-failover-error-rate-health")
    # Route 53 keeps its own copy of the alarm's configuration: a changed threshold must reach it.
    assert check.inputs["triggers"]["threshold"] == "0.15", check.urn


def test_force_failover_makes_the_calculated_check_unhealthy_and_changes_nothing_else() -> None:
    forced = dns_plan("production", set_dns(forceFailover=True))
    normal = dns_plan("production")
    check = forced.one(HEALTH_CHECK, "dns-primary-calculated-health")
    children = len(check.inputs["childHealthchecks"])
    # More healthy children than there are: Route 53 considers the check unhealthy whatever the children say.
    assert check.inputs["childHealthThreshold"] == children + 1, f"{check.urn} must fail over"
    https = forced.one(HEALTH_CHECK, "dns-primary-health")
    assert https.inputs["invertHealthcheck"] is False, f"{https.urn}: an inverted child would hide a real outage"
    before = {r.urn: r.inputs for r in normal.registrations if r.urn != check.urn}
    after = {r.urn: r.inputs for r in forced.registrations if r.urn != check.urn}
    assert before == after, "forceFailover touches only the calculated health check"


def without_incident(config: dict[str, Any]) -> None:
    """Production without vibelog:incident: its failover alarm's on-call topic then reaches the P0 channels."""
    config.pop("vibelog:incident")
    config["vibelog:dns"]["alerts"] = P0_ALERTS


def test_without_metric_triggers_the_records_follow_the_https_check() -> None:
    plan = dns_plan("production", without_incident)
    check = plan.one(HEALTH_CHECK, "dns-primary-health")
    for name, (primary, _) in failover_pairs(plan).items():
        assert primary.property_dependencies["healthCheckId"] == (check.urn,), f"{name}: {primary.urn}"
    assert not [r for r in plan.by_type(HEALTH_CHECK) if r.inputs["type"] != "HTTPS_STR_MATCH"]


def test_force_failover_inverts_the_check_and_changes_nothing_else() -> None:
    def forced_without_incident(config: dict[str, Any]) -> None:
        without_incident(config)
        set_dns(forceFailover=True)(config)

    forced = dns_plan("production", forced_without_incident)
    normal = dns_plan("production", without_incident)
    check = forced.one(HEALTH_CHECK, "dns-primary-health")
    assert check.inputs["invertHealthcheck"] is True, f"{check.urn}: forceFailover must make the primary unhealthy"
    before = {r.urn: r.inputs for r in normal.registrations if r.urn != check.urn}
    after = {r.urn: r.inputs for r in forced.registrations if r.urn != check.urn}
    assert before == after, "forceFailover touches only the health check"


def test_vercel_targets_come_from_settings() -> None:
    plan = dns_plan("production", set_dns(vercel={"apexA": "76.76.21.98", "cname": "a1b2c3.vercel-dns-017.com"}))
    primary, _ = failover_pairs(plan)["vibelog.io"]
    www, _ = failover_pairs(plan)["www.vibelog.io"]
    assert primary.inputs["records"] == ["76.76.21.98"], primary.urn
    assert www.inputs["records"] == ["a1b2c3.vercel-dns-017.com"], www.urn
    check = plan.one(HEALTH_CHECK, "dns-primary-health")
    assert check.inputs["ipAddress"] == "76.76.21.98", f"{check.urn} must probe the origin the records point at"


def test_the_health_check_numbers_follow_the_settings() -> None:
    plan = dns_plan(
        "production",
        set_dns(
            healthCheck={
                "requestInterval": 10,
                "failureThreshold": 2,
                "regions": ["us-east-1", "eu-west-1", "sa-east-1", "ap-southeast-1"],
            }
        ),
    )
    check = plan.one(HEALTH_CHECK, "dns-primary-health")
    assert (check.inputs["requestInterval"], check.inputs["failureThreshold"]) == (10, 2), check.urn
    assert check.inputs["regions"] == ["us-east-1", "eu-west-1", "sa-east-1", "ap-southeast-1"], check.urn
    assert check.inputs["searchString"] == '"status":"healthy"', "unset fields keep the reference's defaults"


def test_staging_owns_its_delegated_zone_with_a_plain_vercel_record() -> None:
    plan = dns_plan("staging")
    zone = plan.one(ZONE, "dns-zone")
    assert zone.inputs["name"] == "staging.vibelog.io", zone.urn
    assert zone.protect, zone.urn
    [record] = plan.by_type(RECORD)
    assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (
        "staging.vibelog.io",
        "A",
        ["76.76.21.21"],
    ), record.urn
    assert "failoverRoutingPolicies" not in record.inputs, record.urn
    assert plan.by_type(HEALTH_CHECK) == [], "staging has no failover"
    assert plan.by_type(BUCKET) == [], "staging has no degraded-mode page"


def test_production_delegates_staging_with_an_ns_record_from_config() -> None:
    servers = ["ns-101.awsdns-12.com", "ns-702.awsdns-23.net", "ns-1203.awsdns-23.org", "ns-1834.awsdns-37.co.uk"]
    plan = dns_plan("production", set_dns(delegations=[{"name": "staging.vibelog.io", "nameServers": servers}]))
    record = plan.one(RECORD, "dns-staging-ns")
    assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (
        "staging.vibelog.io",
        "NS",
        servers,
    ), record.urn
    assert record.property_dependencies["zoneId"] == (plan.one(ZONE, "dns-zone").urn,), record.urn
    assert plan.by_type(ZONE) == [plan.one(ZONE, "dns-zone")], "production declares no staging zone"


def test_development_declares_no_dns_and_no_aws() -> None:
    plan = plan_of("development")
    assert plan.by_type(COMPONENT) == [], "development has no DNS"
    assert plan.by_type("pulumi:providers:aws") == [], "development declares nothing on AWS"


def test_the_real_program_exports_what_the_runbook_needs() -> None:
    plan = plan_of("production")
    assert {"dns_zone_id", "dns_name_servers", "dns_health_check_id", "degraded_page_domain"} <= set(plan.outputs)
    assert len(plan.by_type(COMPONENT)) == 1


def test_the_json_plan_carries_every_value_a_reviewer_checks(production: Plan) -> None:
    steps = {step["urn"]: step["newState"] for step in plan_json(production)["steps"]}
    check = steps[production.one(HEALTH_CHECK, "dns-primary-health").urn]["inputs"]
    for key in ("type", "searchString", "resourcePath", "failureThreshold", "requestInterval", "regions", "enableSni"):
        assert key in check, f"--json lacks the health check's {key}"
    zone = steps[production.one(ZONE, "dns-zone").urn]
    assert zone["protect"] is True


def test_after_up_the_bucket_reads_only_through_the_distribution_and_the_certificate_is_validated() -> None:
    plan = dns_up()
    distribution = plan.one(DISTRIBUTION, "dns-degraded-cdn")
    policy = json.loads(plan.one(BUCKET_POLICY, "dns-degraded-bucket-policy").inputs["policy"])
    allow = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"].startswith("arn:aws:cloudfront::")
    assert allow["Resource"] == "arn:aws:s3:::vibelog-io-degraded-us-west-2-210987654321/*"
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert distribution.inputs["viewerCertificate"]["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    validations = {r.inputs["name"]: r for r in plan.by_type(RECORD) if r.name.endswith("-cert-validation")}
    assert set(validations) == {"_mock.vibelog.io.", "_mock.www.vibelog.io."}, "one validation record per name"
    for record in validations.values():
        assert record.inputs["type"] == "CNAME", record.urn
        assert record.inputs["records"][0].endswith(".acm-validations.aws."), record.urn
    _, secondary = failover_pairs(plan)["www.vibelog.io"]
    [target] = secondary.inputs["records"]
    assert target.endswith(".cloudfront.net"), f"{secondary.urn} must answer with the distribution's name"


def test_https_subscriber_endpoints_are_secret() -> None:
    url = "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue"

    alerts = [{"channel": "pagerduty", "protocol": "https", "endpoint": url}, *P0_ALERTS[1:]]
    plan = dns_plan("staging", staging_failover(alerts))
    subscription = plan.one(SUBSCRIPTION, "dns-oncall-pagerduty-0")
    assert isinstance(subscription.inputs["endpoint"], Secret), f"{subscription.urn}: the URL carries a key"
    assert subscription.inputs["endpoint"].value == url


def test_in_a_preview_cloud_assigned_ids_stay_unknown(production: Plan) -> None:
    alarm = production.one(ALARM, "dns-primary-unhealthy")
    assert alarm.inputs["dimensions"]["HealthCheckId"] == UNKNOWN, alarm.urn


# Settings: each negative case starts from the compliant production file and changes one thing.


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (set_dns(healthCheck={"requestInterval": 20}), "vibelog:dns.healthCheck.requestInterval"),
        (set_dns(healthCheck={"failureThreshold": 11}), "vibelog:dns.healthCheck.failureThreshold"),
        (set_dns(healthCheck={"regions": ["us-east-1", "eu-west-1"]}), "vibelog:dns.healthCheck.regions"),
        (set_dns(healthCheck={"regions": ["us-east-1", "eu-west-1", "eu-west-1"]}), "vibelog:dns.healthCheck.regions"),
        (
            set_dns(healthCheck={"regions": ["us-east-1", "eu-west-1", "eu-central-1"]}),
            "vibelog:dns.healthCheck.regions[2]",
        ),
        (set_dns(healthCheck={"searchString": ""}), "vibelog:dns.healthCheck.searchString"),
        (set_dns(failoverTtl=300), "vibelog:dns.failoverTtl"),
        (set_dns(vercel={"apexA": "cname.vercel-dns.com"}), "vibelog:dns.vercel.apexA"),
        (set_dns(degradedRegion=None), "vibelog:dns.degradedRegion"),
        (set_dns(degradedRegion="us-east-1"), "vibelog:dns.degradedRegion"),
        (set_dns(failover=False, forceFailover=True), "vibelog:dns.forceFailover"),
        (set_dns(zone="vibelog.dev"), "vibelog:dns.zone"),
        (
            set_dns(
                delegations=[
                    {"name": "staging.vibelog.dev", "nameServers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"]}
                ]
            ),
            "vibelog:dns.delegations[0].name",
        ),
        (
            set_dns(delegations=[{"name": "vibelog.io.example", "nameServers": []}]),
            "vibelog:dns.delegations[0].nameServers",
        ),
        (
            set_dns(delegations=[{"name": "staging.vibelog.io", "nameServers": ["ns-101.awsdns-12.com"]}]),
            "vibelog:dns.delegations[0].nameServers",
        ),
        (
            set_dns(delegations=[{"name": "staging.vibelog.io", "nameServers": ["ns-101.awsdns-12.com"] * 2}]),
            "vibelog:dns.delegations[0]",
        ),
        (
            set_dns(delegations=[{"name": "staging.vibelog.io", "nameServers": ["ns-101", "ns-702.awsdns-23.net"]}]),
            "vibelog:dns.delegations[0].nameServers[0]",
        ),
        (
            set_dns(
                delegations=[
                    {"name": "staging.vibelog.io", "nameServers": ["ns-1.awsdns-01.com", "ns-2.awsdns-02.net"]},
                    {"name": "staging.vibelog.io", "nameServers": ["ns-3.awsdns-03.org", "ns-4.awsdns-04.co.uk"]},
                ]
            ),
            "vibelog:dns.delegations[1].name",
        ),
    ],
)
def test_a_value_route_53_or_the_reference_rejects_is_reported_at_its_key(edit: Any, path: str) -> None:
    paths = [problem.path for problem in problems_of("production", edit)]
    assert paths == [path], f"expected one problem, at {path}; got {paths}"


def test_failover_without_a_p0_channel_is_refused() -> None:
    [problem] = problems_of("staging", staging_failover(P0_ALERTS[1:]))
    assert problem.path == "vibelog:dns.alerts", problem
    assert "pagerduty" in problem.expected, problem


def test_an_email_subscriber_needs_an_address() -> None:
    alerts = [*P0_ALERTS[:2], {**P0_ALERTS[2], "endpoint": "leadership"}]
    [problem] = problems_of("staging", staging_failover(alerts))
    assert problem.path == "vibelog:dns.alerts[2]", problem


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_stack_with_dns_must_name_its_aws_account(stack: str) -> None:
    def edit(config: dict[str, Any]) -> None:
        del config["aws:allowedAccountIds"]

    [problem] = problems_of(stack, edit)
    assert problem.path == "aws:allowedAccountIds", problem
    assert "pulumi config set" in problem.fix


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_record_takes_over_an_existing_one(stack: str) -> None:
    # Route 53 CREATE (allow_overwrite false) fails on a record made outside the stack instead of silently adopting it.
    plan = dns_plan(stack)
    for record in plan.by_type(RECORD):
        assert record.inputs["allowOverwrite"] is False, f"{record.urn} would UPSERT over an existing record"
