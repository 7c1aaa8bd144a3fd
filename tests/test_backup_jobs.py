"""The backup jobs' GitHub environments: declared, protected, trusted by the roles, holding only what each job reads."""

from __future__ import annotations

import json

import pytest

from infra.engine.runtime import Plan, Registration, Secret
from policy.type_tokens import ENVIRONMENT_SECRET as SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import IAM_ROLE as ROLE
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT
from settings.loader import ConfigError, load_settings
from tests.helpers.stacks import only_problem, stack_config

JOBS = "vibelog:backup:BackupJobs"


def of_jobs(plan: Plan, type_: str) -> list[Registration]:
    return [reg for reg in plan.by_type(type_) if JOBS in reg.parent]


def by_environment(plan: Plan, type_: str, key: str) -> dict[str, dict[str, Registration]]:
    found: dict[str, dict[str, Registration]] = {}
    for reg in of_jobs(plan, type_):
        found.setdefault(reg.name.split("-")[2], {})[reg.inputs[key]] = reg
    return found


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_role_trusts_a_declared_environment_of_the_infra_repository_restricted_to_protected_branches(
    stack: str, all_plans: dict[str, Plan]
) -> None:
    plan = all_plans[stack]
    environments = {reg.inputs["environment"]: reg for reg in of_jobs(plan, ENVIRONMENT)}
    assert set(environments) == {
        f"{stack}-backup",
        f"{stack}-restore-test",
        f"{stack}-maintenance",
        f"{stack}-config-backup",
    }
    roles = [json.loads(reg.inputs["assumeRolePolicy"])["Statement"] for reg in plan.by_type(ROLE)]
    assert f"environment:{stack}-maintenance" not in json.dumps(roles), "a role trusts the maintenance environment"
    for role_name, environment in (
        ("backup-writer", f"{stack}-backup"),
        ("backup-restore-test", f"{stack}-restore-test"),
        ("backup-config", f"{stack}-config-backup"),
        (None, f"{stack}-maintenance"),
    ):
        if role_name is not None:
            role = plan.one(ROLE, role_name)
            [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
            subject = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
            assert subject == f"repo:vibelog/vibelog-infra:environment:{environment}", role.urn
        reg = environments[environment]
        assert reg.inputs["repository"] == "vibelog-infra", reg.urn
        assert reg.inputs["deploymentBranchPolicy"] == {"protectedBranches": True, "customBranchPolicies": False}, (
            reg.urn
        )
        assert reg.inputs["canAdminsBypass"] is False, reg.urn
        # A scheduled job cannot wait for an approval; and GitHub answers 422 to prevent_self_review without
        # reviewers, so it is not set at all.
        assert reg.inputs.get("reviewers", []) == [], reg.urn
        assert not reg.inputs.get("preventSelfReview"), reg.urn
        assert not reg.inputs.get("waitTimer"), reg.urn


def test_each_job_gets_only_what_it_reads_and_its_credentials_stay_secret(production: Plan) -> None:
    secrets = by_environment(production, SECRET, "secretName")
    variables = by_environment(production, VARIABLE, "variableName")
    assert set(secrets["writer"]) == {
        "BACKUP_DATABASE_URL",
        "SUPABASE_STORAGE_ACCESS_KEY_ID",
        "SUPABASE_STORAGE_SECRET_ACCESS_KEY",
        "SLACK_WEBHOOK",
    }
    # The restore test never holds a credential of the live database or of Storage.
    assert set(secrets["reader"]) == {"SLACK_WEBHOOK"}
    # The maintenance holds the database's direct URL and nothing of Storage or AWS.
    assert set(secrets["maintenance"]) == {"MAINTENANCE_DATABASE_URL", "SLACK_WEBHOOK"}
    assert "AWS_ROLE_ARN" not in variables["maintenance"]
    for environment in secrets.values():
        for reg in environment.values():
            assert isinstance(reg.inputs["value"], Secret), f"{reg.urn}: recorded in plaintext"
            assert "plaintextValue" not in reg.inputs, reg.urn
    writer_vars = {name: reg.inputs["value"] for name, reg in variables["writer"].items()}
    assert writer_vars["BACKUP_YEARLY_STORAGE_CLASS"] == "DEEP_ARCHIVE"
    assert writer_vars["BACKUP_UPLOADS_RETENTION_DAYS"] == "90"
    assert writer_vars["BACKUP_VAULT_REGION"] == "us-west-2"
    assert writer_vars["SUPABASE_STORAGE_ENDPOINT"] == "https://vibelog-production.supabase.co/storage/v1/s3"
    reader_vars = {name: reg.inputs["value"] for name, reg in variables["reader"].items()}
    assert reader_vars["RTO_MINUTES"] == "240", variables["reader"]["RTO_MINUTES"].urn
    # The restore test's drop bound (vibelog:backup.restoreTestMaxDrop), passed by the workflow as flags.
    drop_bound = (reader_vars["RESTORE_MAX_DROP_PERCENT"], reader_vars["RESTORE_MIN_DROP_ROWS"])
    assert drop_bound == ("25", "1000"), "the reader environment's RESTORE_MAX_DROP_PERCENT, RESTORE_MIN_DROP_ROWS"
    # The reference's tables, index and ages, as the stack's settings default them.
    maintenance_vars = {name: reg.inputs["value"] for name, reg in variables["maintenance"].items()}
    assert maintenance_vars == {
        "STACK": "production",
        "MAINTENANCE_INDEX": "idx_vibelogs_created_at",
        "MAINTENANCE_SESSIONS_TABLE": "sessions",
        "MAINTENANCE_SESSIONS_EXPIRED_DAYS": "30",
        "MAINTENANCE_AUDIT_TABLE": "audit_logs",
        "MAINTENANCE_AUDIT_ARCHIVE_TABLE": "audit_logs_archive",
        "MAINTENANCE_AUDIT_DAYS": "365",
    }
    assert not set(variables["writer"]) & set(secrets["writer"]), "a name is both a variable and a secret"


def test_the_role_arns_are_wired_from_the_roles(production: Plan) -> None:
    variables = by_environment(production, VARIABLE, "variableName")
    for key, role_name in (("writer", "backup-writer"), ("reader", "backup-restore-test"), ("config", "backup-config")):
        reg = variables[key]["AWS_ROLE_ARN"]
        role = production.one(ROLE, role_name)
        assert role.urn in reg.property_dependencies["value"], f"{reg.urn} is not {role.urn}'s ARN"


def test_a_backup_subject_outside_the_infra_repository_is_refused() -> None:
    problem = only_problem(
        "production",
        lambda config: config["vibelog:backup"].__setitem__(
            "writerSubject", "repo:vibelog/vibelog:environment:production-backup"
        ),
    )
    assert problem.path == "vibelog:backup.writerSubject"
    assert "repo:vibelog/vibelog-infra:environment:<production-backup>" in problem.expected


def test_the_storage_credentials_are_required_secrets_of_a_stack_with_backups() -> None:
    config = stack_config("staging")
    secrets = json.loads(config.values["vibelog:secrets"])
    del secrets["supabaseStorageAccessKeyId"]
    values = {**config.values, "vibelog:secrets": json.dumps(secrets)}

    with pytest.raises(ConfigError) as raised:
        load_settings("staging", values, config.secret_keys)

    [problem] = raised.value.problems
    assert problem.path == "vibelog:secrets.supabaseStorageAccessKeyId"
    assert problem.missing_secret, "the offline plan stands a placeholder in for it and lists it as lacking"
    assert "--secret" in problem.fix


def test_a_job_environment_name_both_secret_and_variable_is_refused() -> None:
    from components.backup_jobs import BackupJobsArgs, JobEnvironment  # noqa: PLC0415 - the args alone, no plan

    reader = JobEnvironment("staging-restore-test", {"STACK": "staging"}, {"SLACK_WEBHOOK": "x"})
    maintenance = JobEnvironment("staging-maintenance", {"STACK": "staging"}, {"SLACK_WEBHOOK": "x"})
    config = JobEnvironment("staging-config-backup", {"STACK": "staging"}, {"SLACK_WEBHOOK": "x"})
    writer = JobEnvironment("staging-backup", {"SLACK_WEBHOOK": "x"}, {"slack_webhook": "y"})
    with pytest.raises(ValueError, match="'SLACK_WEBHOOK' is both a secret and a variable"):
        BackupJobsArgs("vibelog-infra", writer, reader, maintenance, config)
