"""AWS roles for this repository's CI: trust pinned to audience and subject, the OIDC provider owned once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.ci_aws_access import DATA_READ_ACTIONS, trust_policy
from infra.engine import Plan, Registration
from settings.github_oidc import GITHUB_OIDC_HOST

ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ACCOUNT = "210987654321"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB_OIDC_HOST}"


def trust_of(reg: Registration) -> dict[str, Any]:
    (statement,) = json.loads(reg.inputs["assumeRolePolicy"])["Statement"]
    assert isinstance(statement, dict)
    return statement


def test_production_owns_the_oidc_provider_and_protects_it(production: Plan, staging: Plan) -> None:
    (provider,) = production.by_type(OIDC)
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
    (statement,) = json.loads(deny.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny", deny.urn
    assert set(statement["Action"]) == set(DATA_READ_ACTIONS) >= {"s3:GetObject", "kms:Decrypt"}, deny.urn


def test_roles_of_the_owning_stack_wait_for_the_provider(production: Plan) -> None:
    (provider,) = production.by_type(OIDC)
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
