"""Backup rules: backup buckets are versioned, encrypted, private, TLS-only, locked and kept for their retention."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policy.registry import Rules, Setting
from policy.type_tokens import (
    BACKUP_MODULE,
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_OBJECT_LOCK,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    BUCKET_REPLICATION,
    BUCKET_VERSIONING,
)
from policy.unknowns import UNKNOWN
from policy.urns import type_chain
from policy.values import as_list, depends_on, dig, json_document, known, of_type, props_of
from settings.retention import EARLIEST_TRANSITION_DAY, MINIMUM_DAYS

RULES = Rules()


# The reference's retention binds production, class by class (lifecycle rule id): daily dumps 30 days, weekly
# archives 12 weeks, the yearly copy 1 year, upload backups and configuration backups 90 days, anything else 30.
# Configured with the pack, apart from the stack file, so no edit of a stack file shortens them. Staging keeps
# backups briefly by design.
MINIMUM_RETENTION_DAYS = Setting(
    "minimumRetentionDays",
    {
        "production": {"daily": 30, "weekly": 84, "yearly": 365, "uploads": 90, "config": 90, "default": 30},
        "default": 7,
    },
    {
        "type": ["integer", "object"],
        "additionalProperties": {"type": ["integer", "object"], "additionalProperties": {"type": "integer"}},
    },
)
"""The reference's shortest backup retentions: a number; or per stack (its name, or `default`) a number or days per
lifecycle rule id (or `default`)."""

# Production's lock is COMPLIANCE for the daily dumps' 30 days: no one, root included, shortens or lifts it. Configured
# with the pack, so a stack-file edit to GOVERNANCE (which s3:BypassGovernanceRetention lifts) or to fewer days is
# refused before an administrator's `up` applies it.
MINIMUM_OBJECT_LOCK = Setting(
    "minimumObjectLock",
    {"production": {"mode": "COMPLIANCE", "days": 30}},
    {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {"mode": {"enum": ["GOVERNANCE", "COMPLIANCE"]}, "days": {"type": "integer"}},
            "additionalProperties": False,
        },
    },
)
"""The weakest default retention a stack's backup buckets may have, per stack name (or `default`): a mode (COMPLIANCE
is stronger than GOVERNANCE) and days; a stack not named has no floor beyond backup-object-lock's own."""


def is_backup_bucket(urn: str) -> bool:
    """A bucket declared by a backup component (its URN's type chain passes through `vibelog:backup:`)."""
    chain = type_chain(urn)
    return bool(chain) and chain[-1] == BUCKET and any(token.startswith(BACKUP_MODULE) for token in chain[:-1])


def _backup_buckets(resources: list[PolicyResource]) -> list[PolicyResource]:
    """Buckets of a backup component, except the live bucket it replicates from (tagged as such by the component)."""
    return [
        resource
        for resource in resources
        if is_backup_bucket(resource.urn) and dig(props_of(resource), "tags", "vibelog-role") != "replication-source"
    ]


def _attached(resources: list[PolicyResource], bucket: PolicyResource, type_: str) -> list[PolicyResource]:
    """Side resources of `type_` that configure `bucket`: by dependency, or by a known equal bucket name."""
    name = props_of(bucket).get("bucket")
    found = []
    for resource in of_type(resources, type_):
        target = props_of(resource).get("bucket")
        if depends_on(resource, "bucket", bucket) or (isinstance(name, str) and target == name):
            found.append(resource)
    return found


def _bucket_rule(
    type_: str, what: str, check: Callable[[dict[str, Any]], str | None]
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """A stack validator: each backup bucket has a side resource of `type_`, and `check` passes on each of them."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for bucket in _backup_buckets(args.resources):
            side = _attached(args.resources, bucket, type_)
            if not side:
                report(
                    f"backup bucket {bucket.name} has no {type_.rsplit(':', 1)[-1]}; fix: declare one ({what})",
                    bucket.urn,
                )
            for resource in side:
                problem = check(props_of(resource))
                if problem:
                    report(f"{resource.name} (backup bucket {bucket.name}): {problem}", resource.urn)

    return validate


def _versioning(props: dict[str, Any]) -> str | None:
    status = dig(props, "versioningConfiguration", "status")
    if status is UNKNOWN or status == "Enabled":
        return None
    return f"versioning is {status!r}; fix: versioning_configuration={{'status': 'Enabled'}}"


def _encryption(props: dict[str, Any]) -> str | None:
    rules = props.get("rules")
    if not known(rules):
        return None
    for rule in as_list(rules):
        default = dig(rule, "applyServerSideEncryptionByDefault")
        if dig(default, "sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and dig(default, "kmsMasterKeyId"):
            if dig(rule, "bucketKeyEnabled") is not True:
                return "bucket_key_enabled is off (each object then costs a KMS call); fix: bucket_key_enabled=True"
            return None
    return "objects are not encrypted with a customer KMS key; fix: sse_algorithm='aws:kms' with kms_master_key_id"


def _public_access(props: dict[str, Any]) -> str | None:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    open_ = [flag for flag in flags if props.get(flag) is not True and props.get(flag) is not UNKNOWN]
    return f"{', '.join(open_)} not True; fix: set all four to True" if open_ else None


def _tls_only(props: dict[str, Any]) -> str | None:
    document = json_document(props.get("policy"))
    if document is UNKNOWN or not known(document):
        return None
    for statement in as_list(dig(document, "Statement")):
        secure = dig(statement, "Condition", "Bool", "aws:SecureTransport")
        if dig(statement, "Effect") == "Deny" and str(secure).lower() in ("false", "['false']"):
            return None
    return "no statement denies requests without TLS; fix: Deny on Condition Bool aws:SecureTransport = false"


def _object_lock(props: dict[str, Any]) -> str | None:
    retention = dig(props, "rule", "defaultRetention")
    if not known(retention):
        return None
    if dig(retention, "mode") not in ("GOVERNANCE", "COMPLIANCE") or not (
        dig(retention, "days") or dig(retention, "years")
    ):
        return "no default retention; fix: rule={'default_retention': {'mode': 'GOVERNANCE', 'days': N}}"
    return None


RULES.add_stack(
    "backup-versioning",
    "Backup buckets keep every version of every object.",
    _bucket_rule(BUCKET_VERSIONING, "status Enabled", _versioning),
)
RULES.add_stack(
    "backup-encryption",
    "Backup buckets encrypt with a customer-managed KMS key and S3 bucket keys.",
    _bucket_rule(BUCKET_ENCRYPTION, "aws:kms with a customer key, bucket_key_enabled", _encryption),
)
RULES.add_stack(
    "backup-public-access-blocked",
    "Backup buckets block every kind of public access.",
    _bucket_rule(BUCKET_PUBLIC_ACCESS_BLOCK, "all four flags True", _public_access),
)
RULES.add_stack(
    "backup-tls-only",
    "Backup buckets refuse requests that do not use TLS.",
    _bucket_rule(BUCKET_POLICY, "Deny when aws:SecureTransport is false", _tls_only),
)


@RULES.stack(
    "backup-object-lock",
    "Backup buckets have Object Lock with a default retention, so no one can delete backups early.",
    settings=[MINIMUM_OBJECT_LOCK],
)
def backup_object_lock(args: StackValidationArgs, report: ReportViolation) -> None:
    """Backup buckets are created with Object Lock on, and a default retention at least the stack's floor."""
    for bucket in _backup_buckets(args.resources):
        enabled = props_of(bucket).get("objectLockEnabled")
        if enabled is not True and enabled is not UNKNOWN:
            report(
                f"backup bucket {bucket.name} is created without Object Lock (it cannot be added freely later); "
                "fix: aws.s3.Bucket(..., object_lock_enabled=True)",
                bucket.urn,
            )
    _bucket_rule(BUCKET_OBJECT_LOCK, "GOVERNANCE or COMPLIANCE default retention", _object_lock)(args, report)
    floor = _for_stack(MINIMUM_OBJECT_LOCK.read(args), args)
    if not isinstance(floor, dict):
        return
    mode, days = floor.get("mode"), floor.get("days")
    for bucket in _backup_buckets(args.resources):
        for lock in _attached(args.resources, bucket, BUCKET_OBJECT_LOCK):
            retention = dig(props_of(lock), "rule", "defaultRetention")
            if not known(retention) or not known(dig(retention, "mode")) or _object_lock(props_of(lock)) is not None:
                continue  # unknown in a preview, or without a default retention (said above)
            if mode == "COMPLIANCE" and dig(retention, "mode") != "COMPLIANCE":
                report(
                    f"{lock.name}: default retention {dig(retention, 'mode')}, which s3:BypassGovernanceRetention "
                    "lifts; this stack's backups are locked in COMPLIANCE mode; fix: objectLock.mode COMPLIANCE",
                    lock.urn,
                )
            held = _retention_days(props_of(lock))
            if isinstance(days, int) and held is not None and held < days:
                report(
                    f"{lock.name}: default retention of {held} days, under this stack's {days}; fix: objectLock.days "
                    f">= {days}",
                    lock.urn,
                )


# What keeps a vault's backups, beside its buckets: each one's Delete undoes it in AWS (the lock configuration's takes
# the default retention off new backups, the policy's drops its DenyOverwrite, the replication's stops the upload
# backups; policy/lifecycle.py).
KEEPING_TYPES = (
    BUCKET_VERSIONING,
    BUCKET_ENCRYPTION,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    BUCKET_POLICY,
    BUCKET_OBJECT_LOCK,
    BUCKET_LIFECYCLE,
    BUCKET_REPLICATION,
)


@RULES.stack(
    "backup-rules-protected",
    "What keeps backups (their buckets' lock, lifecycle, policy, versioning, encryption, public access block, and the "
    "replication that feeds them) is protected like the buckets: a rename or removal would delete it in AWS.",
)
def backup_rules_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every side resource of a backup component's buckets (the live one it replicates from included) is protected."""
    buckets = [resource for resource in args.resources if is_backup_bucket(resource.urn)]
    for type_ in KEEPING_TYPES:
        for side in of_type(args.resources, type_):
            if side.opts.protect or not any(side in _attached(args.resources, bucket, type_) for bucket in buckets):
                continue
            report(
                f"{side.name} keeps backups and is not protected: a rename or removal in the program deletes it in "
                "AWS; fix: opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True)",
                side.urn,
            )


def _retention_days(config: Mapping[str, Any]) -> int | None:
    retention = dig(config, "rule", "defaultRetention")
    days, years = dig(retention, "days"), dig(retention, "years")
    if isinstance(days, int):
        return days
    return years * 365 if isinstance(years, int) else None


def lifecycle_problems(rule: Mapping[str, Any], minimum_days: int) -> list[str]:
    """What is wrong with one enabled lifecycle rule: minimum durations, order, retention, noncurrent versions."""
    problems = []
    transitions = sorted(
        (t for t in as_list(rule.get("transitions")) if isinstance(dig(t, "days"), int)), key=lambda t: t["days"]
    )
    expiration = dig(rule, "expiration", "days")
    for index, transition in enumerate(transitions):
        day, storage = transition["days"], transition.get("storageClass")
        earliest = EARLIEST_TRANSITION_DAY.get(str(storage), 0)
        if day < earliest:
            problems.append(
                f"transition to {storage} at day {day}: S3 requires {earliest} days; fix: days >= {earliest}"
            )
        following = transitions[index + 1]["days"] if index + 1 < len(transitions) else expiration
        minimum = MINIMUM_DAYS.get(str(storage), 0)
        if isinstance(following, int) and following <= day:
            problems.append(f"expiration/next transition at day {following} is not after the transition at day {day}")
        elif isinstance(following, int) and following - day < minimum:
            problems.append(
                f"objects leave {storage} after {following - day} days, under its {minimum}-day minimum storage "
                f"duration; fix: keep them there at least {minimum} days"
            )
    if isinstance(expiration, int) and expiration < minimum_days:
        problems.append(
            f"objects expire after {expiration} days, before the {minimum_days}-day retention; fix: expiration days >= "
            f"{minimum_days}"
        )
    if expiration is not None and rule.get("noncurrentVersionExpiration") is None:
        problems.append(
            "in a versioned bucket expiration only adds a delete marker; fix: also set noncurrent_version_expiration"
        )
    return problems


def _for_stack(configured: Any, args: StackValidationArgs, fallback: Any = None) -> Any:
    """A pack setting's value for the stack being checked: a map's entry for its name, else its `default`."""
    if not isinstance(configured, dict):
        return configured
    stack = args.resources[0].urn.split("::")[0].rsplit(":", 1)[-1] if args.resources else ""
    return configured.get(stack, configured.get("default", fallback))


def _retention_floor(args: StackValidationArgs) -> Callable[[str], int]:
    """The shortest retention a backup may have in this stack, by lifecycle rule id."""
    configured = _for_stack(MINIMUM_RETENTION_DAYS.read(args), args, 0)
    if isinstance(configured, dict):
        per_rule: dict[str, Any] = configured
        return lambda rule_id: int(per_rule.get(rule_id, per_rule.get("default", 0)) or 0)
    floor = int(configured) if configured is not None else 0
    return lambda _rule_id: floor


@RULES.stack(
    "backup-lifecycle",
    "Backup lifecycles keep backups for their retention and respect minimum storage durations.",
    settings=[MINIMUM_RETENTION_DAYS],
)
def backup_lifecycle(args: StackValidationArgs, report: ReportViolation) -> None:
    """Lifecycle rules meet the retention objectives and the storage classes' minimum durations."""
    floor = _retention_floor(args)
    for bucket in _backup_buckets(args.resources):
        locks = [_retention_days(props_of(lock)) for lock in _attached(args.resources, bucket, BUCKET_OBJECT_LOCK)]
        locked = max((days for days in locks if days is not None), default=0)
        minimum = max(floor(""), locked)
        lifecycles = _attached(args.resources, bucket, BUCKET_LIFECYCLE)
        if not lifecycles:
            report(
                f"backup bucket {bucket.name} has no BucketLifecycleConfiguration; fix: declare one that moves "
                f"backups to Glacier and expires them after at least {minimum} days",
                bucket.urn,
            )
        for lifecycle in lifecycles:
            rules = props_of(lifecycle).get("rules")
            if not known(rules):
                continue
            enabled = [rule for rule in as_list(rules) if isinstance(rule, dict) and rule.get("status") == "Enabled"]
            if not enabled:
                report(f"{lifecycle.name}: no enabled rule; fix: status='Enabled'", lifecycle.urn)
            for rule in enabled:
                for problem in lifecycle_problems(rule, max(floor(str(rule.get("id", ""))), locked)):
                    report(f"{lifecycle.name}, rule {rule.get('id')}: {problem}", lifecycle.urn)
