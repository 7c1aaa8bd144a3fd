"""Explicit providers for a stack: every resource names the account, team and region it lives in."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_github as github
import pulumi_pagerduty as pagerduty
import pulumi_random as random
import pulumiverse_vercel as vercel

from settings.stack import StackSettings

IMPORT_IGNORES = ("tags", "tagsAll")
"""What an AWS resource's import step leaves alone: the providers' default tags are merged into `tags`, so an
imported object's inputs never match its tags (pulumi/pulumi-aws#5284, open); Pulumi's documented remedy for inputs
that differ from the imported state is `ignoreChanges` on them for that step. The next `up` applies the tags."""


def ignore_tags_while_adopting() -> None:
    """Bootstrap phase `adopt`: every AWS resource ignores tag changes, so the `up` that follows `pulumi import`
    (docs/adopting.md) changes no tag on what it adopted; phase `complete` then tags everything."""

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("aws:"):
            return None
        ignored = [*(args.opts.ignore_changes or []), *IMPORT_IGNORES]
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(ignore_changes=ignored))
        )

    pulumi.runtime.register_stack_transformation(transformation)


class Providers:
    """The stack's providers, made on first use so a stack without AWS or GitHub resources declares none."""

    def __init__(self, settings: StackSettings) -> None:
        self._settings = settings
        self._vercel: vercel.Provider | None = None
        self._github: github.Provider | None = None
        self._random: random.Provider | None = None
        self._aws: dict[str, aws.Provider] = {}
        self._pagerduty: pagerduty.Provider | None = None

    @classmethod
    def for_stack(cls, settings: StackSettings) -> Providers:
        """The providers of the stack these settings describe."""
        return cls(settings)

    @property
    def vercel(self) -> vercel.Provider:
        """Vercel, scoped to the stack's team; the API token comes from VERCEL_API_TOKEN."""
        if self._vercel is None:
            self._vercel = vercel.Provider("vercel", team=self._settings.vercel_team)
        return self._vercel

    @property
    def github(self) -> github.Provider:
        """GitHub, scoped to the owner of the repositories; the token comes from GITHUB_TOKEN."""
        if self._github is None:
            owner = self._settings.github_owner
            if owner is None:
                raise ValueError("github:owner is required by a stack that declares GitHub resources")
            self._github = github.Provider("github", owner=owner)
        return self._github

    @property
    def random(self) -> random.Provider:
        """Randomness for the secrets the program generates; no account, but default providers are disabled."""
        if self._random is None:
            self._random = random.Provider("random")
        return self._random

    @property
    def pagerduty(self) -> pagerduty.Provider:
        """PagerDuty, with the stack's API token (vibelog:secrets.pagerdutyToken), secret in the state too."""
        if self._pagerduty is None:
            token = self._settings.secret("pagerduty_token").get_secret_value()
            self._pagerduty = pagerduty.Provider("pagerduty", token=pulumi.Output.secret(token))
        return self._pagerduty

    def aws(self, region: str | None = None) -> aws.Provider:
        """AWS in one region (the stack's primary region by default), pinned to the stack's account."""
        region = region or self._settings.primary_region
        if region not in self._aws:
            name = "aws" if region == self._settings.aws_region else f"aws-{region}"
            self._aws[region] = aws.Provider(
                name,
                region=region,
                allowed_account_ids=[self._settings.aws_account_id],
                default_tags={"tags": {"project": "vibelog", "environment": self._settings.environment}},
            )
        return self._aws[region]

    @staticmethod
    def opts(*providers: pulumi.ProviderResource) -> pulumi.ResourceOptions:
        """Options that hand a component the providers its children use."""
        return pulumi.ResourceOptions(providers=list(providers))
