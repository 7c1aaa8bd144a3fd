"""The app repository's migration environments: the reference's Migration Strategy, per stack, as GitHub enforces it."""

from __future__ import annotations

from typing import Any

import pytest

from components.migration_environments import MigrationEnvironment, MigrationEnvironmentsArgs
from infra.engine.runtime import Plan, Registration, Secret
from policy.type_tokens import ENVIRONMENT_SECRET as SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT
from tests.helpers.stacks import only_problem, problems_of, settings_of

MIGRATIONS = "vibelog:migrations:MigrationEnvironments"
BRANCHES = {"protectedBranches": True, "customBranchPolicies": False}


def of_migrations(plan: Plan, type_: str) -> list[Registration]:
    return [reg for reg in plan.by_type(type_) if MIGRATIONS in reg.parent]


def environments(plan: Plan) -> dict[str, Registration]:
    return {reg.inputs["environment"]: reg for reg in of_migrations(plan, ENVIRONMENT)}


def test_production_reviews_each_migration_and_needs_two_people_for_a_rollback(production: Plan) -> None:
    migrations = settings_of("production").migrations
    assert migrations is not None, "production declares its migrations"
    assert (migrations.apply, migrations.rollback) == ("manual_with_review", "two_person_approval")
    envs = environments(production)
    assert set(envs) == {"production-pre-migration", "production-migrate", "production-migrate-rollback"}
    reviewers = [{"teams": migrations.reviewers.teams, "users": migrations.reviewers.users}]
    assert len(migrations.reviewers.teams) + len(migrations.reviewers.users) >= 2, "two people can approve"
    for name in ("production-migrate", "production-migrate-rollback"):
        env = envs[name]
        assert env.inputs["repository"] == "vibelog", f"{env.urn}: the app repository calls the workflow"
        assert env.inputs["reviewers"] == reviewers, f"{env.urn}: reviewers are vibelog:migrations.reviewers"
        assert env.inputs["preventSelfReview"] is True, f"{env.urn}: whoever starts it cannot approve it"
        assert env.inputs["canAdminsBypass"] is False, env.urn
        assert env.inputs["deploymentBranchPolicy"] == BRANCHES, env.urn
    # The dump runs before the approval: it waits for nobody, but only a protected branch reaches it.
    dump = envs["production-pre-migration"]
    assert dump.inputs["reviewers"] == [], dump.urn
    assert dump.inputs["preventSelfReview"] is False, dump.urn
    assert dump.inputs["deploymentBranchPolicy"] == BRANCHES, dump.urn


def test_staging_migrates_on_deploy_and_a_rollback_waits_for_approval(staging: Plan) -> None:
    envs = environments(staging)
    assert set(envs) == {"staging-migrate", "staging-migrate-rollback"}, "staging takes no pre-migration dump"
    assert envs["staging-migrate"].inputs["reviewers"] == [], "automatic_on_deploy: the deploy does not stop"
    assert envs["staging-migrate"].inputs["preventSelfReview"] is False
    rollback = envs["staging-migrate-rollback"]
    assert rollback.inputs["reviewers"] != [], f"{rollback.urn}: manual_with_approval"
    assert rollback.inputs["preventSelfReview"] is True, rollback.urn


def test_development_declares_none(development: Plan) -> None:
    assert settings_of("development").migrations is None
    assert environments(development) == {}


def test_each_job_gets_what_it_reads_and_the_credentials_stay_secret(production: Plan) -> None:
    by_environment: dict[str, dict[str, Registration]] = {}
    for reg in of_migrations(production, SECRET):
        by_environment.setdefault(reg.inputs["environment"], {})[reg.inputs["secretName"]] = reg
        assert isinstance(reg.inputs["value"], Secret), f"{reg.urn}: recorded in plaintext"
    assert set(by_environment["production-migrate"]) == {"MIGRATION_DATABASE_URL", "SLACK_WEBHOOK"}
    assert set(by_environment["production-pre-migration"]) == {
        "BACKUP_DATABASE_URL",
        "SLACK_WEBHOOK",
        "INFRA_READ_TOKEN",
    }
    variables = {
        (reg.inputs["environment"], reg.inputs["variableName"]): reg.inputs["value"]
        for reg in of_migrations(production, VARIABLE)
    }
    assert variables[("production-pre-migration", "INFRA_REPOSITORY")] == "vibelog/vibelog-infra"
    for reg in of_migrations(production, ENVIRONMENT) + of_migrations(production, VARIABLE):
        assert reg.delete_before_replace, f"{reg.urn}: create-first collides on its name"


def test_a_two_person_rollback_with_one_reviewer_is_refused() -> None:
    problem = only_problem(
        "production", lambda config: config["vibelog:migrations"]["reviewers"].__setitem__("teams", [9876543])
    )
    assert problem.path == "vibelog:migrations.reviewers"
    assert "at least two" in problem.expected


def test_a_reviewed_migration_without_reviewers_is_refused() -> None:
    def no_reviewers(config: dict[str, Any]) -> None:
        config["vibelog:migrations"].pop("reviewers")
        config["vibelog:migrations"]["rollback"] = "manual"

    problem = only_problem("production", no_reviewers)
    assert problem.path == "vibelog:migrations.reviewers", problem


def test_a_pre_migration_dump_needs_the_vault() -> None:
    def without_vault(config: dict[str, Any]) -> None:
        config["vibelog:migrations"]["preMigrationBackup"] = True
        config.pop("vibelog:backup")

    paths = {p.path for p in problems_of("staging", without_vault)}
    assert "vibelog:migrations.preMigrationBackup" in paths, sorted(paths)


def test_reviewers_need_a_plan_that_has_them() -> None:
    problems = {p.path: p for p in problems_of("staging", lambda c: c["vibelog:ci"].__setitem__("githubPlan", "team"))}
    assert "unreviewed migration" in problems["vibelog:migrations"].expected, sorted(problems)


def test_migrations_need_ci() -> None:
    paths = {p.path for p in problems_of("staging", lambda config: config.pop("vibelog:ci"))}
    assert "vibelog:migrations" in paths, sorted(paths)


def test_an_environment_built_reviewed_without_reviewers_is_refused() -> None:
    with pytest.raises(ValueError, match="names none"):
        MigrationEnvironmentsArgs(
            repository="vibelog", environments=[MigrationEnvironment("production-migrate", True, {}, {})]
        )
