"""GitHub OIDC subjects: both forms GitHub issues, built by one function, trusted in the form the repository uses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.engine.policies import check_plan
from policy.type_tokens import IAM_ROLE as ROLE
from settings.github_oidc import GITHUB_OIDC_HOST, OIDC_SUBJECT_PATTERN, GithubRepository, oidc_subject
from tests.helpers.stacks import only_problem, plan_of, problems_of

NAMED = GithubRepository("vibelog", "vibelog-infra")
IMMUTABLE = GithubRepository("vibelog", "vibelog-infra", form="immutable", owner_id=123456, repository_id=456789)


@pytest.mark.parametrize(
    ("context", "name_form", "immutable_form"),
    [
        (
            {"environment": "production"},
            "repo:vibelog/vibelog-infra:environment:production",
            "repo:vibelog@123456/vibelog-infra@456789:environment:production",
        ),
        (
            {"branch": "main"},
            "repo:vibelog/vibelog-infra:ref:refs/heads/main",
            "repo:vibelog@123456/vibelog-infra@456789:ref:refs/heads/main",
        ),
        (
            {"pull_request": True},
            "repo:vibelog/vibelog-infra:pull_request",
            "repo:vibelog@123456/vibelog-infra@456789:pull_request",
        ),
    ],
)
def test_both_subject_forms(context: dict[str, Any], name_form: str, immutable_form: str) -> None:
    # GitHub's documented example: repo:octocat@123456/my-repo@456789:ref:refs/heads/main.
    assert oidc_subject(NAMED, **context) == name_form
    assert oidc_subject(IMMUTABLE, **context) == immutable_form


@pytest.mark.parametrize("context", [{}, {"environment": "production", "branch": "main"}])
def test_a_subject_names_exactly_one_context(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        oidc_subject(NAMED, **context)


def test_the_immutable_form_needs_both_ids() -> None:
    with pytest.raises(ValueError, match="owner and repository ids"):
        GithubRepository("vibelog", "vibelog-infra", form="immutable", owner_id=123456)


def test_the_settings_pattern_accepts_both_forms_and_never_a_wildcard() -> None:
    for subject in (
        oidc_subject(NAMED, environment="production-backup"),
        oidc_subject(IMMUTABLE, environment="production-backup"),
        oidc_subject(IMMUTABLE, branch="main"),
    ):
        assert re.match(OIDC_SUBJECT_PATTERN, subject), subject
    for subject in ("repo:vibelog/vibelog-infra:*", "repo:vibelog@*/vibelog-infra@*:environment:production"):
        assert not re.match(OIDC_SUBJECT_PATTERN, subject), subject


def immutable_infra(config: dict[str, Any]) -> None:
    """Production, with the infra repository on immutable subjects and its ids set."""
    ci = config["vibelog:ci"]
    ci["githubOwnerId"] = 123456
    ci["repositories"]["infra"] = {"visibility": "private", "oidcSubject": "immutable", "id": 456789}
    prefix = "repo:vibelog@123456/vibelog-infra@456789:environment:"
    config["vibelog:backup"]["writerSubject"] = f"{prefix}production-backup"
    config["vibelog:backup"]["readerSubject"] = f"{prefix}production-restore-test"


def test_roles_trust_the_form_the_repository_uses() -> None:
    plan = plan_of("production", immutable_infra)
    subjects = {}
    for name in ("ci-aws-deploy", "ci-aws-preview", "backup-writer", "backup-restore-test"):
        role = plan.one(ROLE, name)
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        subjects[name] = statement["Condition"]["StringEquals"][f"{GITHUB_OIDC_HOST}:sub"]
    assert subjects == {
        "ci-aws-deploy": ["repo:vibelog@123456/vibelog-infra@456789:environment:production"],
        "ci-aws-preview": [
            "repo:vibelog@123456/vibelog-infra@456789:pull_request",
            "repo:vibelog@123456/vibelog-infra@456789:ref:refs/heads/main",
        ],
        "backup-writer": "repo:vibelog@123456/vibelog-infra@456789:environment:production-backup",
        "backup-restore-test": "repo:vibelog@123456/vibelog-infra@456789:environment:production-restore-test",
    }
    oidc = [v for v in check_plan(plan) if v.policy == "oidc-trust-pinned"]
    assert oidc == [], oidc


def test_the_immutable_form_without_its_ids_is_refused_at_each_key() -> None:
    def without_ids(config: dict[str, Any]) -> None:
        config["vibelog:ci"]["repositories"]["infra"] = {"visibility": "private", "oidcSubject": "immutable"}

    problems = problems_of("production", without_ids)
    assert {(p.path, p.fix) for p in problems} == {
        ("vibelog:ci.githubOwnerId", "pulumi config set --stack production --path vibelog:ci.githubOwnerId 12345678"),
        (
            "vibelog:ci.repositories.infra.id",
            "pulumi config set --stack production --path vibelog:ci.repositories.infra.id 123456789",
        ),
    }


def test_a_backup_subject_in_the_other_form_than_the_infra_repositorys_is_refused() -> None:
    def name_form_backup(config: dict[str, Any]) -> None:
        immutable_infra(config)
        config["vibelog:backup"]["writerSubject"] = "repo:vibelog/vibelog-infra:environment:production-backup"

    problem = only_problem("production", name_form_backup)
    assert problem.path == "vibelog:backup.writerSubject", problem
    assert "repo:vibelog@123456/vibelog-infra@456789:environment:" in problem.expected, problem
