"""AWS access for this repository's GitHub Actions through OIDC: no long-lived AWS keys in any GitHub secret."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_iam import oidc_provider_arn, trust_policy
from components.backup_vault import BackupVaultArgs
from components.deploy_scope import (
    PREVIEW_ROLE_NAME,
    READ_ONLY_POLICY_ARN,
    DeployScope,
    boundary_policy,
    bounded_role_names,
    config_decrypt,
    deploy_boundary_arn,
    deploy_boundary_name,
    deploy_role_name,
    no_decrypt_but_config,
    protected_role_names,
)
from components.dns_failover import (
    degraded_bucket_name,
)
from components.providers import IMPORT_IGNORES
from settings.ci import INFRA_MAIN_BRANCH, CiSettings
from settings.github_oidc import GITHUB_OIDC_URL, STS_AUDIENCE, GithubRepository, oidc_subject
from settings.secrets_provider import ALIAS_PATTERN
from settings.stack import StackSettings

# ReadOnlyAccess also reads data (backup objects, secrets); a preview only needs the shape of the resources, and
# anyone who can open a pull request in the infra repository can run one. The degraded-mode page is the exception:
# it is public content, and the refresh of its BucketObject reads it (s3:GetObject), so its buckets stay readable.
DATA_READ_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
)


def preview_data_deny(account_id: str, public_zone: str | None) -> dict[str, Any]:
    """The preview role reads no data, except the degraded-mode pages (public content its refresh reads), and
    decrypts with no key but the stacks' config keys (their secrets provider: a preview decrypts the stack's
    config, as it did with the backend's own provider)."""
    deny: dict[str, Any] = {"Sid": "NoDataReads", "Effect": "Deny", "Action": list(DATA_READ_ACTIONS)}
    if public_zone is None:
        deny["Resource"] = "*"
    else:
        # The page buckets of the zone and of every zone below it (staging.vibelog.io's stack names its own so).
        page = degraded_bucket_name(public_zone, "*", account_id)
        deny["NotResource"] = [f"arn:aws:s3:::{page}/*", f"arn:aws:s3:::*-{page}/*"]
    return {"Version": "2012-10-17", "Statement": [deny, no_decrypt_but_config("NoOtherKeys")]}


# How long a deploy's credentials may last: a production `up` that creates or replaces a CloudFront distribution
# waits for it to deploy (up to ~30 min) after ACM's DNS validation (the provider waits up to 75 min), so the deploy
# jobs run up to 120 minutes and ask for this much (.github/workflows/deploy.yml); a preview only reads, and its
# jobs stop after 30 minutes, inside STS's default hour.
DEPLOY_SESSION_SECONDS = 7200
PREVIEW_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class CiAwsAccessArgs:
    """Who in GitHub Actions may act in the AWS account, and with which rights."""

    account_id: str
    """The AWS account (the stack's aws:allowedAccountIds)."""
    infra_repository: GithubRepository
    """This infrastructure repository (and its subject form): the only repository whose workflows are trusted."""
    environment: str
    """The infra repository's GitHub environment whose jobs may assume the deploy role."""
    owns_provider: bool
    """Whether this stack owns the account's OIDC provider and the read-only preview role (one stack only)."""
    scope: DeployScope
    """What the deploy role may manage."""
    import_provider: str | None = None
    """ARN of an existing OIDC provider to adopt rather than create (owning stack only)."""
    public_zone: str | None = None
    """The owning stack's zone: the preview role may read the degraded-mode pages of it and its subzones."""
    preview_branch: str = INFRA_MAIN_BRANCH
    """Branch whose scheduled drift check may assume the preview role, besides pull requests."""
    permissions_boundary: pulumi.Input[str] | None = None
    """ARN of the deploy boundary (DeployBoundary), which the preview role carries: the deploy role may change it."""

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        ci: CiSettings,
        scope: DeployScope,
        permissions_boundary: pulumi.Input[str] | None = None,
    ) -> CiAwsAccessArgs:
        """The args for the stack these settings describe, whose CI section is `ci`."""
        return cls(
            permissions_boundary=permissions_boundary,
            account_id=settings.aws_account_id,
            infra_repository=settings.github_repository("infra"),
            environment=ci.environment_name,
            owns_provider=ci.owns_oidc_provider,
            scope=scope,
            import_provider=ci.import_oidc_provider,
            public_zone=settings.dns.zone if settings.dns is not None else None,
        )

    @property
    def deploy_subject(self) -> str:
        """The token subject of a job that runs in the protected environment, after its approval."""
        return oidc_subject(self.infra_repository, environment=self.environment)

    @property
    def preview_subjects(self) -> tuple[str, ...]:
        """Token subjects of pull requests of this repository and of the scheduled drift check on its main branch."""
        return (
            oidc_subject(self.infra_repository, pull_request=True),
            oidc_subject(self.infra_repository, branch=self.preview_branch),
        )


class CiAwsAccess(pulumi.ComponentResource):
    """The deploy role of one environment, and (in the owning stack) the account's OIDC provider and preview role."""

    provider_arn: pulumi.Output[str]
    """ARN of the account's GitHub OIDC provider."""
    deploy_role_arn: pulumi.Output[str]
    """ARN of the role `pulumi up` of this stack runs with."""
    preview_role_arn: pulumi.Output[str] | None
    """ARN of the read-only role of `pulumi preview`; None in stacks that do not own it."""

    def __init__(self, name: str, args: CiAwsAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:ci:CiAwsAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.provider: aws.iam.OpenIdConnectProvider | None = None
        if args.owns_provider:
            # One per account and issuer: every CI role of every stack trusts it, so it is never replaced by accident.
            # No thumbprint: AWS validates GitHub's certificate through its own trusted CAs. An account that already
            # has it adopts it (`import_`, by ARN: hashicorp/terraform-provider-aws
            # internal/service/iam/openid_connect_provider.go sets the resource id to the ARN); the engine then
            # requires url and client ids to match what exists, and treats the option as a no-op on later runs.
            self.provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                # Its import step leaves tags alone (IMPORT_IGNORES: pulumi/pulumi-aws#5284); remove
                # importOidcProvider after the import and the next `up` tags it.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=True,
                    import_=args.import_provider,
                    ignore_changes=list(IMPORT_IGNORES) if args.import_provider else None,
                ),
            )
            provider_arn = pulumi.Output.from_input(oidc_provider_arn(args.account_id))
        else:
            # Owned by another stack: looked up, so this stack's preview fails ("not found") before anything is
            # registered when the owning stack has not created or imported it yet, and the roles wait for it.
            provider_arn = aws.iam.get_open_id_connect_provider_output(
                arn=oidc_provider_arn(args.account_id), opts=pulumi.InvokeOptions(parent=self)
            ).arn
        # IAM refuses a trust naming a federated principal that does not exist: in the owning stack, wait for it.
        role_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.provider] if self.provider else [])

        self.deploy_role = aws.iam.Role(
            f"{name}-deploy",
            name=deploy_role_name(args.environment),
            description=f"pulumi up of the {args.environment} stack, from {args.deploy_subject} only",
            assume_role_policy=provider_arn.apply(lambda arn: trust_policy(arn, [args.deploy_subject])),
            max_session_duration=DEPLOY_SESSION_SECONDS,
            opts=role_opts,
        )
        # The deploy role's rights, one document per source: names (known in a preview) and the zone's AWS id.
        self.deploy_policy = aws.iam.RolePolicy(
            f"{name}-deploy-scope",
            role=self.deploy_role.name,
            name="stack-scope",
            policy=json.dumps(args.scope.static_policy()),
            opts=child,
        )
        self.deploy_zone_policy: aws.iam.RolePolicy | None = None
        if args.scope.zone_arn is not None:
            self.deploy_zone_policy = aws.iam.RolePolicy(
                f"{name}-deploy-zone",
                role=self.deploy_role.name,
                name="stack-zone",
                policy=pulumi.Output.from_input(args.scope.zone_arn).apply(args.scope.zone_policy),
                opts=child,
            )
        self.preview_role: aws.iam.Role | None = None
        if args.owns_provider:
            self.preview_role = aws.iam.Role(
                f"{name}-preview",
                name=PREVIEW_ROLE_NAME,
                description=(
                    f"read-only pulumi preview of {args.infra_repository.full_name} pull requests and drift checks"
                ),
                assume_role_policy=provider_arn.apply(lambda arn: trust_policy(arn, args.preview_subjects)),
                max_session_duration=PREVIEW_SESSION_SECONDS,
                permissions_boundary=args.permissions_boundary,
                opts=role_opts,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-preview-read-only",
                role=self.preview_role.name,
                policy_arn=READ_ONLY_POLICY_ARN,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-preview-deny-data",
                role=self.preview_role.name,
                policy=json.dumps(preview_data_deny(args.account_id, args.public_zone)),
                opts=child,
            )
            # Every stack's config key: the preview role previews them all (ReadOnlyAccess grants no Decrypt).
            aws.iam.RolePolicy(
                f"{name}-preview-config-secrets",
                role=self.preview_role.name,
                name="config-secrets",
                policy=json.dumps(
                    {"Version": "2012-10-17", "Statement": [config_decrypt(args.account_id, ALIAS_PATTERN)]}
                ),
                opts=child,
            )

        self.provider_arn = provider_arn
        self.deploy_role_arn = self.deploy_role.arn
        self.preview_role_arn = self.preview_role.arn if self.preview_role is not None else None
        self.register_outputs(
            {
                "provider_arn": self.provider_arn,
                "deploy_role_arn": self.deploy_role_arn,
                "preview_role_arn": self.preview_role_arn,
            }
        )


@dataclass(frozen=True)
class DeployBoundaryArgs:
    """The permissions boundary of the roles a stack's deploy role may create or change."""

    account_id: str
    """The stack's AWS account."""
    environment: str
    """The stack's environment (the policy's name says whose it is)."""
    backup_buckets: tuple[str, ...]
    """The buckets holding backups: no bounded role touches their objects or their rules."""
    protected_roles: tuple[str, ...]
    """The roles that read or write backups: no bounded role assumes them."""
    replication_sources: tuple[str, ...] = ()
    """The live buckets the upload backups replicate from: no bounded role changes their replication or versioning."""

    @classmethod
    def of(cls, settings: StackSettings, backup: BackupVaultArgs | None) -> DeployBoundaryArgs | None:
        """The boundary of the stack these settings describe; None when its deploy role may create no role."""
        if settings.ci is None or not bounded_role_names(settings):
            return None
        return cls(
            account_id=settings.aws_account_id,
            environment=settings.environment,
            backup_buckets=backup.backup_bucket_names() if backup is not None else (),
            protected_roles=protected_role_names(settings, backup),
            replication_sources=(backup.uploads_bucket_name(),) if backup is not None else (),
        )


class DeployBoundary(pulumi.ComponentResource):
    """The managed policy every role the deploy role may create or change carries as its permissions boundary.

    Created before those roles (they take its ARN), and an administrator's alone: the deploy role reads it but may
    not edit it nor take it off a role (DeployScope), so no `up` from CI can give a role more than it allows.
    """

    arn: pulumi.Output[str]
    """ARN of the boundary policy."""

    def __init__(self, name: str, args: DeployBoundaryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:ci:DeployBoundary", name, None, opts)
        self.policy = aws.iam.Policy(
            name,
            name=deploy_boundary_name(args.environment),
            description=f"Permissions boundary of the roles the {args.environment} deploy role may create or change",
            policy=json.dumps(
                boundary_policy(args.account_id, args.backup_buckets, args.protected_roles, args.replication_sources)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Its ARN follows from its name, and the deploy role's conditions name it so: known in a preview, and derived
        # from the policy's URN so every role that carries it waits for the policy to exist.
        self.arn = self.policy.urn.apply(lambda _: deploy_boundary_arn(args.account_id, args.environment))
        self.register_outputs({"arn": self.arn})
