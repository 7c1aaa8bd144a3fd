"""No escalation from a deploy role: the roles that reach backups are out of its reach, and every role it may create
or change carries a boundary it cannot alter. Evaluated on the deploy roles' own documents, as a mock `up` has them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.backup_vault import BUCKET_ROLE_TAG
from components.deploy_scope import KEY_ADMIN_ACTIONS, READ_ONLY_POLICY_ARN
from infra.engine.runtime import Plan, Registration
from policy.type_tokens import BUCKET
from settings.secrets_provider import config_key_alias
from tests.helpers.access import (
    account_of,
    boundary_of,
    deployed,
    inline_policies,
    managed_policies,
    role_arn,
    roles,
    vault_buckets,
    vault_keys,
)
from tests.helpers.iam_eval import allowed

STACKS = ("staging", "production")
# Whatever a deploy could write into a bounded role: the boundary alone must cap it.
EVERYTHING = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
# What reading or writing a backup takes, on an object of a vault bucket or with a vault key.
BACKUP_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:RestoreObject", "s3:ReplicateObject", "s3:DeleteObject")
BACKUP_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt")
# Everything that changes who may assume a role or what it may do.
ROLE_WRITE_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:DeleteRole",
    "iam:TagRole",
)
# The role actions IAM authorizes on the boundary the role has or gets (iam:PermissionsBoundary).
BOUNDED_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
POLICY_WRITE_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:DeletePolicy",
)


def deploy_role(plan: Plan) -> Registration:
    return plan.one("aws:iam/role:Role", "ci-aws-deploy")


def boundary_arn(plan: Plan) -> str | None:
    """The deploy boundary's ARN, if the stack declares one."""
    found = [arn for arn in managed_policies(plan) if arn.endswith("-deploy-boundary")]
    return found[0] if found else None


def best_case(plan: Plan, boundary: str | None = None) -> dict[str, str]:
    """The request context most favourable to the deploy role: it attaches the boundary and a declared policy."""
    context = {"iam:PolicyARN": READ_ONLY_POLICY_ARN}
    boundary = boundary or boundary_arn(plan)
    if boundary is not None:
        context["iam:PermissionsBoundary"] = boundary
    return context


def reaches_backups(plan: Plan, role: Registration) -> bool:
    """Whether the role's own policies let it read or write an object of a vault bucket, or use a vault key."""
    policies = inline_policies(plan, role)
    objects = [f"arn:aws:s3:::{bucket}/daily/x.dump" for bucket in vault_buckets(plan)]
    objects += [f"arn:aws:s3:::{bucket}/objects/x" for bucket in vault_buckets(plan)]
    through_s3 = [{"kms:ViaService": f"s3.{region}.amazonaws.com"} for region in ("us-east-1", "us-west-2")]
    return any(allowed(policies, a, arn) for a in BACKUP_OBJECT_ACTIONS for arn in objects) or any(
        allowed(policies, a, key, via) for a in BACKUP_KEY_ACTIONS for key in vault_keys(plan) for via in through_s3
    )


def protected_role_problems(plan: Plan, deploy: list[dict[str, Any]]) -> list[str]:
    """Each role that reaches backups and an IAM write the deploy policies still allow on it."""
    context = best_case(plan)
    return [
        f"{role_arn(plan, role)} reads or writes backups, and the deploy role may {action} it"
        for role in roles(plan)
        if reaches_backups(plan, role)
        for action in ROLE_WRITE_ACTIONS
        if allowed(deploy, action, role_arn(plan, role), context)
    ]


def bounded_role_problems(plan: Plan, deploy: list[dict[str, Any]], declared: list[Registration]) -> list[str]:
    """Each role the deploy role may create or change that does not carry the boundary, or could lose it."""
    boundary = boundary_arn(plan)
    problems = []
    account = account_of(plan)
    # The stack's roles, and names it does not declare, which a deploy could create.
    targets: dict[str, Registration | None] = {role_arn(plan, role): role for role in declared}
    for name in ("vibelog-incident-new", "vibelog-infra-preview-2", "vibelog-other", "admin"):
        targets.setdefault(f"arn:aws:iam::{account}:role/{name}", None)
    for arn, role in targets.items():
        writable = [a for a in ROLE_WRITE_ACTIONS if allowed(deploy, a, arn, best_case(plan))]
        if not writable:
            continue
        if role is None:
            if "iam:CreateRole" in writable and boundary is None:
                problems.append(f"the deploy role may create {arn} with no boundary declared")
        elif boundary is None or role.inputs.get("permissionsBoundary") != boundary:
            problems.append(f"{role.urn}: the deploy role may {writable} it, but it does not carry {boundary}")
        for action in BOUNDED_ACTIONS:
            for other in ({"iam:PolicyARN": READ_ONLY_POLICY_ARN}, best_case(plan, f"arn:aws:iam::{account}:policy/x")):
                if allowed(deploy, action, arn, other):
                    problems.append(f"the deploy role may {action} {arn} without the boundary ({other})")
        if allowed(deploy, "iam:DeleteRolePermissionsBoundary", arn, best_case(plan)):
            problems.append(f"the deploy role may take the boundary off {arn}")
    if boundary is not None:
        problems += [
            f"the deploy role may {action} its boundary {boundary}"
            for action in POLICY_WRITE_ACTIONS
            if allowed(deploy, action, boundary)
        ]
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_no_deploy_role_can_change_a_role_that_reads_or_writes_backups(stack: str) -> None:
    plan = deployed(stack)
    deploy = inline_policies(plan, deploy_role(plan))
    reaching = {str(role.inputs["name"]) for role in roles(plan) if reaches_backups(plan, role)}
    assert {"vibelog-backup-writer", "vibelog-backup-restore-test"} <= {
        name.replace(f"-{stack}-backup", "-backup") for name in reaching
    }, reaching
    if stack == "production":
        assert "vibelog-production-runbooks" in reaching, "the database-restore runbook reads the dumps"
    assert protected_role_problems(plan, deploy) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_role_a_deploy_role_may_create_or_change_carries_the_boundary_it_cannot_alter(stack: str) -> None:
    plan = deployed(stack)
    deploy = inline_policies(plan, deploy_role(plan))
    assert bounded_role_problems(plan, deploy, roles(plan)) == []


def test_production_bounds_the_roles_its_deploy_role_manages() -> None:
    plan = deployed("production")
    bounded = {str(role.inputs["name"]) for role in roles(plan) if role.inputs.get("permissionsBoundary")}
    assert bounded == {"vibelog-infra-preview", "vibelog-incident-metrics", "vibelog-incident-dispatch"}, bounded


def capped_problems(plan: Plan, boundary: list[dict[str, Any]]) -> list[str]:
    """What a role under this boundary could still do to backups, keys, IAM or the protected roles, if a deploy
    wrote `Allow *` into it."""
    requests = [(a, f"arn:aws:s3:::{b}/daily/x.dump") for b in vault_buckets(plan) for a in BACKUP_OBJECT_ACTIONS]
    requests += [
        (a, f"arn:aws:s3:::{b}")
        for b in vault_buckets(plan)
        for a in ("s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucket")
    ]
    # The live bucket the upload backups replicate from: its replication and the versioning it needs, and its
    # objects (a version written there, even with S3's own key, replicates in front of the backed-up one).
    requests += [
        (a, f"arn:aws:s3:::{b}")
        for b in replication_sources(plan)
        for a in ("s3:PutReplicationConfiguration", "s3:PutBucketVersioning")
    ]
    requests += [(a, f"arn:aws:s3:::{b}/objects/x") for b in replication_sources(plan) for a in BACKUP_OBJECT_ACTIONS]
    requests += [(a, key) for key in vault_keys(plan) for a in BACKUP_KEY_ACTIONS]
    # The keys' administration, and the config keys' aliases (Decrypt follows them).
    requests += [(a, key) for key in vault_keys(plan) for a in KEY_ADMIN_ACTIONS if "Alias" not in a]
    aliases = [f"arn:aws:kms:us-east-1:{account_of(plan)}:{config_key_alias(s)}" for s in ("staging", "production")]
    requests += [(a, alias) for alias in aliases for a in KEY_ADMIN_ACTIONS if "Alias" in a]
    requests += [(a, f"arn:aws:iam::{account_of(plan)}:role/anything") for a in ROLE_WRITE_ACTIONS]
    requests += [("sts:AssumeRole", role_arn(plan, r)) for r in roles(plan) if reaches_backups(plan, r)]
    return [f"{a} on {arn}" for a, arn in requests if allowed(EVERYTHING, a, arn, boundary=boundary)]


def replication_sources(plan: Plan) -> list[str]:
    """Names of the live buckets the upload backups replicate from (tagged so by the vault)."""
    sources = [
        str(reg.inputs["bucket"])
        for reg in plan.by_type(BUCKET)
        if reg.inputs.get("tags", {}).get(BUCKET_ROLE_TAG) == "replication-source"
    ]
    assert sources, f"{plan.stack} declares the uploads bucket"
    return sources


def own_grants(plan: Plan, role: Registration) -> list[tuple[str, str, dict[str, list[str]]]]:
    """(action, resource, request context) of every Allow statement of the role's own policies: the role calling,
    with the key aliases a `kms:ResourceAliases` condition of the statement asks for."""
    grants = []
    for document in inline_policies(plan, role):
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            context = {"aws:PrincipalArn": [role_arn(plan, role)]}
            for test in statement.get("Condition", {}).values():
                if "kms:ResourceAliases" in test:
                    context["kms:ResourceAliases"] = [p.replace("*", "x") for p in listed(test["kms:ResourceAliases"])]
            grants += [
                (action, resource, context)
                for action in listed(statement["Action"])
                for resource in listed(statement["Resource"])
            ]
    return grants


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_the_boundary_keeps_bounded_roles_from_backups_keys_and_iam() -> None:
    # Production's alone: no staging role carries a boundary (the test above: its deploy role may create none).
    plan = deployed("production")
    bounded = [(role, boundary) for role in roles(plan) if (boundary := boundary_of(plan, role)) is not None]
    assert bounded, "no production role carries a boundary: nothing to check"
    for role, boundary in bounded:
        assert capped_problems(plan, boundary) == [], f"{role.urn}: its boundary leaves these open"
        # And it still lets the role do its job: every action of its own statements.
        for action, resource, context in own_grants(plan, role):
            assert allowed(EVERYTHING, action, resource, context, boundary=boundary), (
                f"{role.urn}: its boundary denies its own {action} on {resource}"
            )


def test_a_boundary_without_its_denies_is_caught() -> None:
    plan = deployed("production")
    [boundary] = managed_policies(plan).values()
    assert capped_problems(plan, [boundary]) == [], "the compliant case"
    open_boundary = {"Statement": [s for s in boundary["Statement"] if s["Effect"] == "Allow"]}
    found = capped_problems(plan, [open_boundary])
    assert "kms:Decrypt on arn:aws:kms:mock-region:000000000000:key/backup-key" in found, found


def test_a_deploy_role_that_could_rewrite_the_runbooks_role_is_caught() -> None:
    plan = deployed("production")
    deploy = copy.deepcopy(inline_policies(plan, deploy_role(plan)))
    runbooks = f"arn:aws:iam::{account_of(plan)}:role/vibelog-production-runbooks"
    assert protected_role_problems(plan, deploy) == [], "the compliant case"
    # The scope as it was: the runbooks role among the roles the deploy role manages, outside BackupsAdminOnly.
    for document in deploy:
        for statement in document["Statement"]:
            if statement.get("Sid") == "BackupsAdminOnly":
                statement["Resource"].remove(runbooks)
    deploy.append({"Statement": [{"Effect": "Allow", "Action": ["iam:PutRolePolicy"], "Resource": [runbooks]}]})
    assert protected_role_problems(plan, deploy) == [
        f"{runbooks} reads or writes backups, and the deploy role may iam:PutRolePolicy it"
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda _deploy, role: role.inputs.pop("permissionsBoundary"), "does not carry"),
        (
            lambda deploy, _role: next(
                s for d in deploy for s in d["Statement"] if s.get("Sid") == "CreateAndChangeBoundedRoles"
            ).pop("Condition"),
            "without the boundary",
        ),
        (
            lambda deploy, _role: deploy.append(
                {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
            ),
            "may iam:CreateRole arn:aws:iam::210987654321:role/admin without the boundary",
        ),
    ],
)
def test_a_role_outside_the_boundary_is_caught(change: Any, problem: str) -> None:
    plan = deployed("production")
    deploy = copy.deepcopy(inline_policies(plan, deploy_role(plan)))
    declared = [copy.deepcopy(role) for role in roles(plan)]
    assert bounded_role_problems(plan, deploy, declared) == [], "the compliant case"
    preview = next(role for role in declared if role.inputs["name"] == "vibelog-infra-preview")
    change(deploy, preview)
    found = bounded_role_problems(plan, deploy, declared)
    assert any(problem in text for text in found), found
