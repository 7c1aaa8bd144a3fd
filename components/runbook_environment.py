"""The runbook workflows' GitHub environment: the decision makers approve each run, and it holds what runs read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_github as github

from components.aws_iam import trust_policy
from components.deploy_scope import runbook_role_name
from components.github_environment import environment_problems, environment_secrets, environment_variables
from settings.runbooks import RunbookSettings
from settings.stack import StackSettings


@dataclass(frozen=True)
class RunbookEnvironmentArgs:
    """`<stack>-runbooks` in this infra repository, its approvers and what its jobs receive."""

    repository: str
    """This infrastructure repository (under the GitHub provider's owner), where the runbook workflows live."""
    environment: str
    """The environment's name (`<stack>-runbooks`, as the workflows name it)."""
    reviewer_users: Sequence[int] = ()
    """GitHub user ids of the decision makers."""
    reviewer_teams: Sequence[int] = ()
    """GitHub team ids of the decision makers."""
    variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Non-secret values (vars.NAME): ids of the project, Edge Config store, health check; the approval window."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Tokens and webhooks (secrets.NAME), made Pulumi secrets end to end."""

    def __post_init__(self) -> None:
        problems = environment_problems(self.variables, self.secrets)
        if not (self.reviewer_users or self.reviewer_teams):
            # The settings refuse this first (vibelog:runbooks.reviewers); a component built by hand is checked too.
            problems.append("a runbook environment needs reviewers: an unapproved run could roll production back")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        runbooks: RunbookSettings,
        *,
        vercel_project_id: pulumi.Input[str],
        vercel_org_id: pulumi.Input[str],
        edge_config_id: pulumi.Input[str],
        aws_role_arn: pulumi.Input[str],
        health_check_id: pulumi.Input[str] | None = None,
        database_bucket: pulumi.Input[str] | None = None,
    ) -> RunbookEnvironmentArgs:
        """The environment of the stack these settings describe; ids come from the resources that have them."""
        variables: dict[str, pulumi.Input[str]] = {
            "STACK": settings.environment,
            "APP_URL": settings.app_url,
            "VERCEL_ORG_ID": vercel_org_id,
            "VERCEL_PROJECT_ID": vercel_project_id,
            "EDGE_CONFIG_ID": edge_config_id,
            "APPROVAL_MINUTES": str(runbooks.approval_minutes),
            "AWS_ROLE_ARN": aws_role_arn,
        }
        run_secrets: dict[str, pulumi.Input[str]] = {
            "VERCEL_TOKEN": settings.secret("vercel_deploy_token").get_secret_value(),
            "STATUS_PAGE_WEBHOOK": settings.secret("status_page_webhook").get_secret_value(),
            "SLACK_WEBHOOK": settings.secret("slack_webhook").get_secret_value(),
            "RUNBOOK_GITHUB_TOKEN": settings.secret("runbook_github_token").get_secret_value(),
        }
        if health_check_id is not None:
            variables["HEALTH_CHECK_ID"] = health_check_id
        backup = settings.backup
        if database_bucket is not None and backup is not None:
            variables["BACKUP_DATABASE_BUCKET"] = database_bucket
            variables["BACKUP_VAULT_REGION"] = backup.region
            variables["POSTGRES_MAJOR"] = str(backup.postgres_major)
            # The database-corruption runbook restores over this database (the direct URL: pg_restore's session).
            run_secrets["RESTORE_TARGET_URL"] = settings.secrets.direct_url.get_secret_value()
        return cls(
            repository=settings.github_repository("infra").name,
            environment=settings.runbook_environment,
            reviewer_users=tuple(runbooks.reviewers.users),
            reviewer_teams=tuple(runbooks.reviewers.teams),
            variables=variables,
            secrets=run_secrets,
        )


class RunbookEnvironment(pulumi.ComponentResource):
    """`<stack>-runbooks`: every runbook job waits here for a decision maker other than whoever started it.

    Declared rather than left to GitHub: a workflow naming a missing environment makes GitHub create it with no
    reviewers, and the rollback would then run unapproved.
    """

    environment: pulumi.Output[str]
    """Name of the environment."""

    def __init__(self, name: str, args: RunbookEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:runbooks:RunbookEnvironment", name, None, opts)
        reviewers: list[github.RepositoryEnvironmentReviewerArgsDict] = [
            {"users": list(args.reviewer_users), "teams": list(args.reviewer_teams)}
        ]
        self.github_environment = github.RepositoryEnvironment(
            name,
            repository=args.repository,
            environment=args.environment,
            reviewers=reviewers,
            # No wait timer: the reference wants approval within 5 minutes, not a delay after it.
            wait_timer=0,
            # Whoever starts a runbook cannot approve it. True only with reviewers: the provider sends the flag on
            # every create and update, and GitHub answers 422 to true without them
            # (integrations/terraform-provider-github github/resource_github_repository_environment.go,
            # createUpdateEnvironmentData); the reviewers above are never empty (RunbookEnvironmentArgs).
            prevent_self_review=True,
            # The settings require a plan with protection rules here, so the bypass switch exists and is off.
            can_admins_bypass=False,
            # Runbooks run main's reviewed workflow definitions only, never a branch's edited copy.
            deployment_branch_policy={"protected_branches": True, "custom_branch_policies": False},
            # Delete-first: a replacement must never create first under the old name (policy/lifecycle.py).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.variables = environment_variables(
            name, args.repository, self.github_environment.environment, args.variables, self
        )
        self.secrets = environment_secrets(
            name, args.repository, self.github_environment.environment, args.secrets, self
        )
        self.environment = self.github_environment.environment
        self.register_outputs({"environment": self.environment})


@dataclass(frozen=True)
class RunbookRoleArgs:
    """The AWS role the runbook jobs assume: read the health check's state and the database backups, nothing else."""

    environment: str
    """The stack's environment (the role's name says whose it is, and the deploy role's scope matches it)."""
    subject: str
    """OIDC subject of the runbooks' environment (`repo:...:environment:<stack>-runbooks`), the only one trusted."""
    provider_arn: pulumi.Input[str]
    """The account's GitHub OIDC provider (its output, so the role waits for the provider it trusts)."""
    database_bucket_arn: pulumi.Input[str] | None = None
    """The vault's database bucket, when the stack has one (the database-corruption runbook restores from it)."""
    vault_key_arn: pulumi.Input[str] | None = None
    """The vault's KMS key, which the dumps are encrypted with."""
    vault_region: str | None = None
    """The vault's region (the key is usable only through S3 there)."""
    oidc_provider: pulumi.Resource | None = None
    """The OIDC provider resource when this stack declares it: the role waits for the provider it trusts."""


class RunbookRole(pulumi.ComponentResource):
    """What the runbook jobs read in AWS; every change they cause goes through Vercel, Edge Config or a pull request."""

    arn: pulumi.Output[str]
    """ARN of the role (the environment's AWS_ROLE_ARN)."""

    def __init__(self, name: str, args: RunbookRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:runbooks:RunbookRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(
            name,
            name=runbook_role_name(args.environment),
            description=f"Runbook jobs (docs/runbooks.md), from {args.subject} only: read health and backups",
            assume_role_policy=pulumi.Output.from_input(args.provider_arn).apply(
                lambda arn: trust_policy(arn, [args.subject])
            ),
            max_session_duration=14400,  # the database restore's 4 hours (the reference's RTO for the database)
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[args.oidc_provider] if args.oidc_provider is not None else None
            ),
        )
        statements: list[dict[str, Any]] = [
            # CloudWatch has no resource-level permission for reading metrics: the action alone is the limit.
            {"Sid": "ReadHealthCheckState", "Effect": "Allow", "Action": ["cloudwatch:GetMetricStatistics"],
             "Resource": ["*"]},
        ]  # fmt: skip
        if args.database_bucket_arn is not None and args.vault_key_arn is not None and args.vault_region:
            # No s3:ListBucket: the restore heads and gets the one key it is given (a missing key then reads as
            # 403, not 404).
            statements += [
                # Versions: a restore reads the dump's version its manifest names (ops/vault.py manifest_of).
                {"Sid": "ListBackups", "Effect": "Allow", "Action": ["s3:ListBucketVersions"],
                 "Resource": [args.database_bucket_arn]},
                {"Sid": "ReadBackups", "Effect": "Allow", "Action": ["s3:GetObjectVersion"],
                 "Resource": [pulumi.Output.concat(args.database_bucket_arn, "/*")]},
                {"Sid": "DecryptBackups", "Effect": "Allow", "Action": ["kms:Decrypt"],
                 "Resource": [args.vault_key_arn],
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{args.vault_region}.amazonaws.com"}}},
            ]  # fmt: skip
        self.policy = aws.iam.RolePolicy(
            f"{name}-read",
            role=self.role.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            opts=child,
        )
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})
