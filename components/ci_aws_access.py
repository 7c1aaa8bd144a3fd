"""AWS access for this repository's GitHub Actions through OIDC: no long-lived AWS keys in any GitHub secret."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from settings.github_oidc import GITHUB_OIDC_HOST, GITHUB_OIDC_URL, STS_AUDIENCE, GithubRepository, oidc_subject
from settings.stack import INFRA_MAIN_BRANCH, StackSettings

READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
PREVIEW_ROLE_NAME = "vibelog-infra-preview"

# ReadOnlyAccess also reads data (backup objects, secrets); a preview only needs the shape of the resources, and
# anyone who can open a pull request in the infra repository can run one.
DATA_READ_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
)


def oidc_provider_arn(account_id: str) -> str:
    """ARN of the account's GitHub OIDC provider; AWS derives it from the account and the issuer host."""
    return f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


def trust_policy(provider_arn: str, subjects: Sequence[str]) -> str:
    """A role trust that only GitHub tokens for STS with one of `subjects` satisfy (never the audience alone).

    Build each subject with `settings.github_oidc.oidc_subject`, so it has the form the repository's tokens carry.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": list(subjects),
                        }
                    },
                }
            ],
        }
    )


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
    deploy_policy_arns: Sequence[str]
    """Managed policies of the deploy role."""
    preview_branch: str = INFRA_MAIN_BRANCH
    """Branch whose scheduled drift check may assume the preview role, besides pull requests."""

    @classmethod
    def from_settings(cls, settings: StackSettings) -> CiAwsAccessArgs:
        """The args for the stack these settings describe (validated: CI enabled, owner and account set)."""
        ci = settings.ci
        if settings.aws_allowed_account_ids is None or settings.github_owner is None or ci.environment_name is None:
            raise ValueError("CI access needs aws:allowedAccountIds, github:owner and vibelog:ci.environmentName")
        return cls(
            account_id=settings.aws_allowed_account_ids[0],
            infra_repository=settings.github_repository("infra"),
            environment=ci.environment_name,
            owns_provider=ci.owns_oidc_provider,
            deploy_policy_arns=tuple(ci.deploy_policy_arns),
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
        provider_arn = oidc_provider_arn(args.account_id)
        after_provider: list[pulumi.Resource] = []
        self.provider: aws.iam.OpenIdConnectProvider | None = None
        if args.owns_provider:
            # One per account and issuer: every CI role of every stack trusts it, so it is never replaced by accident.
            # No thumbprint: AWS validates GitHub's certificate through its own trusted CAs.
            self.provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self, protect=True),
            )
            after_provider.append(self.provider)
        role_opts = pulumi.ResourceOptions(parent=self, depends_on=after_provider)

        self.deploy_role = aws.iam.Role(
            f"{name}-deploy",
            name=f"vibelog-{args.environment}-deploy",
            description=f"pulumi up of the {args.environment} stack, from {args.deploy_subject} only",
            assume_role_policy=trust_policy(provider_arn, [args.deploy_subject]),
            max_session_duration=3600,
            opts=role_opts,
        )
        for index, policy_arn in enumerate(args.deploy_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{name}-deploy-policy-{index}",
                role=self.deploy_role.name,
                policy_arn=policy_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.preview_role: aws.iam.Role | None = None
        if args.owns_provider:
            self.preview_role = aws.iam.Role(
                f"{name}-preview",
                name=PREVIEW_ROLE_NAME,
                description=(
                    f"read-only pulumi preview of {args.infra_repository.full_name} pull requests and drift checks"
                ),
                assume_role_policy=trust_policy(provider_arn, args.preview_subjects),
                max_session_duration=3600,
                opts=role_opts,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-preview-read-only",
                role=self.preview_role.name,
                policy_arn=READ_ONLY_POLICY_ARN,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.iam.RolePolicy(
                f"{name}-preview-deny-data",
                role=self.preview_role.name,
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Deny", "Action": list(DATA_READ_ACTIONS), "Resource": "*"}],
                    }
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.provider_arn = self.provider.arn if self.provider is not None else pulumi.Output.from_input(provider_arn)
        self.deploy_role_arn = self.deploy_role.arn
        self.preview_role_arn = self.preview_role.arn if self.preview_role is not None else None
        self.register_outputs(
            {
                "provider_arn": self.provider_arn,
                "deploy_role_arn": self.deploy_role_arn,
                "preview_role_arn": self.preview_role_arn,
            }
        )
