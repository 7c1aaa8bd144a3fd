"""Render stack diffs for a reviewer: a terminal view, Markdown for a pull-request comment, and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from infra.diffs.changes import MISSING, PropertyChange, ResourceChange, StackDiff
from infra.plans.plan_format import SECRET_TEXT, UNKNOWN_TEXT
from policy.collisions import LEVEL, RULE
from policy.unknowns import UNKNOWN_SHOWN

# Marks the sticky pull-request comment so a workflow can find and update it instead of adding another.
COMMENT_MARKER = "<!-- vibelog-infra-diff -->"
SYMBOL = {
    "create": "+",
    "delete": "-",
    "update": "~",
    "replace": "+-",
    "move": "→",
    "move+update": "→~",
    "move+replace": "→+-",
}
VALUE_WIDTH = 200


def show(value: Any) -> str:
    """A value as a reviewer reads it: JSON, secrets masked, unknowns and absences named."""
    if value is MISSING:
        return "(none)"
    if value == UNKNOWN_TEXT:
        return "[known after apply]"
    if value == SECRET_TEXT:
        return SECRET_TEXT
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace(f'"{UNKNOWN_TEXT}"', UNKNOWN_SHOWN)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def describe(change: PropertyChange) -> str:
    """One property change on one line: `path: old → new`, a secret without either value."""
    mark = "  [forces replacement]" if change.replaces else ""
    if change.secret:
        what = {"add": "secret set", "remove": "secret removed", "update": "secret changed (value not shown)"}
        return f"{change.path}: {what[change.kind]}{mark}"
    return f"{change.path}: {show(change.old)} → {show(change.new)}{mark}"


def warnings(change: ResourceChange) -> list[str]:
    """What a reviewer must not miss about one resource change."""
    found = []
    if change.loud:
        verb = "DELETES" if change.op == "delete" else "REPLACES"
        found.append(f"{verb} a resource that holds data or identity ({_why_data(change)})")
    if change.protected and change.op in {"delete", "replace"}:
        found.append("protected: `pulumi up` will refuse until protect is lifted in a separate change")
    if change.retained and change.op in {"delete", "replace"}:
        found.append("retainOnDelete: the old one stays in the cloud, no longer managed")
    if change.op == "replace" and change.delete_before_replace:
        found.append("deleteBeforeReplace: there is a gap between the delete and the create")
    found += [f"[{LEVEL}] {RULE}: {message}" for message in change.collisions]
    return found


def _why_data(change: ResourceChange) -> str:
    if change.protected:
        return "protect"
    if change.retained:
        return "retainOnDelete"
    return change.type


def summary_line(diff: StackDiff) -> str:
    """`2 to update, 1 to replace` (or `no changes`)."""
    if diff.error:
        return f"error: {diff.error.splitlines()[0] if diff.error else ''}"
    counts = diff.counts()
    parts = [f"{n} to {op}" for op, n in counts.items() if n]
    if diff.outputs:
        parts.append(f"{len(diff.outputs)} output(s) changed")
    if diff.config:
        parts.append(f"{len(diff.config)} encrypted config value(s) changed")
    return ", ".join(parts) if parts else "no changes"


# ---------------------------------------------------------------------------------------------- terminal view
def diff_text(diffs: Sequence[StackDiff], title: str) -> str:
    """The diff of every stack as a terminal view, like `pulumi preview --diff`."""
    lines = [title, ""]
    for diff in diffs:
        lines.append(f"Stack {diff.stack}: {summary_line(diff)}")
        if diff.error:
            lines += [f"    {line}" for line in diff.error.splitlines()]
        for change in diff.resources:
            lines += _resource_lines(change)
        if diff.outputs:
            lines.append("  Outputs:")
            lines += [f"      ~ {describe(change)}" for change in diff.outputs]
        if diff.config:
            lines.append("  Encrypted config (stack file):")
            lines += [f"      ~ {describe(change)}" for change in diff.config]
        if diff.uncompared_secrets:
            lines.append(f"  ({_uncompared(diff)})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _resource_lines(change: ResourceChange) -> list[str]:
    lines = [f"  {SYMBOL[change.action]:<4}{change.type}  {change.name}"]
    if change.moved:
        lines.append(f"        moved from {change.old_urn}")
    if change.replace_reasons:
        lines.append(f"        replaced because of: {', '.join(change.replace_reasons)}")
    if change.order is not None:
        lines.append(f"        order: {change.order.text()}")
    lines += [f"        !! {warning}" for warning in warnings(change)]
    lines += [f"        {describe(p)}" for p in change.properties]
    lines += [f"        (option) {describe(p)}" for p in change.options]
    if change.op == "create" and change.custom and change.inputs:
        lines += [f"        {key}: {show(value)}" for key, value in change.inputs.items() if key != "comment"]
    return lines


def _uncompared(diff: StackDiff) -> str:
    return (
        f"{diff.uncompared_secrets} secret value(s) not compared: the base plan carries no secret fingerprints "
        "(its code predates them); they are assumed unchanged"
    )


# ------------------------------------------------------------------------------------------------- Markdown
def diff_markdown(diffs: Sequence[StackDiff], title: str) -> str:
    """The diff as a pull-request comment: a summary table, then per stack a table and folded details."""
    lines = [COMMENT_MARKER, f"### {title}", ""]
    lines += ["| Stack | Create | Update | Replace | Delete | Move | |", "|---|--:|--:|--:|--:|--:|---|"]
    for diff in diffs:
        counts = diff.counts()
        loud = sum(1 for change in diff.resources if change.loud)
        note = "error" if diff.error else ("⚠️ data at risk" if loud else ("no changes" if not diff.changed else ""))
        cells = " | ".join(str(counts[op]) for op in ("create", "update", "replace", "delete", "move"))
        lines.append(f"| `{diff.stack}` | {cells} | {note} |")
    lines.append("")
    for diff in diffs:
        lines += _stack_markdown(diff)
    return "\n".join(lines).rstrip() + "\n"


def _stack_markdown(diff: StackDiff) -> list[str]:
    lines = [f"#### `{diff.stack}`: {_cell(summary_line(diff))}", ""]
    if diff.error:
        return [*lines, "```", diff.error.rstrip(), "```", ""]
    loud = [change for change in diff.resources if change.loud or change.collisions]
    if loud:
        lines += ["> [!CAUTION]"]
        lines += [
            f"> **{change.action}** `{change.name}` ({change.type}): {'; '.join(warnings(change))}  " for change in loud
        ]
        lines.append("")
    if diff.resources:
        lines += ["| | Resource | Type | What changes |", "|---|---|---|---|"]
        for change in diff.resources:
            lines.append(
                f"| {_cell(SYMBOL[change.action])} {change.action} | `{_cell(change.name)}` | "
                f"`{_cell(change.type)}` | {_cell(_what(change))} |"
            )
        lines.append("")
    detail = _detail_lines(diff)
    if detail:
        lines += ["<details><summary>Property changes</summary>", "", "```diff", *detail, "```", "", "</details>", ""]
    if diff.uncompared_secrets:
        lines += [f"_{_uncompared(diff)}_", ""]
    return lines


def _what(change: ResourceChange) -> str:
    if change.op == "create":
        return "new"
    if change.op == "delete":
        return "removed" + (" (protected: will be refused)" if change.protected else "")
    parts = []
    if change.moved:
        parts.append(f"moved from `{change.old_urn.rsplit('::', 1)[-1]}`")
    if change.replace_reasons:
        parts.append("**replaced** because of " + ", ".join(f"`{reason}`" for reason in change.replace_reasons))
    if change.order is not None:
        parts.append(change.order.text())
    changed = [p.path for p in change.properties if not p.replaces] + [p.path for p in change.options]
    if changed:
        parts.append(", ".join(f"`{path}`" for path in changed))
    return "; ".join(parts)


def _detail_lines(diff: StackDiff) -> list[str]:
    """The body of a ```diff block: - old / + new per property (secrets by name only)."""
    lines: list[str] = []
    for change in diff.resources:
        if change.op == "delete":
            lines.append(f"- {change.type} {change.name}")
            continue
        if change.op == "create":
            lines.append(f"+ {change.type} {change.name}")
            if change.custom:
                lines += [f"+     {k}: {show(v)}" for k, v in change.inputs.items() if k != "comment"]
            continue
        lines.append(f"! {change.type} {change.name}" + (f"  (was {change.old_urn})" if change.moved else ""))
        for prop in [*change.properties, *(p for p in change.options)]:
            mark = "  # forces replacement" if prop.replaces else ""
            if prop.secret:
                lines.append(f"!     {describe(prop)}")
                continue
            if prop.old is not MISSING:
                lines.append(f"-     {prop.path}: {show(prop.old)}{mark}")
            if prop.new is not MISSING:
                lines.append(f"+     {prop.path}: {show(prop.new)}{mark}")
    for prop in diff.outputs:
        lines.append(f"! output {describe(prop)}")
    for prop in diff.config:
        lines.append(f"! config {describe(prop)}")
    return [line.replace("```", "` ` `") for line in lines]  # a value must not close the fence


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ----------------------------------------------------------------------------------------------------- JSON
def diff_json(diffs: Sequence[StackDiff], base: str) -> dict[str, Any]:
    """The diff as data: per stack its resource changes with property-level old/new (secrets masked)."""
    return {
        "base": base,
        "changed": any(diff.changed for diff in diffs),
        "stacks": {diff.stack: stack_json(diff) for diff in diffs},
    }


def stack_json(diff: StackDiff) -> dict[str, Any]:
    """One stack's diff as data."""
    return {
        "changed": diff.changed,
        "error": diff.error or None,
        "summary": diff.counts(),
        "resources": [
            {
                "action": change.action,
                "urn": change.urn,
                "oldUrn": change.old_urn or None,
                "type": change.type,
                "name": change.name,
                "replaceReasons": change.replace_reasons,
                "replaceOrder": _order_json(change),
                "holdsData": change.holds_data,
                "warnings": warnings(change),
                "properties": [property_json(p) for p in change.properties],
                "options": [property_json(p) for p in change.options],
            }
            for change in diff.resources
        ],
        "outputs": [property_json(p) for p in diff.outputs],
        "encryptedConfig": [property_json(p) for p in diff.config],
        "uncomparedSecrets": diff.uncompared_secrets,
    }


def _order_json(change: ResourceChange) -> dict[str, Any] | None:
    if change.order is None:
        return None
    return {
        "deleteFirst": change.order.delete_first,
        "why": change.order.why,
        "gap": change.order.gap,
    }


def property_json(change: PropertyChange) -> dict[str, Any]:
    """One property change as data; a secret carries no value on either side."""
    shown: dict[str, Any] = {"path": change.path, "kind": change.kind}
    if change.secret:
        shown["secret"] = True
    else:
        shown["old"] = None if change.old is MISSING else change.old
        shown["new"] = None if change.new is MISSING else change.new
    if change.replaces:
        shown["forcesReplacement"] = True
    return shown
