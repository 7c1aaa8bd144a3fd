"""A stack comparison for a terminal, a pull request (Markdown) or a program (JSON)."""

from __future__ import annotations

from typing import Any

from infra.diffs.changes import MISSING, PropertyChange
from infra.diffs.compare import StackComparison
from infra.diffs.review import describe, property_json, show


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
