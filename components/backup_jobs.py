"""The GitHub environments the scheduled backup and maintenance jobs run in: protected, declared, holding what the
jobs read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_github as github

from components.github_environment import environment_problems, environment_secrets, environment_variables
from settings.backup import BackupSettings
from settings.maintenance import MAINTENANCE_ENVIRONMENT_SUFFIX
from settings.stack import StackSettings

# Supabase Storage's S3-compatible API lives under the project's URL.
SUPABASE_STORAGE_S3_PATH = "/storage/v1/s3"


@dataclass(frozen=True)
class JobEnvironment:
    """One environment of the infra repository and what its jobs receive."""

    name: str
    """The environment's name; the role's OIDC subject names it."""
    variables: Mapping[str, pulumi.Input[str]]
    """Non-secret values (vars.NAME): the role to assume, the region, the buckets."""
    secrets: Mapping[str, pulumi.Input[str]]
    """Credentials of the sources and of Slack (secrets.NAME), made Pulumi secrets end to end."""


@dataclass(frozen=True)
class BackupJobsArgs:
    """The environments of the scheduled jobs: the backup writer's, the restore test's and the maintenance's."""

    repository: str
    """This infrastructure repository (under the GitHub provider's owner), where the workflows live."""
    writer: JobEnvironment
    """`<stack>-backup`: the dump and upload jobs, trusted by the writer role."""
    reader: JobEnvironment
    """`<stack>-restore-test`: the weekly restore test, trusted by the read-only role."""
    maintenance: JobEnvironment
    """`<stack>-maintenance`: the weekly database maintenance. Apart from the writer's: it deletes rows, needs no AWS
    role (no role trusts it, so its token cannot write the vault), and the dump's environment stays read-only on the
    database."""
    config: JobEnvironment
    """`<stack>-config-backup`: the daily configuration backup, trusted by the vault's config role; it alone holds a
    Vercel token among the backup environments."""
    admins_bypass: bool = False
    """Whether admins may skip the environments' rules: true only where the GitHub plan has no protection rules
    (GitHub then keeps its default, and declaring false would plan an update on every run)."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for environment in (self.writer, self.reader, self.maintenance, self.config):
            problems += environment_problems(environment.variables, environment.secrets)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        backup: BackupSettings,
        *,
        writer_role_arn: pulumi.Input[str],
        reader_role_arn: pulumi.Input[str],
        database_bucket: pulumi.Input[str],
        uploads_bucket: pulumi.Input[str],
        uploads_backup_bucket: pulumi.Input[str],
        config_role_arn: pulumi.Input[str],
        config_key_arn: pulumi.Input[str],
        vercel_project_id: pulumi.Input[str],
        vercel_org_id: pulumi.Input[str],
    ) -> BackupJobsArgs:
        """The environments for the stack these settings describe; ARNs and bucket names come from the vault."""
        yearly = backup.yearly.transitions
        # The yearly copy is written straight into its cold class when the lifecycle would move it on day 0.
        yearly_class = yearly[0].storage_class if yearly and yearly[0].days == 0 else "STANDARD"
        common = {
            "STACK": settings.environment,
            "BACKUP_VAULT_REGION": backup.region,
            "BACKUP_DATABASE_BUCKET": database_bucket,
            "POSTGRES_MAJOR": str(backup.postgres_major),
        }
        slack = settings.secret("slack_webhook").get_secret_value()
        maintenance = backup.maintenance
        return cls(
            repository=settings.github_repository("infra").name,
            admins_bypass=settings.ci is not None and "protection_rules" not in settings.github_features("infra"),
            writer=JobEnvironment(
                backup.writer_environment,
                {
                    **common,
                    "AWS_ROLE_ARN": writer_role_arn,
                    "BACKUP_YEARLY_STORAGE_CLASS": yearly_class,
                    "BACKUP_UPLOADS_BUCKET": uploads_bucket,
                    "BACKUP_UPLOADS_REGION": settings.primary_region,
                    "BACKUP_UPLOADS_RETENTION_DAYS": str(backup.uploads.retention_days),
                    "SUPABASE_STORAGE_ENDPOINT": settings.supabase.url.rstrip("/") + SUPABASE_STORAGE_S3_PATH,
                    "SUPABASE_STORAGE_REGION": backup.supabase_region,
                },
                {
                    # The direct (not pooled) URL: pg_dump's exported snapshot needs one session throughout.
                    "BACKUP_DATABASE_URL": settings.secrets.direct_url.get_secret_value(),
                    "SUPABASE_STORAGE_ACCESS_KEY_ID": settings.secret(
                        "supabase_storage_access_key_id"
                    ).get_secret_value(),
                    "SUPABASE_STORAGE_SECRET_ACCESS_KEY": settings.secret(
                        "supabase_storage_secret_access_key"
                    ).get_secret_value(),
                    "SLACK_WEBHOOK": slack,
                },
            ),
            reader=JobEnvironment(
                backup.reader_environment,
                {
                    **common,
                    "AWS_ROLE_ARN": reader_role_arn,
                    "BACKUP_UPLOADS_BACKUP_BUCKET": uploads_backup_bucket,
                    # uploads-check restores its sample there, under its scratch prefix.
                    "BACKUP_UPLOADS_BUCKET": uploads_bucket,
                    "BACKUP_UPLOADS_REGION": settings.primary_region,
                    "RTO_MINUTES": str(backup.recovery_objectives.database.rto_minutes),
                    "RESTORE_MAX_DROP_PERCENT": str(backup.restore_test_max_drop.percent),
                    "RESTORE_MIN_DROP_ROWS": str(backup.restore_test_max_drop.min_rows),
                },
                {"SLACK_WEBHOOK": slack},
            ),
            maintenance=JobEnvironment(
                f"{settings.environment}{MAINTENANCE_ENVIRONMENT_SUFFIX}",
                {
                    "STACK": settings.environment,
                    "MAINTENANCE_INDEX": maintenance.index,
                    "MAINTENANCE_SESSIONS_TABLE": maintenance.sessions_table,
                    "MAINTENANCE_SESSIONS_EXPIRED_DAYS": str(maintenance.sessions_expired_days),
                    "MAINTENANCE_AUDIT_TABLE": maintenance.audit_table,
                    "MAINTENANCE_AUDIT_ARCHIVE_TABLE": maintenance.audit_archive_table,
                    "MAINTENANCE_AUDIT_DAYS": str(maintenance.audit_days),
                },
                # The direct URL: REINDEX CONCURRENTLY and the session's timeouts need one session throughout,
                # which a transaction-mode pooler does not keep.
                {"MAINTENANCE_DATABASE_URL": settings.secrets.direct_url.get_secret_value(), "SLACK_WEBHOOK": slack},
            ),
            config=JobEnvironment(
                settings.config_backup_environment,
                {
                    "STACK": settings.environment,
                    "BACKUP_VAULT_REGION": backup.region,
                    "BACKUP_DATABASE_BUCKET": database_bucket,
                    "AWS_ROLE_ARN": config_role_arn,
                    # The primary key, in the stack's region (components/config_secrets.py).
                    "CONFIG_KMS_KEY_ARN": config_key_arn,
                    "CONFIG_KMS_REGION": settings.primary_region,
                    "VERCEL_ORG_ID": vercel_org_id,
                    "VERCEL_PROJECT_ID": vercel_project_id,
                },
                # The deploy token the CI environment holds: the job lists the project's variables and reads the
                # values the API returns (never written in plaintext: ops encrypts each with the key above).
                {"VERCEL_TOKEN": settings.secret("vercel_deploy_token").get_secret_value(), "SLACK_WEBHOOK": slack},
            ),
        )


class BackupJobs(pulumi.ComponentResource):
    """`<stack>-backup`, `<stack>-restore-test`, `<stack>-maintenance` and `<stack>-config-backup` in the infra
    repository, owned by the stack that owns the roles.

    A workflow naming an environment that does not exist makes GitHub create it, unprotected: any branch could
    then assume the roles that trust it. Declared here, each deploys only from protected branches.
    """

    writer_environment: pulumi.Output[str]
    """Name of the writer's environment."""
    reader_environment: pulumi.Output[str]
    """Name of the restore test's environment."""
    maintenance_environment: pulumi.Output[str]
    """Name of the maintenance's environment."""
    config_environment: pulumi.Output[str]
    """Name of the configuration backup's environment."""

    def __init__(self, name: str, args: BackupJobsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:backup:BackupJobs", name, None, opts)
        self.environments: list[github.RepositoryEnvironment] = []
        self.variables: list[github.ActionsEnvironmentVariable] = []
        self.secrets: list[github.ActionsEnvironmentSecret] = []
        jobs = (
            ("writer", args.writer),
            ("reader", args.reader),
            ("maintenance", args.maintenance),
            ("config", args.config),
        )
        for key, job in jobs:
            # No reviewers and no wait timer: a scheduled job cannot wait for an approval; the review that merged
            # it into the protected branch is its approval. prevent_self_review is left unset: the provider sends
            # it on every create and update, and GitHub answers 422 when it is set on an environment without
            # reviewers (integrations/terraform-provider-github,
            # github/resource_github_repository_environment.go, createUpdateEnvironmentData).
            environment = github.RepositoryEnvironment(
                f"{name}-{key}",
                repository=args.repository,
                environment=job.name,
                can_admins_bypass=args.admins_bypass,
                # Only protected branches (main, merged through its checks) run the jobs: a feature branch that
                # names the environment is refused before it can ask for a token.
                deployment_branch_policy={"protected_branches": True, "custom_branch_policies": False},
                # Delete-first: a replacement must never create first under the old name (policy/lifecycle.py).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            self.environments.append(environment)
            self.variables += environment_variables(
                f"{name}-{key}", args.repository, environment.environment, job.variables, self
            )
            self.secrets += environment_secrets(
                f"{name}-{key}", args.repository, environment.environment, job.secrets, self
            )
        self.writer_environment = self.environments[0].environment
        self.reader_environment = self.environments[1].environment
        self.maintenance_environment = self.environments[2].environment
        self.config_environment = self.environments[3].environment
        self.register_outputs(
            {
                "writer_environment": self.writer_environment,
                "reader_environment": self.reader_environment,
                "maintenance_environment": self.maintenance_environment,
                "config_environment": self.config_environment,
            }
        )
