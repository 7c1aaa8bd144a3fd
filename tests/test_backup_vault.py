"""BackupVault: where backups live, how long, who can write and read them, and that nothing deletes them early."""

from __future__ import annotations

import dataclasses
import json
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

import pytest

from components.backup_vault import REPLICATED_PREFIXES, UPLOADS_CHECK_PREFIX, BackupVault, BackupVaultArgs
from components.config_secrets import ConfigSecrets, ConfigSecretsArgs
from components.providers import Providers
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, run_program
from infra.plans.render import plan_json
from ops import uploads
from policy.type_tokens import BUCKET, KMS_ALIAS, KMS_REPLICA_KEY, ROLE_POLICY
from policy.type_tokens import BUCKET_ENCRYPTION as ENCRYPTION
from policy.type_tokens import BUCKET_LIFECYCLE as LIFECYCLE
from policy.type_tokens import BUCKET_OBJECT_LOCK as LOCK
from policy.type_tokens import BUCKET_OWNERSHIP as OWNERSHIP
from policy.type_tokens import BUCKET_POLICY as POLICY
from policy.type_tokens import BUCKET_PUBLIC_ACCESS_BLOCK as PUBLIC_ACCESS
from policy.type_tokens import BUCKET_REPLICATION as REPLICATION
from policy.type_tokens import BUCKET_VERSIONING as VERSIONING
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import KMS_KEY as KEY
from policy.unknowns import UNKNOWN
from settings.loader import load_settings
from tests.helpers.iam_eval import allowed
from tests.helpers.stacks import plan_of, settings_of, stack_config

SIDE_RESOURCES = {
    VERSIONING: "versioning",
    ENCRYPTION: "encryption",
    PUBLIC_ACCESS: "public-access",
    OWNERSHIP: "ownership",
    POLICY: "policy",
}

# AWS's minimum storage durations, written out here rather than imported, so the code is checked against them.
MINIMUM_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30, "GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
VAULT_BUCKETS = ("backup-db", "backup-uploads-backup")
ACCOUNT = "210987654321"
OIDC_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def vault_program() -> None:
    """The vault and the configuration key its config role and operator use, as __main__.py declares them."""
    settings = load_settings()
    assert settings.backup is not None, "the stack declares backups"
    providers = Providers.for_stack(settings)
    config = ConfigSecrets("config-secrets", ConfigSecretsArgs.from_settings(settings, settings.backup, providers))
    args = BackupVaultArgs.from_settings(settings, settings.backup, providers)
    BackupVault(
        "backup",
        dataclasses.replace(args, config_key_arn=config.key_arn, config_replica_key_arn=config.replica_key_arn),
    )


@cache
def vault_plan(stack: str, preview: bool = True) -> Plan:
    """The vault alone, under the stack's config; `preview=False` is a mock `up`, where KMS ARNs are known."""
    return run_program(stack, stack_config(stack), program=vault_program, mocks=VibelogMocks(preview=preview))


def policy_of(plan: Plan, name: str) -> dict[str, Any]:
    """A role policy's document, parsed."""
    reg = plan.one(ROLE_POLICY, name)
    assert reg.inputs["policy"] is not UNKNOWN, f"{reg.urn}: policy unknown"
    document: dict[str, Any] = json.loads(reg.inputs["policy"])
    return document


def actions(document: dict[str, Any]) -> set[str]:
    return {action for stmt in document["Statement"] for action in _list(stmt["Action"])}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def rules_by_id(reg: Registration) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in reg.inputs["rules"]}


def provider_name(reg: Registration) -> str:
    return reg.provider.rsplit("::", 1)[-1]


def test_backups_and_their_key_live_in_the_vault_region_and_uploads_in_the_primary() -> None:
    plan = vault_plan("production")
    for name in VAULT_BUCKETS:
        bucket = plan.one(BUCKET, name)
        assert provider_name(bucket) == "aws-us-west-2", f"{bucket.urn} uses {bucket.provider}"
        assert bucket.inputs["bucket"].endswith(f"-{ACCOUNT}-us-west-2"), bucket.urn
    assert provider_name(plan.one(KEY, "backup-key")) == "aws-us-west-2"
    assert provider_name(plan.one(BUCKET, "backup-uploads")) == "aws", "the uploads bucket is in the primary region"
    assert provider_name(plan.one(KEY, "backup-uploads-key")) == "aws"


def test_each_bucket_is_encrypted_with_the_key_of_its_own_region() -> None:
    plan = vault_plan("production")
    for bucket_name, key_name in (
        ("backup-db", "backup-key"),
        ("backup-uploads-backup", "backup-key"),
        ("backup-uploads", "backup-uploads-key"),
    ):
        bucket, key = plan.one(BUCKET, bucket_name), plan.one(KEY, key_name)
        encryption = plan.one(ENCRYPTION, f"{bucket_name}-encryption")
        assert key.urn in encryption.property_dependencies["rules"], f"{encryption.urn} does not use {key.urn}"
        assert provider_name(encryption) == provider_name(bucket) == provider_name(key), encryption.urn
        [rule] = encryption.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms", encryption.urn
        assert rule["bucketKeyEnabled"] is True, encryption.urn
        assert key.inputs["enableKeyRotation"] is True, key.urn


def test_side_resources_reference_their_bucket_and_harden_it() -> None:
    plan = vault_plan("production")
    for bucket_name in (*VAULT_BUCKETS, "backup-uploads"):
        bucket = plan.one(BUCKET, bucket_name)
        for type_, suffix in SIDE_RESOURCES.items():
            side = plan.one(type_, f"{bucket_name}-{suffix}")
            assert side.inputs["bucket"] == bucket.inputs["bucket"], side.urn
            assert bucket.urn in side.property_dependencies["bucket"], f"{side.urn} does not depend on {bucket.urn}"
            assert side.parent == bucket.parent, side.urn
        versioning = plan.one(VERSIONING, f"{bucket_name}-versioning")
        assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}, versioning.urn
        block = plan.one(PUBLIC_ACCESS, f"{bucket_name}-public-access")
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert block.inputs[flag] is True, f"{block.urn}: {flag}"
        ownership = plan.one(OWNERSHIP, f"{bucket_name}-ownership")
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}, ownership.urn


def test_every_bucket_policy_denies_requests_without_tls() -> None:
    plan = vault_plan("production")
    for bucket_name in (*VAULT_BUCKETS, "backup-uploads"):
        name = plan.one(BUCKET, bucket_name).inputs["bucket"]
        policy = plan.one(POLICY, f"{bucket_name}-policy")
        [deny] = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "DenyInsecureTransport"]
        assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"]), policy.urn
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, policy.urn
        assert set(deny["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}, policy.urn


def test_the_backup_buckets_themselves_refuse_a_write_that_could_overwrite() -> None:
    plan = vault_plan("production")
    for bucket_name in VAULT_BUCKETS:
        name = plan.one(BUCKET, bucket_name).inputs["bucket"]
        policy = json.loads(plan.one(POLICY, f"{bucket_name}-policy").inputs["policy"])
        anyone = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, *policy["Statement"]]}
        key, tls = f"arn:aws:s3:::{name}/daily/20261127T020000Z-1-1.dump", {"aws:SecureTransport": "true"}
        # Compliance: the jobs' conditional PutObject / CompleteMultipartUpload, and the parts between them.
        create = {**tls, "s3:ObjectCreationOperation": "true"}
        assert allowed([anyone], "s3:PutObject", key, {**create, "s3:if-none-match": "*"}), bucket_name
        assert allowed([anyone], "s3:PutObject", key, {**tls, "s3:ObjectCreationOperation": "false"}), bucket_name
        # Noncompliance: the same write without If-None-Match, whoever holds s3:PutObject.
        assert not allowed([anyone], "s3:PutObject", key, create), f"{bucket_name} accepts an unconditional write"
    uploads = json.loads(plan.one(POLICY, "backup-uploads-policy").inputs["policy"])
    assert [s["Sid"] for s in uploads["Statement"]] == ["DenyInsecureTransport"], "the mirror is overwritten hourly"


@pytest.mark.parametrize(("stack", "mode", "days"), [("production", "COMPLIANCE", 30), ("staging", "GOVERNANCE", 7)])
def test_object_lock_mode_and_retention_per_stack(stack: str, mode: str, days: int) -> None:
    plan = vault_plan(stack)
    for bucket_name in VAULT_BUCKETS:
        bucket = plan.one(BUCKET, bucket_name)
        assert bucket.inputs["objectLockEnabled"] is True, f"{bucket.urn}: Object Lock is only possible at creation"
        lock = plan.one(LOCK, f"{bucket_name}-lock")
        assert lock.inputs["rule"] == {"defaultRetention": {"mode": mode, "days": days}}, lock.urn
        assert bucket.urn in lock.property_dependencies["bucket"], lock.urn


def test_everything_that_holds_backups_is_protected_and_retained() -> None:
    plan = vault_plan("production")
    holders = plan.by_type(BUCKET) + plan.by_type(KEY) + plan.by_type(KMS_REPLICA_KEY) + plan.by_type(KMS_ALIAS)
    # The vault's three buckets and two keys; the configuration key, its replica and their two aliases.
    assert len(holders) == 9, [reg.urn for reg in holders]
    for reg in holders:
        assert reg.protect, f"{reg.urn} must be protected"
        assert reg.retain_on_delete, f"{reg.urn} must survive `pulumi destroy`"
    for reg in plan.by_type(BUCKET):
        assert reg.inputs["forceDestroy"] is False, reg.urn


def test_a_removed_or_renamed_vault_resource_leaves_its_rules_in_place() -> None:
    # A delete of a side resource undoes it in AWS: the Object Lock configuration's Delete puts one without a rule
    # (new backups unlocked), the bucket policy's drops DenyOverwrite, the replication's stops the upload backups, a
    # role's breaks its job. A rename, a resource dropped from the code, or `pulumi destroy` must leave them be.
    plan = vault_plan("production")
    [vault] = plan.by_type("vibelog:backup:BackupVault")
    inside = [reg for reg in plan.registrations if reg.custom and reg.parent == vault.urn]
    kinds = {reg.type for reg in inside}
    assert {LOCK, LIFECYCLE, POLICY, VERSIONING, REPLICATION, ROLE, ROLE_POLICY} <= kinds, kinds
    for reg in inside:
        assert reg.protect, f"{reg.urn} must be protected: its replacement or delete changes what keeps the backups"
        if reg.type in (ROLE, ROLE_POLICY):
            # A role dropped on purpose (unprotected first) goes, rather than trusting a workflow nobody reviews.
            assert not reg.retain_on_delete, f"{reg.urn} would outlive its removal from the program"
        else:
            assert reg.retain_on_delete, f"{reg.urn} must survive a delete (rename, removal, `pulumi destroy`)"


def test_database_lifecycle_matches_the_reference() -> None:
    lifecycle = vault_plan("production").one(LIFECYCLE, "backup-db-lifecycle")
    rules = rules_by_id(lifecycle)
    expected = {
        "daily": ("daily/", 30, []),
        "weekly": ("weekly/", 12 * 7, [{"storageClass": "STANDARD_IA", "days": 30}]),
        "yearly": ("yearly/", 365, [{"storageClass": "DEEP_ARCHIVE", "days": 0}]),
        # The migrate workflow's dumps: their own prefix and retention (vibelog:backup.preMigrationRetentionDays).
        "pre-migration": ("pre-migration/", 30, []),
        # The configuration backups (vibelog:backup.config): kept 90 days, no move (each is a small document).
        "config": ("config/", 90, []),
    }
    actual = {
        rule_id: (rule["filter"]["prefix"], rule["expiration"]["days"], rule["transitions"])
        for rule_id, rule in rules.items()
    }
    assert actual == expected, lifecycle.urn


def test_upload_backups_are_kept_90_days_in_glacier() -> None:
    plan = vault_plan("production")
    backups = plan.one(LIFECYCLE, "backup-uploads-backup-lifecycle")
    rules = rules_by_id(backups)
    assert rules["uploads"]["expiration"] == {"days": 90}, f"{backups.urn} rule uploads"
    assert rules["uploads"]["transitions"] == [{"storageClass": "GLACIER_IR", "days": 0}], f"{backups.urn} rule uploads"
    # The source mirrors Supabase Storage: nothing current expires there, superseded versions do.
    source = plan.one(LIFECYCLE, "backup-uploads-lifecycle")
    [source_rule] = source.inputs["rules"]
    assert "expiration" not in source_rule, f"{source.urn}: current objects of the mirror expire"
    assert source_rule["noncurrentVersionExpiration"] == {"noncurrentDays": 7}, source.urn


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_a_superseded_upload_backup_is_kept_for_the_uploads_retention(stack: str) -> None:
    # The writer overwrites the live mirror's objects (a changed upload, a refresh), and replication puts each new
    # version in front of the backed-up one, which becomes noncurrent: a compromised writer token that rewrites every
    # object would otherwise have the upload backups' history removed after noncurrentVersionDays, not 90 days.
    plan = vault_plan(stack, preview=False)
    live = "arn:aws:s3:::" + plan.one(BUCKET, "backup-uploads").inputs["bucket"]
    writer = [policy_of(plan, "backup-writer-put-backups")]
    assert allowed(writer, "s3:PutObject", f"{live}/objects/recordings/u1/a.webm"), "the premise: it overwrites"
    backup = settings_of(stack).backup
    assert backup is not None, f"{stack} declares backups"
    lifecycle = plan.one(LIFECYCLE, "backup-uploads-backup-lifecycle")
    rule = rules_by_id(lifecycle)["uploads"]
    kept = rule["noncurrentVersionExpiration"]["noncurrentDays"]
    assert kept >= backup.uploads.retention_days, (
        f"{lifecycle.urn}: a superseded upload backup is removed after {kept} days, before the "
        f"{backup.uploads.retention_days}-day retention a restore `--at` that time relies on"
    )
    # The dumps are never overwritten (the bucket policy's DenyOverwrite): their noncurrent rule stays the setting.
    for dumps in rules_by_id(plan.one(LIFECYCLE, "backup-db-lifecycle")).values():
        assert dumps["noncurrentVersionExpiration"]["noncurrentDays"] == backup.noncurrent_version_days, dumps["id"]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_rule_pays_each_storage_minimum_and_cleans_up(stack: str) -> None:
    plan = vault_plan(stack)
    for lifecycle in plan.by_type(LIFECYCLE):
        assert lifecycle.inputs["transitionDefaultMinimumObjectSize"] == "all_storage_classes_128K", lifecycle.urn
        for rule in lifecycle.inputs["rules"]:
            where = f"{lifecycle.urn} rule {rule['id']}"
            assert rule["status"] == "Enabled", where
            assert rule["noncurrentVersionExpiration"]["noncurrentDays"] >= 1, where
            assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1, where
            moves = [(t["storageClass"], t["days"]) for t in rule["transitions"]]
            ends = [day for _, day in moves[1:]]
            if "expiration" in rule:
                ends.append(rule["expiration"]["days"])
                assert all(rule["expiration"]["days"] > day for _, day in moves), f"{where}: expires before a move"
            for (storage_class, day), end in zip(moves, ends, strict=False):
                assert end >= day + MINIMUM_DAYS[storage_class], f"{where}: {storage_class} left before its minimum"


def test_replication_needs_both_versionings_and_never_replicates_deletes() -> None:
    plan = vault_plan("production")
    replication = plan.one(REPLICATION, "backup-uploads-replication")
    for versioning in ("backup-uploads-versioning", "backup-uploads-backup-versioning"):
        assert plan.one(VERSIONING, versioning).urn in replication.dependencies, f"{replication.urn} vs {versioning}"
    assert provider_name(replication) == "aws", "replication is configured on the source bucket, in its region"
    assert plan.one(BUCKET, "backup-uploads").urn in replication.property_dependencies["bucket"]
    rules = replication.inputs["rules"]
    # What the jobs write and restore from is replicated; the weekly check's scratch copies are not.
    assert sorted(rule["filter"]["prefix"] for rule in rules) == sorted(
        [uploads.MANIFESTS_PREFIX, uploads.OBJECTS_PREFIX]
    )
    assert REPLICATED_PREFIXES["uploads-to-backup"] == uploads.OBJECTS_PREFIX
    assert UPLOADS_CHECK_PREFIX == uploads.CHECK_PREFIX, "the check's scratch prefix is the one the reader may write"
    assert sorted(rule["priority"] for rule in rules) == [1, 2], replication.urn
    target = plan.one(BUCKET, "backup-uploads-backup").inputs["bucket"]
    for rule in rules:
        assert rule["deleteMarkerReplication"] == {"status": "Disabled"}, f"{replication.urn} {rule['id']}"
        assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}, rule["id"]
        assert rule["destination"]["bucket"] == f"arn:aws:s3:::{target}", f"{replication.urn} {rule['id']}"
    assert plan.one(KEY, "backup-key").urn in replication.property_dependencies["rules"], "replica_kms_key_id"
    role = plan.one(ROLE, "backup-replication")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [stmt] = trust["Statement"]
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}, role.urn
    assert stmt["Action"] == "sts:AssumeRole", role.urn
    granted = actions(policy_of(plan, "backup-replication-replicate-buckets"))
    assert "s3:ReplicateDelete" not in granted, "deletions must not reach the backups"


@pytest.mark.parametrize(
    ("role", "subject"),
    [
        ("backup-writer", "repo:vibelog/vibelog-infra:environment:production-backup"),
        ("backup-restore-test", "repo:vibelog/vibelog-infra:environment:production-restore-test"),
    ],
)
def test_workflow_roles_trust_one_github_subject_with_the_sts_audience(role: str, subject: str) -> None:
    reg = vault_plan("production").one(ROLE, role)
    [stmt] = json.loads(reg.inputs["assumeRolePolicy"])["Statement"]
    assert stmt["Principal"] == {"Federated": OIDC_PROVIDER}, reg.urn
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity", reg.urn
    assert stmt["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": subject,
        }
    }, reg.urn


def allows(document: dict[str, Any], action: str, resource: str, prefix: str | None = None) -> bool:
    """Whether an identity policy of Allow statements grants `action` on `resource` (IAM's wildcard matching).

    `prefix` is the request's s3:prefix (a ListBucket); a statement conditioned on it must match it.
    """
    for stmt in document["Statement"]:
        if stmt["Effect"] != "Allow" or not any(fnmatchcase(action, pattern) for pattern in _list(stmt["Action"])):
            continue
        if not any(fnmatchcase(resource, pattern) for pattern in _list(stmt["Resource"])):
            continue
        wanted = stmt.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if wanted is not None and (prefix is None or not any(fnmatchcase(prefix, p) for p in _list(wanted))):
            continue
        return True
    return False


def test_the_writer_can_make_exactly_the_calls_of_the_dump_and_upload_jobs() -> None:
    plan = vault_plan("production")
    db = "arn:aws:s3:::" + plan.one(BUCKET, "backup-db").inputs["bucket"]
    uploads = "arn:aws:s3:::" + plan.one(BUCKET, "backup-uploads").inputs["bucket"]
    put = policy_of(plan, "backup-writer-put-backups")
    # ops/vault.py upload(): PutObject, or Create/UploadPart/Complete (s3:PutObject) and AbortMultipartUpload.
    for key in ("daily/20261127T020000Z.dump", "weekly/x.manifest.json", "yearly/20261129T010000Z.dump"):
        assert allows(put, "s3:PutObject", f"{db}/{key}"), key
        assert allows(put, "s3:AbortMultipartUpload", f"{db}/{key}"), key
    # ops/uploads.py sync(): lists its mirror under objects/, writes objects and the run's manifest.
    assert allows(put, "s3:ListBucket", uploads, prefix="objects/")
    assert allows(put, "s3:PutObject", f"{uploads}/objects/recordings/u1/a.webm")
    assert allows(put, "s3:PutObject", f"{uploads}/manifests/20261127T020000Z.json")
    # Noncompliance: nothing outside the class prefixes, no listing or reading of the backups.
    assert not allows(put, "s3:PutObject", f"{db}/elsewhere.dump")
    # ops/vault.py require_new(): the dump's key is checked before its upload starts.
    assert allows(put, "s3:ListBucket", db, prefix="daily/20261127T020000Z-1-1")
    assert not allows(put, "s3:ListBucket", db, prefix="")
    assert not allows(put, "s3:ListBucket", uploads, prefix="")
    assert not allows(put, "s3:GetObject", f"{db}/daily/20261127T020000Z.dump")
    assert actions(put) == {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"}


def test_the_restore_test_role_reads_the_daily_dumps_and_nothing_else() -> None:
    # Its exact calls are derived from the code in tests/test_job_grants.py; here, what it must never reach.
    plan = vault_plan("production")
    db = "arn:aws:s3:::" + plan.one(BUCKET, "backup-db").inputs["bucket"]
    uploads_backup = "arn:aws:s3:::" + plan.one(BUCKET, "backup-uploads-backup").inputs["bucket"]
    read = policy_of(plan, "backup-restore-test-read-backups")
    # ops/vault.py inventory() and manifest_of(): ListObjectVersions; every read names its version (GetObjectVersion).
    assert allows(read, "s3:ListBucketVersions", db, prefix="daily/")
    assert allows(read, "s3:ListBucketVersions", uploads_backup, prefix="objects/")
    assert allows(read, "s3:GetObjectVersion", f"{db}/daily/20261127T020000Z.manifest.json")
    assert allows(read, "s3:GetObjectVersion", f"{uploads_backup}/objects/recordings/u1/a.webm")
    assert not allows(read, "s3:GetObjectVersion", f"{db}/yearly/20261129T010000Z.dump"), (
        "the restore test reads daily/"
    )
    # Nothing reads the newest version of a key: what stands in front of a locked backup is never what is restored.
    assert not allows(read, "s3:GetObject", f"{db}/daily/20261127T020000Z.dump"), "an unversioned read"
    assert not allows(read, "s3:ListBucket", db, prefix="daily/"), "a listing of current versions only"
    # Thawing an archived copy is the operator's (components/backup_vault.py, docs/backups.md).
    assert not allows(read, "s3:RestoreObject", f"{db}/yearly/20261129T010000Z.dump")
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectRetention", "s3:BypassGovernanceRetention"):
        assert not allows(read, action, f"{db}/daily/20261127T020000Z.dump"), action


def test_the_pre_migration_retention_is_the_setting() -> None:
    config = stack_config("staging", lambda c: c["vibelog:backup"].__setitem__("preMigrationRetentionDays", 45))
    plan = run_program("staging", config, program=vault_program, mocks=VibelogMocks(preview=True))
    lifecycle = plan.one(LIFECYCLE, "backup-db-lifecycle")
    assert rules_by_id(lifecycle)["pre-migration"]["expiration"] == {"days": 45}, lifecycle.urn


def test_the_pre_migration_role_trusts_the_app_environment_and_writes_only_pre_migration_dumps() -> None:
    plan = vault_plan("production")
    reg = plan.one(ROLE, "backup-pre-migration")
    [stmt] = json.loads(reg.inputs["assumeRolePolicy"])["Statement"]
    assert stmt["Principal"] == {"Federated": OIDC_PROVIDER}, reg.urn
    assert stmt["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        "repo:vibelog/vibelog:environment:production-pre-migration"
    ), reg.urn
    assert reg.inputs["maxSessionDuration"] == 7200, f"{reg.urn}: the dump job's 120 minutes"
    db = "arn:aws:s3:::" + plan.one(BUCKET, "backup-db").inputs["bucket"]
    put = policy_of(plan, "backup-pre-migration-put-pre-migration-dumps")
    # `python -m ops dump --to pre-migration`: the dump (single or multipart, aborted on failure) and its manifest.
    for key in ("pre-migration/20261207T180000Z.dump", "pre-migration/20261207T180000Z.manifest.json"):
        assert allows(put, "s3:PutObject", f"{db}/{key}"), key
        assert allows(put, "s3:AbortMultipartUpload", f"{db}/{key}"), key
    # Noncompliance: the scheduled classes the restore test and runbooks pick from, listing them, reading.
    for key in ("daily/20261127T020000Z.dump", "weekly/x.dump", "yearly/x.dump", "elsewhere.dump"):
        assert not allows(put, "s3:PutObject", f"{db}/{key}"), key
    assert allows(put, "s3:ListBucket", db, prefix="pre-migration/"), "its key is checked to be new"
    assert not allows(put, "s3:ListBucket", db, prefix="daily/")
    assert not allows(put, "s3:GetObject", f"{db}/pre-migration/20261207T180000Z.dump")
    assert actions(put) == {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"}
    kms = policy_of(vault_plan("production", preview=False), "backup-pre-migration-encrypt-backups")
    assert actions(kms) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert all(set(s["Condition"]["StringEquals"]) == {"kms:ViaService"} for s in kms["Statement"])


def test_a_stack_without_pre_migration_dumps_has_no_pre_migration_role() -> None:
    assert [reg.name for reg in vault_plan("staging").by_type(ROLE) if "pre-migration" in reg.name] == []


def test_kms_statements_are_apart_so_bucket_statements_are_known_in_a_preview() -> None:
    plan = vault_plan("production")
    for name in (
        "backup-writer-put-backups",
        "backup-restore-test-read-backups",
        "backup-restore-test-check-uploads-restore",
        "backup-replication-replicate-buckets",
        "backup-config-put-config-backups",
    ):
        assert plan.one(ROLE_POLICY, name).inputs["policy"] is not UNKNOWN, name
    for name in (
        "backup-writer-encrypt-backups",
        "backup-restore-test-decrypt-backups",
        "backup-restore-test-encrypt-uploads-check",
        "backup-replication-replicate-keys",
        "backup-config-encrypt-config-backups",
        "backup-operator-decrypt-config-backups",
    ):
        assert plan.one(ROLE_POLICY, name).inputs["policy"] is UNKNOWN, f"{name}: a KMS key ARN is cloud-assigned"


def test_role_key_permissions_once_the_keys_exist() -> None:
    plan = vault_plan("production", preview=False)
    writer_kms = policy_of(plan, "backup-writer-encrypt-backups")
    assert actions(writer_kms) == {"kms:GenerateDataKey", "kms:Decrypt"}
    for stmt in writer_kms["Statement"]:
        assert set(stmt["Condition"]["StringEquals"]) == {"kms:ViaService"}, "the key is used only through S3"
    assert actions(policy_of(plan, "backup-restore-test-decrypt-backups")) == {"kms:Decrypt"}
    # The uploads check writes its sample into the uploads bucket (its own key, in the primary region).
    check_kms = policy_of(plan, "backup-restore-test-encrypt-uploads-check")
    assert actions(check_kms) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert [s["Condition"] for s in check_kms["Statement"]] == [
        {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    ]
    assert actions(policy_of(plan, "backup-replication-replicate-keys")) == {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    }


def test_the_reader_may_write_the_uploads_checks_scratch_prefix_and_nothing_else() -> None:
    plan = vault_plan("production")
    live = "arn:aws:s3:::" + plan.one(BUCKET, "backup-uploads").inputs["bucket"]
    check = policy_of(plan, "backup-restore-test-check-uploads-restore")
    # ops/uploads.py check(): upload_fileobj (PutObject, multipart, abort) of each sample, then GetObject to re-hash.
    for action in ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"):
        assert allows(check, action, f"{live}/{uploads.CHECK_PREFIX}sample-000"), action
    # Noncompliance: the live objects and manifests, and every backup.
    for key in ("objects/recordings/u1/a.webm", "manifests/20261127T020000Z-1-1.json"):
        assert not allows(check, "s3:PutObject", f"{live}/{key}"), key
    for name in VAULT_BUCKETS:
        bucket = plan.one(BUCKET, name).inputs["bucket"]
        assert not allows(check, "s3:PutObject", f"arn:aws:s3:::{bucket}/{uploads.CHECK_PREFIX}x"), name
    assert not any("Delete" in action for action in actions(check)), "each week's sample overwrites the last"


def test_no_workflow_role_can_delete_unlock_or_reconfigure_backups() -> None:
    plan = vault_plan("production", preview=False)
    writer = actions(policy_of(plan, "backup-writer-put-backups")) | actions(
        policy_of(plan, "backup-writer-encrypt-backups")
    )
    reader = actions(policy_of(plan, "backup-restore-test-read-backups")) | actions(
        policy_of(plan, "backup-restore-test-decrypt-backups")
    )
    assert writer == {
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert reader == {"s3:ListBucketVersions", "s3:GetObjectVersion", "kms:Decrypt"}
    for granted in (writer, reader):
        for action in granted:
            assert "*" not in action, action
            assert not any(word in action for word in ("Delete", "Lifecycle", "Retention", "Bypass", "PutBucket")), (
                action
            )


def test_the_production_program_declares_the_vault_and_development_none() -> None:
    production = plan_of("production")
    [vault] = production.by_type("vibelog:backup:BackupVault")
    backup_buckets = [reg for reg in production.by_type(BUCKET) if reg.name.startswith("backup-")]
    assert len(backup_buckets) == 3, [reg.urn for reg in backup_buckets]
    for reg in backup_buckets:
        assert reg.parent == vault.urn, f"{reg.urn} is not a child of {vault.urn}"
    assert {"backup_database_bucket", "backup_writer_role_arn"} <= set(production.outputs)
    development = plan_of("development")
    assert not [reg for reg in development.registrations if reg.type.startswith(("aws:", "pulumi:providers:aws"))]


def test_the_json_plan_carries_the_storage_classes_and_day_counts() -> None:
    steps = plan_json(plan_of("production"))["steps"]
    [step] = [s for s in steps if s["urn"].endswith("::backup-db-lifecycle")]
    weekly = next(rule for rule in step["newState"]["inputs"]["rules"] if rule["id"] == "weekly")
    assert weekly["transitions"] == [{"storageClass": "STANDARD_IA", "days": 30}]
    assert weekly["expiration"] == {"days": 84}
