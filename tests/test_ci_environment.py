"""The CI environment of each stack: approvals, branch policy, secrets wired from the resources they describe."""

from __future__ import annotations

import pulumi
import pulumi_github as github
import pytest

from components.ci_environment import BranchRules, CiEnvironment, CiEnvironmentArgs
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, Secret, run_program
from policy.type_tokens import BRANCH_PROTECTION as PROTECTION
from policy.type_tokens import ENVIRONMENT_SECRET as SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT

PIPELINE_SECRETS = {"VERCEL_TOKEN", "VERCEL_ORG_ID", "VERCEL_PROJECT_ID", "STATUS_PAGE_WEBHOOK", "SLACK_WEBHOOK"}


def of_ci(plan: Plan, type_: str) -> list[Registration]:
    """The registrations of a type that belong to the CI environment (the backup jobs declare their own)."""
    return [reg for reg in plan.by_type(type_) if "vibelog:ci:CiEnvironment" in reg.parent]


def secrets_by_name(plan: Plan) -> dict[str, Registration]:
    return {reg.inputs["secretName"]: reg for reg in of_ci(plan, SECRET)}


def test_production_environments_need_two_person_approval_from_protected_branches(production: Plan) -> None:
    environments = of_ci(production, ENVIRONMENT)
    assert {(reg.inputs["repository"], reg.inputs["environment"]) for reg in environments} == {
        ("vibelog", "production"),
        ("vibelog-infra", "production"),
    }
    for reg in environments:
        assert reg.inputs["reviewers"] == [{"teams": [9876543, 9876544], "users": []}], reg.urn
        assert reg.inputs["preventSelfReview"] is True, reg.urn
        assert reg.inputs["canAdminsBypass"] is False, reg.urn
        assert reg.inputs["deploymentBranchPolicy"] == {
            "protectedBranches": True,
            "customBranchPolicies": False,
        }, reg.urn
        assert reg.provider.endswith("pulumi:providers:github::github"), reg.urn


def test_staging_has_its_own_environment_without_reviewers(staging: Plan) -> None:
    environments = of_ci(staging, ENVIRONMENT)
    assert {reg.inputs["environment"] for reg in environments} == {"staging"}
    for reg in environments:
        assert reg.inputs.get("reviewers", []) == [], reg.urn
        assert reg.inputs["deploymentBranchPolicy"]["protectedBranches"] is True, reg.urn
        # The provider always sends prevent_self_review; true without reviewers is GitHub's 422 on the first up.
        assert reg.inputs["preventSelfReview"] is False, (
            f"{reg.urn}: GitHub refuses self-review rules without reviewers"
        )
        assert reg.inputs["canAdminsBypass"] is False, reg.urn


def test_self_review_is_prevented_exactly_when_someone_reviews() -> None:
    without = component_plan(COMPLIANT)
    with_reviewers = component_plan(CiEnvironmentArgs(**{**COMPLIANT.__dict__, "reviewer_teams": (7, 8)}))
    for reg in without.by_type(ENVIRONMENT):
        assert reg.inputs["preventSelfReview"] is False, reg.urn
    for reg in with_reviewers.by_type(ENVIRONMENT):
        assert reg.inputs["reviewers"] == [{"users": [], "teams": [7, 8]}], reg.urn
        assert reg.inputs["preventSelfReview"] is True, reg.urn


def test_where_the_plan_has_no_protection_rules_the_environment_declares_what_github_keeps() -> None:
    # Pro/Team private repository: GitHub refuses the protection fields and go-github resends only the branch
    # policy, so admin bypass stays GitHub's default; declaring false would plan an update on every run.
    plan = component_plan(
        CiEnvironmentArgs(**{**COMPLIANT.__dict__, "without_protection_rules": frozenset({"vibelog"})})
    )
    by_repository = {reg.inputs["repository"]: reg for reg in plan.by_type(ENVIRONMENT)}
    assert by_repository["vibelog"].inputs["canAdminsBypass"] is True, by_repository["vibelog"].urn
    assert by_repository["vibelog-infra"].inputs["canAdminsBypass"] is False, by_repository["vibelog-infra"].urn
    for reg in by_repository.values():
        assert reg.inputs["deploymentBranchPolicy"]["protectedBranches"] is True, reg.urn


def test_reviewers_in_a_repository_without_protection_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="allows no reviewers"):
        CiEnvironmentArgs(
            **{**COMPLIANT.__dict__, "reviewer_users": (1, 2), "without_protection_rules": frozenset({"vibelog"})}
        )


def test_development_declares_no_ci(development: Plan) -> None:
    assert not [reg for reg in development.registrations if reg.type.startswith(("github:", "aws:"))]


def test_pipeline_secrets_are_secret_and_in_the_app_environment(production: Plan) -> None:
    secrets = secrets_by_name(production)
    assert set(secrets) == PIPELINE_SECRETS
    app_env = next(reg for reg in production.by_type(ENVIRONMENT) if reg.inputs["repository"] == "vibelog")
    for name, reg in secrets.items():
        assert reg.inputs["repository"] == "vibelog", reg.urn
        assert reg.inputs["environment"] == "production", reg.urn
        # The environment must exist before its secrets: the name is passed as the environment's output.
        assert app_env.urn in reg.property_dependencies["environment"], reg.urn
        assert "plaintextValue" not in reg.inputs, f"{reg.urn}: plaintext_value is deprecated"
        value = reg.inputs["value"]
        if name in {"VERCEL_TOKEN", "STATUS_PAGE_WEBHOOK", "SLACK_WEBHOOK"}:
            assert isinstance(value, Secret), f"{reg.urn}: {name} is recorded in plaintext"


def test_vercel_ids_are_wired_from_the_stacks_vercel_project(production: Plan) -> None:
    project = production.one("vercel:index/project:Project", "web-project")
    secrets = secrets_by_name(production)
    for name in ("VERCEL_PROJECT_ID", "VERCEL_ORG_ID"):
        reg = secrets[name]
        assert project.urn in reg.property_dependencies["value"], f"{reg.urn}: {name} is not the project's output"


def test_every_pipeline_secret_is_recorded_as_a_secret_once_the_ids_are_known() -> None:
    # After a (mock) `up` the project's id and team id are known, so the recorded value is the wrapped id itself.
    plan = run_program("production", mocks=VibelogMocks(preview=False))
    secrets = secrets_by_name(plan)
    for name, reg in secrets.items():
        assert isinstance(reg.inputs["value"], Secret), f"{reg.urn}: {name} is recorded in plaintext"
    assert secrets["VERCEL_PROJECT_ID"].inputs["value"] == Secret("web-project-id")
    assert secrets["VERCEL_ORG_ID"].inputs["value"] == Secret("team_mock")


def test_app_url_variable_comes_from_the_stacks_domain(staging: Plan) -> None:
    variables = {reg.inputs["variableName"]: reg for reg in staging.by_type(VARIABLE)}
    assert variables["APP_URL"].inputs["value"] == "https://staging.vibelog.io"
    assert variables["APP_URL"].inputs["repository"] == "vibelog"
    assert variables["AWS_DEPLOY_ROLE_ARN"].inputs["repository"] == "vibelog-infra"
    role = staging.one("aws:iam/role:Role", "ci-aws-deploy")
    assert role.urn in variables["AWS_DEPLOY_ROLE_ARN"].property_dependencies["value"]


def test_only_production_protects_main_with_the_reference_checks(production: Plan, staging: Plan) -> None:
    assert staging.by_type(PROTECTION) == []
    assert production.by_type("github:index/repositoryRuleset:RepositoryRuleset") == []
    reg = production.one(PROTECTION, "ci-branch-protection-vibelog")
    assert reg.inputs["repositoryId"] == "vibelog", reg.urn
    assert reg.inputs["pattern"] == "main", reg.urn
    assert reg.inputs["enforceAdmins"] is True, reg.urn
    assert reg.inputs["requiredStatusChecks"] == [
        {
            "strict": True,
            "contexts": ["Type check", "Lint", "Unit tests", "E2E tests", "Visual regression tests"],
        }
    ], reg.urn


def test_production_protects_this_repositorys_main_too(production: Plan) -> None:
    # The infra environments deploy from protected branches only: without this rule nothing could deploy.
    (app, infra) = sorted(production.by_type(PROTECTION), key=lambda reg: reg.name)
    assert (app.name, infra.name) == ("ci-branch-protection-vibelog", "ci-infra-branch-protection-vibelog-infra")
    assert infra.inputs["repositoryId"] == "vibelog-infra", infra.urn
    assert infra.inputs["pattern"] == "main", infra.urn
    assert infra.inputs["enforceAdmins"] is True, infra.urn
    assert infra.inputs["allowsForcePushes"] is False, infra.urn
    assert infra.inputs["allowsDeletions"] is False, infra.urn
    assert infra.inputs["requiredStatusChecks"][0]["strict"] is True, infra.urn
    reviews = infra.inputs["requiredPullRequestReviews"]
    assert reviews == [{"requiredApprovingReviewCount": 1, "dismissStaleReviews": True}], infra.urn


def component_plan(args: CiEnvironmentArgs) -> Plan:
    def program() -> None:
        provider = github.Provider("github", owner="vibelog")
        CiEnvironment("ci", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run_program("staging", program=program)


COMPLIANT = CiEnvironmentArgs(
    app_repository="vibelog",
    infra_repository="vibelog-infra",
    environment="staging",
    secrets={"VERCEL_TOKEN": "token"},
    variables={"APP_URL": "https://staging.vibelog.io"},
)


def test_a_plain_value_handed_to_the_component_is_made_secret() -> None:
    plan = component_plan(COMPLIANT)
    (reg,) = plan.by_type(SECRET)
    assert reg.inputs["value"] == Secret("token"), reg.urn


def test_branch_rules_are_declared_only_when_owned() -> None:
    assert component_plan(COMPLIANT).by_type(PROTECTION) == []
    rules = BranchRules("main", ("Lint",))
    plan = component_plan(CiEnvironmentArgs(**{**COMPLIANT.__dict__, "branch_rules": rules}))
    (reg,) = plan.by_type(PROTECTION)
    assert reg.inputs["requiredStatusChecks"][0]["contexts"] == ["Lint"], reg.urn
    infra_rules = BranchRules("main", ("make test",))
    plan = component_plan(CiEnvironmentArgs(**{**COMPLIANT.__dict__, "infra_branch_rules": infra_rules}))
    (reg,) = plan.by_type(PROTECTION)
    assert (reg.inputs["repositoryId"], reg.inputs["requiredStatusChecks"][0]["contexts"]) == (
        "vibelog-infra",
        ["make test"],
    ), reg.urn


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"secrets": {"1TOKEN": "x"}}, "not start with a digit"),
        ({"secrets": {"GITHUB_TOKEN": "x"}}, "GITHUB_"),
        ({"secrets": {"VERCEL-TOKEN": "x"}}, "letters, digits and underscores"),
        ({"secrets": {"VERCEL_TOKEN": "x", "vercel_token": "y"}}, "case-insensitive"),
        ({"variables": {"vercel_token": "x"}}, "both a secret and a variable"),
    ],
)
def test_names_github_refuses_are_refused_before_registration(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CiEnvironmentArgs(**{**COMPLIANT.__dict__, **change})
