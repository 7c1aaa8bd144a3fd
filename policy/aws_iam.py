"""AWS IAM rules: roles GitHub's OIDC trusts pin audience and subject; no role holds account-wide rights."""

from __future__ import annotations

from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policy.registry import Rules
from policy.type_tokens import IAM_ROLE, ROLE_POLICY, ROLE_POLICY_ATTACHMENT
from policy.values import as_list, dig, json_document, known, props_of
from settings.github_oidc import GITHUB_OIDC_HOST

RULES = Rules()


BROAD_MANAGED_POLICIES: Final = frozenset(
    f"arn:aws:iam::aws:policy/{name}" for name in ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
)
"""AWS managed policies that reach every stack of the account (and its identity): no role of a stack gets one."""


@RULES.resource("oidc-trust-pinned", "Roles trusted by GitHub's OIDC pin both audience and subject.")
def oidc_trust_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A role trusted by GitHub's OIDC pins both the audience and the subject (repository and environment)."""
    if args.resource_type != IAM_ROLE:
        return
    document = json_document(props_of(args).get("assumeRolePolicy"))
    if not known(document) or not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        actions = as_list(dig(statement, "Action"))
        federated = " ".join(str(p) for p in as_list(dig(statement, "Principal", "Federated")))
        if "sts:AssumeRoleWithWebIdentity" not in actions or GITHUB_OIDC_HOST not in federated:
            continue
        equals = dig(statement, "Condition", "StringEquals") or {}
        audience = as_list(dig(equals, f"{GITHUB_OIDC_HOST}:aud"))
        subject = as_list(dig(equals, f"{GITHUB_OIDC_HOST}:sub"))
        if audience != ["sts.amazonaws.com"]:
            report(
                f"{args.name} does not pin the audience; fix: StringEquals {GITHUB_OIDC_HOST}:aud = sts.amazonaws.com",
                None,
            )
        if not subject or any("*" in str(value) for value in subject):
            report(
                f"{args.name} does not pin the subject; fix: StringEquals {GITHUB_OIDC_HOST}:sub = "
                "repo:ORG/REPO:environment:NAME",
                None,
            )


@RULES.resource(
    "iam-least-privilege",
    "No role holds account-wide rights (broad managed policies, `*` actions).",
)
def iam_least_privilege(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No role of a stack holds account-wide rights: no broad managed policy, no `*` action or NotAction, no wildcard
    action (`s3:*`, `s3:Put*`) on every resource."""
    props = props_of(args)
    if args.resource_type == ROLE_POLICY_ATTACHMENT and props.get("policyArn") in BROAD_MANAGED_POLICIES:
        report(
            f"{args.name} attaches {props['policyArn']}, which reaches every stack of the account; fix: an inline "
            "policy scoped to the stack's own names (components/ci_aws_access.py DeployScope)",
            None,
        )
    if args.resource_type != ROLE_POLICY:
        return
    document = json_document(props.get("policy"))
    if not known(document) or not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        if dig(statement, "Effect") != "Allow":
            continue
        actions = [str(action) for action in as_list(dig(statement, "Action"))]
        everywhere = "*" in [str(r) for r in as_list(dig(statement, "Resource"))] or "NotResource" in statement
        # On every resource, a wildcard action (`s3:*`, `s3:Put*`) reaches every stack's objects of that service.
        wild = [action for action in actions if "*" in action]
        if "*" in actions or "NotAction" in statement or (everywhere and wild):
            report(
                f"{args.name} allows {wild or actions} on every resource; fix: name the actions and the stack's own "
                "ARNs",
                None,
            )
