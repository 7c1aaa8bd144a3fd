"""A stack's GitHub deployment environment: approvals, the pipeline's secrets and variables, the rules on main."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_github as github

from components.github_environment import environment_problems, environment_secrets, environment_variables, slug
from settings.ci import INFRA_MAIN_BRANCH, CiSettings
from settings.credentials import credential_shape
from settings.github_names import names_problems
from settings.stack import StackSettings


@dataclass(frozen=True)
class BranchRules:
    """Protection of a repository's deploying branch."""

    branch: str
    """The branch (the app's Vercel production branch, or this repository's main)."""
    required_checks: Sequence[str]
    """Status checks that must pass, on an up-to-date branch, before a merge."""


@dataclass(frozen=True)
class CiEnvironmentArgs:
    """What one stack's deployment environment is made of."""

    app_repository: str
    """The app's repository name (under the GitHub provider's owner); its pipeline uses the environment."""
    infra_repository: str
    """This infrastructure repository's name; its own environment gates `pulumi up` of the stack."""
    environment: str
    """Name of the environment in both repositories."""
    reviewer_users: Sequence[int] = ()
    """GitHub user ids who may approve a deployment."""
    reviewer_teams: Sequence[int] = ()
    """GitHub team ids who may approve a deployment."""
    wait_timer: int = 0
    """Minutes a deployment waits before it starts."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The app pipeline's environment secrets; every value is made a Pulumi secret."""
    variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The app pipeline's non-secret environment variables (vars.NAME)."""
    infra_variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Variables of the infra repository's environment (the role its `pulumi up` assumes)."""
    infra_repository_variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Repository-wide variables of the infra repository (the preview role), set by the one stack owning them."""
    branch_rules: BranchRules | None = None
    """Protection of the app's production branch, when this stack owns it (one stack only)."""
    infra_branch_rules: BranchRules | None = None
    """Protection of this repository's main, when this stack owns it (the same stack as branch_rules)."""
    without_protection_rules: frozenset[str] = frozenset()
    """Repositories whose GitHub plan and visibility allow no reviewers, wait timer or admin-bypass switch."""

    def __post_init__(self) -> None:
        rules_wanted = self.reviewer_users or self.reviewer_teams or self.wait_timer
        if rules_wanted and self.without_protection_rules:
            # The settings refuse this first, at vibelog:ci.githubPlan; a component built by hand is checked too.
            raise ValueError(
                f"{', '.join(sorted(self.without_protection_rules))}: the GitHub plan allows no reviewers or wait timer"
            )
        problems = environment_problems(self.variables, self.secrets)
        problems += names_problems(self.infra_variables) + names_problems(self.infra_repository_variables)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        ci: CiSettings,
        *,
        vercel_project_id: pulumi.Input[str],
        vercel_org_id: pulumi.Input[str],
        deploy_role_arn: pulumi.Input[str],
        preview_role_arn: pulumi.Input[str] | None = None,
    ) -> CiEnvironmentArgs:
        """The args for the stack these settings describe; the Vercel ids and role ARNs come from the resources."""
        return cls(
            app_repository=settings.app.repository.split("/", 1)[1],
            infra_repository=ci.infra_repository,
            environment=ci.environment_name,
            reviewer_users=tuple(ci.reviewers.users),
            reviewer_teams=tuple(ci.reviewers.teams),
            wait_timer=ci.wait_timer,
            secrets={
                "VERCEL_TOKEN": settings.secret("vercel_deploy_token").get_secret_value(),
                "VERCEL_ORG_ID": vercel_org_id,
                "VERCEL_PROJECT_ID": vercel_project_id,
                "STATUS_PAGE_WEBHOOK": settings.secret("status_page_webhook").get_secret_value(),
                "SLACK_WEBHOOK": settings.secret("slack_webhook").get_secret_value(),
            },
            # The smoke tests' target (`pnpm test:smoke --url=...`), from the stack's domain rather than retyped. A
            # variable shaped like a credential fails the policy pack (ci-variables-not-credentials); until it is
            # moved, it is a secret to Pulumi, so no preview, diff or state shows it in the clear.
            variables={"APP_URL": settings.app_url, **{name: _masked(value) for name, value in ci.variables.items()}},
            infra_variables={"AWS_DEPLOY_ROLE_ARN": deploy_role_arn},
            infra_repository_variables={} if preview_role_arn is None else {"AWS_PREVIEW_ROLE_ARN": preview_role_arn},
            branch_rules=BranchRules(settings.app.production_branch, tuple(ci.required_checks))
            if ci.owns_branch_protection
            else None,
            infra_branch_rules=BranchRules(INFRA_MAIN_BRANCH, tuple(ci.infra_required_checks))
            if ci.owns_branch_protection
            else None,
            without_protection_rules=frozenset(
                settings.github_repository(which).name
                for which in ("app", "infra")
                if "protection_rules" not in settings.github_features(which)
            ),
        )


class CiEnvironment(pulumi.ComponentResource):
    """The `staging` or `production` environment of the app and infra repositories, and what the pipeline reads.

    Deployment credentials are environment secrets, so a job only receives them once the environment's rules
    (protected branch, reviewers) let it run.
    """

    environment: pulumi.Output[str]
    """Name of the environment."""

    def __init__(self, name: str, args: CiEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:ci:CiEnvironment", name, None, opts)
        reviewers: list[github.RepositoryEnvironmentReviewerArgsDict] = []
        if args.reviewer_users or args.reviewer_teams:
            reviewers.append({"users": list(args.reviewer_users), "teams": list(args.reviewer_teams)})

        def environment(suffix: str, repository: str) -> github.RepositoryEnvironment:
            rules = repository not in args.without_protection_rules
            return github.RepositoryEnvironment(
                f"{name}-{suffix}",
                repository=repository,
                environment=args.environment,
                reviewers=reviewers,
                wait_timer=args.wait_timer,
                # Whoever starts a deployment cannot approve it. The provider sends prevent_self_review on every
                # create and update (false when unset), and GitHub answers 422 to true without reviewers
                # (terraform-provider-github github/resource_github_repository_environment.go,
                # createUpdateEnvironmentData): it is true exactly when someone can review.
                prevent_self_review=bool(reviewers),
                # Admins cannot skip the rules either. Where the plan has no protection rules (Pro/Team private),
                # go-github resends only deployment_branch_policy after GitHub's 422 (repos_environments.go), so
                # GitHub keeps its default true: declaring false there would plan an update on every run.
                can_admins_bypass=not rules,
                # Only protected branches (main, merged through its required checks) deploy; never a feature branch.
                deployment_branch_policy={"protected_branches": True, "custom_branch_policies": False},
                # Delete-first: a replacement must never create first under the old name (policy/lifecycle.py).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )

        self.app_environment = environment("app", args.app_repository)
        self.infra_environment = environment("infra", args.infra_repository)

        self.secrets = environment_secrets(
            name, args.app_repository, self.app_environment.environment, args.secrets, self
        )
        self.variables = environment_variables(
            name, args.app_repository, self.app_environment.environment, args.variables, self
        ) + environment_variables(
            f"{name}-infra", args.infra_repository, self.infra_environment.environment, args.infra_variables, self
        )
        self.repository_variables = [
            github.ActionsVariable(
                f"{name}-infra-repo-var-{slug(variable_name)}",
                repository=args.infra_repository,
                variable_name=variable_name,
                value=value,
                # Delete-first: a replacement must never create first under the old name (policy/lifecycle.py).
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for variable_name, value in args.infra_repository_variables.items()
        ]

        def protection(resource_name: str, repository: str, rules: BranchRules) -> github.BranchProtection:
            # Merges only through a reviewed pull request whose checks passed on the up-to-date branch; nobody,
            # admins included, pushes, force-pushes or deletes. The environments' deployment branch policy
            # (protected branches only) needs this rule: without it, no branch of the repository could deploy.
            # A live repository's main is usually protected already, and createBranchProtectionRule refuses its
            # pattern ("Name already protected"), so the rule is adopted (docs/adopting.md). The importer stores
            # the repository's node id in repository_id (terraform-provider-github resource_github_branch_protection.go
            # resourceGithubBranchProtectionImport, getRepositoryID) where the program gives its name, and
            # repository_id is ForceNew: the `up` after the import would replace the rule create-first, and the
            # create fails on the pattern the old rule still holds. So repositoryId is ignored, and the repository
            # is in the resource's name instead: another repository is a new rule (created, then the old one
            # deleted: different keys), never an ignored change. The alias keeps a rule declared before this name.
            return github.BranchProtection(
                f"{resource_name}-{slug(repository)}",
                repository_id=repository,
                pattern=rules.branch,
                enforce_admins=True,
                allows_deletions=False,
                allows_force_pushes=False,
                required_status_checks=[{"strict": True, "contexts": list(rules.required_checks)}],
                required_pull_request_reviews=[{"required_approving_review_count": 1, "dismiss_stale_reviews": True}],
                opts=pulumi.ResourceOptions(
                    parent=self, ignore_changes=["repositoryId"], aliases=[pulumi.Alias(name=resource_name)]
                ),
            )

        self.branch_protection: github.BranchProtection | None = None
        if args.branch_rules is not None:
            self.branch_protection = protection(f"{name}-branch-protection", args.app_repository, args.branch_rules)
        self.infra_branch_protection: github.BranchProtection | None = None
        if args.infra_branch_rules is not None:
            self.infra_branch_protection = protection(
                f"{name}-infra-branch-protection", args.infra_repository, args.infra_branch_rules
            )

        self.environment = self.app_environment.environment
        self.register_outputs({"environment": self.environment})


def _masked(value: str) -> pulumi.Input[str]:
    """`value`, as a secret when it looks like a credential."""
    return pulumi.Output.secret(value) if credential_shape(value) else value
