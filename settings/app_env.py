"""The app's environment, derived from a stack's settings: each variable, its value, and the config key behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

from settings.stack import StackSettings, key

NEXTAUTH_SECRET_LENGTH: Final = 64
"""Length of the NEXTAUTH_SECRET the program generates (components/vercel_app.py): letters and digits only, so
64 characters carry about 380 bits, twice the env schema's 32-character floor, and need no quoting anywhere."""

GENERATED_SECRETS: Final[dict[str, int]] = {"NEXTAUTH_SECRET": NEXTAUTH_SECRET_LENGTH}
"""Secret variables the program generates rather than reads from the stack config, with their length: their value
is known only after `pulumi up`, so the loader checks the generator's length against the env schema instead."""


@dataclass(frozen=True)
class EnvVar:
    """One variable of the app's environment."""

    key: str
    """Name of the variable, as the app reads it."""
    value: str
    """Its value; for a secret, handle only through `pulumi.Output.secret`."""
    secret: bool
    """Whether the value is a secret (a Pulumi secret, and `sensitive` on Vercel where allowed)."""
    source: str
    """The config key path the value comes from, for error messages."""


def app_env(settings: StackSettings) -> list[EnvVar]:
    """The variables the app's env schema reads, built from the settings of one stack."""
    env = [
        EnvVar("NODE_ENV", settings.environment, False, key("environment")),
        EnvVar("NEXT_PUBLIC_APP_URL", settings.app_url, False, key("domain")),
        EnvVar("NEXTAUTH_URL", settings.app_url, False, key("domain")),
        EnvVar("SUPABASE_URL", settings.supabase.url, False, key("supabase", "url")),
    ]
    monitoring = settings.monitoring
    if monitoring.sentry_dsn is not None:
        env.append(EnvVar("SENTRY_DSN", monitoring.sentry_dsn, False, key("monitoring", "sentry_dsn")))
    if monitoring.posthog_key is not None:
        env.append(EnvVar("POSTHOG_KEY", monitoring.posthog_key, False, key("monitoring", "posthog_key")))

    secrets = settings.secrets
    secret_vars: list[tuple[str, SecretStr | None, str]] = [
        ("DATABASE_URL", secrets.database_url, "database_url"),
        ("DIRECT_URL", secrets.direct_url, "direct_url"),
        ("OPENAI_API_KEY", secrets.openai_api_key, "openai_api_key"),
        ("ANTHROPIC_API_KEY", secrets.anthropic_api_key, "anthropic_api_key"),
        ("SUPABASE_ANON_KEY", secrets.supabase_anon_key, "supabase_anon_key"),
        ("SUPABASE_SERVICE_ROLE_KEY", secrets.supabase_service_role_key, "supabase_service_role_key"),
        ("RESEND_API_KEY", secrets.resend_api_key, "resend_api_key"),
        ("STRIPE_SECRET_KEY", secrets.stripe_secret_key, "stripe_secret_key"),
    ]
    env.extend(
        EnvVar(name, value.get_secret_value(), True, key("secrets", field))
        for name, value, field in secret_vars
        if value is not None
    )
    return env
