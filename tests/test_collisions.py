"""natural-key-collision: the diff flags an `up` that creates a key a deleted resource still holds; the failover
switch and a Vercel variable's secret/plain flip are changes of one object, not a new one beside the old."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components.vercel_app import VercelApp, VercelAppArgs
from infra.diffs.changes import StackDiff, diff_plans
from infra.diffs.review import diff_text
from infra.engine.runtime import Plan
from infra.plans.render import plan_json
from policy.collisions import RULE, collisions
from policy.type_tokens import ENV_VAR, RECORD, REPOSITORY_ENVIRONMENT
from settings.loader import load_settings
from tests.helpers.stacks import plan_of
from tests.test_dns_failover import dns_plan, set_dns

KEY = b"k" * 32


def state(type_: str, resource: str, **inputs: Any) -> dict[str, Any]:
    return {"type": type_, "urn": f"urn:pulumi:production::vibelog::{type_}::{resource}", "inputs": inputs}


def record(resource: str, set_identifier: str | None = None) -> dict[str, Any]:
    routed = {"setIdentifier": set_identifier, "failoverRoutingPolicies": [{"type": "PRIMARY"}]}
    inputs = {"zoneId": "Z1", "name": "vibelog.io", "type": "A", **(routed if set_identifier else {})}
    return state(RECORD, resource, **inputs)


def env_var(name: str, *targets: str) -> dict[str, Any]:
    return state(ENV_VAR, name, projectId="prj_1", key="SENTRY_DSN", targets=list(targets))


# ------------------------------------------------------------------------------------------------ the rule


def test_compliance_records_of_distinct_set_identifiers_coexist() -> None:
    assert collisions([record("old-primary", "primary")], [record("new-secondary", "secondary")]) == []


def test_noncompliance_1_a_simple_record_created_beside_a_routed_one_being_deleted() -> None:
    (found,) = collisions([record("dns-apex-primary", "primary-vercel")], [record("dns-apex")])
    assert found.urn.endswith("::dns-apex"), found
    assert "Route 53 A vibelog.io" in found.message
    assert "pulumi destroy --target" in found.message, found.message
    assert "pulumi.Alias" in found.message, found.message


def test_noncompliance_2_a_vercel_key_on_a_shared_target() -> None:
    assert collisions([env_var("web-env-sentry-dsn", "development")], [env_var("x", "production")]) == []
    (found,) = collisions(
        [env_var("web-env-sentry-dsn", "development")], [env_var("web-env-sentry-dsn-dev", "development")]
    )
    assert "SENTRY_DSN on development" in found.message, found.message


def test_noncompliance_3_a_github_environment_renamed_without_an_alias_is_overwritten_then_deleted() -> None:
    old = state(REPOSITORY_ENVIRONMENT, "ci-app", repository="vibelog", environment="production")
    new = state(REPOSITORY_ENVIRONMENT, "ci-application", repository="vibelog", environment="production")
    (found,) = collisions([old], [new])
    assert "Create overwrites it" in found.message, found.message


# ------------------------------------------------------------------------------------- the failover switch


def _diff(before: Plan, after: Plan) -> StackDiff:
    return diff_plans(plan_json(before, KEY), plan_json(after, KEY))


def _flagged(diff: StackDiff) -> list[str]:
    return [f"{change.urn}: {message}" for change in diff.resources for message in change.collisions]


@pytest.fixture(scope="module")
def failover_on() -> Plan:
    return dns_plan("production")


@pytest.fixture(scope="module")
def failover_off() -> Plan:
    return dns_plan("production", set_dns(failover=False))


def test_switching_failover_on_changes_each_record_into_its_primary(failover_off: Plan, failover_on: Plan) -> None:
    diff = _diff(failover_off, failover_on)
    assert not _flagged(diff), _flagged(diff)
    records = {change.name: change for change in diff.resources if change.type == RECORD}
    primaries = [change for name, change in records.items() if name.endswith("-primary")]
    assert primaries, sorted(records)
    for change in primaries:
        # One Route 53 change batch (record.go resourceRecordUpdate): DELETE the simple record, CREATE the primary.
        assert change.action == "move+update", f"{change.urn}: {change.action}"
        assert any(p.path == "setIdentifier" for p in change.properties), change.urn
    deleted = [change.urn for change in records.values() if change.op == "delete"]
    assert not deleted, f"no plain record is deleted while its primary is created: {deleted}"


def test_the_secondary_is_created_after_its_primary(failover_on: Plan) -> None:
    for secondary in [r for r in failover_on.by_type(RECORD) if r.name.endswith("-secondary")]:
        primary = failover_on.one(RECORD, secondary.name.replace("-secondary", "-primary"))
        assert primary.urn in secondary.dependencies, f"{secondary.urn} may be created before {primary.urn} exists"


def test_switching_failover_off_in_one_up_is_flagged_with_the_fix(failover_on: Plan, failover_off: Plan) -> None:
    # The simple record (the primary, changed back) meets the secondary, which Pulumi deletes last: Route 53 refuses
    # the change batch. No alias can order a delete before an update; the fix is a first `up` that deletes it.
    diff = _diff(failover_on, failover_off)
    flagged = _flagged(diff)
    secondaries = [r.urn for r in failover_on.by_type(RECORD) if r.name.endswith("-secondary")]
    assert len(flagged) == len(secondaries), flagged
    assert all(any(f"--target '{urn}'" in line for line in flagged) for urn in secondaries), flagged
    assert f"[mandatory] {RULE}" in diff_text([diff], "t"), diff_text([diff], "t")


# -------------------------------------------------------------------------------- a variable's secret flip


def _app_plan(stack: str, targets: list[str] | None, secret: bool) -> Plan:
    def program() -> None:
        args = VercelAppArgs.from_settings(load_settings())
        env = [dataclasses.replace(var, secret=secret) if var.key == "SENTRY_DSN" else var for var in args.env]
        VercelApp("web", dataclasses.replace(args, env=env))

    edit = None if targets is None else (lambda config: config["vibelog:app"].__setitem__("targets", targets))
    return plan_of(stack, edit, program=program)


@pytest.mark.parametrize(
    "targets",
    [["production"], ["development"], ["production", "preview", "development"]],
    ids=["production", "development", "mixed"],
)
@pytest.mark.parametrize("secret_first", [False, True], ids=["plain-to-secret", "secret-to-plain"])
def test_a_secret_flip_keeps_each_target_on_one_resource(targets: list[str], secret_first: bool) -> None:
    before = _app_plan("staging", targets, secret_first)
    after = _app_plan("staging", targets, not secret_first)
    diff = _diff(before, after)
    assert not _flagged(diff), _flagged(diff)
    dsn = [change for change in diff.resources if change.type == ENV_VAR and "sentry-dsn" in change.name]
    created_or_deleted = [f"{c.op} {c.urn}" for c in dsn if c.op in {"create", "delete"}]
    assert not created_or_deleted, f"{targets}: the flip must change the variables in place: {created_or_deleted}"
