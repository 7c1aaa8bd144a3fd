"""The stack config as pydantic models: every key a stack file may hold, its type, its meaning."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, SecretStr, Tag, model_validator
from pydantic.alias_generators import to_camel, to_snake

from settings.github_names import names_problems
from settings.github_oidc import OIDC_SUBJECT_PATTERN, GithubRepository, SubjectForm, oidc_subject
from settings.github_plans import FEATURE_NAMES, Feature, GithubPlan, Visibility, features, plans_with
from settings.retention import MINUTES_PER_DAY, cron_interval_minutes, lifecycle_problems

Environment = Literal["development", "staging", "production"]
MonitoringLevel = Literal["disabled", "limited", "full"]
DeploymentTarget = Literal["production", "preview", "development"]
# A stack's first `pulumi up` on an empty account runs in two phases: `zone` declares only the stack's Route 53 zone
# (and the NS records it holds), so its name servers exist before anything validates against it; `complete` is
# everything (README, "Your first `pulumi up`").
BootstrapPhase = Literal["zone", "complete"]
OIDC_PROVIDER_ARN_PATTERN = r"^arn:aws:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
FLAG_NAMES = ("NEW_EDITOR", "BATCH_PROCESSING", "TEAM_FEATURES", "DEBUG_MODE")

AWS_REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"

# Every number is bounded by what its consumer accepts, so none is truncated or rounded on the way: S3 lifecycle
# and retention days are 32-bit integers in the S3 API (aws-sdk-go-v2 service/s3/types: `Days *int32`); Object
# Lock retention is at most 100 years (S3 user guide, "Object Lock": retention periods); GitHub ids travel as the
# engine's JSON numbers, exact only up to 2**53 - 1; a recovery objective past a year means none at all.
S3_DAYS_MAX = 2**31 - 1
OBJECT_LOCK_DAYS_MAX = 36_500
JSON_SAFE_INT_MAX = 2**53 - 1
MINUTES_PER_YEAR = 525_600

# Hosts that only exist on a developer's machine: such a domain gets plain http and no Vercel domain.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def setting(description: str, *, example: Any = None, secret: bool = False, **kwargs: Any) -> Any:
    """A documented field; `example` feeds the `pulumi config set` hint of an error, `secret` the offline engine."""
    extra: dict[str, JsonValue] = {"secret": secret}
    if example is not None:
        extra["example"] = example
    return Field(description=description, json_schema_extra=extra, **kwargs)


def secret_setting(description: str, *, placeholder: str, required: bool = True) -> Any:
    """A secret field. `placeholder` is a value of the right form that the offline plan stands in for it."""
    extra: dict[str, JsonValue] = {"secret": True, "placeholder": placeholder}
    if required:
        return Field(description=description, json_schema_extra=extra)
    return Field(default=None, description=description, json_schema_extra=extra)


class ConfigModel(BaseModel):
    """Strict, frozen, camelCase on the config side, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, validate_by_name=False
    )


class AppSettings(ConfigModel):
    """The Vercel project that serves the Next.js app of this stack."""

    project_name: str = setting(
        "Name of this stack's Vercel project (one project per stack).",
        example="vibelog-staging",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$",
    )
    repository: str = setting(
        "The app's GitHub repository, owner/name, whose pipeline deploys this project (never linked to it).",
        example="vibelog/vibelog",
        pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$",
    )
    production_branch: str = setting(
        "The app repository's production branch: protected, and deployed to production by the pipeline only.",
        example="main",
    )
    targets: list[DeploymentTarget] = setting(
        "Vercel deployment targets that receive this stack's env vars.", example="production", min_length=1
    )
    www_redirect: bool = setting(
        "Serve www.<domain> as a 308 redirect to the apex domain.", example=False, default=False
    )

    @model_validator(mode="after")
    def _targets_unique(self) -> AppSettings:
        if len(set(self.targets)) != len(self.targets):
            raise ValueError("targets must not repeat a target")
        return self


class DatabaseSettings(ConfigModel):
    """Where the app's Postgres lives."""

    provider: Literal["local_postgres", "supabase"] = setting(
        "local_postgres for a developer's machine, supabase for hosted environments.", example="supabase"
    )


class SupabaseSettings(ConfigModel):
    """The Supabase project (auth, storage, Postgres) of this stack."""

    url: str = setting("Supabase API URL (SUPABASE_URL).", example="https://abcdefghijklmnop.supabase.co")


class MonitoringSettings(ConfigModel):
    """Error tracking and product analytics, per the reference's monitoring level."""

    level: MonitoringLevel = setting("disabled, limited (errors only) or full.", example="full")
    sentry_dsn: str | None = setting(
        "Sentry DSN (SENTRY_DSN); required for limited and full, refused when disabled.",
        example="https://publickey@o0.ingest.sentry.io/0",
        default=None,
    )
    posthog_key: str | None = setting(
        "PostHog project key (POSTHOG_KEY); required for full, refused otherwise.",
        example="phc_projectkey",
        default=None,
    )

    @model_validator(mode="after")
    def _keys_match_level(self) -> MonitoringSettings:
        wants_sentry = self.level != "disabled"
        wants_posthog = self.level == "full"
        problems = []
        if wants_sentry and self.sentry_dsn is None:
            problems.append(f"sentryDsn is required when level is {self.level}")
        if not wants_sentry and self.sentry_dsn is not None:
            problems.append("sentryDsn must be unset when level is disabled")
        if wants_posthog and self.posthog_key is None:
            problems.append("posthogKey is required when level is full")
        if not wants_posthog and self.posthog_key is not None:
            problems.append(f"posthogKey must be unset when level is {self.level}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Rollout(ConfigModel):
    """A gradual rollout: the share of users who get the feature."""

    rollout_percent: int = setting("Percentage of users with the feature on, 0-100.", example=10, ge=0, le=100)


def _flag_kind(value: Any) -> str:
    return "Rollout" if isinstance(value, dict | Rollout) else "bool"


# Tagged, so that a bad rollout reports the rollout's problem alone, not also "should be a boolean".
FlagValue = Annotated[Annotated[bool, Tag("bool")] | Annotated[Rollout, Tag("Rollout")], Discriminator(_flag_kind)]


class FeatureFlagSettings(ConfigModel):
    """The reference's feature flags; each is on, off, or rolled out to a percentage of users."""

    model_config = ConfigDict(alias_generator=None)

    NEW_EDITOR: FlagValue = setting("The new editor.", example=False)
    BATCH_PROCESSING: FlagValue = setting("Batch processing of recordings.", example=False)
    TEAM_FEATURES: FlagValue = setting("Team collaboration.", example=False)
    DEBUG_MODE: FlagValue = setting("Debug output in the app; never on in production.", example=False)

    def percentages(self) -> dict[str, int]:
        """Each flag as the percentage of users who get it (on = 100, off = 0)."""
        values: dict[str, FlagValue] = {name: getattr(self, name) for name in FLAG_NAMES}
        return {
            name: value.rollout_percent if isinstance(value, Rollout) else (100 if value else 0)
            for name, value in values.items()
        }


AiProvider = Literal["openai", "anthropic"]
# The secret each AI provider's calls need in the app's env: a fallback must hold its key before it is flipped on.
AI_PROVIDER_SECRETS: dict[str, str] = {"openai": "openaiApiKey", "anthropic": "anthropicApiKey"}


class OperationsSettings(ConfigModel):
    """Runbook switches, read by the app at request time, flipped with `pulumi config set` + `pulumi up`."""

    maintenance_mode: bool = setting(
        "Serve the maintenance page (the database-restore runbook).", example=False, default=False
    )
    security_mode: Literal["standard", "enhanced"] = setting(
        "enhanced during a security incident (the security-breach runbook).",
        example="standard",
        default="standard",
    )
    ai_provider: AiProvider = setting(
        "Which AI provider the app calls (Edge Config AI_PROVIDER, read per request): anthropic is the reference's "
        "fallback while OpenAI is down (the third-party-failure runbook); its key must already be in the app's env.",
        example="openai",
        default="openai",
    )
    degraded_mode: bool = setting(
        "Core features only (Edge Config DEGRADED_MODE): AI generation, multi-platform publishing, advanced editing "
        "and team collaboration off, recording and saving on.",
        example=False,
        default=False,
    )
    secret_rotation: int = setting(
        "Generation of the secrets this program generates (the Edge Config read token): bump it to revoke them "
        "(the security-lockdown runbook, docs/incident-response.md).",
        example=0,
        default=0,
        ge=0,
        le=1_000_000,  # a generation counter, part of the token's label: bumped once per lockdown
    )
    keep_previous_secrets: bool = setting(
        "While true, the previous generation's secrets stay valid, so running deployments keep working until the "
        "app is redeployed with the new ones; set false (and `pulumi up`) to revoke them.",
        example=False,
        default=False,
    )


class SecretSettings(ConfigModel):
    """Secret values, set with `pulumi config set --secret` and stored encrypted in the stack file."""

    openai_api_key: SecretStr = secret_setting(
        "OpenAI API key of this environment (OPENAI_API_KEY).", placeholder="sk-offline-plan-placeholder"
    )
    anthropic_api_key: SecretStr | None = secret_setting(
        "Anthropic API key (ANTHROPIC_API_KEY), optional.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    nextauth_secret: SecretStr = secret_setting(
        "NextAuth signing secret (NEXTAUTH_SECRET), at least 32 characters.",
        placeholder="offline-plan-placeholder-offline-plan-placeholder",
    )
    database_url: SecretStr = secret_setting(
        "Pooled Postgres connection URL (DATABASE_URL).",
        placeholder="postgresql://placeholder:placeholder@db.placeholder.invalid:6543/postgres",
    )
    direct_url: SecretStr = secret_setting(
        "Direct Postgres connection URL for migrations (DIRECT_URL).",
        placeholder="postgresql://placeholder:placeholder@db.placeholder.invalid:5432/postgres",
    )
    supabase_anon_key: SecretStr = secret_setting(
        "Supabase anon key (SUPABASE_ANON_KEY).", placeholder="offline-plan-placeholder"
    )
    supabase_service_role_key: SecretStr = secret_setting(
        "Supabase service-role key (SUPABASE_SERVICE_ROLE_KEY).", placeholder="offline-plan-placeholder"
    )
    resend_api_key: SecretStr | None = secret_setting(
        "Resend API key (RESEND_API_KEY), optional.", placeholder="offline-plan-placeholder", required=False
    )
    stripe_secret_key: SecretStr | None = secret_setting(
        "Stripe secret key (STRIPE_SECRET_KEY), optional.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    vercel_deploy_token: SecretStr | None = secret_setting(
        "Vercel token the app's pipeline deploys with (VERCEL_TOKEN); required when vibelog:ci.enabled.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    status_page_webhook: SecretStr | None = secret_setting(
        "Status page webhook the pipeline posts to after a deploy (STATUS_PAGE_WEBHOOK); required with CI.",
        placeholder="https://status.placeholder.invalid/webhook",
        required=False,
    )
    slack_webhook: SecretStr | None = secret_setting(
        "Slack incoming webhook for deploy and rollback notices (SLACK_WEBHOOK); required with CI.",
        placeholder="https://hooks.slack.placeholder.invalid/services/placeholder",
        required=False,
    )
    runbook_github_token: SecretStr | None = secret_setting(
        "Fine-grained GitHub token (Contents and Pull requests: write, this infra repository only) the failover and "
        "lockdown runbooks open their stack-file pull request with, so its checks run; required with runbooks.",
        placeholder="github_pat_runbook_placeholder",
        required=False,
    )
    supabase_storage_access_key_id: SecretStr | None = secret_setting(
        "Access key id of Supabase Storage's S3 API, read-only use by the upload backup; required with backups.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    supabase_storage_secret_access_key: SecretStr | None = secret_setting(
        "Secret access key of Supabase Storage's S3 API (the upload backup); required with backups.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    pagerduty_integration_url: SecretStr | None = secret_setting(
        "PagerDuty's Amazon CloudWatch integration URL (its key is part of the URL); required by an https "
        "vibelog:incident.subscribers entry.",
        placeholder="https://events.pagerduty.com/integration/offline-plan-placeholder/enqueue",
        required=False,
    )
    github_dispatch_token: SecretStr | None = secret_setting(
        "Fine-grained GitHub token (Contents: read and write on vibelog:incident.dispatchRepository only) the "
        "rollback alarms start the rollback workflow with (repository_dispatch); required with vibelog:incident.",
        placeholder="github_pat_offline_plan_placeholder",
        required=False,
    )


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
# CI secrets under vibelog:secrets that a stack with a CI environment must hold.
CI_SECRET_FIELDS = ("vercelDeployToken", "statusPageWebhook", "slackWebhook")
GithubId = Annotated[int, Field(ge=1, le=JSON_SAFE_INT_MAX)]


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
    """The app repository's GitHub deployment environment of this stack, and AWS access for this repo's CI."""

    enabled: bool = setting(
        "Declare this stack's GitHub environment (none for development).", example=True, default=False
    )
    environment_name: str | None = setting(
        "Name of the GitHub environment (in the app and the infra repository); required when enabled.",
        example="staging",
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$",
    )
    reviewers: CiReviewers = setting(
        "Required reviewers of a deployment; production needs at least two (users or teams).",
        default_factory=CiReviewers,
    )
    wait_timer: int = setting(
        "Minutes a deployment waits before it may start (GitHub allows 0-43200).", example=0, default=0, ge=0, le=43200
    )
    github_plan: GithubPlan | None = setting(
        "The GitHub plan of github:owner; required when enabled. In private or internal repositories, "
        "environments need pro or team; required reviewers and wait timers need enterprise.",
        example="enterprise",
        default=None,
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
        example="vibelog-infra",
        default="vibelog-infra",
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
            problems.append("requiredChecks must not repeat a check")
        if len(set(self.infra_required_checks)) != len(self.infra_required_checks):
            problems.append("infraRequiredChecks must not repeat a check")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# The runbook workflows' environment in this infra repository is the stack's name with this suffix
# (.github/workflows/runbook-*.yml name `<stack>-runbooks`).
RUNBOOK_ENVIRONMENT_SUFFIX = "-runbooks"


class RunbookSettings(ConfigModel):
    """The runbook workflows' GitHub environment (docs/runbooks.md): who approves a runbook, and how fast."""

    enabled: bool = setting(
        "Declare this stack's `<stack>-runbooks` environment in this infra repository (needs vibelog:ci).",
        example=True,
        default=False,
    )
    reviewers: CiReviewers = setting(
        "The reference's decision makers (tech lead, on-call engineer) who approve a runbook: at least two users "
        "or teams, so whoever starts one cannot approve it alone.",
        default_factory=CiReviewers,
    )
    approval_minutes: int = setting(
        "Minutes an approval may take (the reference: approval < 5 minutes); a run approved later stops before "
        "acting, since the incident it was started for may have changed.",
        example=5,
        default=5,
        ge=1,
        le=60,
    )


# Where Route 53 may probe from (the API's HealthCheckRegion values); it wants at least 3 when any are named.
HealthCheckRegion = Literal[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
]
# The reference's communication plan: who hears about an incident of each severity.
AlertChannel = Literal["pagerduty", "slack_alert", "email_leadership", "email_team"]
P0_CHANNELS: tuple[AlertChannel, ...] = ("slack_alert", "pagerduty", "email_leadership")
HOSTNAME_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
# A name server as `pulumi stack output dns_name_servers` prints it (a trailing dot is tolerated).
NameServer = Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")]
IPV4_PATTERN = r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$"


class VercelDnsTargets(ConfigModel):
    """What Vercel asks a domain's records to point at; newer Vercel accounts get project-specific values."""

    apex_a: str = setting(
        "IPv4 address of the A record at a zone apex (Vercel's documented 76.76.21.21).",
        example="76.76.21.21",
        default="76.76.21.21",
        pattern=IPV4_PATTERN,
    )
    cname: str = setting(
        "Target of the CNAME record of a name below the apex (Vercel's documented cname.vercel-dns.com).",
        example="cname.vercel-dns.com",
        default="cname.vercel-dns.com",
        pattern=HOSTNAME_PATTERN,
    )


class HealthCheckSettings(ConfigModel):
    """The Route 53 health check on the primary origin; defaults are the reference's numbers."""

    path: str = setting(
        "Path probed on the origin: the app's health endpoint (503 when any dependency is unhealthy).",
        example="/api/health",
        default="/api/health",
        pattern=r"^/[^\s]{0,254}$",
    )
    search_string: str = setting(
        "Text the first 5,120 bytes of the response must contain, so an error page served with 200 counts as down.",
        example='"status":"healthy"',
        default='"status":"healthy"',
        min_length=1,
        max_length=255,
    )
    failure_threshold: int = setting(
        "Consecutive failed probes before the origin is unhealthy (the reference: 3).",
        example=3,
        default=3,
        ge=1,
        le=10,
    )
    request_interval: Literal[10, 30] = setting(
        "Seconds between probes from each checker; Route 53 takes 10 or 30 only, and never changes it in place.",
        example=30,
        default=30,
    )
    regions: list[HealthCheckRegion] = setting(
        "Route 53 checker regions probing the origin (at least 3).",
        example=["us-east-1", "us-west-2", "eu-west-1"],
        default_factory=lambda: ["us-east-1", "us-west-2", "eu-west-1"],
        min_length=3,
    )

    @model_validator(mode="after")
    def _regions_unique(self) -> HealthCheckSettings:
        if len(set(self.regions)) != len(self.regions):
            raise CrossFieldError([("vibelog:dns.healthCheck.regions", "regions must not repeat a region")])
        return self


class AlertSubscriber(ConfigModel):
    """One endpoint of the on-call SNS topic."""

    channel: AlertChannel = setting("Which channel of the reference's communication plan this is.", example="pagerduty")
    protocol: Literal["email", "https"] = setting(
        "email (confirmed once by the recipient) or https (PagerDuty's CloudWatch integration URL, a chat webhook).",
        example="email",
    )
    endpoint: str = setting(
        "The address or URL; plaintext config, so not a URL that embeds a key (use an email integration).",
        example="oncall@vibelog.io",
        min_length=3,
    )

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> AlertSubscriber:
        if self.protocol == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.endpoint):
            raise ValueError("endpoint must be an email address when protocol is email")
        if self.protocol == "https" and not re.fullmatch(r"https://[^\s/]+(/\S*)?", self.endpoint):
            raise ValueError("endpoint must be an https:// URL when protocol is https")
        return self


class ZoneDelegation(ConfigModel):
    """A subzone another stack owns: this zone only holds the NS record that points at it."""

    name: str = setting(
        "The delegated name (a zone another stack owns).", example="staging.vibelog.io", pattern=HOSTNAME_PATTERN
    )
    name_servers: list[NameServer] = setting(
        "The subzone's name servers, exactly as its stack exports them (`pulumi stack output dns_name_servers`): "
        "Route 53 gives every zone four.",
        example=["ns-1.awsdns-01.org", "ns-512.awsdns-00.net", "ns-1024.awsdns-00.co.uk", "ns-1536.awsdns-00.com"],
        min_length=2,
        max_length=13,
    )

    @model_validator(mode="after")
    def _name_servers_unique(self) -> ZoneDelegation:
        # A repeated server is a copy-paste slip that leaves one of the zone's real servers out of the delegation.
        if len({server.rstrip(".") for server in self.name_servers}) != len(self.name_servers):
            raise ValueError("nameServers must not repeat a server")
        return self


class DnsSettings(ConfigModel):
    """The stack's own Route 53 zone, the app's records in it, and (optionally) health-checked failover."""

    zone: str = setting(
        "The hosted zone this stack owns, creates and protects (vibelog.io for production).",
        example="vibelog.io",
        pattern=HOSTNAME_PATTERN,
    )
    delegations: list[ZoneDelegation] = setting(
        "Subzones owned by other stacks, delegated from this zone with NS records.", default_factory=list
    )
    vercel: VercelDnsTargets = setting("Vercel's DNS targets.", default_factory=VercelDnsTargets)
    record_ttl: int = setting(
        "TTL of records that are not health-checked, in seconds.", example=300, default=300, ge=60, le=172800
    )
    failover: bool = setting(
        "Fail the app's names over to a degraded-mode page when the Vercel origin is unhealthy.",
        example=True,
        default=False,
    )
    failover_ttl: int = setting(
        "TTL of the failover records, in seconds; short, so resolvers follow a failover quickly.",
        example=60,
        default=60,
        ge=1,
        le=60,
    )
    degraded_region: str | None = setting(
        "AWS region of the degraded-mode page's bucket; another region than aws:region.",
        example="us-west-2",
        default=None,
        pattern=AWS_REGION_PATTERN,
    )
    health_check: HealthCheckSettings = setting("The origin's health check.", default_factory=HealthCheckSettings)
    alerts: list[AlertSubscriber] = setting(
        "Who the health-check alarm notifies: the reference's P0 channels.", default_factory=list
    )
    force_failover: bool = setting(
        "Runbook switch: send traffic to the degraded-mode page now (inverts the health check); false to undo.",
        example=False,
        default=False,
    )

    @model_validator(mode="after")
    def _failover_rules(self) -> DnsSettings:
        problems = []
        key = "vibelog:dns"
        if self.force_failover and not self.failover:
            problems.append((f"{key}.forceFailover", "forceFailover needs failover: true (there is no secondary)"))
        if self.failover and self.degraded_region is None:
            problems.append((f"{key}.degradedRegion", "failover needs the region of the degraded-mode page"))
        if self.failover:
            missing = [channel for channel in P0_CHANNELS if channel not in {a.channel for a in self.alerts}]
            if missing:
                problems.append(
                    (f"{key}.alerts", f"failover is a P0 event; the reference notifies {', '.join(missing)} too")
                )
        seen: set[str] = set()
        for index, delegation in enumerate(self.delegations):
            if not delegation.name.endswith(f".{self.zone}"):
                problems.append((f"{key}.delegations[{index}].name", f"must be a name below {self.zone}"))
            elif delegation.name in seen:
                problems.append((f"{key}.delegations[{index}].name", f"{delegation.name} is delegated twice"))
            seen.add(delegation.name)
        if problems:
            raise CrossFieldError(problems)
        return self


# The reference's incident classes and its communication plan (Incident Response): who hears of each class.
Severity = Literal["P0", "P1", "P2"]
# Channels an alarm reaches through an SNS subscription (an address or an integration URL).
SnsChannel = Literal["pagerduty", "slack_alert", "email_leadership", "email_team"]
# Channels the runbook workflows post to with the reference's templates (status page webhook, in-app banner) or a
# person announces (twitter, customer e-mail): no subscription, so an alarm alone never reaches them.
AnnouncedChannel = Literal["status_page", "in_app_banner", "twitter", "email_customers"]
IncidentChannel = SnsChannel | AnnouncedChannel
SNS_CHANNELS: tuple[SnsChannel, ...] = ("pagerduty", "slack_alert", "email_leadership", "email_team")
REFERENCE_ROUTING: dict[Severity, list[IncidentChannel]] = {
    "P0": ["slack_alert", "pagerduty", "email_leadership", "status_page", "twitter", "email_customers"],
    "P1": ["slack_alert", "email_team", "status_page", "in_app_banner"],
    "P2": ["slack_alert", "status_page"],
}
GITHUB_REPOSITORY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"


# CloudWatch evaluates at most one day of data points (EvaluationPeriods x Period <= 86,400 s; one a minute here).
ALARM_WINDOW_MAX_MINUTES = 1440


class ErrorRateTrigger(ConfigModel):
    """An error-rate condition: the share of requests answered with a 5xx over a window."""

    threshold_percent: float = setting("Error rate, in percent of requests, above which it fires.", gt=0, le=100)
    window_minutes: int = setting(
        "Minutes the rate must stay above the threshold (one data point a minute).", ge=1, le=ALARM_WINDOW_MAX_MINUTES
    )


class ResponseTimeTrigger(ConfigModel):
    """A latency condition: the 95th percentile of request durations over a window."""

    p95_seconds: float = setting("p95 request duration, in seconds, above which it fires.", gt=0)
    window_minutes: int = setting(
        "Minutes the p95 must stay above the threshold (one data point a minute).", ge=1, le=ALARM_WINDOW_MAX_MINUTES
    )


class RollbackTriggers(ConfigModel):
    """The reference's automated rollback triggers (Rollback Procedures): alarms that start the rollback workflow."""

    error_rate: ErrorRateTrigger = setting(
        "error rate > 5% over 5 minutes: immediate rollback.",
        default_factory=lambda: ErrorRateTrigger.model_validate({"thresholdPercent": 5.0, "windowMinutes": 5}),
    )
    response_time: ResponseTimeTrigger = setting(
        "p95 > 5 s over 10 minutes: staged rollback.",
        default_factory=lambda: ResponseTimeTrigger.model_validate({"p95Seconds": 5.0, "windowMinutes": 10}),
    )
    severity: Severity = setting(
        "Incident class a rollback trigger is announced as (a major feature broken: P1).", example="P1", default="P1"
    )


class FailoverTriggers(ConfigModel):
    """The reference's automatic failover triggers beyond the health check (Failover Procedures)."""

    p95_seconds: float = setting("p95 over this many seconds fails over (the reference: 30).", default=30, gt=0)
    error_rate_percent: float = setting(
        "An error rate over this percentage fails over (the reference: 10).", default=10, gt=0, le=100
    )
    window_minutes: int = setting(
        "Minutes either must last before Route 53 sees its alarm (the reference names none: 5).",
        default=5,
        ge=1,
        le=ALARM_WINDOW_MAX_MINUTES,
    )


class IncidentSubscriber(ConfigModel):
    """One endpoint of an incident class's SNS topic."""

    channel: SnsChannel = setting("The communication plan's channel it delivers.", example="slack_alert")
    protocol: Literal["email", "https"] = setting(
        "email (confirmed once by the recipient) or https (PagerDuty's Amazon CloudWatch integration URL, read from "
        "vibelog:secrets.pagerdutyIntegrationUrl: its key is in the URL, so it never sits in plain config).",
        example="email",
    )
    endpoint: str | None = setting(
        "The email address (protocol email); omitted for https, whose URL is the secret pagerdutyIntegrationUrl.",
        example="incidents@vibelog.io",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        default=None,
    )

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> IncidentSubscriber:
        if self.protocol == "email" and self.endpoint is None:
            raise ValueError("endpoint (an email address) is required when protocol is email")
        if self.protocol == "https" and (self.endpoint is not None or self.channel != "pagerduty"):
            raise ValueError(
                "protocol https is PagerDuty's integration URL: channel pagerduty, no endpoint here (set "
                "vibelog:secrets.pagerdutyIntegrationUrl, encrypted)"
            )
        return self


class IncidentSettings(ConfigModel):
    """Detection and communication of incidents: the app's metrics, the rollback alarms, failover triggers, routing."""

    enabled: bool = setting(
        "Declare the incident alarms, the rollback bridge and the per-class topics (not on development).",
        example=True,
        default=False,
    )
    metrics_namespace: str = setting(
        "CloudWatch namespace the app publishes its request metrics to (docs/incident-response.md).",
        example="VibeLog/App",
        default="VibeLog/App",
        pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",
    )
    rollback: RollbackTriggers = setting("Automated rollback triggers.", default_factory=RollbackTriggers)
    failover: FailoverTriggers = setting(
        "Automatic failover triggers, combined with the HTTPS health check (needs vibelog:dns.failover).",
        default_factory=FailoverTriggers,
    )
    dispatch_repository: str | None = setting(
        "owner/name of the repository whose rollback workflow the alarms start (repository_dispatch).",
        example="vibelog/vibelog-infra",
        default=None,
        pattern=GITHUB_REPOSITORY_PATTERN,
    )
    routing: dict[Severity, list[IncidentChannel]] = setting(
        "Which channels each incident class reaches (the reference's communication plan).",
        default_factory=lambda: {severity: list(channels) for severity, channels in REFERENCE_ROUTING.items()},
    )
    subscribers: list[IncidentSubscriber] = setting(
        "Endpoints of the channels an alarm reaches by SNS; every such channel a class routes to needs one.",
        default_factory=list,
    )

    def sns_channels(self, severity: Severity) -> list[SnsChannel]:
        """The channels of a class that an alarm reaches through its topic."""
        return [c for c in SNS_CHANNELS if c in self.routing.get(severity, [])]

    @model_validator(mode="after")
    def _routing_rules(self) -> IncidentSettings:
        key = "vibelog:incident"
        problems = []
        for severity in ("P0", "P1", "P2"):
            channels = self.routing.get(severity)
            if not channels:
                problems.append((f"{key}.routing.{severity}", f"{severity} must reach at least one channel"))
            elif len(set(channels)) != len(channels):
                problems.append((f"{key}.routing.{severity}", "a channel is listed twice"))
        for severity, missing in REFERENCE_ROUTING.items():
            dropped = [c for c in missing if c not in self.routing.get(severity, [])]
            if dropped and self.routing.get(severity):
                problems.append(
                    (
                        f"{key}.routing.{severity}",
                        f"the reference's communication plan sends {severity} to {', '.join(dropped)} too",
                    )
                )
        if self.enabled:
            subscribed = {s.channel for s in self.subscribers}
            routed = {c for severity in ("P0", "P1", "P2") for c in self.sns_channels(severity)}
            for channel in sorted(routed - subscribed):
                problems.append((f"{key}.subscribers", f"{channel} is routed to but has no subscriber"))
            if self.dispatch_repository is None:
                problems.append((f"{key}.dispatchRepository", "the rollback alarms need the workflow's repository"))
        if problems:
            raise CrossFieldError(problems)
        return self


StorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]
RecoveryPath = Literal["supabase_pitr", "backup_vault", "redis_persistence"]
BACKUP_KEY = "vibelog:backup"
SECRETS_KEY_PREFIX = "vibelog:secrets"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
# The backup class each data class is restored from when the vault is its recovery path.
VAULT_FEEDS = {"database": "daily", "user_uploads": "uploads"}


class StorageTransition(ConfigModel):
    """A lifecycle move of a backup into a cheaper storage class."""

    storage_class: StorageClass = setting("The S3 storage class the backup moves to.", example="GLACIER_IR")
    days: int = setting("Days after the backup is written.", example=0, ge=0, le=S3_DAYS_MAX)


class BackupClassSettings(ConfigModel):
    """One class of backups (a key prefix): when the workflow writes it, how long it is kept, where it moves."""

    schedule: str = setting("UTC cron schedule of the workflow that writes this class.", example="0 2 * * *")
    retention_days: int = setting(
        "Days a backup of this class is kept before it expires.", example=30, ge=1, le=S3_DAYS_MAX
    )
    transitions: list[StorageTransition] = setting(
        "Storage-class moves, in order; each class's minimum duration is paid before the next move or expiry.",
        example=[],
        default_factory=list,
    )


def _backup_class(schedule: str, days: int, transitions: list[tuple[StorageClass, int]]) -> BackupClassSettings:
    return BackupClassSettings.model_validate(
        {
            "schedule": schedule,
            "retentionDays": days,
            "transitions": [{"storageClass": cls, "days": day} for cls, day in transitions],
        }
    )


class ObjectLockSettings(ConfigModel):
    """Default Object Lock retention of the vault's buckets: no one deletes a backup version before it ends."""

    mode: ObjectLockMode = setting(
        "GOVERNANCE (s3:BypassGovernanceRetention can lift it) or COMPLIANCE (nobody can, not even root).",
        example="COMPLIANCE",
    )
    days: int = setting("Days each new backup version is locked.", example=30, ge=1, le=OBJECT_LOCK_DAYS_MAX)


class RecoveryObjective(ConfigModel):
    """How much data a class may lose and how long its recovery may take, and what it is recovered from."""

    rpo_minutes: int = setting(
        "Recovery point objective: the most data, in minutes, that may be lost.", example=15, ge=1, le=MINUTES_PER_YEAR
    )
    rto_minutes: int = setting(
        "Recovery time objective: the longest the recovery may take, in minutes.",
        example=240,
        ge=1,
        le=MINUTES_PER_YEAR,
    )
    recovery_path: RecoveryPath = setting(
        "What the class is recovered from; only backup_vault is bound to this vault's schedules.",
        example="supabase_pitr",
    )


class RetentionFloor(ConfigModel):
    """The shortest retention, in days, this stack promises for each backup class."""

    daily: int = setting("Daily database dumps.", example=30, ge=1, le=S3_DAYS_MAX, default=30)
    weekly: int = setting("Weekly database archives (12 weeks).", example=84, ge=1, le=S3_DAYS_MAX, default=84)
    yearly: int = setting("Cold copies of the weekly archive (1 year).", example=365, ge=1, le=S3_DAYS_MAX, default=365)
    uploads: int = setting("Incremental user-upload backups.", example=90, ge=1, le=S3_DAYS_MAX, default=90)


class RecoveryObjectives(ConfigModel):
    """The reference's recovery objectives; the vault's schedules and retention are checked against them."""

    database: RecoveryObjective = setting(
        "Postgres: 15 minutes through Supabase point-in-time recovery, restored within 4 hours.",
        default_factory=lambda: RecoveryObjective.model_validate(
            {"rpoMinutes": 15, "rtoMinutes": 240, "recoveryPath": "supabase_pitr"}
        ),
    )
    user_uploads: RecoveryObjective = setting(
        "User uploads: 1 hour (the backup frequency), from this vault, within 4 hours.",
        default_factory=lambda: RecoveryObjective.model_validate(
            {"rpoMinutes": 60, "rtoMinutes": 240, "recoveryPath": "backup_vault"}
        ),
    )
    application_state: RecoveryObjective = setting(
        "Redis/cache state: 5 minutes, from Redis persistence (not this vault), within 30 minutes.",
        default_factory=lambda: RecoveryObjective.model_validate(
            {"rpoMinutes": 5, "rtoMinutes": 30, "recoveryPath": "redis_persistence"}
        ),
    )
    retention_days: RetentionFloor = setting(
        "The shortest retention promised per backup class.", default_factory=RetentionFloor
    )
    restore_test_every_days: int = setting(
        "Longest gap, in days, between two restore tests (the reference's restore_test_weekly).",
        example=7,
        ge=1,
        le=366,
        default=7,
    )


class BackupSettings(ConfigModel):
    """Database dumps and user-upload backups in a region separate from the primary, locked against deletion."""

    enabled: bool = setting("Declare the backup vault in this stack.", example=True, default=False)
    region: str | None = setting(
        "AWS region of the vault; must differ from aws:region (the reference's separate_region).",
        example="us-west-2",
        pattern=AWS_REGION_PATTERN,
        default=None,
    )
    daily: BackupClassSettings = setting(
        "Daily full dumps (daily/), 02:00 UTC, kept 30 days.",
        default_factory=lambda: _backup_class("0 2 * * *", 30, []),
    )
    weekly: BackupClassSettings = setting(
        "Weekly compressed archives (weekly/), Sunday 01:00 UTC, kept 12 weeks.",
        default_factory=lambda: _backup_class("0 1 * * 0", 84, [("STANDARD_IA", 30)]),
    )
    yearly: BackupClassSettings = setting(
        "The cold copy of the weekly archive (yearly/), kept 1 year in cold storage.",
        default_factory=lambda: _backup_class("0 1 * * 0", 365, [("DEEP_ARCHIVE", 0)]),
    )
    uploads: BackupClassSettings = setting(
        "Incremental user-upload backups, replicated from the uploads bucket, kept 90 days in Glacier.",
        default_factory=lambda: _backup_class("0 * * * *", 90, [("GLACIER_IR", 0)]),
    )
    noncurrent_version_days: int = setting(
        "Days an overwritten or expired backup version is kept before it is removed.",
        example=7,
        ge=1,
        le=S3_DAYS_MAX,
        default=7,
    )
    abort_incomplete_upload_days: int = setting(
        "Days after which an unfinished multipart upload is aborted (its parts are billed until then).",
        example=7,
        ge=1,
        le=S3_DAYS_MAX,
        default=7,
    )
    object_lock: ObjectLockSettings | None = setting(
        "Default Object Lock retention of the vault's buckets; required when enabled.", default=None
    )
    restore_test_schedule: str = setting(
        "UTC cron schedule of the restore-test workflow.", example="0 4 * * 1", default="0 4 * * 1"
    )
    writer_subject: str | None = setting(
        "OIDC subject of the backup jobs: this infra repository's `<stack>-backup` environment (the only writer).",
        example="repo:vibelog/vibelog-infra:environment:production-backup",
        pattern=OIDC_SUBJECT_PATTERN,
        default=None,
    )
    reader_subject: str | None = setting(
        "OIDC subject of the restore test: this infra repository's `<stack>-restore-test` environment (read-only).",
        example="repo:vibelog/vibelog-infra:environment:production-restore-test",
        pattern=OIDC_SUBJECT_PATTERN,
        default=None,
    )
    recovery_objectives: RecoveryObjectives = setting(
        "The recovery objectives these backups must meet.", default_factory=RecoveryObjectives
    )
    supabase_region: str | None = setting(
        "Region of the Supabase project; its Storage S3 API signs requests for it (the upload backup).",
        example="us-east-1",
        pattern=AWS_REGION_PATTERN,
        default=None,
    )
    postgres_major: int = setting(
        "Major version of the Supabase PostgreSQL server; the jobs install this pg_dump/pg_restore (never older).",
        example=15,
        default=15,
        ge=13,
        le=99,  # a two-digit major: the jobs install postgresql-client-<major>
    )

    @property
    def writer_environment(self) -> str:
        """The GitHub environment the writer's subject names (`...:environment:<name>`)."""
        return (self.writer_subject or "").rpartition(":environment:")[2]

    @property
    def reader_environment(self) -> str:
        """The GitHub environment the reader's subject names."""
        return (self.reader_subject or "").rpartition(":environment:")[2]

    def classes(self) -> dict[str, BackupClassSettings]:
        """Every backup class by its key prefix (and config key)."""
        return {"daily": self.daily, "weekly": self.weekly, "yearly": self.yearly, "uploads": self.uploads}

    @model_validator(mode="after")
    def _meets_objectives(self) -> BackupSettings:
        if not self.enabled:
            return self
        problems = [
            (f"{BACKUP_KEY}.{key}", f"{key} is required when the backup vault is enabled")
            for key in ("region", "objectLock", "writerSubject", "readerSubject", "supabaseRegion")
            if getattr(self, to_snake(key)) is None
        ]
        problems += self._lifecycle_problems() + self._objective_problems()
        if problems:
            raise CrossFieldError(problems)
        return self

    def _lifecycle_problems(self) -> list[tuple[str, str]]:
        """Storage-class minimums, understood schedules, retention floors, a lock short enough to let backups expire."""
        problems: list[tuple[str, str]] = []
        floors = self.recovery_objectives.retention_days
        for key, backup in self.classes().items():
            path = f"{BACKUP_KEY}.{key}"
            problems += [(f"{path}.schedule", error) for error in _schedule_errors(backup.schedule)]
            moves = [(move.storage_class, move.days) for move in backup.transitions]
            problems += [(f"{path}.transitions", error) for error in lifecycle_problems(backup.retention_days, moves)]
            floor: int = getattr(floors, key)
            if backup.retention_days < floor:
                problems.append(
                    (
                        f"{path}.retentionDays",
                        f"{backup.retention_days} days is shorter than the {floor} days promised by "
                        f"{BACKUP_KEY}.recoveryObjectives.retentionDays.{key}",
                    )
                )
        shortest = min(backup.retention_days for backup in self.classes().values())
        if self.object_lock is not None and self.object_lock.days > shortest:
            problems.append(
                (
                    f"{BACKUP_KEY}.objectLock.days",
                    f"a {self.object_lock.days}-day lock outlives the shortest retention ({shortest} days): "
                    "those backups could not expire on time",
                )
            )
        return problems

    def _objective_problems(self) -> list[tuple[str, str]]:
        """Where this vault is a class's recovery path, its schedule must be at least as frequent as the RPO."""
        problems: list[tuple[str, str]] = []
        objectives = self.recovery_objectives
        for data_class, objective in (
            ("database", objectives.database),
            ("user_uploads", objectives.user_uploads),
            ("application_state", objectives.application_state),
        ):
            if objective.recovery_path != "backup_vault":
                continue
            objective_key = f"{BACKUP_KEY}.recoveryObjectives.{to_camel(data_class)}"
            source = VAULT_FEEDS.get(data_class)
            if source is None:
                problems.append((f"{objective_key}.recoveryPath", f"the backup vault holds no {data_class} backups"))
                continue
            schedule = self.classes()[source].schedule
            if not _schedule_errors(schedule) and (every := cron_interval_minutes(schedule)) > objective.rpo_minutes:
                problems.append(
                    (
                        f"{BACKUP_KEY}.{source}.schedule",
                        f"runs every {every} minutes, but {objective_key}.rpoMinutes allows losing "
                        f"at most {objective.rpo_minutes} minutes of {data_class}",
                    )
                )
        errors = _schedule_errors(self.restore_test_schedule)
        problems += [(f"{BACKUP_KEY}.restoreTestSchedule", error) for error in errors]
        if not errors and cron_interval_minutes(self.restore_test_schedule) > (
            objectives.restore_test_every_days * MINUTES_PER_DAY
        ):
            problems.append(
                (
                    f"{BACKUP_KEY}.restoreTestSchedule",
                    f"restore tests {cron_interval_minutes(self.restore_test_schedule) // MINUTES_PER_DAY} days apart "
                    f"exceed {BACKUP_KEY}.recoveryObjectives.restoreTestEveryDays "
                    f"({objectives.restore_test_every_days})",
                )
            )
        return problems


def _schedule_errors(cron: str) -> list[str]:
    try:
        cron_interval_minutes(cron)
    except ValueError as error:
        return [str(error)]
    return []


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
    runbooks: RunbookSettings = setting(
        "The runbook workflows' environment (docs/runbooks.md).",
        alias="vibelog:runbooks",
        default_factory=RunbookSettings,
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
            https = any(subscriber.protocol == "https" for subscriber in incident.subscribers)
            if https and self.secrets.pagerduty_integration_url is None:
                missing.append("vibelog:secrets.pagerdutyIntegrationUrl")
                problems.append(
                    (
                        "vibelog:secrets.pagerdutyIntegrationUrl",
                        "a secret is required when a vibelog:incident.subscribers entry uses protocol https",
                    )
                )
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
    def runbook_environment(self) -> str:
        """The runbook workflows' environment of this stack (`<stack>-runbooks`)."""
        return f"{self.environment}{RUNBOOK_ENVIRONMENT_SUFFIX}"

    @model_validator(mode="after")
    def _runbook_rules(self) -> StackSettings:
        """A runbook acts on production at once: it needs approvers GitHub can enforce, and the secrets it uses."""
        runbooks, key = self.runbooks, "vibelog:runbooks"
        if not runbooks.enabled:
            return self
        problems: list[tuple[str, str]] = []
        if not self.ci.enabled:
            problems.append((f"{key}.enabled", "the runbooks use the CI environment's secrets: enable vibelog:ci"))
        if not runbooks.reviewers.two_people:
            problems.append(
                (
                    f"{key}.reviewers",
                    "name the decision makers (tech lead, on-call): at least two users or teams, so nobody "
                    "approves the runbook they started",
                )
            )
        if len(runbooks.reviewers.users) + len(runbooks.reviewers.teams) > 6:
            problems.append((f"{key}.reviewers", "GitHub allows at most 6 reviewers"))
        if self.ci.enabled and "protection_rules" not in self.github_features("infra"):
            problems.append(
                (
                    f"{key}.enabled",
                    "required reviewers are not available to this infra repository on vibelog:ci.githubPlan "
                    f"{self.ci.github_plan}: an unapproved runbook could roll production back",
                )
            )
        missing = [f"{SECRETS_KEY_PREFIX}.runbookGithubToken"] if self.secrets.runbook_github_token is None else []
        problems += [(path, "a secret is required when vibelog:runbooks.enabled is true") for path in missing]
        if problems:
            raise CrossFieldError(problems, missing)
        return self

    @property
    def aws_account_id(self) -> str:
        """The one AWS account this stack may touch; only valid when it declares AWS resources."""
        if not self.aws_allowed_account_ids:
            raise ValueError("aws:allowedAccountIds is required by a stack that declares AWS resources")
        return self.aws_allowed_account_ids[0]


class CrossFieldError(ValueError):
    """Rules that relate several settings, each reported at the config key that has to change."""

    def __init__(self, problems: list[tuple[str, str]], missing_secrets: list[str] | None = None) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems
        self.missing_secrets = frozenset(missing_secrets or ())
        """Paths among the problems that are only a required secret not set yet (the offline plan stands in)."""


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field's annotation holds (through Optional, unions and Annotated), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = model_of(arg)
        if found is not None:
            return found
    return None
