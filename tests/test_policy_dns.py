"""The DNS rules: failover pairs, health checks that probe the origin, short TTLs."""

from __future__ import annotations

import pytest

from infra.engine.runtime import Registration
from policy.type_tokens import HEALTH_CHECK, RECORD
from policy.unknowns import UNKNOWN
from tests.helpers.policy import found, reg, run_rule, swap, with_inputs

DNS = ("vibelog:dns:DnsFailover",)
CHECK = reg(
    HEALTH_CHECK,
    "apex-health",
    {
        "type": "HTTPS_STR_MATCH",
        "ipAddress": "76.76.21.21",
        "fqdn": "vibelog.vercel.app",
        "port": 443,
        "resourcePath": "/api/health",
        "searchString": '"status":"healthy"',
        "requestInterval": 30,
        "failureThreshold": 3,
        "enableSni": True,
    },
    parents=DNS,
)
PRIMARY = reg(
    RECORD,
    "apex-primary",
    {
        "zoneId": UNKNOWN,
        "name": "vibelog.io",
        "type": "A",
        "ttl": 60,
        "records": ["76.76.21.21"],
        "setIdentifier": "primary",
        "failoverRoutingPolicies": [{"type": "PRIMARY"}],
        "healthCheckId": UNKNOWN,
    },
    parents=DNS,
    deps={"healthCheckId": CHECK},
)
SECONDARY = reg(
    RECORD,
    "apex-secondary",
    {
        "zoneId": UNKNOWN,
        "name": "vibelog.io",
        "type": "A",
        "setIdentifier": "secondary",
        "failoverRoutingPolicies": [{"type": "SECONDARY"}],
        "aliases": [{"name": "d111.cloudfront.net", "zoneId": "Z2FDTNDATAQYW2", "evaluateTargetHealth": False}],
    },
    parents=DNS,
)


def compliant() -> list[Registration]:
    return [CHECK, PRIMARY, SECONDARY]


@pytest.mark.parametrize(
    "rule", ["failover-pair", "health-check-probes-origin", "health-check-settings", "failover-ttl"]
)
def test_compliant_failover(rule: str) -> None:
    assert run_rule(rule, compliant()) == []


def test_primary_without_health_check() -> None:
    bad = with_inputs(PRIMARY, healthCheckId=None)
    violations = run_rule("failover-pair", swap(compliant(), bad))
    assert found(violations) == [("failover-pair", PRIMARY.urn)]
    assert "health_check_id" in violations[0].message


def test_primary_without_secondary() -> None:
    violations = run_rule("failover-pair", [CHECK, PRIMARY])
    assert found(violations) == [("failover-pair", PRIMARY.urn)]
    assert "has no SECONDARY" in violations[0].message


@pytest.mark.parametrize("changes", [{"name": "www.vibelog.io"}, {"type": "AAAA"}])
def test_secondary_of_another_name_or_type_does_not_pair(changes: dict[str, str]) -> None:
    violations = run_rule("failover-pair", swap(compliant(), with_inputs(SECONDARY, **changes)))
    assert found(violations) == [("failover-pair", PRIMARY.urn), ("failover-pair", SECONDARY.urn)]


def test_pair_sharing_set_identifier() -> None:
    violations = run_rule("failover-pair", swap(compliant(), with_inputs(SECONDARY, setIdentifier="primary")))
    assert found(violations) == [("failover-pair", PRIMARY.urn)]
    assert "share set_identifier" in violations[0].message


def test_names_compare_without_trailing_dot_or_case() -> None:
    assert run_rule("failover-pair", swap(compliant(), with_inputs(SECONDARY, name="VibeLog.io."))) == []


def test_health_check_probing_the_failover_name() -> None:
    bad = with_inputs(CHECK, ipAddress=None, fqdn="vibelog.io")
    violations = run_rule("health-check-probes-origin", swap(compliant(), bad))
    assert found(violations) == [("health-check-probes-origin", CHECK.urn)]
    assert "probe the origin" in violations[0].message


def test_health_check_without_endpoint() -> None:
    bad = with_inputs(CHECK, ipAddress=None, fqdn=None)
    assert found(run_rule("health-check-probes-origin", swap(compliant(), bad))) == [
        ("health-check-probes-origin", CHECK.urn)
    ]


def test_unknown_origin_is_skipped() -> None:
    unknown = with_inputs(CHECK, ipAddress=None, fqdn=UNKNOWN)
    assert run_rule("health-check-probes-origin", swap(compliant(), unknown)) == []


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"type": "HTTP"}, "type='HTTPS_STR_MATCH'"),
        ({"resourcePath": "/"}, "resource_path='/api/health'"),
        ({"requestInterval": 60}, "10 or 30"),
        ({"failureThreshold": 1}, "failure_threshold=3"),
        ({"searchString": None}, "search_string"),
    ],
)
def test_health_check_settings_broken(changes: dict[str, object], fix: str) -> None:
    bad = with_inputs(CHECK, **changes)
    violations = run_rule("health-check-settings", swap(compliant(), bad))
    assert found(violations) == [("health-check-settings", CHECK.urn)]
    assert violations[0].level == "advisory"
    assert fix in violations[0].message


def test_long_ttl_on_a_health_checked_record() -> None:
    bad = with_inputs(PRIMARY, ttl=300)
    violations = run_rule("failover-ttl", swap(compliant(), bad))
    assert found(violations) == [("failover-ttl", PRIMARY.urn)]
    assert "ttl <= 60" in violations[0].message
    assert run_rule("failover-ttl", swap(compliant(), bad), {"failover-ttl": {"maximumTtl": 300}}) == []


def test_long_ttl_on_a_plain_record_is_fine() -> None:
    plain = reg(RECORD, "txt", {"name": "vibelog.io", "type": "TXT", "ttl": 3600, "records": ["v=spf1 -all"]})
    assert run_rule("failover-ttl", [plain]) == []
