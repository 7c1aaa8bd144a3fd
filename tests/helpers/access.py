"""The stacks as a mock `up` records them (ARNs known), and each role's trust, policies and boundary read from them."""

from __future__ import annotations

import functools
import json
from typing import Any

from components.backup_vault import BUCKET_ROLE_TAG
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, run_program
from policy.type_tokens import BUCKET, IAM_ROLE, KMS_KEY, ROLE_POLICY
from tests.helpers.stacks import settings_of, stack_config

IAM_POLICY = "aws:iam/policy:Policy"


@functools.cache
def deployed(stack: str) -> Plan:
    """A stack under a mock `up`: every ARN the policies name is known (built once per test process)."""
    return run_program(stack, stack_config(stack), mocks=VibelogMocks(preview=False))


def account_of(plan: Plan) -> str:
    """The stack's AWS account."""
    return settings_of(plan.stack).aws_account_id


def role_arn(plan: Plan, role: Registration) -> str:
    """The role's ARN as IAM names it (the mock's ARNs carry no real account)."""
    return f"arn:aws:iam::{account_of(plan)}:role/{role.inputs['name']}"


def inline_policies(plan: Plan, role: Registration) -> list[dict[str, Any]]:
    """The role's inline policy documents (RolePolicy resources whose `role` is this role)."""
    return [
        json.loads(reg.inputs["policy"])
        for reg in plan.by_type(ROLE_POLICY)
        if role.urn in reg.property_dependencies.get("role", ())
    ]


def trust_of(role: Registration) -> dict[str, Any]:
    """The role's trust policy."""
    trust: dict[str, Any] = json.loads(role.inputs["assumeRolePolicy"])
    return trust


def managed_policies(plan: Plan) -> dict[str, dict[str, Any]]:
    """The customer managed policies the stack declares, by ARN."""
    return {
        f"arn:aws:iam::{account_of(plan)}:policy/{reg.inputs['name']}": json.loads(reg.inputs["policy"])
        for reg in plan.by_type(IAM_POLICY)
    }


def boundary_of(plan: Plan, role: Registration) -> list[dict[str, Any]] | None:
    """The role's permissions boundary document, or None when it has none; fails if it names an undeclared one."""
    arn = role.inputs.get("permissionsBoundary")
    if arn is None:
        return None
    declared = managed_policies(plan)
    assert arn in declared, f"{role.urn}: its boundary {arn} is not declared by the stack"
    return [declared[arn]]


def vault_buckets(plan: Plan) -> list[str]:
    """Names of the buckets that hold backups (tagged so by the vault)."""
    return [
        str(reg.inputs["bucket"])
        for reg in plan.by_type(BUCKET)
        if reg.inputs.get("tags", {}).get(BUCKET_ROLE_TAG) == "backup"
    ]


def vault_keys(plan: Plan) -> list[str]:
    """ARNs of the vault's KMS keys, as the mock assigns them (the ARNs the roles' policies name)."""
    return [f"arn:aws:kms:mock-region:000000000000:key/{reg.name}" for reg in plan.by_type(KMS_KEY)]


def roles(plan: Plan) -> list[Registration]:
    """Every IAM role the stack declares."""
    return plan.by_type(IAM_ROLE)
