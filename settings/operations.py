"""Runtime switches: the feature flags and the runbooks' operations switches, both read by the app per request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Tag

from settings.base import ConfigModel, setting

FLAG_NAMES = ("NEW_EDITOR", "BATCH_PROCESSING", "TEAM_FEATURES", "DEBUG_MODE")


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
AI_PROVIDER_SECRETS: dict[str, str] = {"openai": "openai_api_key", "anthropic": "anthropic_api_key"}


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
        "Generation of the secrets this program generates (the Edge Config read token and NEXTAUTH_SECRET): bump "
        "it to revoke them (the security-lockdown runbook, docs/incident-response.md).",
        example=0,
        default=0,
        ge=0,
        le=1_000_000,  # a generation counter, part of the token's label: bumped once per lockdown
    )
    keep_previous_secrets: bool = setting(
        "While true, the previous generation's Edge Config token stays valid, so running deployments keep working "
        "until the app is redeployed with the new one; set false (and `pulumi up`) to revoke it. NEXTAUTH_SECRET "
        "has no previous generation: NextAuth accepts one secret.",
        example=False,
        default=False,
    )
