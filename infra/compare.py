"""`python -m infra compare staging production`: what differs between two stacks, so a promotion is reviewed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.changes import MISSING, PropertyChange, ResourceChange, diff_by_name, diff_values
from infra.engine import plan_stack
from infra.exits import EXIT_NO, EXIT_OK, EXIT_USAGE
from infra.plan_format import SECRET_TEXT
from infra.render import plan_json
from infra.review import describe, property_json, show
from infra.stackfile import StackFileError
from settings.loader import ConfigError, is_secret_path
from settings.stacks import STACKS

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
    """(path, value) of each config leaf; an encrypted value, and any value at or under a secret key (even one
    wrongly committed in plaintext), as `[secret]`."""
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        yield path, SECRET_TEXT
    elif isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _config_leaves(item, f"{path}.{key}" if path else str(key))
    else:
        yield path, SECRET_TEXT if path and is_secret_path(path) else value


def comparison_text(result: StackComparison, markdown: bool = False) -> str:
    """The comparison for a terminal, or as Markdown for a pull request."""
    a, b = result.first, result.second
    lines = [f"### `{a}` → `{b}`" if markdown else f"Comparing stack {a} with {b}", ""]

    def section(title: str, changes: list[PropertyChange]) -> None:
        if not changes:
            return
        if markdown:
            lines.extend([f"**{title}**", "", f"| Key | `{a}` | `{b}` |", "|---|---|---|"])
            lines.extend(
                f"| `{c.path}` | {_value(c.old, c.secret)} | {_value(c.new, c.secret)} |".replace("\n", " ")
                for c in changes
            )
        else:
            lines.append(f"{title}:")
            lines.extend(f"    {c.path}: {_value(c.old, c.secret)} | {_value(c.new, c.secret)}" for c in changes)
        lines.append("")

    section("Feature flags and switches", result.flags)
    section("Config", result.config)
    for stack, paths in result.lacking.items():
        if paths:
            lines.append(f"{stack} still lacks {len(paths)} secret(s): {', '.join(paths)}")
    only_first = [c for c in result.resources if c.op == "delete"]
    only_second = [c for c in result.resources if c.op == "create"]
    differing = [c for c in result.resources if c.op == "update"]
    lines.append(
        f"{'' if not markdown else chr(10)}Resources: {result.shared} in both, {len(differing)} of them with "
        f"different inputs; {len(only_first)} only in {a}; {len(only_second)} only in {b}"
    )
    for title, group in ((f"Only in {a}", only_first), (f"Only in {b}", only_second)):
        if group:
            lines.append(f"  {title}:")
            lines.extend(f"    {c.type}  {c.name}" for c in group)
    if differing:
        body = [f"  {c.type}  {c.name}\n" + "\n".join(f"      {describe(p)}" for p in c.properties) for c in differing]
        if markdown:
            lines += ["", "<details><summary>Inputs that differ</summary>", "", "```", *body, "```", "</details>"]
        else:
            lines += ["  Inputs that differ:", *body]
    return "\n".join(lines).rstrip() + "\n"


def _value(value: Any, secret: bool) -> str:
    if value is MISSING:
        return "(not set)"
    return "[secret]" if secret else show(value)


def comparison_json(result: StackComparison) -> dict[str, Any]:
    """The comparison as data."""
    return {
        "first": result.first,
        "second": result.second,
        "flags": [property_json(c) for c in result.flags],
        "config": [property_json(c) for c in result.config],
        "lackingSecrets": result.lacking,
        "resourcesInBoth": result.shared,
        "onlyInFirst": [{"type": c.type, "name": c.name} for c in result.resources if c.op == "delete"],
        "onlyInSecond": [{"type": c.type, "name": c.name} for c in result.resources if c.op == "create"],
        "differentInputs": [
            {"type": c.type, "name": c.name, "properties": [property_json(p) for p in c.properties]}
            for c in result.resources
            if c.op == "update"
        ],
    }


def main(argv: list[str]) -> int:
    """Print how the second stack differs from the first: exit 0 when compared, 1 when a stack's config is
    invalid, 2 on bad arguments or an unreadable stack file."""
    parser = argparse.ArgumentParser(prog="python -m infra compare", description=__doc__)
    parser.add_argument("first", choices=STACKS, help="the stack a change has been tried on (e.g. staging)")
    parser.add_argument("second", choices=STACKS, help="the stack it is promoted to (e.g. production)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="Markdown for a pull-request comment")
    output.add_argument("--json", action="store_true", help="the differences as JSON")
    args = parser.parse_args(argv)
    plans = []
    for stack in (args.first, args.second):
        try:
            plans.append(plan_stack(stack))
        except StackFileError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_NO
    result = compare_documents(
        plan_json(plans[0]), plan_json(plans[1]), plans[0].config.document, plans[1].config.document
    )
    if args.json:
        print(json.dumps(comparison_json(result), indent=2))
    else:
        print(comparison_text(result, markdown=args.markdown), end="")
    return EXIT_OK
