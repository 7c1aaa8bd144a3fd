"""The configuration backup's infrastructure: the stack's multi-region key (its secrets provider), the vault's config
class, role and operator grants, and the job's environment, read from the offline engine's plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, Secret, run_program
from policy.type_tokens import ENVIRONMENT_SECRET as SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import KMS_ALIAS as ALIAS
from policy.type_tokens import KMS_KEY as KEY
from policy.type_tokens import KMS_REPLICA_KEY as REPLICA
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT
from settings.github_oidc import GITHUB_OIDC_HOST, STS_AUDIENCE
from tests.helpers.iam_eval import allowed, may_assume
from tests.helpers.stacks import only_problem, stack_config
from tests.test_backup_vault import OIDC_PROVIDER, policy_of, provider_name, rules_by_id, vault_plan, vault_program

CONFIG = "vibelog:backup:ConfigSecrets"
MOCK_KEY = "arn:aws:kms:mock-region:000000000000:key/"
KEY_ARN, REPLICA_ARN, VAULT_KEY_ARN = (
    MOCK_KEY + name for name in ("config-secrets-key", "config-secrets-replica", "backup-key")
)


def of_config(plan: Plan) -> list[Registration]:
    """Everything the ConfigSecrets component declares."""
    return [reg for reg in plan.registrations if reg.custom and CONFIG in reg.parent]


def db_arn(plan: Plan) -> str:
    return "arn:aws:s3:::" + str(plan.one("aws:s3/bucket:Bucket", "backup-db").inputs["bucket"])


# ------------------------------------------------------------------------------------------- the key


def test_the_key_is_multi_region_with_rotation_in_the_stacks_region() -> None:
    plan = vault_plan("production")
    key = plan.one(KEY, "config-secrets-key")
    assert provider_name(key) == "aws", f"{key.urn}: the primary lives in aws:region"
    assert key.inputs["multiRegion"] is True, f"{key.urn}: a replica needs a multi-region primary"
    assert key.inputs["enableKeyRotation"] is True, key.urn
    assert key.inputs["deletionWindowInDays"] == 30, f"{key.urn}: the longest window KMS allows, as the vault's keys"


def test_the_replica_is_in_the_vault_region_and_replicates_the_primary() -> None:
    plan = vault_plan("production")
    key, replica = plan.one(KEY, "config-secrets-key"), plan.one(REPLICA, "config-secrets-replica")
    assert provider_name(replica) == "aws-us-west-2", f"{replica.urn}: the vault's region (vibelog:backup.region)"
    assert key.urn in replica.property_dependencies["primaryKeyArn"], f"{replica.urn} does not replicate {key.urn}"
    assert replica.inputs["deletionWindowInDays"] == 30, replica.urn
    up = vault_plan("production", preview=False)
    assert up.one(REPLICA, "config-secrets-replica").inputs["primaryKeyArn"] == KEY_ARN


def test_the_same_alias_names_the_key_in_both_regions() -> None:
    plan = vault_plan("production")
    aliases = {provider_name(reg): reg for reg in plan.by_type(ALIAS)}
    assert set(aliases) == {"aws", "aws-us-west-2"}, [reg.urn for reg in aliases.values()]
    names = {reg.inputs["name"] for reg in aliases.values()}
    assert names == {"alias/vibelog-production-config"}, names
    for region, target in (("aws", "config-secrets-key"), ("aws-us-west-2", "config-secrets-replica")):
        alias = aliases[region]
        targets = alias.property_dependencies["targetKeyId"]
        assert plan.one(KEY if target.endswith("key") else REPLICA, target).urn in targets, f"{alias.urn} -> {target}"
    staging = {reg.inputs["name"] for reg in vault_plan("staging").by_type(ALIAS)}
    assert staging == {"alias/vibelog-staging-config"}, "one key per stack"


def test_the_key_its_replica_and_aliases_are_protected_and_retained() -> None:
    declared = of_config(vault_plan("production"))
    assert sorted(reg.type for reg in declared) == sorted([KEY, REPLICA, ALIAS, ALIAS])
    for reg in declared:
        assert reg.protect, f"{reg.urn} must be protected: the stack's secrets are encrypted with it"
        assert reg.retain_on_delete, f"{reg.urn} must survive `pulumi destroy`"


def test_the_program_exports_both_secrets_provider_urls_and_the_key_arns(all_plans: dict[str, Plan]) -> None:
    production = all_plans["production"]
    outputs = production.outputs
    assert outputs["config_secrets_provider"] == "awskms://alias/vibelog-production-config?region=us-east-1"
    assert outputs["config_secrets_provider_replica"] == "awskms://alias/vibelog-production-config?region=us-west-2"
    for name in ("config_kms_key_arn", "config_kms_replica_key_arn", "backup_config_role_arn"):
        assert name in outputs, f"production exports no {name}"
    assert all_plans["staging"].outputs["config_secrets_provider"].startswith("awskms://alias/vibelog-staging-")
    development = all_plans["development"]
    assert not of_config(development), "a stack without a vault declares no configuration key"
    assert "config_secrets_provider" not in development.outputs


# ------------------------------------------------------------------------------------------- the vault


def test_the_config_class_has_its_own_lifecycle_rule_with_the_settings_retention() -> None:
    lifecycle = vault_plan("production").one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "backup-db-lifecycle"
    )
    rules = rules_by_id(lifecycle)
    assert rules["config"]["filter"] == {"prefix": "config/"}, f"{lifecycle.urn} rule config"
    assert rules["config"]["expiration"] == {"days": 90}, f"{lifecycle.urn} rule config"
    config = stack_config("staging", lambda c: c["vibelog:backup"]["config"].__setitem__("retentionDays", 45))
    plan = run_program("staging", config, program=vault_program, mocks=VibelogMocks(preview=True))
    lifecycle = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "backup-db-lifecycle")
    assert rules_by_id(lifecycle)["config"]["expiration"] == {"days": 45}, lifecycle.urn


def token(subject: str) -> dict[str, str]:
    return {f"{GITHUB_OIDC_HOST}:sub": subject, f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE}


def test_the_config_role_trusts_only_the_config_backup_environment() -> None:
    role = vault_plan("production").one(ROLE, "backup-config")
    assert role.inputs["name"] == "vibelog-backup-config", role.urn
    assert role.inputs["maxSessionDuration"] == 3600, f"{role.urn}: configure-aws-credentials' default hour"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    provider = {"Federated": OIDC_PROVIDER}
    repo = "repo:vibelog/vibelog-infra"
    assert may_assume(
        trust, provider, "sts:AssumeRoleWithWebIdentity", token(f"{repo}:environment:production-config-backup")
    )
    for stranger in (
        f"{repo}:environment:production-backup",
        f"{repo}:environment:staging-config-backup",
        f"{repo}:ref:refs/heads/main",
        "repo:vibelog/vibelog:environment:production-config-backup",
    ):
        assert not may_assume(trust, provider, "sts:AssumeRoleWithWebIdentity", token(stranger)), (
            f"{role.urn} admits {stranger}"
        )


def test_the_config_role_writes_new_config_documents_and_nothing_else() -> None:
    plan = vault_plan("production")
    db = db_arn(plan)
    put = [policy_of(plan, "backup-config-put-config-backups")]
    key = f"{db}/config/production/20261207T033000Z-1-1.json"
    # ops config-backup: ListObjectsV2 under config/<stack>/, then one PutObject (If-None-Match, the bucket's rule).
    assert allowed(put, "s3:ListBucket", db, {"s3:prefix": "config/production/"})
    assert allowed(put, "s3:PutObject", key)
    # Noncompliance: the dumps, reading, listing elsewhere, deleting.
    assert not allowed(put, "s3:PutObject", f"{db}/daily/20261207T020000Z.dump")
    assert not allowed(put, "s3:ListBucket", db, {"s3:prefix": "daily/"})
    assert not allowed(put, "s3:ListBucket", db, {"s3:prefix": ""})
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        assert not allowed(put, action, key), action
    granted = {a for s in put[0]["Statement"] for a in s["Action"]}
    assert granted == {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"}, granted


def test_the_config_role_encrypts_only_for_its_stack_and_decrypts_no_value() -> None:
    plan = vault_plan("production", preview=False)
    kms = [policy_of(plan, "backup-config-encrypt-config-backups")]
    via_s3 = {"kms:ViaService": "s3.us-west-2.amazonaws.com"}
    # SSE-KMS of the document with the vault's key, through S3 in the vault's region only.
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert allowed(kms, action, VAULT_KEY_ARN, via_s3), action
        assert not allowed(kms, action, VAULT_KEY_ARN), f"{action} on the vault key outside S3"
    # Each Vercel value: Encrypt with the configuration key, the stack in the encryption context.
    context = {"kms:EncryptionContext:stack": "production", "kms:EncryptionContext:key": "DATABASE_URL"}
    assert allowed(kms, "kms:Encrypt", KEY_ARN, context)
    assert not allowed(kms, "kms:Encrypt", KEY_ARN, {"kms:EncryptionContext:stack": "staging"}), "another stack's"
    assert not allowed(kms, "kms:Encrypt", KEY_ARN), "without an encryption context"
    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"):
        assert not allowed(kms, action, KEY_ARN, context), f"{action} on the configuration key"
    assert not allowed(kms, "kms:Encrypt", REPLICA_ARN, context), "the job encrypts in the primary region"


def test_the_operator_reads_config_backups_and_decrypts_them_in_either_region() -> None:
    plan = vault_plan("production", preview=False)
    db = db_arn(plan)
    operator = [
        json.loads(reg.inputs["policy"])
        for reg in plan.by_type("aws:iam/rolePolicy:RolePolicy")
        if reg.name.startswith("backup-operator-")
    ]
    # ops config-restore: ListObjectVersions under config/, GetObjectVersion of the chosen document.
    assert allowed(operator, "s3:ListBucketVersions", db, {"s3:prefix": "config/production/"})
    assert allowed(operator, "s3:GetObjectVersion", f"{db}/config/production/20261207T033000Z-1-1.json")
    context = {"kms:EncryptionContext:stack": "production"}
    for arn in (KEY_ARN, REPLICA_ARN):
        assert allowed(operator, "kms:Decrypt", arn, context), f"the operator cannot decrypt with {arn}"
        assert not allowed(operator, "kms:Decrypt", arn), f"{arn}: beyond the configuration backup's values"
        assert not allowed(operator, "kms:Encrypt", arn, context), arn
    assert not allowed(operator, "s3:PutObject", f"{db}/config/production/x.json"), "the operator writes nothing"


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (lambda b: b["config"].__setitem__("schedule", "30 3 * * 0"), "vibelog:backup.config.schedule", "daily"),
        (lambda b: b["config"].__setitem__("schedule", "every day"), "vibelog:backup.config.schedule", ""),
        (lambda b: b["config"].__setitem__("retentionDays", 89), "vibelog:backup.config.retentionDays", "promised"),
    ],
)
def test_a_config_class_setting_that_breaks_a_rule_is_reported_at_its_key(edit: Any, path: str, words: str) -> None:
    problem = only_problem("production", lambda config: edit(config["vibelog:backup"]))
    assert problem.path == path, problem
    assert words in problem.expected, problem.expected


def test_the_config_class_defaults_to_daily_and_90_days() -> None:
    def drop(config: dict[str, Any]) -> None:
        config["vibelog:backup"].pop("config")

    plan_config = stack_config("production", drop)
    plan = run_program("production", plan_config, program=vault_program, mocks=VibelogMocks(preview=True))
    lifecycle = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "backup-db-lifecycle")
    assert rules_by_id(lifecycle)["config"]["expiration"] == {"days": 90}, lifecycle.urn


# ------------------------------------------------------------------------------------------- the environment


def test_the_config_environment_holds_what_the_job_reads(production: Plan) -> None:
    environments = [
        reg for reg in production.by_type(ENVIRONMENT) if reg.inputs["environment"] == "production-config-backup"
    ]
    [environment] = environments
    assert environment.inputs["deploymentBranchPolicy"] == {"protectedBranches": True, "customBranchPolicies": False}
    variables = {
        reg.inputs["variableName"]: reg
        for reg in production.by_type(VARIABLE)
        if reg.inputs["environment"] == "production-config-backup"
    }
    assert set(variables) == {
        "STACK",
        "BACKUP_VAULT_REGION",
        "BACKUP_DATABASE_BUCKET",
        "CONFIG_KMS_KEY_ARN",
        "CONFIG_KMS_REGION",
        "AWS_ROLE_ARN",
        "VERCEL_ORG_ID",
        "VERCEL_PROJECT_ID",
    }, sorted(variables)
    values = {name: reg.inputs["value"] for name, reg in variables.items()}
    assert (values["STACK"], values["BACKUP_VAULT_REGION"], values["CONFIG_KMS_REGION"]) == (
        "production",
        "us-west-2",
        "us-east-1",
    )
    assert values["BACKUP_DATABASE_BUCKET"] == "vibelog-db-backups-210987654321-us-west-2"
    for name, source in (
        ("CONFIG_KMS_KEY_ARN", production.one(KEY, "config-secrets-key")),
        ("AWS_ROLE_ARN", production.one(ROLE, "backup-config")),
        ("VERCEL_PROJECT_ID", production.one("vercel:index/project:Project", "web-project")),
    ):
        reg = variables[name]
        assert source.urn in reg.property_dependencies["value"], f"{reg.urn} is not {source.urn}'s"
    secrets = {
        reg.inputs["secretName"]: reg
        for reg in production.by_type(SECRET)
        if reg.inputs["environment"] == "production-config-backup"
    }
    assert set(secrets) == {"VERCEL_TOKEN", "SLACK_WEBHOOK"}, sorted(secrets)
    for reg in secrets.values():
        assert isinstance(reg.inputs["value"], Secret), f"{reg.urn}: recorded in plaintext"
