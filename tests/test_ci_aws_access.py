"""AWS roles for this repository's CI: trust pinned to audience and subject, the OIDC provider owned once."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.aws_iam import trust_policy
from components.backup_vault import BUCKET_ROLE_TAG
from components.ci_aws_access import DATA_READ_ACTIONS
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, run_program
from policy.type_tokens import BUCKET_OBJECT
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import OIDC_PROVIDER as OIDC
from policy.type_tokens import ROLE_POLICY as POLICY
from settings.github_oidc import GITHUB_OIDC_HOST
from settings.secrets_provider import config_key_alias
from tests.helpers.access import account_of, boundary_of, deployed, inline_policies, role_arn
from tests.helpers.iam_eval import allowed, allows_on, documents, unscoped_actions, write_actions
from tests.helpers.stacks import only_problem, plan_of, settings_of, stack_config


def github_providers(plan: Plan) -> list[Registration]:
    """The GitHub OIDC providers of a plan (production also trusts Vercel's issuer for the app's metrics)."""
    return [r for r in plan.by_type(OIDC) if r.inputs["url"] == "https://token.actions.githubusercontent.com"]


ACCOUNT = "210987654321"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB_OIDC_HOST}"


def trust_of(reg: Registration) -> dict[str, Any]:
    (statement,) = json.loads(reg.inputs["assumeRolePolicy"])["Statement"]
    assert isinstance(statement, dict)
    return statement


def test_production_owns_the_oidc_provider_and_protects_it(production: Plan, staging: Plan) -> None:
    (provider,) = github_providers(production)
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com", provider.urn
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"], provider.urn
    assert provider.protect, f"{provider.urn}: the account's identity provider must be protected"
    assert provider.provider.endswith("pulumi:providers:aws::aws"), provider.urn
    assert staging.by_type(OIDC) == [], "only production owns the account's OIDC provider"


@pytest.mark.parametrize(("stack", "environment"), [("production", "production"), ("staging", "staging")])
def test_deploy_role_trusts_only_the_protected_environment(stack: str, environment: str, request: Any) -> None:
    plan: Plan = request.getfixturevalue(stack)
    role = plan.one(ROLE, "ci-aws-deploy")
    statement = trust_of(role)
    assert statement["Effect"] == "Allow", role.urn
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", role.urn
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}, role.urn
    assert statement["Condition"] == {
        "StringEquals": {
            f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
            f"{GITHUB_OIDC_HOST}:sub": [f"repo:vibelog/vibelog-infra:environment:{environment}"],
        }
    }, role.urn
    assert role.inputs["name"] == f"vibelog-{environment}-deploy", role.urn


def test_preview_role_trusts_pull_requests_and_main_only_and_cannot_read_data(production: Plan) -> None:
    role = production.one(ROLE, "ci-aws-preview")
    condition = trust_of(role)["Condition"]
    assert set(condition) == {"StringEquals"}, role.urn
    assert condition["StringEquals"][f"{GITHUB_OIDC_HOST}:aud"] == "sts.amazonaws.com", role.urn
    assert condition["StringEquals"][f"{GITHUB_OIDC_HOST}:sub"] == [
        "repo:vibelog/vibelog-infra:pull_request",
        "repo:vibelog/vibelog-infra:ref:refs/heads/main",
    ], role.urn
    attachments = production.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    preview_policies = {r.inputs["policyArn"] for r in attachments if r.inputs["role"] == "vibelog-infra-preview"}
    assert preview_policies == {"arn:aws:iam::aws:policy/ReadOnlyAccess"}
    deny = production.one("aws:iam/rolePolicy:RolePolicy", "ci-aws-preview-deny-data")
    statement, _ = json.loads(deny.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny", deny.urn
    assert set(statement["Action"]) == set(DATA_READ_ACTIONS) >= {"s3:GetObject", "ssm:GetParameter"}, deny.urn


def test_the_preview_role_decrypts_with_the_stacks_config_keys_only() -> None:
    """Its secrets provider is the stack's config key: every stack's preview decrypts with it, and with no other."""
    plan = deployed("production")
    role = plan.one(ROLE, "ci-aws-preview")
    policies = inline_policies(plan, role)
    boundary = boundary_of(plan, role)
    key = f"arn:aws:kms:us-east-1:{account_of(plan)}:key/mrk-1"
    caller = {"aws:PrincipalArn": [role_arn(plan, role)]}
    for stack in ("staging", "production"):
        context = caller | {"kms:ResourceAliases": [config_key_alias(stack)]}
        assert allowed(policies, "kms:Decrypt", key, context, boundary=boundary), f"{role.urn}: {stack}'s config key"
    for aliases in ([], ["alias/vibelog-backups"], ["alias/other-production-config"]):
        context = caller | {"kms:ResourceAliases": aliases}
        assert not allowed(policies, "kms:Decrypt", key, context, boundary=boundary), f"{role.urn}: {aliases}"
    sealed = caller | {"kms:ResourceAliases": [config_key_alias("production")], "kms:EncryptionContextKeys": ["stack"]}
    assert not allowed(policies, "kms:Decrypt", key, sealed, boundary=boundary), f"{role.urn}: a backup's value"
    for action in ("kms:Encrypt", "kms:GenerateDataKey"):
        context = caller | {"kms:ResourceAliases": [config_key_alias("production")]}
        assert not allowed(policies, action, key, context, boundary=boundary), f"{role.urn}: {action}"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_deploy_role_decrypts_with_its_own_stacks_config_key_only(stack: str) -> None:
    plan = deployed(stack)
    role = plan.one(ROLE, "ci-aws-deploy")
    policies = inline_policies(plan, role)
    key = f"arn:aws:kms:us-west-2:{account_of(plan)}:key/mrk-1"
    own = {"kms:ResourceAliases": [config_key_alias(stack)]}
    assert allowed(policies, "kms:Decrypt", key, own), f"{role.urn}: its own config key"
    other = "production" if stack == "staging" else "staging"
    assert not allowed(policies, "kms:Decrypt", key, {"kms:ResourceAliases": [config_key_alias(other)]}), role.urn
    assert not allowed(policies, "kms:Decrypt", key, {"kms:ResourceAliases": []}), f"{role.urn}: a backup key"
    # A value of the configuration backup is sealed with an encryption context: the operator's, not the deploy's.
    sealed = own | {"kms:EncryptionContextKeys": ["id", "key", "stack"]}
    assert not allowed(policies, "kms:Decrypt", key, sealed), f"{role.urn}: a configuration backup's value"


def test_roles_of_the_owning_stack_wait_for_the_provider(production: Plan) -> None:
    (provider,) = github_providers(production)
    for name in ("ci-aws-deploy", "ci-aws-preview"):
        role = production.one(ROLE, name)
        assert provider.urn in role.dependencies, role.urn


def test_staging_references_the_provider_by_arn_and_owns_no_preview_role(staging: Plan) -> None:
    role = staging.one(ROLE, "ci-aws-deploy")
    assert trust_of(role)["Principal"]["Federated"] == PROVIDER_ARN, role.urn
    assert [r.name for r in staging.by_type(ROLE) if r.name.startswith("ci-aws-")] == ["ci-aws-deploy"]


def test_trust_policy_never_trusts_the_audience_alone() -> None:
    condition = json.loads(trust_policy(PROVIDER_ARN, ["repo:o/r:pull_request"]))["Statement"][0]["Condition"]
    assert set(condition["StringEquals"]) == {f"{GITHUB_OIDC_HOST}:aud", f"{GITHUB_OIDC_HOST}:sub"}
    assert "StringLike" not in condition


# Least privilege and isolation: the deploy roles' policy documents, evaluated. Plans as a mock `up` records them,
# so the zone's AWS-assigned ARN is known.


@pytest.fixture(scope="module")
def up_plans() -> dict[str, Plan]:
    return {
        stack: run_program(stack, stack_config(stack), mocks=VibelogMocks(preview=False))
        for stack in ("staging", "production")
    }


def deploy_policies(plan: Plan) -> list[dict[str, Any]]:
    role = plan.one(ROLE, "ci-aws-deploy").inputs["name"]
    return documents(r for r in plan.by_type(POLICY) if r.inputs["role"] == role)


def tags_of(plan: Plan) -> dict[str, str]:
    """The tags every AWS resource of the stack carries (its providers' default tags)."""
    provider = plan.by_type("pulumi:providers:aws")[0]
    tags: dict[str, str] = json.loads(provider.inputs["defaultTags"])["tags"]
    return {f"aws:ResourceTag/{key}": value for key, value in tags.items()}


def owned_arns(plan: Plan) -> list[tuple[str, str, dict[str, str]]]:
    """(ARN, a management action, request context) of every AWS object the stack declares, named as AWS names it."""
    tags = tags_of(plan)
    found: list[tuple[str, str, dict[str, str]]] = []
    for bucket in plan.by_type("aws:s3/bucket:Bucket"):
        found.append((f"arn:aws:s3:::{bucket.inputs['bucket']}", "s3:PutBucketTagging", {}))
    for page in plan.by_type(BUCKET_OBJECT):
        bucket = plan.by_urn()[page.property_dependencies["bucket"][0]].inputs["bucket"]
        found.append((f"arn:aws:s3:::{bucket}/{page.inputs['key']}", "s3:PutObject", {}))
    for role in plan.by_type(ROLE):
        # With the boundary the role carries, if any: the deploy role writes a role's policies only within it.
        boundary = (
            {"iam:PermissionsBoundary": role.inputs["permissionsBoundary"]}
            if "permissionsBoundary" in role.inputs
            else {}
        )
        found.append((f"arn:aws:iam::{ACCOUNT}:role/{role.inputs['name']}", "iam:PutRolePolicy", boundary))
    for topic in plan.by_type("aws:sns/topic:Topic"):
        found.append((f"arn:aws:sns:us-east-1:{ACCOUNT}:{topic.inputs['name']}", "sns:SetTopicAttributes", {}))
    for alarm in plan.by_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        found.append(
            (f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{alarm.inputs['name']}", "cloudwatch:PutMetricAlarm", {})
        )
    for dashboard in plan.by_type("aws:cloudwatch/dashboard:Dashboard"):
        name = dashboard.inputs["dashboardName"]
        found.append((f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{name}", "cloudwatch:PutDashboard", {}))
    for key in plan.by_type("aws:kms/key:Key"):
        found.append((f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{key.name}-0000", "kms:TagResource", tags))
    for cert in plan.by_type("aws:acm/certificate:Certificate"):
        found.append((f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{cert.name}", "acm:DeleteCertificate", tags))
    for cdn in plan.by_type("aws:cloudfront/distribution:Distribution"):
        found.append((f"arn:aws:cloudfront::{ACCOUNT}:distribution/{cdn.name}", "cloudfront:UpdateDistribution", tags))
    for zone in plan.by_type("aws:route53/zone:Zone"):
        zone_id = str(zone.inputs["name"]).upper().replace(".", "")
        found.append((f"arn:aws:route53:::hostedzone/Z{zone_id}", "route53:ChangeResourceRecordSets", {}))
    assert found, f"{plan.stack} declares nothing on AWS"
    return found


def test_staging_deploy_role_reaches_none_of_production_s_objects(up_plans: dict[str, Plan]) -> None:
    staging = deploy_policies(up_plans["staging"])
    for arn, _action, context in owned_arns(up_plans["production"]):
        reaching = allows_on(staging, arn, context)
        assert not reaching, f"staging's deploy role reaches production's {arn} through {reaching}"


def test_staging_with_its_own_failover_still_reaches_none_of_production_s_objects(up_plans: dict[str, Plan]) -> None:
    def edit(config: dict[str, Any]) -> None:
        alerts = [
            {"channel": channel, "protocol": "email", "endpoint": f"{channel}@vibelog.io"}
            for channel in ("pagerduty", "slack_alert", "email_leadership")
        ]
        config["vibelog:dns"].update(failover=True, degradedRegion="us-west-2", alerts=alerts)

    plan = run_program("staging", stack_config("staging", edit), mocks=VibelogMocks(preview=False))
    staging = deploy_policies(plan)
    assert allowed(
        staging, "cloudfront:UpdateDistribution", f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1", tags_of(plan)
    )
    for arn, _action, context in owned_arns(up_plans["production"]):
        reaching = allows_on(staging, arn, context)
        assert not reaching, f"staging's deploy role reaches production's {arn} through {reaching}"
        retag = {**context, "aws:RequestTag/environment": "staging"}
        for action in ("acm:AddTagsToCertificate", "cloudfront:TagResource"):
            assert not allowed(staging, action, arn, retag), f"staging may {action} {arn} into its own"


def test_staging_only_reads_the_account_s_oidc_provider_it_trusts(up_plans: dict[str, Plan]) -> None:
    staging = deploy_policies(up_plans["staging"])
    assert allowed(staging, "iam:GetOpenIDConnectProvider", PROVIDER_ARN), "staging's up looks the provider up"
    for action in (
        "iam:TagOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider",
        "iam:UpdateOpenIDConnectProviderThumbprint",
    ):
        assert not allowed(staging, action, PROVIDER_ARN), f"staging's deploy role may {action} production's provider"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_deploy_role_manages_what_its_stack_declares(stack: str, up_plans: dict[str, Plan]) -> None:
    plan = up_plans[stack]
    policies = deploy_policies(plan)
    itself = f"arn:aws:iam::{ACCOUNT}:role/vibelog-{stack}-deploy"
    for arn, action, context in owned_arns(plan):
        if arn == itself:
            assert not allowed(policies, action, arn, context), f"{arn} may widen its own rights"
        elif re.search(r":role/.*(-backup-|-runbooks$)", arn):
            assert not allowed(policies, action, arn, context), f"{arn} reads backups: an administrator's alone"
        else:
            assert allowed(policies, action, arn, context), f"{stack}'s deploy role cannot {action} on {arn}"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_deploy_role_reads_or_deletes_a_backup(stack: str, up_plans: dict[str, Plan]) -> None:
    plan = up_plans[stack]
    policies = deploy_policies(plan)
    backups = [b.inputs["bucket"] for b in plan.by_type("aws:s3/bucket:Bucket") if "backups" in b.inputs["bucket"]]
    assert backups, f"{stack} declares backup buckets"
    for bucket in backups:
        for action in ("s3:GetObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"):
            arn = f"arn:aws:s3:::{bucket}/daily/dump.sql.gz"
            assert not allowed(policies, action, arn), f"{stack}'s deploy role may {action} {arn}"
    for key in plan.by_type("aws:kms/key:Key"):
        arn = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{key.name}"
        for action in ("kms:Decrypt", "kms:ScheduleKeyDeletion"):
            assert not allowed(policies, action, arn, tags_of(plan)), f"{stack}'s deploy role may {action} {key.urn}"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_deploy_role_shortens_unlocks_or_reopens_a_backup(stack: str, up_plans: dict[str, Plan]) -> None:
    plan = up_plans[stack]
    policies = deploy_policies(plan)
    backups = [b.inputs["bucket"] for b in plan.by_type("aws:s3/bucket:Bucket") if "backups" in b.inputs["bucket"]]
    assert backups, f"{stack} declares backup buckets"
    for bucket in backups:
        arn = f"arn:aws:s3:::{bucket}"
        assert allowed(policies, "s3:PutBucketTagging", arn), f"{stack}'s deploy role still manages {arn}"
        for action in (
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutBucketVersioning",
            "s3:PutBucketPolicy",
            "s3:PutReplicationConfiguration",
            "s3:DeleteBucket",
        ):
            assert not allowed(policies, action, arn), f"{stack}'s deploy role may {action} {arn}"
    for key in plan.by_type("aws:kms/key:Key"):
        arn = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{key.name}"
        assert not allowed(policies, "kms:PutKeyPolicy", arn, tags_of(plan)), f"{key.urn}: a key policy grants Decrypt"
    vault_roles = [r.inputs["name"] for r in plan.by_type(ROLE) if "-backup-" in str(r.inputs["name"])]
    prefix = str(plan.one(ROLE, "backup-writer").inputs["name"]).removesuffix("writer")
    # The pre-migration role exists where the stack takes pre-migration dumps (vibelog:migrations).
    migrations = settings_of(stack).migrations
    takes_dumps = migrations is not None and migrations.pre_migration_backup
    keys = ["writer", "restore-test", "replication", "operator", "config"] + (["pre-migration"] if takes_dumps else [])
    expected = sorted(f"{prefix}{key}" for key in keys)
    assert sorted(vault_roles) == expected, vault_roles
    for name in vault_roles:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        for action in ("iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy"):
            assert not allowed(policies, action, arn), (
                f"{stack}'s deploy role may {action} {arn}: it could read backups"
            )


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_deploy_role_stops_or_redirects_the_upload_backups(stack: str, up_plans: dict[str, Plan]) -> None:
    # The replication that feeds the upload backups is configured on the live uploads bucket, not on a backup
    # bucket: removing it (DeleteBucketReplication is s3:PutReplicationConfiguration) or rewriting it, or suspending
    # the versioning it needs, would stop every upload backup with no backup touched and nothing failing. Its bucket
    # policy could grant the deploy role itself object writes (a same-account grant needs no identity Allow), each
    # replicated in front of a backed-up version; its lifecycle could expire the whole mirror.
    plan = up_plans[stack]
    policies = deploy_policies(plan)
    sources = [
        b.inputs["bucket"]
        for b in plan.by_type("aws:s3/bucket:Bucket")
        if b.inputs.get("tags", {}).get(BUCKET_ROLE_TAG) == "replication-source"
    ]
    assert sources, f"{stack} declares the uploads bucket"
    for bucket in sources:
        arn = f"arn:aws:s3:::{bucket}"
        assert allowed(policies, "s3:PutBucketTagging", arn), f"{stack}'s deploy role still manages {arn}"
        for action in (
            "s3:PutReplicationConfiguration",
            "s3:PutBucketVersioning",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutLifecycleConfiguration",
            "s3:DeleteBucket",
        ):
            assert not allowed(policies, action, arn), f"{stack}'s deploy role may {action} {arn}"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_deploy_role_sends_the_vault_elsewhere_or_slows_its_restores(stack: str, up_plans: dict[str, Plan]) -> None:
    # The program declares none of these on the vault's buckets, and the deploy role's `s3:Put*` on them would grant
    # every one: an inventory, analytics export, notification or access log sends each key name to any account; an
    # Intelligent-Tiering archive tier or requester pays stands between a restore and its backup.
    plan = up_plans[stack]
    policies = deploy_policies(plan)
    declared = {r.type for r in plan.registrations}
    vault = [
        b.inputs["bucket"] for b in plan.by_type("aws:s3/bucket:Bucket") if BUCKET_ROLE_TAG in b.inputs.get("tags", {})
    ]
    assert len(vault) >= 3, f"{stack} declares the vault's buckets: {vault}"
    for bucket in vault:
        arn = f"arn:aws:s3:::{bucket}"
        assert allowed(policies, "s3:PutBucketTagging", arn), f"{stack}'s deploy role still manages {arn}"
        for action, resource_type in (
            ("s3:PutInventoryConfiguration", "aws:s3/inventory:Inventory"),
            ("s3:PutAnalyticsConfiguration", "aws:s3/analyticsConfiguration:AnalyticsConfiguration"),
            ("s3:PutBucketNotification", "aws:s3/bucketNotification:BucketNotification"),
            ("s3:PutBucketLogging", "aws:s3/bucketLogging:BucketLogging"),
            (
                "s3:PutIntelligentTieringConfiguration",
                "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration",
            ),
            (
                "s3:PutBucketRequestPayment",
                "aws:s3/bucketRequestPaymentConfiguration:BucketRequestPaymentConfiguration",
            ),
        ):
            assert resource_type not in declared, f"{stack} declares {resource_type}: its deploy needs {action}"
            assert not allowed(policies, action, arn), f"{stack}'s deploy role may {action} {arn}"


def test_no_deploy_role_keeps_administrator_access(up_plans: dict[str, Plan]) -> None:
    for plan in up_plans.values():
        attached = {
            r.inputs["policyArn"]
            for r in plan.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if r.inputs["role"] == plan.one(ROLE, "ci-aws-deploy").inputs["name"]
        }
        assert attached == set(), f"{plan.stack}'s deploy role has managed policies {attached}"


def test_sharing_production_s_names_breaks_the_isolation() -> None:
    # Noncompliant: staging's Vercel project (the prefix of its buckets and backup roles) named like production's.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:app"]["projectName"] = "vibelog"

    staging = deploy_policies(run_program("staging", stack_config("staging", edit), mocks=VibelogMocks(preview=False)))
    production_bucket = f"arn:aws:s3:::vibelog-db-backups-{ACCOUNT}-us-west-2"
    assert allows_on(staging, production_bucket), "the isolation check must see a shared name prefix"


def test_the_preview_role_refreshes_the_degraded_page_and_writes_nothing(production: Plan) -> None:
    attachments = production.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    managed = {r.inputs["policyArn"] for r in attachments if r.inputs["role"] == "vibelog-infra-preview"}
    assert managed == {"arn:aws:iam::aws:policy/ReadOnlyAccess"}, "AWS's ReadOnlyAccess grants no write"
    inline = documents(r for r in production.by_type(POLICY) if r.inputs["role"] == "vibelog-infra-preview")
    # Decrypt, with the stacks' config keys only, is the secrets provider's read of each stack's config.
    assert write_actions(inline) == ["kms:Decrypt"], "the preview role's own statements write nothing"
    # ReadOnlyAccess allows s3:Get* on every object; the inline deny decides what stays readable.
    read_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
    page = production.one(BUCKET_OBJECT, "dns-degraded-page")
    bucket = production.one("aws:s3/bucket:Bucket", "dns-degraded-bucket").inputs["bucket"]
    page_arn = f"arn:aws:s3:::{bucket}/{page.inputs['key']}"
    assert allowed([read_only, *inline], "s3:GetObject", page_arn), f"refresh of {page.urn} reads {page_arn}"
    staging_page = f"arn:aws:s3:::staging-vibelog-io-degraded-us-west-2-{ACCOUNT}/index.html"
    assert allowed([read_only, *inline], "s3:GetObject", staging_page), "a subzone's degraded page too"
    for backup in production.by_type("aws:s3/bucket:Bucket"):
        if backup.name.startswith("backup-"):
            arn = f"arn:aws:s3:::{backup.inputs['bucket']}/daily/dump.sql.gz"
            assert not allowed([read_only, *inline], "s3:GetObject", arn), f"the preview role reads {arn}"


def test_a_write_in_the_preview_role_would_be_caught() -> None:
    # Noncompliant: one Allow of a write action added to the preview role's own statements.
    with_write = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Put*", "Resource": "*"}]}
    assert write_actions([with_write]) == ["s3:Put*"]


def test_every_role_trusting_the_provider_waits_for_it(production: Plan) -> None:
    providers = {p.inputs["url"].removeprefix("https://"): p for p in production.by_type(OIDC)}
    trusting = 0
    for role in production.by_type(ROLE):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            federated = statement.get("Principal", {}).get("Federated")
            if federated is None:
                continue
            trusting += 1
            provider = providers[federated.split(":oidc-provider/", 1)[1]]
            assert provider.urn in role.dependencies, f"{role.urn} trusts {provider.urn} but does not wait for it"
    assert trusting, "production declares roles trusting an OIDC provider"


def test_an_existing_provider_is_imported_by_its_arn() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:ci"]["importOidcProvider"] = PROVIDER_ARN

    plan = plan_of("production", edit)
    (provider,) = github_providers(plan)
    assert provider.import_id == PROVIDER_ARN, f"{provider.urn} must adopt the existing provider"
    assert provider.protect, provider.urn
    (created,) = github_providers(plan_of("production"))
    assert created.urn == provider.urn, "importing keeps the URN, so later runs treat it as any other resource"
    assert created.import_id == "", f"{created.urn}: without the setting the provider is created"


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            lambda c: c["vibelog:ci"].update(importOidcProvider="arn:aws:iam::210987654321:oidc-provider/example.com"),
            "",
        ),
        (lambda c: c["vibelog:ci"].update(importOidcProvider=PROVIDER_ARN.replace(ACCOUNT, "123456789012")), "pins"),
    ],
)
def test_an_import_of_another_provider_or_account_is_refused(edit: Any, fragment: str) -> None:
    problem = only_problem("production", edit)
    assert problem.path == "vibelog:ci.importOidcProvider", problem
    assert fragment in problem.expected, problem
    assert "pulumi config set" in problem.fix, problem


def test_only_the_owning_stack_imports_the_provider() -> None:
    problem = only_problem("staging", lambda c: c["vibelog:ci"].update(importOidcProvider=PROVIDER_ARN))
    assert problem.path == "vibelog:ci.importOidcProvider", problem
    assert "ownsOidcProvider" in problem.expected, problem


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_only_creations_are_allowed_on_every_resource(stack: str, up_plans: dict[str, Plan]) -> None:
    # Creations name no existing object (IAM's "*" for them); anything else on "*" could reach another stack.
    unscoped = unscoped_actions(deploy_policies(up_plans[stack]))
    others = [a for a in unscoped if not a.split(":", 1)[1].startswith(("Create", "Request", "AddTagsTo"))]
    assert others == [], f"{stack}'s deploy role may {others} on every resource"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_deploy_role_can_point_a_config_alias_at_another_key(stack: str) -> None:
    """Decrypt follows the alias (kms:ResourceAliases): whoever could create or move an alias could decrypt with any
    key. The aliases are an administrator's, like the keys."""
    plan = deployed(stack)
    role = plan.one(ROLE, "ci-aws-deploy")
    policies = inline_policies(plan, role)
    account = account_of(plan)
    for region in ("us-east-1", "us-west-2"):
        alias = f"arn:aws:kms:{region}:{account}:{config_key_alias(stack)}"
        for action in ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"):
            assert not allowed(policies, action, alias), f"{role.urn} may {action} {alias}"
