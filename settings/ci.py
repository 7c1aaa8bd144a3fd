"""The CI section: the stack's GitHub deployment environment and the repositories its protections apply to."""

from __future__ import annotations

import re

from pydantic import model_validator

from settings.base import ConfigModel, GithubId, config_path, setting
from settings.github_names import names_problems
from settings.github_oidc import GITHUB_OIDC_HOST, SubjectForm
from settings.github_plans import GithubPlan, Visibility

OIDC_PROVIDER_ARN_PATTERN = rf"^arn:aws:iam::[0-9]{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$"
# The reference pipeline's checks ("All tests passing (unit, E2E, visual)"), as the app's workflow names its jobs.
REFERENCE_CHECKS = ("Type check", "Lint", "Unit tests", "E2E tests", "Visual regression tests")
# This repository's gate, as GitHub names the checks of .github/workflows/pull-request.yml (a job's `name`, each
# matrix value expanded): what production requires on this repository's main.
INFRA_GATE_CHECKS = (
    "make test",
    "offline plan",
    "pulumi preview (development)",
    "pulumi preview (staging)",
    "pulumi preview (production)",
)
# The branch this repository deploys from (.github/workflows/deploy.yml runs on its pushes).
INFRA_MAIN_BRANCH = "main"
# Secrets and wired variables the CI environment always holds; config variables must not shadow them.
CI_SECRET_NAMES = ("VERCEL_TOKEN", "VERCEL_ORG_ID", "VERCEL_PROJECT_ID", "STATUS_PAGE_WEBHOOK", "SLACK_WEBHOOK")
CI_WIRED_VARIABLES = ("APP_URL",)
# CI secrets under vibelog:secrets that a stack with a CI environment must hold (SecretSettings field names).
CI_SECRET_FIELDS = ("vercel_deploy_token", "status_page_webhook", "slack_webhook")
# This repository's name under github:owner, also for a stack without a CI section (its backup jobs run here).
DEFAULT_INFRA_REPOSITORY = "vibelog-infra"


class CiReviewers(ConfigModel):
    """Who may approve a deployment to the environment (GitHub ids; up to 6 in all)."""

    users: list[GithubId] = setting("GitHub user ids of reviewers.", example=[1234567], default_factory=list)
    teams: list[GithubId] = setting("GitHub team ids of reviewers.", example=[7654321], default_factory=list)

    @property
    def any(self) -> bool:
        """Whether anyone is named."""
        return bool(self.users or self.teams)

    @property
    def two_people(self) -> bool:
        """Whether at least two reviewers are named, so someone other than the deployer can always approve.

        A team counts once: its size is not visible here, and GitHub needs only one approval from the list.
        """
        return len(set(self.users)) + len(set(self.teams)) >= 2


class GithubRepositorySettings(ConfigModel):
    """What GitHub knows about one repository: its visibility, and the form of its Actions OIDC subjects."""

    visibility: Visibility = setting(
        "public, private or internal; with vibelog:ci.githubPlan it decides which protections GitHub allows.",
        example="private",
        default="private",
    )
    oidc_subject: SubjectForm = setting(
        "Form of the `sub` claim of the repository's Actions tokens: name (repo:OWNER/REPO:...) or immutable "
        "(repo:OWNER@ID/REPO@ID:..., the default for repositories created, renamed or transferred since mid-2026); "
        "`gh api repos/OWNER/REPO/actions/oidc/customization/sub` tells.",
        example="immutable",
        default="name",
    )
    id: GithubId | None = setting(
        "Numeric id of the repository (`gh api repos/OWNER/REPO --jq .id`); required by the immutable subject form.",
        example=123456789,
        default=None,
    )


class CiRepositories(ConfigModel):
    """The two repositories a CI environment is declared in."""

    app: GithubRepositorySettings = setting(
        "The app repository (vibelog:app.repository).", default_factory=GithubRepositorySettings
    )
    infra: GithubRepositorySettings = setting(
        "This infrastructure repository (vibelog:ci.infraRepository).", default_factory=GithubRepositorySettings
    )


class CiSettings(ConfigModel):
    """The app repository's GitHub deployment environment of this stack, and AWS access for this repo's CI.

    A stack without the section (development) declares no GitHub environment and no AWS role for CI.
    """

    environment_name: str = setting(
        "Name of the GitHub environment (in the app and the infra repository).",
        example="staging",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$",
    )
    reviewers: CiReviewers = setting(
        "Required reviewers of a deployment; production needs at least two (users or teams).",
        default_factory=CiReviewers,
    )
    wait_timer: int = setting(
        "Minutes a deployment waits before it may start (GitHub allows 0-43200).", example=0, default=0, ge=0, le=43200
    )
    github_plan: GithubPlan = setting(
        "The GitHub plan of github:owner: what it can protect depends on it. In private or internal repositories, "
        "environments need pro or team; required reviewers and wait timers need enterprise.",
        example="enterprise",
    )
    github_owner_id: GithubId | None = setting(
        "Numeric id of github:owner (`gh api orgs/OWNER --jq .id`); required by the immutable subject form.",
        example=12345678,
        default=None,
    )
    repositories: CiRepositories = setting(
        "Visibility and OIDC subject form of the app and infra repositories.", default_factory=CiRepositories
    )
    owns_branch_protection: bool = setting(
        "This stack owns the protection of the app's production branch and of this repository's main (one stack only).",
        example=False,
        default=False,
    )
    required_checks: list[str] = setting(
        "Status checks (job names of the app's workflow) required before merging to the production branch.",
        example=list(REFERENCE_CHECKS),
        default_factory=lambda: list(REFERENCE_CHECKS),
        min_length=1,
    )
    infra_required_checks: list[str] = setting(
        "Status checks (this repository's gate jobs) required before merging to this repository's main.",
        example=list(INFRA_GATE_CHECKS),
        default_factory=lambda: list(INFRA_GATE_CHECKS),
        min_length=1,
    )
    owns_oidc_provider: bool = setting(
        "This stack owns the account's GitHub OIDC provider and the read-only preview role (one stack only).",
        example=False,
        default=False,
    )
    infra_repository: str = setting(
        "Name of this infrastructure repository (under github:owner), the subject of the AWS roles' trust.",
        example=DEFAULT_INFRA_REPOSITORY,
        default=DEFAULT_INFRA_REPOSITORY,
        pattern=r"^[A-Za-z0-9._-]+$",
    )
    import_oidc_provider: str | None = setting(
        "ARN of the account's existing GitHub OIDC provider, to adopt (Pulumi `import`) instead of creating a second "
        "one; only with ownsOidcProvider. Its url and client ids must already be what the program declares.",
        example="arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        default=None,
        pattern=OIDC_PROVIDER_ARN_PATTERN,
    )
    variables: dict[str, str] = setting(
        "Non-secret values of the environment, as Actions variables (vars.NAME).",
        example={"SMOKE_TEST_TIMEOUT": "120"},
        default_factory=dict,
    )

    @model_validator(mode="after")
    def _names_valid(self) -> CiSettings:
        reserved = [name for name in self.variables if name.upper() in CI_SECRET_NAMES + CI_WIRED_VARIABLES]
        problems = names_problems(self.variables)
        problems += [f"{name!r} is set by the program itself" for name in reserved]
        if len(set(self.required_checks)) != len(self.required_checks):
            problems.append(f"{config_path(CiSettings, 'required_checks')} must not repeat a check")
        if len(set(self.infra_required_checks)) != len(self.infra_required_checks):
            problems.append(f"{config_path(CiSettings, 'infra_required_checks')} must not repeat a check")
        if problems:
            raise ValueError("; ".join(problems))
        return self
