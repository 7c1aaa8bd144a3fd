"""Two stacks' plans and config side by side: what a promotion from one to the other would change."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.diffs.changes import PropertyChange, ResourceChange, diff_by_name, diff_values
from infra.plans.plan_format import SECRET_TEXT
from settings.credentials import credential_shape
from settings.loader import is_secret_path

# The config keys whose differences a promotion review reads first: what users see switch on or off.
FLAG_KEYS = ("vibelog:featureFlags", "vibelog:operations")


@dataclass
class StackComparison:
    """Two stacks side by side: config values, flags, and resources matched by type and logical name."""

    first: str
    second: str
    config: list[PropertyChange] = field(default_factory=list)
    """Config values that differ (secrets by path only: each stack encrypts with its own key)."""
    flags: list[PropertyChange] = field(default_factory=list)
    """Feature flags and runbook switches that differ."""
    lacking: dict[str, list[str]] = field(default_factory=dict)
    """Per stack, the required secrets its stack file does not hold yet."""
    resources: list[ResourceChange] = field(default_factory=list)
    """create: only in the second stack; delete: only in the first; update: inputs differ."""
    shared: int = 0
    """Resources present in both."""


def compare_documents(
    first: Mapping[str, Any],
    second: Mapping[str, Any],
    first_config: Mapping[str, Any],
    second_config: Mapping[str, Any],
) -> StackComparison:
    """Compare two `plan --json` documents and the stack files' `config:` mappings they were planned from."""
    result = StackComparison(str(first["stack"]), str(second["stack"]))
    for change in diff_values(dict(_config_leaves(first_config)), dict(_config_leaves(second_config))):
        if change.old == SECRET_TEXT and change.new == SECRET_TEXT:
            continue  # set in both; never comparable across stacks
        (result.flags if change.path.startswith(FLAG_KEYS) else result.config).append(change)
    result.lacking = {
        str(doc["stack"]): list(doc.get("config", {}).get("lackingSecrets", [])) for doc in (first, second)
    }
    result.resources, result.shared = diff_by_name(first, second)
    return result


def _config_leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of each config leaf; an encrypted value, any value at or under a secret key (even one
    wrongly committed in plaintext) and any value shaped like a credential, as `[secret]`."""
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        yield path, SECRET_TEXT
    elif isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _config_leaves(item, f"{path}.{key}" if path else str(key))
    else:
        masked = path and (is_secret_path(path) or (isinstance(value, str) and credential_shape(value) is not None))
        yield path, SECRET_TEXT if masked else value
