"""The app repository's migration environments: who approves a migration or its rollback, and what the jobs read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_github as github

from components.github_environment import environment_problems, environment_secrets, environment_variables, slug
from settings.migrations import BACKUP_SUFFIX, MIGRATE_SUFFIX, ROLLBACK_SUFFIX, MigrationSettings
from settings.stack import StackSettings


@dataclass(frozen=True)
class MigrationEnvironment:
    """One environment of the app repository that .github/workflows/migrate.yml runs a job in."""

    name: str
    """`<stack>-migrate`, `<stack>-migrate-rollback` or `<stack>-pre-migration`."""
    reviewed: bool
    """Whether a job waits here for one of the reviewers (who cannot approve a run they started)."""
    variables: Mapping[str, pulumi.Input[str]]
    """Non-secret values (vars.NAME)."""
    secrets: Mapping[str, pulumi.Input[str]]
    """The database URL and the Slack webhook (secrets.NAME), made Pulumi secrets end to end."""


@dataclass(frozen=True)
class MigrationEnvironmentsArgs:
    """The migration environments of one stack in the app repository, and their reviewers."""

    repository: str
    """The app repository's name (under the GitHub provider's owner): the migrate workflow runs in its context."""
    environments: Sequence[MigrationEnvironment]
    """The environments, in the order the workflow's jobs reach them."""
    reviewer_users: Sequence[int] = ()
    """GitHub user ids of the reviewers."""
    reviewer_teams: Sequence[int] = ()
    """GitHub team ids of the reviewers."""
    admins_bypass: bool = False
    """Whether admins may skip the rules: true only where the GitHub plan has no protection rules (GitHub then keeps
    its default, and declaring false would plan an update on every run)."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for environment in self.environments:
            problems += environment_problems(environment.variables, environment.secrets)
            # The settings refuse this first (vibelog:migrations.reviewers); a component built by hand is checked too.
            if environment.reviewed and not (self.reviewer_users or self.reviewer_teams):
                problems.append(f"{environment.name} waits for a reviewer but names none: nobody could approve it")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        migrations: MigrationSettings,
        *,
        pre_migration_role_arn: pulumi.Input[str] | None = None,
        database_bucket: pulumi.Input[str] | None = None,
    ) -> MigrationEnvironmentsArgs:
        """The environments of the stack these settings describe; the role and bucket come from the vault."""
        slack = settings.secret("slack_webhook").get_secret_value()
        # The direct (not pooled) URL: a migration, like pg_dump, needs one session throughout (DIRECT_URL).
        database = settings.secrets.direct_url.get_secret_value()
        run = {"STACK": settings.environment}
        environments = [
            MigrationEnvironment(
                settings.migration_environment(MIGRATE_SUFFIX),
                migrations.apply_reviewed,
                run,
                {"MIGRATION_DATABASE_URL": database, "SLACK_WEBHOOK": slack},
            ),
            MigrationEnvironment(
                settings.migration_environment(ROLLBACK_SUFFIX),
                migrations.rollback_reviewed,
                run,
                {"MIGRATION_DATABASE_URL": database, "SLACK_WEBHOOK": slack},
            ),
        ]
        backup, token = settings.backup, settings.secrets.infra_read_token
        if migrations.pre_migration_backup and backup is not None:
            if pre_migration_role_arn is None or database_bucket is None:
                raise ValueError("a pre-migration dump needs the vault's pre-migration role and database bucket")
            environments.insert(
                0,
                MigrationEnvironment(
                    settings.migration_environment(BACKUP_SUFFIX),
                    False,  # the dump runs before the approval, so reviewers see that it exists
                    {
                        **run,
                        "AWS_ROLE_ARN": pre_migration_role_arn,
                        "BACKUP_VAULT_REGION": backup.region,
                        "BACKUP_DATABASE_BUCKET": database_bucket,
                        "POSTGRES_MAJOR": str(backup.postgres_major),
                        # The job checks this repository out to run `python -m ops dump`.
                        "INFRA_REPOSITORY": settings.github_repository("infra").full_name,
                    },
                    {"BACKUP_DATABASE_URL": database, "SLACK_WEBHOOK": slack}
                    | ({"INFRA_READ_TOKEN": token.get_secret_value()} if token is not None else {}),
                ),
            )
        return cls(
            repository=settings.github_repository("app").name,
            environments=tuple(environments),
            reviewer_users=tuple(migrations.reviewers.users),
            reviewer_teams=tuple(migrations.reviewers.teams),
            admins_bypass="protection_rules" not in settings.github_features("app"),
        )


class MigrationEnvironments(pulumi.ComponentResource):
    """`<stack>-migrate`, `<stack>-migrate-rollback` and, before them, `<stack>-pre-migration` in the app repository.

    Declared rather than left to GitHub: a workflow naming a missing environment makes GitHub create it with no
    reviewers, and a production migration would then run unreviewed.
    """

    environments: pulumi.Output[list[str]]
    """Names of the environments."""

    def __init__(self, name: str, args: MigrationEnvironmentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:migrations:MigrationEnvironments", name, None, opts)
        self.github_environments: list[github.RepositoryEnvironment] = []
        self.variables: list[github.ActionsEnvironmentVariable] = []
        self.secrets: list[github.ActionsEnvironmentSecret] = []
        for environment in args.environments:
            prefix = f"{name}-{slug(environment.name)}"
            reviewers: list[github.RepositoryEnvironmentReviewerArgsDict] = (
                [{"users": list(args.reviewer_users), "teams": list(args.reviewer_teams)}]
                if environment.reviewed
                else []
            )
            declared = github.RepositoryEnvironment(
                prefix,
                repository=args.repository,
                environment=environment.name,
                reviewers=reviewers,
                # No wait timer: the reviewers are the gate; a delay after their approval only holds the deploy up.
                wait_timer=0,
                # Whoever starts a migration cannot approve it: a two-person rollback is its starter and a reviewer.
                # True only with reviewers: GitHub answers 422 to true without them (terraform-provider-github
                # github/resource_github_repository_environment.go, createUpdateEnvironmentData).
                prevent_self_review=environment.reviewed,
                can_admins_bypass=args.admins_bypass,
                # Only protected branches (the app's main, merged through its checks) migrate; never a feature branch.
                deployment_branch_policy={"protected_branches": True, "custom_branch_policies": False},
                # Delete-first: a replacement must never create first under the old name (policy/lifecycle.py).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            self.github_environments.append(declared)
            self.variables += environment_variables(
                prefix, args.repository, declared.environment, environment.variables, self
            )
            self.secrets += environment_secrets(
                prefix, args.repository, declared.environment, environment.secrets, self
            )
        self.environments = pulumi.Output.all(*(env.environment for env in self.github_environments)).apply(list)
        self.register_outputs({"environments": self.environments})
