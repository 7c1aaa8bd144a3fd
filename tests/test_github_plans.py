"""The GitHub plan and repository visibility: a stack whose protections its plan cannot have is refused at config."""

from __future__ import annotations

from typing import Any

import pytest

from infra.engine.runtime import Plan
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT
from settings.github_plans import ALL_FEATURES, features, plans_with
from tests.helpers.stacks import Edit, plan_of, problems_of, settings_of


def ci_edit(**changes: Any) -> Edit:
    """An edit of `vibelog:ci` (a value of None removes the key)."""

    def edit(config: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None:
                config["vibelog:ci"].pop(key, None)
            else:
                config["vibelog:ci"][key] = value

    return edit


def visibility(app: str, infra: str) -> dict[str, Any]:
    return {"app": {"visibility": app, "oidcSubject": "name"}, "infra": {"visibility": infra, "oidcSubject": "name"}}


def test_the_documented_matrix() -> None:
    # docs.github.com, "Managing environments for deployment" and "About protected branches".
    assert features("free", "public") == features("team", "public") == ALL_FEATURES
    assert features("free", "private") == frozenset()
    assert features("pro", "private") == features("team", "private") == {"environments", "protected_branches"}
    assert features("enterprise", "private") == features("enterprise", "internal") == ALL_FEATURES
    assert features("team", "internal") == frozenset()
    assert plans_with("protection_rules", "private") == ("enterprise",)
    assert plans_with("environments", "private") == ("pro", "team", "enterprise")


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_committed_plan_allows_what_each_stack_declares(stack: str) -> None:
    settings = settings_of(stack)
    assert settings.ci is not None, f"{stack} declares its CI environment"
    assert settings.ci.github_plan == "enterprise"
    for which in ("app", "infra"):
        assert settings.github_features(which) == ALL_FEATURES, which


def test_production_two_person_approval_on_team_private_repositories_is_refused() -> None:
    problems = problems_of("production", ci_edit(githubPlan="team"))
    assert {(p.path, p.fix) for p in problems} == {
        ("vibelog:ci.githubPlan", "pulumi config set --stack production --path vibelog:ci.githubPlan enterprise")
    }
    messages = [p.expected for p in problems]
    assert len(messages) == 2, messages  # one per repository the environment is declared in
    for message, repository in zip(messages, ("vibelog/vibelog", "vibelog/vibelog-infra"), strict=True):
        assert message.startswith(f"required reviewers (vibelog:ci.reviewers) in private repository {repository}:")
        assert "only on enterprise, not on team" in message, message


def test_production_on_team_with_public_repositories_keeps_its_approval() -> None:
    plan = plan_of("production", ci_edit(githubPlan="team", repositories=visibility("public", "public")))
    # The deployment environments; the backup jobs' environments have no reviewers by design (a schedule cannot wait).
    for reg in [reg for reg in plan.by_type(ENVIRONMENT) if reg.name.startswith("ci-")]:
        assert reg.inputs["reviewers"] == [{"teams": [9876543, 9876544], "users": []}], reg.urn
        assert reg.inputs["preventSelfReview"] is True, reg.urn


def test_staging_on_team_private_repositories_loads_and_declares_what_github_keeps() -> None:
    def team_plan(config: dict[str, Any]) -> None:
        ci_edit(githubPlan="team")(config)
        # Reviewers of a rollback are protection rules too: on this plan a rollback can only be manual.
        config["vibelog:migrations"] = {"apply": "automatic_on_deploy", "rollback": "manual"}

    plan: Plan = plan_of("staging", team_plan)
    environments = plan.by_type(ENVIRONMENT)
    assert sorted(reg.name for reg in environments) == [
        "backup-jobs-config",
        "backup-jobs-maintenance",
        "backup-jobs-reader",
        "backup-jobs-writer",
        "ci-app",
        "ci-infra",
        "migrations-staging-migrate",
        "migrations-staging-migrate-rollback",
    ]
    for reg in environments:
        assert reg.inputs["canAdminsBypass"] is True, f"{reg.urn}: GitHub keeps its default on this plan"
        # Unset is sent as false by the provider.
        assert reg.inputs.get("preventSelfReview", False) is False, reg.urn
        assert reg.inputs["deploymentBranchPolicy"]["protectedBranches"] is True, reg.urn


def test_a_wait_timer_on_team_private_repositories_is_refused() -> None:
    problems = problems_of("staging", ci_edit(githubPlan="team", waitTimer=5))
    assert {p.path for p in problems} == {"vibelog:ci.githubPlan"}
    assert all("a wait timer (vibelog:ci.waitTimer)" in p.expected for p in problems), problems


def test_free_private_repositories_have_no_environments_nor_protected_branches() -> None:
    problems = problems_of("production", ci_edit(githubPlan="free"))
    assert {p.path for p in problems} == {"vibelog:ci.githubPlan"}
    text = " ".join(p.expected for p in problems)
    assert "deployment environments" in text
    assert "branch protection rules" in text
    assert "only on pro or team or enterprise, not on free" in text


def test_an_internal_repository_needs_enterprise() -> None:
    problems = problems_of("staging", ci_edit(githubPlan="team", repositories=visibility("internal", "private")))
    assert [(p.path, p.fix) for p in problems] == [
        (
            "vibelog:ci.repositories.app.visibility",
            "pulumi config set --stack staging --path vibelog:ci.repositories.app.visibility private",
        )
    ]
    assert "internal repositories exist only on GitHub enterprise" in problems[0].expected


def test_a_ci_environment_needs_the_plan() -> None:
    (problem,) = problems_of("staging", ci_edit(githubPlan=None))
    assert problem.path == "vibelog:ci.githubPlan"
    assert problem.fix == "pulumi config set --stack staging --path vibelog:ci.githubPlan enterprise"


def test_an_unknown_plan_is_refused() -> None:
    (problem,) = problems_of("staging", ci_edit(githubPlan="business"))
    assert problem.path == "vibelog:ci.githubPlan"
