"""IAM documents, written once: statements, policy documents, and the trusts of OIDC tokens (GitHub's, Vercel's)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from settings.github_oidc import GITHUB_OIDC_HOST, STS_AUDIENCE

POLICY_VERSION = "2012-10-17"


def oidc_provider_arn(account_id: str) -> str:
    """ARN of the account's GitHub OIDC provider; AWS derives it from the account and the issuer host."""
    return f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    """An IAM policy document."""
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def statement(effect: str, actions: Sequence[str], resources: Sequence[Any], **extra: Any) -> dict[str, Any]:
    """One IAM policy statement."""
    return {"Effect": effect, "Action": list(actions), "Resource": list(resources), **extra}


def allow(sid: str, actions: Sequence[str], resources: Sequence[str], **extra: Any) -> dict[str, Any]:
    """One Allow statement, named by its Sid."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources), **extra}


def put_metric_data(sid: str, namespace: str) -> dict[str, Any]:
    """Allow PutMetricData into one CloudWatch namespace: the action has no resource-level permission, so the
    namespace condition is its only scope."""
    return allow(
        sid, ["cloudwatch:PutMetricData"], ["*"], Condition={"StringEquals": {"cloudwatch:namespace": namespace}}
    )


def web_identity_trust(provider_arn: Any, issuer: str, audience: str, subject: str | Sequence[str]) -> dict[str, Any]:
    """A trust that only tokens of `issuer` minted for `audience` with the subject (or one of them) satisfy.

    Both claims are pinned: the audience alone is any token the issuer mints for AWS, from any repository or team.
    """
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{issuer}:aud": audience,
                    f"{issuer}:sub": subject if isinstance(subject, str) else list(subject),
                }
            },
        }
    )


def github_trust(provider_arn: Any, subject: str | Sequence[str]) -> dict[str, Any]:
    """A trust that only GitHub Actions tokens for STS with the subject (or one of them) satisfy.

    Build each subject with `settings.github_oidc.oidc_subject`, so it has the form the repository's tokens carry.
    """
    return web_identity_trust(provider_arn, GITHUB_OIDC_HOST, STS_AUDIENCE, subject)


def trust_policy(provider_arn: str, subjects: Sequence[str]) -> str:
    """`github_trust` as the JSON text a role's `assume_role_policy` takes, the subjects always a list."""
    return json.dumps(github_trust(provider_arn, list(subjects)))
