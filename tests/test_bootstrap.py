"""The first `pulumi up` on an empty account: phase `zone` declares only the zone, phase `complete` the rest."""

from __future__ import annotations

from typing import Any

import pytest

from infra.engine.policies import check_plan, mandatory
from infra.engine.runtime import Plan
from policy.type_tokens import CERTIFICATE_VALIDATION, RECORD
from policy.type_tokens import HOSTED_ZONE as ZONE
from tests.helpers.stacks import only_problem, plan_of


def phase(value: Any) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:bootstrapPhase"] = value

    return edit


def delegate_staging(config: dict[str, Any]) -> None:
    servers = ["ns-101.awsdns-12.com", "ns-702.awsdns-23.net", "ns-1203.awsdns-23.org", "ns-1834.awsdns-37.co.uk"]
    config["vibelog:dns"]["delegations"] = [{"name": "staging.vibelog.io", "nameServers": servers}]


@pytest.fixture(scope="module")
def zone_phase() -> Plan:
    return plan_of("production", phase("zone"))


def test_the_zone_phase_declares_only_the_zone_and_says_so(zone_phase: Plan) -> None:
    custom = [r for r in zone_phase.registrations if r.custom and not r.type.startswith("pulumi:providers:")]
    assert [r.type for r in custom] == [ZONE], f"phase zone registers {[r.urn for r in custom]}"
    (zone,) = custom
    assert zone.protect, zone.urn
    assert zone_phase.outputs["bootstrap_phase"] == "zone"
    assert {"dns_zone_id", "dns_name_servers", "bootstrap_next_step"} <= set(zone_phase.outputs)
    assert "registrar" in zone_phase.outputs["bootstrap_next_step"]


def test_the_zone_phase_already_holds_a_configured_subzone_delegation() -> None:
    def edit(config: dict[str, Any]) -> None:
        phase("zone")(config)
        delegate_staging(config)

    plan = plan_of("production", edit)
    (record,) = plan.by_type(RECORD)
    assert (record.inputs["name"], record.inputs["type"]) == ("staging.vibelog.io", "NS"), record.urn
    assert plan.by_type(CERTIFICATE_VALIDATION) == [], "nothing in phase zone waits on the registrar"


def test_the_complete_phase_validates_the_certificate_in_the_same_zone(production: Plan, zone_phase: Plan) -> None:
    assert production.outputs["bootstrap_phase"] == "complete"
    assert "bootstrap_next_step" not in production.outputs
    validation = production.one(CERTIFICATE_VALIDATION, "dns-degraded-cert-validation")
    assert zone_phase.one(ZONE, "dns-zone").urn == production.one(ZONE, "dns-zone").urn, (
        f"{validation.urn}: phase complete keeps the zone phase's zone (same URN), it never makes a second one"
    )


def test_the_zone_phase_passes_the_policy_pack(zone_phase: Plan) -> None:
    assert mandatory(check_plan(zone_phase, {})) == []


def test_a_zone_phase_without_a_zone_is_refused() -> None:
    problem = only_problem("development", phase("zone"))
    assert problem.path == "vibelog:bootstrapPhase", problem
    assert "vibelog:dns" in problem.expected, problem
    assert "pulumi config set" in problem.fix, problem


def test_an_unknown_phase_is_refused() -> None:
    problem = only_problem("production", phase("dns"))
    assert problem.path == "vibelog:bootstrapPhase", problem
    assert "zone" in problem.expected, problem
    assert "complete" in problem.expected, problem
