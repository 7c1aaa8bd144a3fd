"""The backup rules: each backup bucket is versioned, KMS-encrypted, private, TLS-only, locked and kept long enough."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from infra.engine.runtime import Registration, run_program
from policy.type_tokens import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_OBJECT_LOCK,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    BUCKET_REPLICATION,
    BUCKET_VERSIONING,
    KMS_KEY,
)
from policy.unknowns import UNKNOWN
from tests.helpers.policy import found, reg, run_rule, swap, with_inputs
from tests.helpers.stacks import stack_config

VAULT = ("vibelog:backup:BackupVault",)
KEY = reg(KMS_KEY, "backups-key", {"enableKeyRotation": True}, parents=VAULT, protect=True)
BUCKET_REG = reg(
    BUCKET, "backups-db", {"bucket": "vibelog-backups-db", "objectLockEnabled": True}, parents=VAULT, protect=True
)
TLS_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::vibelog-backups-db", "arn:aws:s3:::vibelog-backups-db/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}
DAILY_RULE = {
    "id": "daily",
    "status": "Enabled",
    "filter": {"prefix": "daily/"},
    "transitions": [{"days": 30, "storageClass": "GLACIER_IR"}],
    "expiration": {"days": 365},
    "noncurrentVersionExpiration": {"noncurrentDays": 30},
}


def side(type_: str, name: str, inputs: dict[str, object]) -> Registration:
    # The bucket input is the bucket's id: unknown in a preview, so the rules follow the dependency.
    return reg(type_, f"backups-db-{name}", {"bucket": UNKNOWN, **inputs}, parents=VAULT, deps={"bucket": BUCKET_REG})


def compliant() -> list[Registration]:
    return [
        KEY,
        BUCKET_REG,
        side(BUCKET_VERSIONING, "versioning", {"versioningConfiguration": {"status": "Enabled"}}),
        side(
            BUCKET_ENCRYPTION,
            "encryption",
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN},
                        "bucketKeyEnabled": True,
                    }
                ]
            },
        ),
        side(
            BUCKET_PUBLIC_ACCESS_BLOCK,
            "public-access",
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
        ),
        side(BUCKET_POLICY, "tls-only", {"policy": json.dumps(TLS_POLICY)}),
        side(
            BUCKET_OBJECT_LOCK,
            "lock",
            {"objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 30}}},
        ),
        side(BUCKET_LIFECYCLE, "lifecycle", {"rules": [DAILY_RULE]}),
    ]


def named(regs: list[Registration], suffix: str) -> Registration:
    return next(r for r in regs if r.name == f"backups-db-{suffix}")


RULES = [
    "backup-versioning",
    "backup-encryption",
    "backup-public-access-blocked",
    "backup-tls-only",
    "backup-object-lock",
    "backup-lifecycle",
    "protect-stateful",
]


@pytest.mark.parametrize("rule", RULES)
def test_compliant_vault(rule: str) -> None:
    assert run_rule(rule, compliant()) == []


@pytest.mark.parametrize(
    ("rule", "suffix"),
    [
        ("backup-versioning", "versioning"),
        ("backup-encryption", "encryption"),
        ("backup-public-access-blocked", "public-access"),
        ("backup-tls-only", "tls-only"),
        ("backup-object-lock", "lock"),
        ("backup-lifecycle", "lifecycle"),
    ],
)
def test_missing_side_resource_is_reported_at_the_bucket(rule: str, suffix: str) -> None:
    regs = [r for r in compliant() if r.name != f"backups-db-{suffix}"]
    violations = run_rule(rule, regs)
    assert found(violations) == [(rule, BUCKET_REG.urn)], violations
    assert "fix: declare one" in violations[0].message or "fix: declare one that" in violations[0].message


@pytest.mark.parametrize(
    ("rule", "suffix", "changes", "fix"),
    [
        ("backup-versioning", "versioning", {"versioningConfiguration": {"status": "Suspended"}}, "'Enabled'"),
        (
            "backup-encryption",
            "encryption",
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": True}]},
            "aws:kms",
        ),
        (
            "backup-encryption",
            "encryption",
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "k"},
                        "bucketKeyEnabled": False,
                    }
                ]
            },
            "bucket_key_enabled=True",
        ),
        ("backup-public-access-blocked", "public-access", {"restrictPublicBuckets": False}, "all four"),
        ("backup-public-access-blocked", "public-access", {"blockPublicAcls": None}, "all four"),
        (
            "backup-tls-only",
            "tls-only",
            {"policy": json.dumps({**TLS_POLICY, "Statement": [{**TLS_POLICY["Statement"][0], "Effect": "Allow"}]})},
            "aws:SecureTransport",
        ),
        ("backup-object-lock", "lock", {"rule": {"defaultRetention": {"mode": "GOVERNANCE"}}}, "default_retention"),
        ("backup-object-lock", "lock", {"rule": {"defaultRetention": {"mode": "OFF", "days": 3}}}, "GOVERNANCE"),
    ],
)
def test_side_resource_broken(rule: str, suffix: str, changes: dict[str, object], fix: str) -> None:
    regs = compliant()
    bad = with_inputs(named(regs, suffix), **changes)
    violations = run_rule(rule, swap(regs, bad))
    assert found(violations) == [(rule, bad.urn)], violations
    assert fix in violations[0].message


def test_bucket_without_object_lock() -> None:
    regs = compliant()
    bad = with_inputs(BUCKET_REG, objectLockEnabled=None)
    violations = run_rule("backup-object-lock", swap(regs, bad))
    assert found(violations) == [("backup-object-lock", BUCKET_REG.urn)]
    assert "object_lock_enabled=True" in violations[0].message


def test_unknown_policy_document_is_skipped() -> None:
    regs = compliant()
    assert run_rule("backup-tls-only", swap(regs, with_inputs(named(regs, "tls-only"), policy=UNKNOWN))) == []


@pytest.mark.parametrize(
    ("rule", "suffix", "changes"),
    [
        ("backup-versioning", "versioning", {"versioningConfiguration": {"status": UNKNOWN}}),
        ("backup-encryption", "encryption", {"rules": UNKNOWN}),
        ("backup-public-access-blocked", "public-access", {"restrictPublicBuckets": UNKNOWN}),
        ("backup-object-lock", "lock", {"rule": {"defaultRetention": UNKNOWN}}),
        ("backup-lifecycle", "lifecycle", {"rules": UNKNOWN}),
    ],
)
def test_a_value_unknown_in_a_preview_is_not_reported(rule: str, suffix: str, changes: dict[str, object]) -> None:
    # A preview of a first `up` has outputs of other resources unknown: the rule cannot judge them yet.
    regs = compliant()
    unknown = with_inputs(named(regs, suffix), **changes)
    assert run_rule(rule, swap(regs, unknown)) == [], f"{unknown.urn}: an unknown {changes} was reported"


def test_a_bucket_whose_object_lock_is_unknown_is_not_reported() -> None:
    regs = compliant()
    unknown = with_inputs(BUCKET_REG, objectLockEnabled=UNKNOWN)
    assert run_rule("backup-object-lock", swap(regs, unknown)) == [], f"{unknown.urn}: unknown objectLockEnabled"


def test_side_resources_naming_the_bucket_by_its_name_configure_it() -> None:
    # A side resource may name the bucket by a literal name instead of its output: it still configures the bucket.
    by_name = [
        replace(r, inputs={**r.inputs, "bucket": "vibelog-backups-db"}, dependencies=(), property_dependencies={})
        if r.name.startswith("backups-db-")
        else r
        for r in compliant()
    ]
    for rule in RULES:
        assert run_rule(rule, by_name) == [], f"{rule}: the side resources naming vibelog-backups-db were not seen"
    elsewhere = [with_inputs(r, bucket="another-bucket") if r.name.startswith("backups-db-") else r for r in by_name]
    for rule in RULES[:-1]:
        assert found(run_rule(rule, elsewhere)) == [(rule, BUCKET_REG.urn)], f"{rule}: another bucket's side resource"


@pytest.mark.parametrize(
    ("rule", "suffix", "changes"),
    [
        (
            "backup-encryption",
            "encryption",
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms:dsse", "kmsMasterKeyId": "k"},
                        "bucketKeyEnabled": True,
                    }
                ]
            },
        ),
        (
            "backup-tls-only",
            "tls-only",
            {
                "policy": json.dumps(
                    {
                        "Statement": [
                            {**TLS_POLICY["Statement"][0], "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}
                        ]
                    }
                )
            },
        ),
        ("backup-object-lock", "lock", {"rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": 1}}}),
    ],
)
def test_other_compliant_forms_are_accepted(rule: str, suffix: str, changes: dict[str, object]) -> None:
    regs = compliant()
    other = with_inputs(named(regs, suffix), **changes)
    assert run_rule(rule, swap(regs, other)) == [], f"{other.urn}: {changes} is compliant"


def test_the_aws_managed_key_is_not_a_customer_key() -> None:
    regs = compliant()
    default = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": True}
    bad = with_inputs(named(regs, "encryption"), rules=[default])
    violations = run_rule("backup-encryption", swap(regs, bad))
    assert found(violations) == [("backup-encryption", bad.urn)], violations
    assert "kms_master_key_id" in violations[0].message, violations[0].message


@pytest.mark.parametrize(
    ("rule_changes", "fix"),
    [
        ({"transitions": [{"days": 10, "storageClass": "STANDARD_IA"}]}, "S3 requires 30 days"),
        ({"transitions": [{"days": 300, "storageClass": "GLACIER"}]}, "90-day minimum"),
        ({"transitions": [{"days": 30, "storageClass": "DEEP_ARCHIVE"}], "expiration": {"days": 120}}, "180-day"),
        ({"transitions": [{"days": 400, "storageClass": "GLACIER_IR"}]}, "is not after the transition"),
        ({"transitions": [{"days": 365, "storageClass": "GLACIER_IR"}]}, "is not after the transition"),
        ({"transitions": [], "expiration": {"days": 7}}, "before the 30-day retention"),
        ({"noncurrentVersionExpiration": None}, "noncurrent_version_expiration"),
        ({"status": "Disabled"}, "no enabled rule"),
    ],
)
def test_lifecycle_broken(rule_changes: dict[str, object], fix: str) -> None:
    regs = compliant()
    rule = {k: v for k, v in {**DAILY_RULE, **rule_changes}.items() if v is not None}
    bad = with_inputs(named(regs, "lifecycle"), rules=[rule])
    violations = run_rule("backup-lifecycle", swap(regs, bad))
    assert found(violations) == [("backup-lifecycle", bad.urn)], violations
    assert fix in violations[0].message


def test_lifecycle_must_outlast_object_lock_and_configured_retention() -> None:
    regs = compliant()
    lock = with_inputs(named(regs, "lock"), rule={"defaultRetention": {"mode": "COMPLIANCE", "years": 2}})
    violations = run_rule("backup-lifecycle", swap(regs, lock))
    assert found(violations) == [("backup-lifecycle", named(regs, "lifecycle").urn)]
    assert "before the 730-day retention" in violations[0].message
    config = {"backup-lifecycle": {"minimumRetentionDays": 400}}
    assert "before the 400-day retention" in run_rule("backup-lifecycle", regs, config)[0].message


def shortened(stack: str, key: str, days: int) -> Any:
    """The stack's program after a stack-file edit that keeps a class `days` (in STANDARD) and promises no more."""

    def edit(config: dict[str, Any]) -> None:
        backup = config["vibelog:backup"]
        backup[key].update(retentionDays=days, transitions=[])
        backup.setdefault("recoveryObjectives", {}).setdefault("retentionDays", {})[key] = days

    return run_program(stack, stack_config(stack, edit))


@pytest.mark.parametrize(("key", "reference"), [("weekly", 84), ("yearly", 365), ("uploads", 90), ("config", 90)])
def test_production_cannot_keep_a_class_shorter_than_the_reference_by_editing_its_stack_file(
    key: str, reference: int
) -> None:
    # The settings hold each class to the floor the same stack file promises; the pack, configured apart from the
    # stack, holds production to the reference's own numbers per class (12 weeks, 1 year, 90 days, 90 days).
    plan = shortened("production", key, 30)
    lifecycles = [r for r in plan.by_type(BUCKET_LIFECYCLE) if r.name.startswith("backup-")]
    violations = run_rule("backup-lifecycle", plan.registrations)
    messages = [v.message for v in violations if v.urn in {r.urn for r in lifecycles}]
    assert any(f"rule {key}:" in m and f"before the {reference}-day retention" in m for m in messages), violations
    # Unedited, production passes; staging keeps less by design (the pack's default for other stacks).
    assert run_rule("backup-lifecycle", run_program("production", stack_config("production")).registrations) == []
    assert run_rule("backup-lifecycle", run_program("staging", stack_config("staging")).registrations) == []


@pytest.mark.parametrize(("stack", "reported"), [("production", True), ("staging", False)])
def test_the_retention_floor_is_the_stacks_own(stack: str, reported: bool) -> None:
    # A one-day lock and a 7-day expiration: production's floor (30 days) is broken, staging's (7) is met.
    def moved(urn: str) -> str:
        return urn.replace("urn:pulumi:production::", f"urn:pulumi:{stack}::")

    vault = [
        replace(
            r,
            urn=moved(r.urn),
            dependencies=tuple(map(moved, r.dependencies)),
            property_dependencies={k: tuple(map(moved, v)) for k, v in r.property_dependencies.items()},
        )
        for r in compliant()
    ]
    lock = with_inputs(named(vault, "lock"), rule={"defaultRetention": {"mode": "GOVERNANCE", "days": 1}})
    short = {**DAILY_RULE, "transitions": [], "expiration": {"days": 7}}
    lifecycle = with_inputs(named(vault, "lifecycle"), rules=[short])
    violations = run_rule("backup-lifecycle", swap(swap(vault, lock), lifecycle))
    if reported:
        assert found(violations) == [("backup-lifecycle", lifecycle.urn)], violations
        assert "before the 30-day retention" in violations[0].message, violations[0].message
    else:
        assert violations == [], f"{lifecycle.urn}: 7 days meets {stack}'s floor"


def test_unprotected_backup_bucket_and_key() -> None:
    regs = compliant()
    for target in (BUCKET_REG, KEY):
        bad = replace(target, protect=False)
        assert found(run_rule("protect-stateful", swap(regs, bad))) == [("protect-stateful", bad.urn)]


def test_a_bucket_outside_a_backup_component_is_not_a_backup() -> None:
    site = reg(BUCKET, "failover-page", {"bucket": "vibelog-degraded"}, parents=("vibelog:dns:DnsFailover",))
    for rule in RULES:
        assert run_rule(rule, [site]) == [], rule


@pytest.mark.parametrize(
    ("lock", "expected"),
    [({"mode": "GOVERNANCE", "days": 30}, "GOVERNANCE, which s3:BypassGovernanceRetention"), ({"days": 7}, "7 days")],
)
def test_production_cannot_weaken_its_object_lock_by_editing_its_stack_file(
    lock: dict[str, Any], expected: str
) -> None:
    # The settings accept either mode and any days; the pack, configured apart from the stack file, holds production's
    # backups to COMPLIANCE for 30 days, before an administrator's `up` could apply the edit.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:backup"]["objectLock"].update(lock)

    plan = run_program("production", stack_config("production", edit))
    locks = {r.urn: r.name for r in plan.by_type(BUCKET_OBJECT_LOCK)}
    assert locks, "production declares no Object Lock configuration"
    flagged = {v.urn for v in run_rule("backup-object-lock", plan.registrations) if expected in v.message}
    assert flagged == set(locks), f"not refused for {sorted(set(locks.values()) - {locks[u] for u in flagged})}"
    # Unedited, production passes; staging's GOVERNANCE lock for 7 days is its own by design.
    assert run_rule("backup-object-lock", run_program("production", stack_config("production")).registrations) == []
    assert run_rule("backup-object-lock", run_program("staging", stack_config("staging")).registrations) == []


def test_what_keeps_the_backups_is_protected_like_the_buckets() -> None:
    # A side resource's Delete undoes it in AWS (the lock configuration's takes the default retention off new
    # backups): renamed or removed in the program, an unprotected one would be deleted by the next `up`.
    for stack in ("staging", "production"):
        plan = run_program(stack, stack_config(stack))
        assert run_rule("backup-rules-protected", plan.registrations) == [], f"{stack}'s vault"
    plan = run_program("production", stack_config("production"))
    for type_, name in ((BUCKET_OBJECT_LOCK, "backup-db-lock"), (BUCKET_REPLICATION, "backup-uploads-replication")):
        side = plan.one(type_, name)
        violations = run_rule("backup-rules-protected", swap(plan.registrations, replace(side, protect=False)))
        assert found(violations) == [("backup-rules-protected", side.urn)], f"{side.urn}: {violations}"
    # What configures a bucket outside a backup component is not the rule's.
    site = reg(BUCKET, "failover-page", {"bucket": "vibelog-degraded"}, parents=("vibelog:dns:DnsFailover",))
    policy = reg(
        BUCKET_POLICY, "failover-page-policy", {"bucket": "vibelog-degraded"}, parents=("vibelog:dns:DnsFailover",)
    )
    assert run_rule("backup-rules-protected", [site, policy]) == []
