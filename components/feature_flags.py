"""Feature flags and runbook switches in a Vercel Edge Config store, read by the app at request time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumiverse_vercel as vercel

from settings.stack import StackSettings


@dataclass(frozen=True)
class FeatureFlagsArgs:
    """The items of one stack's Edge Config store."""

    store_name: str
    """Name of the Edge Config store; one per stack, so staging can never flip production."""
    flags: Mapping[str, int]
    """Each feature flag as the percentage of users who get it: 0 off, 100 on, in between a gradual rollout."""
    switches: Mapping[str, Any]
    """Runbook switches (MAINTENANCE_MODE, SECURITY_MODE, AI_PROVIDER, DEGRADED_MODE), as JSON values."""
    token_generations: Sequence[int] = (0,)
    """Generations of the read token that exist; the last one is the app's. Bumping vibelog:operations.secretRotation
    adds one; keepPreviousSecrets keeps the one before it until the app is redeployed."""

    @classmethod
    def from_settings(cls, settings: StackSettings) -> FeatureFlagsArgs:
        """The args for the stack these settings describe."""
        return cls(
            store_name=f"{settings.app.project_name}-flags",
            flags=settings.feature_flags.percentages(),
            switches={
                "MAINTENANCE_MODE": settings.operations.maintenance_mode,
                "SECURITY_MODE": settings.operations.security_mode,
                "AI_PROVIDER": settings.operations.ai_provider,
                "DEGRADED_MODE": settings.operations.degraded_mode,
            },
            token_generations=token_generations(
                settings.operations.secret_rotation, settings.operations.keep_previous_secrets
            ),
        )


def token_generations(rotation: int, keep_previous: bool) -> tuple[int, ...]:
    """The read-token generations a rotation counter declares: the current one, and the previous one if kept."""
    return (rotation - 1, rotation) if keep_previous and rotation > 0 else (rotation,)


def token_resource_name(name: str, generation: int) -> str:
    """Resource name of one generation of the read token; generation 0 keeps the name tokens had before rotation."""
    return f"{name}-read-token" if generation == 0 else f"{name}-read-token-r{generation}"


class FeatureFlags(pulumi.ComponentResource):
    """An Edge Config store holding the flags and switches, and the read token the app connects with.

    Edge Config is read per request, so `pulumi up` flips a flag without a redeploy; `NEXT_PUBLIC_*` env vars
    would be baked into the build instead.
    """

    connection_string: pulumi.Output[str]
    """Secret connection string the app reads as EDGE_CONFIG."""
    store_id: pulumi.Output[str]
    """Id of the Edge Config store."""

    def __init__(self, name: str, args: FeatureFlagsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:flags:FeatureFlags", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Protected: every running deployment reads this store by id (EDGE_CONFIG), and reads throw once it is
        # deleted, until a redeploy with a new one; an adopted store also holds keys set by hand that nothing here
        # declares (docs/adopting.md). A rename in code or a `destroy` must not delete it on the way.
        self.store = vercel.EdgeConfig(
            f"{name}-store",
            name=args.store_name,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        items: dict[str, Any] = {key: {"rolloutPercent": percent} for key, percent in args.flags.items()}
        items.update(args.switches)
        # vercel/terraform-provider-vercel vercel/resource_edge_config_item.go: an item has no Update (every input is
        # RequiresReplaceIfConfigured), Create is an upsert PATCH of the key and Delete removes the key. Replaced
        # create-first (Pulumi's default), a flag flip would upsert the new value and then delete the key: the flag
        # would vanish. Delete-first leaves the key missing between the two calls, which the app reads as its default.
        replaced_delete_first = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        self.items = [
            vercel.EdgeConfigItem(
                f"{name}-item-{key.lower().replace('_', '-')}",
                edge_config_id=self.store.id,
                key=key,
                **item_value(value),
                opts=replaced_delete_first,
            )
            for key, value in items.items()
        ]
        # A rotation is a new resource per generation, not a replacement of one token: Pulumi deletes a replaced
        # token at the end of the same `up`, before the app is redeployed with the new connection string, and
        # running deployments would serve with a revoked token. Here the previous generation lives on while
        # keepPreviousSecrets is true (new token, env var switched, app redeployed), and a second `up` deletes it.
        # vercel/resource_edge_config_token.go: label and edge_config_id RequiresReplace, Create mints a new token
        # (no natural key), Delete revokes it.
        self.tokens = [
            vercel.EdgeConfigToken(
                token_resource_name(name, generation),
                edge_config_id=self.store.id,
                label="vibelog app (read)" if generation == 0 else f"vibelog app (read, rotation {generation})",
                opts=child,
            )
            for generation in args.token_generations
        ]
        self.token = self.tokens[-1]

        self.store_id = self.store.id
        self.connection_string = pulumi.Output.secret(self.token.connection_string)
        self.register_outputs({"store_id": self.store_id, "connection_string": self.connection_string})


def item_value(value: Any) -> dict[str, Any]:
    """The EdgeConfigItem argument that holds `value`: a string goes in `value`, anything else in `value_json`.

    The provider reads an item back with parseRawToState (vercel/resource_edge_config_item.go): a JSON string lands
    in `value` and `value_json` becomes null. A string sent as `value_json` would differ from its own state on every
    refresh, and since both are RequiresReplaceIfConfigured the item would be replaced (deleted) on every `up`.
    """
    return {"value": value} if isinstance(value, str) else {"value_json": value}
