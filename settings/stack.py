"""The stack model: every section of a stack file under its config key, and the rules that relate sections."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_snake

from settings.app import AppSettings, DatabaseSettings, Environment, MonitoringSettings, SupabaseSettings
from settings.backup import BACKUP_KEY, SECRETS_KEY_PREFIX, BackupSettings
from settings.base import ACCOUNT_ID_PATTERN, AWS_REGION_PATTERN, LOCAL_HOSTS, CrossFieldError, setting
from settings.ci import CI_SECRET_FIELDS, CiSettings, GithubRepositorySettings
from settings.dns import DnsSettings
from settings.github_oidc import GithubRepository, oidc_subject
from settings.github_plans import FEATURE_NAMES, Feature, features, plans_with
from settings.incident import IncidentSettings
from settings.operations import AI_PROVIDER_SECRETS, FeatureFlagSettings, OperationsSettings
from settings.secrets import SecretSettings

# A stack's first `pulumi up` on an empty account runs in two phases: `zone` declares only the stack's Route 53 zone
# (and the NS records it holds), so its name servers exist before anything validates against it; `complete` is
# everything (README, "Your first `pulumi up`").
BootstrapPhase = Literal["zone", "complete"]


class StackSettings(BaseModel):
    """Everything a stack file configures. Field aliases are the full config keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_by_name=False)

    environment: Environment = setting(
        "Which environment this stack is; also the app's NODE_ENV.",
        example="staging",
        alias="vibelog:environment",
    )
    domain: str = setting(
        "The domain the app is served on (localhost:3000 for development).",
        example="staging.vibelog.io",
        alias="vibelog:domain",
        pattern=r"^(localhost|127\.0\.0\.1|\[::1\]|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(:[0-9]{1,5})?$",
    )
    app: AppSettings = setting("The Vercel project.", alias="vibelog:app")
    database: DatabaseSettings = setting("The database.", alias="vibelog:database")
    supabase: SupabaseSettings = setting("The Supabase project.", alias="vibelog:supabase")
    monitoring: MonitoringSettings = setting("Monitoring.", alias="vibelog:monitoring")
    feature_flags: FeatureFlagSettings = setting("Feature flags.", alias="vibelog:featureFlags")
    operations: OperationsSettings = setting(
        "Runbook switches.", alias="vibelog:operations", default_factory=OperationsSettings
    )
    secrets: SecretSettings = setting("Secret values.", alias="vibelog:secrets")
    incident: IncidentSettings = setting(
        "Incident detection and communication (docs/incident-response.md).",
        alias="vibelog:incident",
        default_factory=IncidentSettings,
    )
    ci: CiSettings = setting(
        "GitHub deployment environment, secrets and AWS access for CI.",
        alias="vibelog:ci",
        default_factory=CiSettings,
    )
    backup: BackupSettings = setting(
        "The backup vault (database dumps, user-upload backups).", alias=BACKUP_KEY, default_factory=BackupSettings
    )
    vercel_team: str = setting(
        "Vercel team id the projects belong to.", example="team_0123456789abcdef", alias="vercel:team"
    )
    github_owner: str | None = setting(
        "GitHub organization that owns the repositories; needed by stacks that declare GitHub resources.",
        example="vibelog",
        alias="github:owner",
        default=None,
    )
    dns: DnsSettings | None = setting(
        "The stack's Route 53 zone and the app's records; unset for a stack without DNS.",
        alias="vibelog:dns",
        default=None,
    )
    bootstrap_phase: BootstrapPhase = setting(
        "zone for a stack's first `pulumi up` on an empty account: only its Route 53 zone (and the NS records in it), "
        "so the zone's name servers can be delegated before anything validates against them; complete (the default) "
        "declares everything. Never go back to zone on a stack that is complete: its resources would be deleted.",
        example="complete",
        alias="vibelog:bootstrapPhase",
        default="complete",
    )
    aws_region: str | None = setting(
        "Primary AWS region; needed by stacks that declare AWS resources.",
        example="us-east-1",
        alias="aws:region",
        pattern=AWS_REGION_PATTERN,
        default=None,
    )
    aws_allowed_account_ids: list[str] | None = setting(
        "The only AWS account this stack may touch (a typo in credentials then fails instead of deploying elsewhere).",
        example="123456789012",
        alias="aws:allowedAccountIds",
        default=None,
        min_length=1,
        max_length=1,
    )

    @property
    def is_local(self) -> bool:
        """True when the app runs on a developer's machine rather than behind a Vercel domain."""
        host = self.domain.rsplit(":", 1)[0] if not self.domain.startswith("[") else self.domain
        return host.startswith(LOCAL_HOSTS)

    @property
    def app_url(self) -> str:
        """The app's public URL (NEXT_PUBLIC_APP_URL and NEXTAUTH_URL)."""
        return f"{'http' if self.is_local else 'https'}://{self.domain}"

    @model_validator(mode="after")
    def _environment_rules(self) -> StackSettings:
        problems = []
        # Off is `false` or a rollout to 0% of users; anything that reaches a user is on.
        if self.environment == "production" and self.feature_flags.percentages()["DEBUG_MODE"] > 0:
            problems.append(("vibelog:featureFlags.DEBUG_MODE", "DEBUG_MODE can never be on in production"))
        if self.environment == "production" and "preview" in self.app.targets:
            problems.append(
                (
                    "vibelog:app.targets",
                    "production's env (its secrets included) never reaches preview deployments, which build "
                    "unreviewed branches: target production only",
                )
            )
        if self.environment != "development" and self.is_local:
            problems.append(("vibelog:domain", f"a {self.environment} stack needs a public domain, not localhost"))
        if self.environment != "development" and self.database.provider != "supabase":
            problems.append(("vibelog:database.provider", f"a {self.environment} stack uses supabase"))
        if self.app.www_redirect and self.is_local:
            problems.append(("vibelog:app.wwwRedirect", "a local domain has no www name"))
        ci_problems, missing_secrets = self._ci_problems()
        problems += ci_problems
        if problems:
            raise CrossFieldError(problems, missing_secrets)
        return self

    def _ci_problems(self) -> tuple[list[tuple[str, str]], list[str]]:
        """What a CI environment needs from the rest of the settings; and which of its secrets are missing."""
        ci = self.ci
        if not ci.enabled:
            return [], []
        problems: list[tuple[str, str]] = []
        if ci.environment_name is None:
            problems.append(("vibelog:ci.environmentName", "a CI environment needs a name"))
        if self.github_owner is None:
            problems.append(("github:owner", "a CI environment is declared on GitHub and needs the owner"))
        elif self.app.repository.split("/")[0] != self.github_owner:
            problems.append(("vibelog:app.repository", f"the app repository must belong to {self.github_owner}"))
        if self.aws_region is None:
            problems.append(("aws:region", "the CI's AWS roles need the stack's region"))
        if self.aws_allowed_account_ids is None:
            problems.append(("aws:allowedAccountIds", "the CI's AWS roles need the account id"))
        if self.environment == "production" and not ci.reviewers.two_people:
            problems.append(
                (
                    "vibelog:ci.reviewers",
                    "production deploys need two-person approval: name at least two reviewers (users or teams)",
                )
            )
        elif ci.reviewers.any and not ci.reviewers.two_people:
            problems.append(
                ("vibelog:ci.reviewers", "name at least two reviewers: nobody may approve their own deployment")
            )
        if len(ci.reviewers.users) + len(ci.reviewers.teams) > 6:
            problems.append(("vibelog:ci.reviewers", "GitHub allows at most 6 reviewers"))
        problems += self._github_plan_problems() + self._oidc_subject_problems() + self._oidc_import_problems()
        missing = [
            f"vibelog:secrets.{name}"
            for name, value in zip(
                CI_SECRET_FIELDS,
                (self.secrets.vercel_deploy_token, self.secrets.status_page_webhook, self.secrets.slack_webhook),
                strict=True,
            )
            if value is None
        ]
        problems += [(path, "a secret is required when vibelog:ci.enabled is true") for path in missing]
        return problems, missing

    def _ci_repositories(self) -> dict[str, tuple[str, GithubRepositorySettings]]:
        """The CI environment's repositories: key under vibelog:ci.repositories -> (owner/name, settings)."""
        owner = self.github_owner or self.app.repository.split("/")[0]
        return {
            "app": (self.app.repository, self.ci.repositories.app),
            "infra": (f"{owner}/{self.ci.infra_repository}", self.ci.repositories.infra),
        }

    def _github_plan_problems(self) -> list[tuple[str, str]]:
        """Refuse what GitHub would refuse on the first `up`: protections the plan has not for a repository."""
        ci = self.ci
        plan_key = "vibelog:ci.githubPlan"
        if ci.github_plan is None:
            return [
                (plan_key, "a CI environment needs the organisation's GitHub plan: what it can protect depends on it")
            ]
        plan = ci.github_plan
        wanted: list[tuple[Feature, str]] = [
            ("environments", "the stack's deployment environment (vibelog:ci.enabled)"),
        ]
        if ci.reviewers.any:
            wanted.append(("protection_rules", "required reviewers (vibelog:ci.reviewers)"))
        if ci.wait_timer:
            wanted.append(("protection_rules", "a wait timer (vibelog:ci.waitTimer)"))
        if ci.owns_branch_protection:
            wanted.append(("protected_branches", "protection of main (vibelog:ci.ownsBranchProtection)"))
        problems: list[tuple[str, str]] = []
        for key, (name, repository) in self._ci_repositories().items():
            visibility = repository.visibility
            if visibility == "internal" and plan != "enterprise":
                problems.append(
                    (
                        f"vibelog:ci.repositories.{key}.visibility",
                        f"{name} cannot be internal: internal repositories exist only on GitHub enterprise, "
                        f"and {plan_key} is {plan}",
                    )
                )
                continue
            available = features(plan, visibility)
            for feature, what in wanted:
                if feature in available:
                    continue
                plans = plans_with(feature, visibility)
                problems.append(
                    (
                        plan_key,
                        f"{what} in {visibility} repository {name}: GitHub has {FEATURE_NAMES[feature]} in "
                        f"{visibility} repositories only on {' or '.join(plans)}, not on {plan} "
                        "(set the organisation's real plan, or make the repository public)",
                    )
                )
        return problems

    def _oidc_subject_problems(self) -> list[tuple[str, str]]:
        """The immutable subject form needs the numeric ids GitHub puts in the token."""
        problems: list[tuple[str, str]] = []
        immutable = {
            key: repo for key, (_, repo) in self._ci_repositories().items() if repo.oidc_subject == "immutable"
        }
        if immutable and self.ci.github_owner_id is None:
            problems.append(
                ("vibelog:ci.githubOwnerId", "the immutable OIDC subject form names the owner's numeric id")
            )
        problems += [
            (f"vibelog:ci.repositories.{key}.id", "the immutable OIDC subject form names the repository's numeric id")
            for key, repo in immutable.items()
            if repo.id is None
        ]
        return problems

    def github_features(self, which: Literal["app", "infra"]) -> frozenset[Feature]:
        """What GitHub lets the app or infra repository have on the organisation's plan (valid for a stack with CI)."""
        plan = self.ci.github_plan
        return features(plan, self._ci_repositories()[which][1].visibility) if plan is not None else frozenset()

    def github_repository(self, which: Literal["app", "infra"]) -> GithubRepository:
        """The app or infra repository as its Actions tokens name it (valid for a stack with CI)."""
        name, repository = self._ci_repositories()[which]
        owner, short_name = name.split("/", 1)
        return GithubRepository(
            owner=owner,
            name=short_name,
            form=repository.oidc_subject,
            owner_id=self.ci.github_owner_id,
            repository_id=repository.id,
        )

    def _oidc_import_problems(self) -> list[tuple[str, str]]:
        """An imported OIDC provider belongs to the owning stack and to the stack's own account."""
        arn, key = self.ci.import_oidc_provider, "vibelog:ci.importOidcProvider"
        if arn is None:
            return []
        problems = []
        if not self.ci.owns_oidc_provider:
            problems.append(
                (key, "only the stack that owns the account's OIDC provider (vibelog:ci.ownsOidcProvider) imports it")
            )
        account = arn.split(":")[4]
        if self.aws_allowed_account_ids is not None and account != self.aws_allowed_account_ids[0]:
            problems.append(
                (key, f"names account {account}, but aws:allowedAccountIds pins {self.aws_allowed_account_ids[0]}")
            )
        return problems

    @model_validator(mode="after")
    def _dns_rules(self) -> StackSettings:
        if self.dns is None:
            if self.bootstrap_phase == "zone":
                raise CrossFieldError(
                    [
                        (
                            "vibelog:bootstrapPhase",
                            "the zone phase creates only the stack's Route 53 zone, and this stack has no vibelog:dns: "
                            "it has nothing to delegate first (use complete)",
                        )
                    ]
                )
            return self
        problems = []
        zone = self.dns.zone
        if self.domain != zone and not self.domain.endswith(f".{zone}"):
            problems.append(("vibelog:dns.zone", f"the app's domain {self.domain} must be in the zone"))
        for index, delegation in enumerate(self.dns.delegations):
            if self.domain == delegation.name or self.domain.endswith(f".{delegation.name}"):
                problems.append(
                    (f"vibelog:dns.delegations[{index}].name", f"{self.domain} would be shadowed by the delegation")
                )
        if self.dns.failover and self.dns.degraded_region == self.aws_region:
            problems.append(
                ("vibelog:dns.degradedRegion", "the degraded-mode page must live in another region than aws:region")
            )
        if problems:
            raise CrossFieldError(problems)
        return self

    @model_validator(mode="after")
    def _incident_rules(self) -> StackSettings:
        problems = []
        missing: list[str] = []
        provider_key = AI_PROVIDER_SECRETS[self.operations.ai_provider]
        if getattr(self.secrets, to_snake(provider_key)) is None:
            problems.append(
                (
                    "vibelog:operations.aiProvider",
                    f"the app calls {self.operations.ai_provider} only with vibelog:secrets.{provider_key} in its env: "
                    "set that secret (and `pulumi up`) before flipping the switch",
                )
            )
        incident = self.incident
        if incident.enabled:
            if self.monitoring.level == "disabled":
                problems.append(
                    ("vibelog:incident.enabled", "incident alarms read the app's metrics: monitoring is disabled")
                )
            if self.aws_region is None or self.aws_allowed_account_ids is None:
                problems.append(("vibelog:incident.enabled", "the alarms live in AWS: set aws:region and the account"))
            if self.secrets.github_dispatch_token is None:
                missing.append("vibelog:secrets.githubDispatchToken")
                problems.append(
                    (
                        "vibelog:secrets.githubDispatchToken",
                        "a secret is required when vibelog:incident.enabled is true",
                    )
                )
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @property
    def declares_aws(self) -> bool:
        """True when this stack declares AWS resources (and so needs a region and a pinned account)."""
        return self.backup.enabled or self.ci.enabled or self.dns is not None or self.incident.enabled

    @model_validator(mode="after")
    def _aws_rules(self) -> StackSettings:
        if not self.declares_aws:
            return self
        problems = []
        # The CI rules already report a missing region or account for a stack with a CI environment.
        if self.aws_region is None and not self.ci.enabled:
            problems.append(("aws:region", "a stack that declares AWS resources needs its primary region"))
        account_ids = self.aws_allowed_account_ids
        if (account_ids is None and not self.ci.enabled) or (
            account_ids is not None
            and (len(account_ids) != 1 or re.fullmatch(ACCOUNT_ID_PATTERN, account_ids[0]) is None)
        ):
            problems.append(
                (
                    "aws:allowedAccountIds",
                    "a stack that declares AWS resources is pinned to one 12-digit AWS account id "
                    '(a list of one, e.g. ["123456789012"])',
                )
            )
        if self.backup.enabled and self.backup.region is not None and self.backup.region == self.aws_region:
            problems.append(
                (f"{BACKUP_KEY}.region", f"backups must live in a region other than the primary ({self.aws_region})")
            )
        if problems:
            raise CrossFieldError(problems)
        return self

    @model_validator(mode="after")
    def _backup_job_rules(self) -> StackSettings:
        """The scheduled jobs run in environments of this infra repository, with the secrets they read."""
        backup = self.backup
        if not backup.enabled:
            return self
        problems: list[tuple[str, str]] = []
        if self.github_owner is None:
            problems.append(("github:owner", "the backup jobs' GitHub environments need the owner"))
        else:
            try:
                # The subject form the infra repository's tokens carry (vibelog:ci.repositories.infra.oidcSubject).
                prefix = oidc_subject(self.github_repository("infra"), environment="")
            except ValueError:
                prefix = None  # the immutable form without its ids: reported at vibelog:ci.repositories
            for key, subject, suffix in (
                ("writerSubject", backup.writer_subject, "backup"),
                ("readerSubject", backup.reader_subject, "restore-test"),
            ):
                if prefix is None:
                    continue
                if subject is not None and not subject.startswith(prefix):
                    problems.append(
                        (
                            f"{BACKUP_KEY}.{key}",
                            f"the backup jobs run in this infra repository's environments: expected "
                            f"{prefix}<{self.ci.environment_name or self.environment}-{suffix}>",
                        )
                    )
            if backup.writer_subject is not None and backup.writer_environment == backup.reader_environment:
                problems.append(
                    (f"{BACKUP_KEY}.readerSubject", "the restore test needs an environment apart from the writer's")
                )
        missing = [
            f"{SECRETS_KEY_PREFIX}.{name}"
            for name, value in (
                ("slackWebhook", self.secrets.slack_webhook),
                ("supabaseStorageAccessKeyId", self.secrets.supabase_storage_access_key_id),
                ("supabaseStorageSecretAccessKey", self.secrets.supabase_storage_secret_access_key),
            )
            if value is None
        ]
        # With CI the webhook is already reported missing by the CI rules.
        if self.ci.enabled:
            missing = [path for path in missing if not path.endswith(".slackWebhook")]
        problems += [(path, "a secret is required when vibelog:backup.enabled is true") for path in missing]
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @property
    def aws_account_id(self) -> str:
        """The one AWS account this stack may touch; only valid when it declares AWS resources."""
        if not self.aws_allowed_account_ids:
            raise ValueError("aws:allowedAccountIds is required by a stack that declares AWS resources")
        return self.aws_allowed_account_ids[0]
