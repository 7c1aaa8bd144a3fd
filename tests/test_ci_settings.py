"""The `vibelog:ci` settings: what a CI environment needs, reported at the key to change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from settings.ci import REFERENCE_CHECKS
from settings.loader import ConfigError, load_settings
from settings.stackfile import read_stack_config

CI_SECRETS = ("vibelog:secrets.vercelDeployToken", "vibelog:secrets.statusPageWebhook", "vibelog:secrets.slackWebhook")


def production_config(**ci_changes: Any) -> tuple[dict[str, str], frozenset[str]]:
    """Production's stack file with placeholders for its secrets (compliant), with `vibelog:ci` changed (a key
    changed to None is removed)."""
    config = read_stack_config("production")
    values = dict(config.values)
    ci = json.loads(values["vibelog:ci"])
    ci.update(ci_changes)
    ci = {key: value for key, value in ci.items() if value is not None}
    values["vibelog:ci"] = json.dumps(ci)
    return values, config.secret_keys


def problems_of(values: dict[str, str], secret_keys: frozenset[str]) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        load_settings("production", values, secret_keys)
    return {problem.path: problem.expected for problem in raised.value.problems}


def test_production_ci_settings_load() -> None:
    values, secret_keys = production_config()
    settings = load_settings("production", values, secret_keys)
    assert settings.ci is not None, "production declares its CI environment"
    assert settings.ci.environment_name == "production"
    assert settings.ci.owns_branch_protection
    assert settings.ci.owns_oidc_provider
    assert tuple(settings.ci.required_checks) == REFERENCE_CHECKS


def test_only_production_owns_the_shared_github_and_aws_objects() -> None:
    owners = {}
    for stack in ("development", "staging", "production"):
        config = read_stack_config(stack)
        ci = load_settings(stack, config.values, config.secret_keys).ci
        owners[stack] = (
            ci is not None,
            ci is not None and ci.owns_branch_protection,
            ci is not None and ci.owns_oidc_provider,
        )
    assert owners == {
        "development": (False, False, False),
        "staging": (True, False, False),
        "production": (True, True, True),
    }


def test_missing_ci_secrets_are_reported_as_missing_secrets_with_a_secret_fix() -> None:
    values, secret_keys = production_config()
    secrets = json.loads(values["vibelog:secrets"])
    for path in CI_SECRETS:
        del secrets[path.rsplit(".", 1)[1]]
    values["vibelog:secrets"] = json.dumps(secrets)
    with pytest.raises(ConfigError) as raised:
        load_settings("production", values, secret_keys)
    problems = {problem.path: problem for problem in raised.value.problems}
    assert set(problems) == set(CI_SECRETS)
    for path, problem in problems.items():
        assert problem.missing_secret, path
        assert "--secret" in problem.fix, problem.fix


def test_the_offline_plan_stands_in_for_ci_secrets_and_lists_them_as_lacking() -> None:
    # The stack file holds no secrets: the CI ones only show up once the others are stood in for.
    config = read_stack_config("staging")
    assert set(CI_SECRETS) <= set(config.lacking)
    assert "vibelog:secrets.openaiApiKey" in config.lacking


def test_development_lacks_no_ci_secret() -> None:
    assert not set(CI_SECRETS) & set(read_stack_config("development").lacking)


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"reviewers": {"users": [1]}}, "vibelog:ci.reviewers", "two-person approval"),
        ({"reviewers": {}}, "vibelog:ci.reviewers", "two-person approval"),
        ({"reviewers": {"users": [1, 2, 3, 4, 5, 6], "teams": [7]}}, "vibelog:ci.reviewers", "at most 6"),
        ({"environmentName": None}, "vibelog:ci.environmentName", "a value is required"),
        ({"githubPlan": None}, "vibelog:ci.githubPlan", "a value is required"),
        ({"waitTimer": 43201}, "vibelog:ci.waitTimer", "less than or equal to 43200"),
        ({"variables": {"GITHUB_SHA": "x"}}, "vibelog:ci", "GITHUB_"),
        ({"variables": {"2FA": "x"}}, "vibelog:ci", "not start with a digit"),
        ({"variables": {"A": "x", "a": "y"}}, "vibelog:ci", "case-insensitive"),
        ({"variables": {"vercel_token": "x"}}, "vibelog:ci", "set by the program itself"),
        ({"requiredChecks": ["Lint", "Lint"]}, "vibelog:ci", "must not repeat"),
        ({"infraRequiredChecks": ["make test", "make test"]}, "vibelog:ci", "infraRequiredChecks must not repeat"),
    ],
)
def test_noncompliant_ci_settings_are_reported_at_their_key(change: dict[str, Any], path: str, message: str) -> None:
    values, secret_keys = production_config(**change)
    problems = problems_of(values, secret_keys)
    assert path in problems, problems
    assert message in problems[path]


def test_ci_needs_the_aws_account() -> None:
    values, secret_keys = production_config()
    del values["aws:allowedAccountIds"]
    assert "aws:allowedAccountIds" in problems_of(values, secret_keys)


def test_ci_needs_the_app_repository_under_the_github_owner() -> None:
    values, secret_keys = production_config()
    app = json.loads(values["vibelog:app"])
    app["repository"] = "someone-else/vibelog"
    values["vibelog:app"] = json.dumps(app)
    assert "must belong to vibelog" in problems_of(values, secret_keys)["vibelog:app.repository"]
