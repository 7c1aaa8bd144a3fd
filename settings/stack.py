"""The stack model: every section of a stack file under its config key, and the rules that relate sections.

Over 450 lines on purpose: it holds only the rules that span sections (CI with the app, GitHub's plan, AWS and the
secrets; DNS with the domain; backups and runbooks with CI), and each reads several sections at once; a section's
own rules live in its module.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from settings.app import AppSettings, DatabaseSettings, Environment, MonitoringSettings, SupabaseSettings
from settings.backup import CONFIG_BACKUP_ENVIRONMENT_SUFFIX, BackupSettings
from settings.base import ACCOUNT_ID_PATTERN, LOCAL_HOSTS, AwsRegion, CrossFieldError, config_path, setting
from settings.ci import CI_SECRET_FIELDS, DEFAULT_INFRA_REPOSITORY, CiRepositories, CiSettings, GithubRepositorySettings
from settings.dns import P0_CHANNELS, DnsSettings
from settings.github_oidc import GithubRepository, oidc_subject
from settings.github_plans import FEATURE_NAMES, Feature, features, plans_with
from settings.incident import IncidentSettings
from settings.migrations import MigrationSettings
from settings.operations import AI_PROVIDER_SECRETS, FeatureFlagSettings, OperationsSettings
from settings.runbooks import RUNBOOK_ENVIRONMENT_SUFFIX, RunbookSettings
from settings.secrets import SecretSettings

# A stack's first `pulumi up` on an empty account runs in two phases: `zone` declares only the stack's Route 53 zone
# (and the NS records it holds), so its name servers exist before anything validates against it; `complete` is
# everything (docs/deploying.md, "Your first `pulumi up`"); `adopt` is `complete` for the `up` after `pulumi import`
# of what already runs (docs/adopting.md).
BootstrapPhase = Literal["zone", "adopt", "complete"]


class StackSettings(BaseModel):
    """Everything a stack file configures. Field aliases are the full config keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, validate_by_name=False)

    environment: Environment = setting(
        "Which environment this stack is; also the app's NODE_ENV.",
        example="staging",
        alias="vibelog:environment",
    )
    domain: str = setting(
        "The domain the app is served on: a lowercase host name, optionally with a port, without a scheme or path "
        "(localhost:3000 for development).",
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
    incident: IncidentSettings | None = setting(
        "Incident detection and communication (docs/incident-response.md); unset for a stack without alarms.",
        alias="vibelog:incident",
        default=None,
    )
    ci: CiSettings | None = setting(
        "GitHub deployment environment, secrets and AWS access for CI; unset for a stack deployed by no pipeline.",
        alias="vibelog:ci",
        default=None,
    )
    backup: BackupSettings | None = setting(
        "The backup vault (database dumps, user-upload backups); unset for a stack without backups.",
        alias="vibelog:backup",
        default=None,
    )
    runbooks: RunbookSettings | None = setting(
        "The runbook workflows' environment (docs/runbooks.md); unset for a stack without runbooks.",
        alias="vibelog:runbooks",
        default=None,
    )
    migrations: MigrationSettings | None = setting(
        'How the app\'s schema migrations reach this stack (docs/ci-cd.md, "Migrations"); unset for a stack whose '
        "migrations run where the app runs (development).",
        alias="vibelog:migrations",
        default=None,
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
        "declares everything; adopt declares everything too, for the `up` after `pulumi import` of what already runs "
        "(docs/adopting.md): AWS resources ignore tag changes in that step. Never go back to zone on a stack that is "
        "complete: its resources would be deleted.",
        example="complete",
        alias="vibelog:bootstrapPhase",
        default="complete",
    )
    aws_region: AwsRegion | None = setting(
        "Primary AWS region; needed by stacks that declare AWS resources.",
        example="us-east-1",
        alias="aws:region",
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

    @property
    def declares_aws(self) -> bool:
        """True when this stack declares AWS resources (and so needs a region and a pinned account)."""
        sections = (self.backup, self.ci, self.dns, self.incident)
        return self.monitored or any(section is not None for section in sections)

    @property
    def monitored(self) -> bool:
        """True when the reference monitors this environment (limited or full): it has a CloudWatch dashboard."""
        return self.monitoring.level != "disabled"

    @property
    def aws_account_id(self) -> str:
        """The one AWS account this stack may touch; only valid when it declares AWS resources."""
        if not self.aws_allowed_account_ids:
            raise ValueError(f"{key('aws_allowed_account_ids')} is required by a stack that declares AWS resources")
        return self.aws_allowed_account_ids[0]

    @property
    def primary_region(self) -> str:
        """The stack's primary AWS region; only valid when it declares AWS resources."""
        if self.aws_region is None:
            raise ValueError(f"{key('aws_region')} is required by a stack that declares AWS resources")
        return self.aws_region

    def secret(self, name: str) -> SecretStr:
        """A secret the rules below require for this stack's sections (`secret("slack_webhook")` with CI)."""
        value = getattr(self.secrets, name)
        if not isinstance(value, SecretStr):
            raise ValueError(f"{key('secrets', name)} is required by this stack's sections (see load_settings)")
        return value

    @model_validator(mode="after")
    def _environment_rules(self) -> StackSettings:
        problems = []
        # Off is `false` or a rollout to 0% of users; anything that reaches a user is on.
        if self.environment == "production" and self.feature_flags.percentages()["DEBUG_MODE"] > 0:
            problems.append((key("feature_flags", "DEBUG_MODE"), "DEBUG_MODE can never be on in production"))
        if self.environment == "production" and "preview" in self.app.targets:
            problems.append(
                (
                    key("app", "targets"),
                    "production's env (its secrets included) never reaches preview deployments, which build "
                    "unreviewed branches: target production only",
                )
            )
        if self.environment != "development" and self.is_local:
            problems.append((key("domain"), f"a {self.environment} stack needs a public domain, not localhost"))
        if self.environment != "development" and self.database.provider != "supabase":
            problems.append((key("database", "provider"), f"a {self.environment} stack uses supabase"))
        if self.app.www_redirect and self.is_local:
            problems.append((key("app", "www_redirect"), "a local domain has no www name"))
        ci_problems, missing_secrets = self._ci_problems()
        problems += ci_problems
        if problems:
            raise CrossFieldError(problems, missing_secrets)
        return self

    def _ci_problems(self) -> tuple[list[tuple[str, str]], list[str]]:
        """What a CI environment needs from the rest of the settings; and which of its secrets are missing."""
        ci = self.ci
        if ci is None:
            return [], []
        problems: list[tuple[str, str]] = []
        if self.github_owner is None:
            problems.append((key("github_owner"), "a CI environment is declared on GitHub and needs the owner"))
        elif self.app.repository.split("/")[0] != self.github_owner:
            problems.append((key("app", "repository"), f"the app repository must belong to {self.github_owner}"))
        if self.aws_region is None:
            problems.append((key("aws_region"), "the CI's AWS roles need the stack's region"))
        if self.aws_allowed_account_ids is None:
            problems.append((key("aws_allowed_account_ids"), "the CI's AWS roles need the account id"))
        reviewers = key("ci", "reviewers")
        if self.environment == "production" and not ci.reviewers.two_people:
            problems.append(
                (reviewers, "production deploys need two-person approval: name at least two reviewers (users or teams)")
            )
        elif ci.reviewers.any and not ci.reviewers.two_people:
            problems.append((reviewers, "name at least two reviewers: nobody may approve their own deployment"))
        if len(ci.reviewers.users) + len(ci.reviewers.teams) > 6:
            problems.append((reviewers, "GitHub allows at most 6 reviewers"))
        problems += self._github_plan_problems(ci) + self._oidc_subject_problems(ci) + self._oidc_import_problems(ci)
        missing = [key("secrets", name) for name in CI_SECRET_FIELDS if getattr(self.secrets, name) is None]
        problems += [(path, f"a secret is required with {key('ci')}") for path in missing]
        return problems, missing

    def _ci_repositories(self) -> dict[str, tuple[str, GithubRepositorySettings]]:
        """The CI environment's repositories: key under vibelog:ci.repositories -> (owner/name, settings)."""
        owner = self.github_owner or self.app.repository.split("/")[0]
        repositories = self.ci.repositories if self.ci is not None else CiRepositories()
        infra = self.ci.infra_repository if self.ci is not None else DEFAULT_INFRA_REPOSITORY
        return {
            "app": (self.app.repository, repositories.app),
            "infra": (f"{owner}/{infra}", repositories.infra),
        }

    def _github_plan_problems(self, ci: CiSettings) -> list[tuple[str, str]]:
        """Refuse what GitHub would refuse on the first `up`: protections the plan has not for a repository."""
        plan_key, plan = key("ci", "github_plan"), ci.github_plan
        wanted: list[tuple[Feature, str]] = [("environments", f"the stack's deployment environment ({key('ci')})")]
        if ci.reviewers.any:
            wanted.append(("protection_rules", f"required reviewers ({key('ci', 'reviewers')})"))
        if ci.wait_timer:
            wanted.append(("protection_rules", f"a wait timer ({key('ci', 'wait_timer')})"))
        if ci.owns_branch_protection:
            wanted.append(("protected_branches", f"protection of main ({key('ci', 'owns_branch_protection')})"))
        problems: list[tuple[str, str]] = []
        for which, (name, repository) in self._ci_repositories().items():
            visibility = repository.visibility
            if visibility == "internal" and plan != "enterprise":
                problems.append(
                    (
                        key("ci", "repositories", which, "visibility"),
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

    def _oidc_subject_problems(self, ci: CiSettings) -> list[tuple[str, str]]:
        """The immutable subject form needs the numeric ids GitHub puts in the token."""
        problems: list[tuple[str, str]] = []
        immutable = {
            which: repo for which, (_, repo) in self._ci_repositories().items() if repo.oidc_subject == "immutable"
        }
        if immutable and ci.github_owner_id is None:
            problems.append(
                (key("ci", "github_owner_id"), "the immutable OIDC subject form names the owner's numeric id")
            )
        problems += [
            (
                key("ci", "repositories", which, "id"),
                "the immutable OIDC subject form names the repository's numeric id",
            )
            for which, repo in immutable.items()
            if repo.id is None
        ]
        return problems

    def github_features(self, which: Literal["app", "infra"]) -> frozenset[Feature]:
        """What GitHub lets the app or infra repository have on the organisation's plan (none without CI)."""
        if self.ci is None:
            return frozenset()
        return features(self.ci.github_plan, self._ci_repositories()[which][1].visibility)

    def github_repository(self, which: Literal["app", "infra"]) -> GithubRepository:
        """The app or infra repository as its Actions tokens name it."""
        name, repository = self._ci_repositories()[which]
        owner, short_name = name.split("/", 1)
        return GithubRepository(
            owner=owner,
            name=short_name,
            form=repository.oidc_subject,
            owner_id=self.ci.github_owner_id if self.ci is not None else None,
            repository_id=repository.id,
        )

    def _oidc_import_problems(self, ci: CiSettings) -> list[tuple[str, str]]:
        """An imported OIDC provider belongs to the owning stack and to the stack's own account."""
        arn, import_key = ci.import_oidc_provider, key("ci", "import_oidc_provider")
        if arn is None:
            return []
        problems = []
        if not ci.owns_oidc_provider:
            problems.append(
                (
                    import_key,
                    f"only the stack that owns the account's OIDC provider ({key('ci', 'owns_oidc_provider')}) "
                    "imports it",
                )
            )
        account = arn.split(":")[4]
        if self.aws_allowed_account_ids is not None and account != self.aws_allowed_account_ids[0]:
            problems.append(
                (
                    import_key,
                    f"names account {account}, but {key('aws_allowed_account_ids')} pins "
                    f"{self.aws_allowed_account_ids[0]}",
                )
            )
        return problems

    @model_validator(mode="after")
    def _dns_rules(self) -> StackSettings:
        if self.dns is None:
            if self.bootstrap_phase == "zone":
                raise CrossFieldError(
                    [
                        (
                            key("bootstrap_phase"),
                            "the zone phase creates only the stack's Route 53 zone, and this stack has no "
                            f"{key('dns')}: it has nothing to delegate first (use complete)",
                        )
                    ]
                )
            return self
        problems = []
        zone = self.dns.zone
        if self.domain != zone and not self.domain.endswith(f".{zone}"):
            problems.append((key("dns", "zone"), f"the app's domain {self.domain} must be in the zone"))
        for index, delegation in enumerate(self.dns.delegations):
            if self.domain == delegation.name or self.domain.endswith(f".{delegation.name}"):
                problems.append(
                    (key("dns", "delegations", index, "name"), f"{self.domain} would be shadowed by the delegation")
                )
        if self.dns.failover and self.dns.degraded_region == self.aws_region:
            problems.append(
                (
                    key("dns", "degraded_region"),
                    f"the degraded-mode page must live in another region than {key('aws_region')}",
                )
            )
        repeated = self._failover_alert_problems(self.dns) if self.dns.failover else []
        if problems or repeated:
            raise CrossFieldError(problems + repeated, removals=[path for path, _ in repeated if "[" in path])
        return self

    def _failover_alert_problems(self, dns: DnsSettings) -> list[tuple[str, str]]:
        """A failover is a P0 event, heard once on each of the reference's P0 channels: through the on-call topic
        of vibelog:dns.alerts, or, on a stack with vibelog:incident, through the P0 topic the alarm also notifies."""
        if self.incident is None:
            heard = {alert.channel for alert in dns.alerts}
            missing = [channel for channel in P0_CHANNELS if channel not in heard]
            if not missing:
                return []
            return [(key("dns", "alerts"), f"failover is a P0 event; the reference notifies {', '.join(missing)} too")]
        # PagerDuty's e-mail integration here would page outside the declared service's escalation policy, and twice.
        # Last entry first, so the fixes, run in the order printed, each remove the entry they name.
        reached = self.incident.sns_channels("P0")
        return [
            (
                key("dns", "alerts", index),
                f"the failover alarm notifies {key('incident')}'s P0 topic, which reaches {alert.channel} already: "
                "remove this entry (it would hear of every failover twice)",
            )
            for index, alert in reversed(list(enumerate(dns.alerts)))
            if alert.channel in reached
        ]

    @model_validator(mode="after")
    def _incident_rules(self) -> StackSettings:
        problems = []
        missing: list[str] = []
        provider_secret = AI_PROVIDER_SECRETS[self.operations.ai_provider]
        if getattr(self.secrets, provider_secret) is None:
            problems.append(
                (
                    key("operations", "ai_provider"),
                    f"the app calls {self.operations.ai_provider} only with {key('secrets', provider_secret)} in its "
                    "env: set that secret (and `pulumi up`) before flipping the switch",
                )
            )
        if self.incident is not None:
            section = key("incident")
            if self.monitoring.level == "disabled":
                problems.append((section, "incident alarms read the app's metrics: monitoring is disabled"))
            if self.aws_region is None or self.aws_allowed_account_ids is None:
                problems.append((section, f"the alarms live in AWS: set {key('aws_region')} and the account"))
            if self.incident.pagerduty is not None and self.secrets.pagerduty_token is None:
                missing.append(key("secrets", "pagerduty_token"))
                problems.append((missing[-1], f"a secret is required with {key('incident', 'pagerduty')}"))
            if self.secrets.github_dispatch_token is None:
                missing.append(key("secrets", "github_dispatch_token"))
                problems.append((missing[-1], f"a secret is required with {section}"))
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @model_validator(mode="after")
    def _aws_rules(self) -> StackSettings:
        if not self.declares_aws:
            return self
        problems = []
        # The CI rules already report a missing region or account for a stack with a CI environment.
        if self.aws_region is None and self.ci is None:
            problems.append((key("aws_region"), "a stack that declares AWS resources needs its primary region"))
        account_ids = self.aws_allowed_account_ids
        if (account_ids is None and self.ci is None) or (
            account_ids is not None
            and (len(account_ids) != 1 or re.fullmatch(ACCOUNT_ID_PATTERN, account_ids[0]) is None)
        ):
            problems.append(
                (
                    key("aws_allowed_account_ids"),
                    "a stack that declares AWS resources is pinned to one 12-digit AWS account id "
                    '(a list of one, e.g. ["123456789012"])',
                )
            )
        if self.backup is not None and self.backup.region == self.aws_region:
            problems.append(
                (key("backup", "region"), f"backups must live in a region other than the primary ({self.aws_region})")
            )
        if problems:
            raise CrossFieldError(problems)
        return self

    @model_validator(mode="after")
    def _backup_job_rules(self) -> StackSettings:
        """The scheduled jobs run in environments of this infra repository, with the secrets they read."""
        backup = self.backup
        if backup is None:
            return self
        problems: list[tuple[str, str]] = []
        if self.github_owner is None:
            problems.append((key("github_owner"), "the backup jobs' GitHub environments need the owner"))
        else:
            try:
                # The subject form the infra repository's tokens carry (vibelog:ci.repositories.infra.oidcSubject).
                prefix = oidc_subject(self.github_repository("infra"), environment="")
            except ValueError:
                prefix = None  # the immutable form without its ids: reported at vibelog:ci.repositories
            environment = self.ci.environment_name if self.ci is not None else self.environment
            for field, subject, suffix in (
                ("writer_subject", backup.writer_subject, "backup"),
                ("reader_subject", backup.reader_subject, "restore-test"),
            ):
                if prefix is not None and not subject.startswith(prefix):
                    problems.append(
                        (
                            key("backup", field),
                            f"the backup jobs run in this infra repository's environments: expected "
                            f"{prefix}<{environment}-{suffix}>",
                        )
                    )
            if backup.writer_environment == backup.reader_environment:
                problems.append(
                    (key("backup", "reader_subject"), "the restore test needs an environment apart from the writer's")
                )
        if self.aws_allowed_account_ids is not None:
            account = self.aws_allowed_account_ids[0]
            problems += [
                (
                    f"{key('backup', 'operators')}[{index}]",
                    f"names account {arn.split(':')[4]}, not the stack's {account}",
                )
                for index, arn in enumerate(backup.operators)
                if arn.split(":")[4] != account
            ]
        # With CI the webhook and the Vercel token (the configuration backup reads the project's variables with it)
        # are already reported missing by the CI rules.
        needed: tuple[str, ...] = ("supabase_storage_access_key_id", "supabase_storage_secret_access_key")
        needed = needed if self.ci is not None else ("slack_webhook", "vercel_deploy_token", *needed)
        missing = [key("secrets", name) for name in needed if getattr(self.secrets, name) is None]
        problems += [(path, f"a secret is required with {key('backup')}") for path in missing]
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @property
    def config_backup_environment(self) -> str:
        """The configuration backup's environment of this stack in the infra repository (`<stack>-config-backup`)."""
        return f"{self.environment}{CONFIG_BACKUP_ENVIRONMENT_SUFFIX}"

    @property
    def runbook_environment(self) -> str:
        """The runbook workflows' environment of this stack (`<stack>-runbooks`)."""
        return f"{self.environment}{RUNBOOK_ENVIRONMENT_SUFFIX}"

    @model_validator(mode="after")
    def _runbook_rules(self) -> StackSettings:
        """A runbook acts on production at once: it needs approvers GitHub can enforce, and the secrets it uses."""
        runbooks, section = self.runbooks, key("runbooks")
        if runbooks is None:
            return self
        problems: list[tuple[str, str]] = []
        if self.ci is None:
            problems.append((section, f"the runbooks use the CI environment's secrets: declare {key('ci')}"))
        reviewers = key("runbooks", "reviewers")
        if not runbooks.reviewers.two_people:
            problems.append(
                (
                    reviewers,
                    "name the decision makers (tech lead, on-call): at least two users or teams, so nobody "
                    "approves the runbook they started",
                )
            )
        if len(runbooks.reviewers.users) + len(runbooks.reviewers.teams) > 6:
            problems.append((reviewers, "GitHub allows at most 6 reviewers"))
        if self.ci is not None and "protection_rules" not in self.github_features("infra"):
            problems.append(
                (
                    section,
                    f"required reviewers are not available to this infra repository on {key('ci', 'github_plan')} "
                    f"{self.ci.github_plan}: an unapproved runbook could roll production back",
                )
            )
        missing = [key("secrets", "runbook_github_token")] if self.secrets.runbook_github_token is None else []
        problems += [(path, f"a secret is required with {section}") for path in missing]
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @model_validator(mode="after")
    def _migration_rules(self) -> StackSettings:
        """A reviewed migration or rollback needs reviewers GitHub enforces; a pre-migration dump needs the vault."""
        migrations, section = self.migrations, key("migrations")
        if migrations is None:
            return self
        problems: list[tuple[str, str]] = []
        if self.ci is None:
            problems.append((section, f"the migration environments are the app repository's: declare {key('ci')}"))
        reviewers, named = key("migrations", "reviewers"), migrations.reviewers
        if migrations.rollback == "two_person_approval" and not named.two_people:
            problems.append(
                (reviewers, "two_person_approval: name at least two users or teams, so nobody approves their own")
            )
        elif (migrations.apply_reviewed or migrations.rollback_reviewed) and not named.any:
            problems.append((reviewers, "a reviewed migration or an approved rollback needs a reviewer"))
        if len(named.users) + len(named.teams) > 6:
            problems.append((reviewers, "GitHub allows at most 6 reviewers"))
        if self.ci is not None and named.any and "protection_rules" not in self.github_features("app"):
            problems.append(
                (
                    section,
                    f"required reviewers are not available to the app repository on {key('ci', 'github_plan')} "
                    f"{self.ci.github_plan}: an unreviewed migration could reach the database",
                )
            )
        if migrations.pre_migration_backup and self.backup is None:
            problems.append(
                (key("migrations", "pre_migration_backup"), f"the dump goes into the vault: declare {key('backup')}")
            )
        missing = [key("secrets", "infra_read_token")] if self._needs_infra_read_token else []
        problems += [
            (path, f"a secret is required with {key('migrations', 'pre_migration_backup')}") for path in missing
        ]
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @property
    def _needs_infra_read_token(self) -> bool:
        """The pre-migration dump runs in the app repository, whose own token cannot read a non-public repository."""
        migrations, ci = self.migrations, self.ci
        return (
            migrations is not None
            and migrations.pre_migration_backup
            and (ci is None or ci.repositories.infra.visibility != "public")
            and self.secrets.infra_read_token is None
        )

    def migration_environment(self, suffix: str) -> str:
        """One of the app repository's migration environments of this stack (`<stack>-migrate`, ...)."""
        return f"{self.environment}{suffix}"


def key(*steps: str | int) -> str:
    """The full config key path of a stack setting (`key("ci", "github_plan")` is vibelog:ci.githubPlan)."""
    return config_path(StackSettings, *steps)
