"""The GitHub rules: two-person production approval, valid secret names, pinned OIDC trust."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.engine.runtime import Plan, Secret
from policy.type_tokens import ENVIRONMENT_SECRET, IAM_ROLE, REPOSITORY_ENVIRONMENT
from policy.unknowns import UNKNOWN
from tests.helpers.policy import found, reg, run_rule, with_inputs

CI = ("vibelog:ci:CiEnvironment",)
ENVIRONMENT = reg(
    REPOSITORY_ENVIRONMENT,
    "ci-environment",
    {
        "repository": "vibelog",
        "environment": "production",
        "reviewers": [{"users": [101, 102]}],
        "preventSelfReview": True,
        "canAdminsBypass": False,
        "deploymentBranchPolicy": {"protectedBranches": True, "customBranchPolicies": False},
    },
    parents=CI,
)
SECRET = reg(
    ENVIRONMENT_SECRET,
    "ci-secret-vercel-token",
    {"repository": "vibelog", "environment": "production", "secretName": "VERCEL_TOKEN", "value": Secret("t")},
    parents=CI,
    additional_secret_outputs=("encryptedValue", "plaintextValue", "value", "valueEncrypted"),
)
HOST = "token.actions.githubusercontent.com"
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{HOST}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{HOST}:aud": "sts.amazonaws.com",
                    f"{HOST}:sub": "repo:vibelog/vibelog:environment:production",
                }
            },
        }
    ],
}
ROLE = reg(IAM_ROLE, "ci-deploy-role", {"assumeRolePolicy": json.dumps(TRUST)}, parents=CI)


def test_production_environment_compliant() -> None:
    assert run_rule("production-environment-approval", [ENVIRONMENT]) == []


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"reviewers": [{"users": [101]}]}, "at least 2"),
        ({"reviewers": None}, "at least 2"),
        ({"preventSelfReview": False}, "prevent_self_review=True"),
        ({"canAdminsBypass": None}, "can_admins_bypass=False"),
        ({"deploymentBranchPolicy": {"protectedBranches": False, "customBranchPolicies": True}}, "protected_branches"),
        ({"deploymentBranchPolicy": None}, "protected_branches"),
    ],
)
def test_production_environment_broken(changes: dict[str, object], fix: str) -> None:
    bad = with_inputs(ENVIRONMENT, **changes)
    violations = run_rule("production-environment-approval", [bad])
    assert found(violations) == [("production-environment-approval", bad.urn)], violations
    assert fix in violations[0].message


def test_a_team_and_a_user_count_as_two_reviewers() -> None:
    mixed = with_inputs(ENVIRONMENT, reviewers=[{"users": [101], "teams": [7]}])
    assert run_rule("production-environment-approval", [mixed]) == []


def test_staging_environment_needs_no_approval() -> None:
    staging = with_inputs(ENVIRONMENT, environment="staging", reviewers=None, canAdminsBypass=True)
    assert run_rule("production-environment-approval", [staging]) == []


def test_unknown_reviewer_ids_still_count() -> None:
    unknown = with_inputs(ENVIRONMENT, reviewers=[{"users": [UNKNOWN, UNKNOWN]}])
    assert run_rule("production-environment-approval", [unknown]) == []


def test_the_committed_environments_prevent_self_review_only_with_reviewers(staging: Plan, production: Plan) -> None:
    environments = staging.by_type(REPOSITORY_ENVIRONMENT) + production.by_type(REPOSITORY_ENVIRONMENT)
    # The deployment environments (reviewers in production only), the scheduled jobs' (never reviewers),
    # production's runbooks (always reviewers) and the migration environments (reviewers where the rule says so).
    assert sorted(reg.name for reg in environments) == sorted(
        [
            *2
            * [
                "backup-jobs-maintenance",
                "backup-jobs-reader",
                "backup-jobs-writer",
                "backup-jobs-config",
                "ci-app",
                "ci-infra",
            ],
            "runbooks",
            "migrations-staging-migrate",
            "migrations-staging-migrate-rollback",
            *(f"migrations-production-{name}" for name in ("migrate", "migrate-rollback", "pre-migration")),
        ]
    )
    assert run_rule("self-review-needs-reviewers", environments) == []


def test_self_review_without_reviewers_is_refused(staging: Plan) -> None:
    # Staging's environment has no reviewers; turning on self-review prevention is GitHub's 422 on the first up.
    compliant = staging.by_type(REPOSITORY_ENVIRONMENT)[0]
    bad = with_inputs(compliant, preventSelfReview=True)
    violations = run_rule("self-review-needs-reviewers", [bad])
    assert found(violations) == [("self-review-needs-reviewers", bad.urn)], violations
    assert "fix: prevent_self_review=False" in violations[0].message


def test_secret_name_compliant() -> None:
    assert run_rule("actions-secret-name", [SECRET]) == []
    assert run_rule("secret-inputs-encrypted", [SECRET]) == []


@pytest.mark.parametrize(
    ("name", "fix"), [("VERCEL-TOKEN", "[A-Za-z0-9_]"), ("1TOKEN", "leading digit"), ("github_token", "GITHUB_")]
)
def test_secret_name_invalid(name: str, fix: str) -> None:
    bad = with_inputs(SECRET, secretName=name)
    violations = run_rule("actions-secret-name", [bad])
    assert found(violations) == [("actions-secret-name", bad.urn)]
    assert fix in violations[0].message


def test_oidc_trust_compliant() -> None:
    assert run_rule("oidc-trust-pinned", [ROLE]) == []


def _trust(**condition: object) -> str:
    statement = {**TRUST["Statement"][0], "Condition": condition}
    return json.dumps({**TRUST, "Statement": [statement]})


@pytest.mark.parametrize(
    ("policy", "fix"),
    [
        (_trust(StringEquals={f"{HOST}:sub": "repo:vibelog/vibelog:environment:production"}), ":aud"),
        (_trust(StringEquals={f"{HOST}:aud": "sts.amazonaws.com"}), ":sub"),
        (
            _trust(StringEquals={f"{HOST}:aud": "sts.amazonaws.com"}, StringLike={f"{HOST}:sub": "repo:vibelog/*"}),
            ":sub",
        ),
        (_trust(StringEquals={f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": "repo:vibelog/*"}), ":sub"),
    ],
)
def test_oidc_trust_not_pinned(policy: str, fix: str) -> None:
    bad = with_inputs(ROLE, assumeRolePolicy=policy)
    violations = run_rule("oidc-trust-pinned", [bad])
    assert found(violations) == [("oidc-trust-pinned", bad.urn)], violations
    assert f"StringEquals {HOST}{fix}" in violations[0].message


def test_unknown_trust_policy_is_skipped() -> None:
    assert run_rule("oidc-trust-pinned", [with_inputs(ROLE, assumeRolePolicy=UNKNOWN)]) == []
