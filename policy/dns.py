"""DNS rules: failover pairs, health checks that probe the origin as the reference says, and short TTLs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from policy.registry import ADVISORY, Rules, Setting
from policy.type_tokens import HEALTH_CHECK, RECORD
from policy.unknowns import UNKNOWN
from policy.values import dig, of_type, props_of

RULES = Rules()
RESOURCE_PATH = Setting("resourcePath", "/api/health", {"type": "string"})
FAILURE_THRESHOLD = Setting("failureThreshold", 3, {"type": "integer"})
MAXIMUM_TTL = Setting("maximumTtl", 60, {"type": "integer"})


def _dns_name(value: Any) -> str | None:
    return value.rstrip(".").lower() if isinstance(value, str) else None


def _failover_role(props: Mapping[str, Any]) -> Any:
    return dig(props, "failoverRoutingPolicies", 0, "type")


@RULES.stack(
    "failover-pair",
    "Every PRIMARY failover record has a health check and a SECONDARY with the same name and type.",
)
def failover_pair(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every PRIMARY failover record has a health check and a SECONDARY of the same name and type."""
    records = [(record, props_of(record)) for record in of_type(args.resources, RECORD)]
    failover = [(r, p) for r, p in records if _failover_role(p) in ("PRIMARY", "SECONDARY")]
    for record, props in failover:
        role, name, type_ = _failover_role(props), _dns_name(props.get("name")), props.get("type")
        if name is None or not isinstance(type_, str):
            continue
        if role == "PRIMARY" and props.get("healthCheckId") is None:
            report(f"PRIMARY record {name} {type_} has no health check; fix: set health_check_id", record.urn)
        other = "SECONDARY" if role == "PRIMARY" else "PRIMARY"
        partners = [
            (r, p)
            for r, p in failover
            if _failover_role(p) == other and _dns_name(p.get("name")) == name and p.get("type") == type_
        ]
        if not partners:
            report(f"{role} record {name} {type_} has no {other}; fix: declare the {other} record", record.urn)
        for _, partner in partners:
            if role == "PRIMARY" and partner.get("setIdentifier") == props.get("setIdentifier"):
                report(
                    f"PRIMARY and SECONDARY of {name} {type_} share set_identifier "
                    f"{props.get('setIdentifier')!r}; fix: give each its own",
                    record.urn,
                )


@RULES.stack(
    "health-check-probes-origin",
    "Route 53 health checks probe the primary origin, not the failover name.",
)
def health_check_probes_origin(args: StackValidationArgs, report: ReportViolation) -> None:
    """Health checks probe the primary origin, never the failover name (they would measure whichever side is live)."""
    names = {
        _dns_name(props_of(record).get("name"))
        for record in of_type(args.resources, RECORD)
        if _failover_role(props_of(record)) is not None
    }
    for check in of_type(args.resources, HEALTH_CHECK):
        props = props_of(check)
        if props.get("type") in ("CALCULATED", "CLOUDWATCH_METRIC", UNKNOWN):
            continue
        fqdn, address = props.get("fqdn"), props.get("ipAddress")
        if fqdn is None and address is None:
            report(f"{check.name} names no endpoint; fix: set ip_address (and fqdn) of the primary origin", check.urn)
        elif _dns_name(fqdn) in names and address is None:
            report(
                f"{check.name} probes the failover name {fqdn}; fix: probe the origin (its ip_address, or its "
                "*.vercel.app host) and keep fqdn only for SNI/Host",
                check.urn,
            )


@RULES.resource(
    "health-check-settings",
    "Health checks use HTTPS on /api/health and fail over after 3 consecutive failures.",
    enforcement_level=ADVISORY,
    settings=[RESOURCE_PATH, FAILURE_THRESHOLD],
)
def health_check_settings(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Health checks follow the reference: HTTPS on /api/health, failover after 3 consecutive failures."""
    if args.resource_type != HEALTH_CHECK:
        return
    props = props_of(args)
    type_ = props.get("type")
    if type_ in ("CALCULATED", "CLOUDWATCH_METRIC", UNKNOWN):
        return
    path = RESOURCE_PATH.read(args)
    threshold = int(FAILURE_THRESHOLD.read(args))
    checks = [
        (type_ in ("HTTPS", "HTTPS_STR_MATCH"), f"type is {type_!r}; fix: type='HTTPS_STR_MATCH' (or 'HTTPS')"),
        (props.get("resourcePath") in (path, UNKNOWN), f"resource_path is not {path}; fix: resource_path={path!r}"),
        (props.get("requestInterval") in (10, 30, None, UNKNOWN), "request_interval must be 10 or 30"),
        (
            props.get("failureThreshold") in (threshold, UNKNOWN),
            f"failure_threshold is {props.get('failureThreshold')!r}; fix: failure_threshold={threshold}",
        ),
        (
            type_ != "HTTPS_STR_MATCH" or props.get("searchString") is not None,
            "HTTPS_STR_MATCH without search_string; fix: set search_string (catches an error page served with 200)",
        ),
    ]
    for ok, message in checks:
        if not ok:
            report(f"{args.name}: {message}", None)


@RULES.resource(
    "failover-ttl",
    "Records tied to health checks have a TTL of at most 60 seconds.",
    settings=[MAXIMUM_TTL],
)
def failover_ttl(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Records tied to health checks have short TTLs, so resolvers follow a failover within a minute."""
    if args.resource_type != RECORD:
        return
    props = props_of(args)
    limit = int(MAXIMUM_TTL.read(args))
    ttl = props.get("ttl")
    tied = props.get("healthCheckId") is not None or _failover_role(props) is not None
    if tied and isinstance(ttl, int) and ttl > limit:
        report(f"{args.name} has ttl {ttl}; fix: ttl <= {limit} for a health-checked record", None)
