"""The pack: its name, its default enforcement level, and every domain's rules in one list.

The same validators run under the engine (`pulumi preview --policy-pack policy`, assembled by `policy/__main__.py`)
and offline (`python -m infra plan`, through `infra.engine.policies`), both times on pulumi_policy's own argument
types. What a validator sees is what CrossGuard gives it: secret values decrypted (so secrecy is judged from the
`additional_secret_outputs` option, the one signal the engine passes), unknown values of a preview as sentinels
(read through `policy.values.plain`, then skipped, never flagged).
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, Policy

from policy import aws_iam, backups, dns, github, secrecy, state, vercel
from policy.registry import Rule

PACK_NAME: Final = "vibelog-guardrails"
PACK_ENFORCEMENT_LEVEL: Final = EnforcementLevel.MANDATORY
"""Level of every rule that does not set its own; a pack config entry overrides either."""

DOMAINS = (vercel, secrecy, state, backups, dns, github, aws_iam)
"""The domain modules, each declaring its rules beside their validators."""


def rules() -> list[Rule]:
    """Every rule of the pack, domain by domain."""
    return [rule for domain in DOMAINS for rule in domain.RULES.rules]


def build_policies() -> list[Policy]:
    """Every rule of the pack, with its default enforcement level; the pack and the offline plan both use this."""
    return [rule.policy() for rule in rules()]


def policy_names() -> list[str]:
    """The names of the pack's rules, in order."""
    return [rule.name for rule in rules()]
