"""The runbooks' GitHub environment: the decision makers approve, nobody approves their own run, secrets stay secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.runbook_environment import RunbookEnvironmentArgs
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, Secret, run_program
from policy.type_tokens import ENVIRONMENT_SECRET as SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT
from policy.type_tokens import ROLE_POLICY
from tests.helpers.iam_eval import allows_on, unscoped_actions
from tests.helpers.stacks import only_problem, problems_of, settings_of, stack_config

RUNBOOKS = "vibelog:runbooks:RunbookEnvironment"


def of_runbooks(plan: Plan, type_: str) -> list[Registration]:
    return [reg for reg in plan.by_type(type_) if RUNBOOKS in reg.parent]


def test_production_runbooks_wait_for_the_decision_makers_and_never_for_their_starter(production: Plan) -> None:
    [env] = of_runbooks(production, ENVIRONMENT)
    runbooks = settings_of("production").runbooks
    assert runbooks is not None, "production declares its runbooks"
    assert env.inputs["environment"] == "production-runbooks", env.urn
    assert env.inputs["repository"] == "vibelog-infra", env.urn
    assert env.inputs["reviewers"] == [{"teams": runbooks.reviewers.teams, "users": runbooks.reviewers.users}], (
        f"{env.urn}: reviewers are vibelog:runbooks.reviewers"
    )
    assert env.inputs["preventSelfReview"] is True, env.urn
    assert env.inputs["canAdminsBypass"] is False, env.urn
    assert env.inputs["waitTimer"] == 0, f"{env.urn}: a wait timer would delay an approved rollback"
    assert env.inputs["deploymentBranchPolicy"] == {"protectedBranches": True, "customBranchPolicies": False}


def test_environment_and_variables_are_replaced_delete_first(production: Plan) -> None:
    for reg in of_runbooks(production, ENVIRONMENT) + of_runbooks(production, VARIABLE):
        assert reg.delete_before_replace, f"{reg.urn}: create-first collides on its name"


def test_the_runbooks_get_what_their_steps_read_and_the_credentials_stay_secret(production: Plan) -> None:
    secrets = {reg.inputs["secretName"]: reg for reg in of_runbooks(production, SECRET)}
    variables = {reg.inputs["variableName"]: reg for reg in of_runbooks(production, VARIABLE)}
    assert set(secrets) == {
        "VERCEL_TOKEN",
        "STATUS_PAGE_WEBHOOK",
        "SLACK_WEBHOOK",
        "RUNBOOK_GITHUB_TOKEN",
        "RESTORE_TARGET_URL",
    }
    for reg in secrets.values():
        assert isinstance(reg.inputs["value"], Secret), f"{reg.urn}: recorded in plaintext"
    assert variables["APP_URL"].inputs["value"] == "https://vibelog.io"
    assert variables["APPROVAL_MINUTES"].inputs["value"] == "5"
    assert not set(variables) & set(secrets), "a name is both a variable and a secret"
    wiring = {
        "EDGE_CONFIG_ID": "vercel:index/edgeConfig:EdgeConfig",
        "VERCEL_PROJECT_ID": "vercel:index/project:Project",
        "HEALTH_CHECK_ID": "aws:route53/healthCheck:HealthCheck",
        "BACKUP_DATABASE_BUCKET": "aws:s3/bucket:Bucket",
    }
    for name, type_ in wiring.items():
        sources = {dep.split("::")[-2].split("$")[-1] for dep in variables[name].property_dependencies["value"]}
        assert type_ in sources, f"{variables[name].urn} does not come from a {type_}"


def test_a_stack_without_runbooks_declares_no_environment(staging: Plan) -> None:
    assert of_runbooks(staging, ENVIRONMENT) == []


def test_runbooks_with_one_reviewer_are_refused() -> None:
    problem = only_problem(
        "production", lambda config: config["vibelog:runbooks"]["reviewers"].__setitem__("teams", [9876544])
    )
    assert problem.path == "vibelog:runbooks.reviewers"
    assert "at least two" in problem.expected


def test_runbooks_need_a_plan_whose_environments_have_reviewers() -> None:
    # Staging has no CI reviewers, so its team plan is fine for CI; runbooks there would run unapproved.
    def runbooks_on_team_plan(config: dict[str, Any]) -> None:
        config["vibelog:runbooks"] = {"reviewers": {"teams": [1, 2]}}
        config["vibelog:ci"]["githubPlan"] = "team"

    problems = {problem.path: problem for problem in problems_of("staging", runbooks_on_team_plan)}
    assert "vibelog:runbooks" in problems, sorted(problems)
    assert "unapproved runbook" in problems["vibelog:runbooks"].expected


def test_runbooks_need_ci() -> None:
    def without_ci(config: dict[str, Any]) -> None:
        config.pop("vibelog:ci")

    paths = {problem.path for problem in problems_of("production", without_ci)}
    assert "vibelog:runbooks" in paths, sorted(paths)


def test_a_runbook_environment_built_without_reviewers_is_refused() -> None:
    with pytest.raises(ValueError, match="needs reviewers"):
        RunbookEnvironmentArgs(repository="vibelog-infra", environment="production-runbooks")


@pytest.fixture(scope="module")
def deployed() -> Plan:
    """Production under a mock `up`, where ARNs are known and the role's policy can be read."""
    return run_program("production", stack_config("production"), mocks=VibelogMocks(preview=False))


def test_the_runbook_role_trusts_only_the_runbooks_environment_and_only_reads(deployed: Plan) -> None:
    role = deployed.one(ROLE, "runbooks-aws")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        "repo:vibelog/vibelog-infra:environment:production-runbooks"
    ], role.urn
    [policy] = [reg for reg in deployed.by_type(ROLE_POLICY) if reg.name == "runbooks-aws-read"]
    document = json.loads(policy.inputs["policy"])
    granted = {action for statement in document["Statement"] for action in statement["Action"]}
    # The versions: a restore reads the dump's version its manifest names (ops/vault.py manifest_of).
    assert granted == {
        "cloudwatch:GetMetricStatistics",
        "s3:ListBucketVersions",
        "s3:GetObjectVersion",
        "kms:Decrypt",
    }, policy.urn
    assert unscoped_actions([document]) == ["cloudwatch:GetMetricStatistics"], "only metrics are read everywhere"
    bucket = deployed.one("aws:s3/bucket:Bucket", "backup-db")
    assert allows_on([document], f"arn:aws:s3:::{bucket.inputs['bucket']}/daily/x.dump") == ["ReadBackups"]


def test_the_environment_hands_the_jobs_the_runbook_roles_arn(production: Plan) -> None:
    variables = {reg.inputs["variableName"]: reg for reg in of_runbooks(production, VARIABLE)}
    role = production.one(ROLE, "runbooks-aws")
    assert role.urn in variables["AWS_ROLE_ARN"].property_dependencies["value"], "AWS_ROLE_ARN is not the role's ARN"
