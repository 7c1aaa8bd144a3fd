"""The app's own sections: its Vercel project, database, Supabase project and monitoring."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from settings.base import ConfigModel, config_path, setting
from settings.scaling import FunctionSettings

Environment = Literal["development", "staging", "production"]
MonitoringLevel = Literal["disabled", "limited", "full"]
DeploymentTarget = Literal["production", "preview", "development"]


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
    functions: FunctionSettings = setting(
        "The Vercel functions' CPU type, timeout and regions (the reference's Scaling Strategy).",
        default_factory=FunctionSettings,
    )

    @model_validator(mode="after")
    def _targets_unique(self) -> AppSettings:
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"{config_path(AppSettings, 'targets')} must not repeat a target")
        return self


class DatabaseSettings(ConfigModel):
    """Where the app's Postgres lives."""

    provider: Literal["local_postgres", "supabase"] = setting(
        "local_postgres for a developer's machine, supabase for hosted environments.", example="supabase"
    )


class SupabaseSettings(ConfigModel):
    """The Supabase project (auth, storage, Postgres) of this stack."""

    # zod's .url() takes any scheme, supabase-js's createClient only http(s) (validateSupabaseUrl, src/lib/helpers.ts).
    url: str = setting(
        "Supabase API URL (SUPABASE_URL), starting with https:// (http:// for a local Supabase).",
        example="https://abcdefghijklmnop.supabase.co",
        pattern=r"^https?://",
    )


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
        sentry, posthog = config_path(MonitoringSettings, "sentry_dsn"), config_path(MonitoringSettings, "posthog_key")
        if wants_sentry and self.sentry_dsn is None:
            problems.append(f"{sentry} is required when level is {self.level}")
        if not wants_sentry and self.sentry_dsn is not None:
            problems.append(f"{sentry} must be unset when level is disabled")
        if wants_posthog and self.posthog_key is None:
            problems.append(f"{posthog} is required when level is full")
        if not wants_posthog and self.posthog_key is not None:
            problems.append(f"{posthog} must be unset when level is {self.level}")
        if problems:
            raise ValueError("; ".join(problems))
        return self
