"""Render the lifecycle record as the Markdown table in docs/lifecycle.md (`python -m infra.diffs.lifecycle_doc`)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from policy.lifecycle import RECORD, Lifecycle, replacement_order
from settings.stacks import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "lifecycle.md"
BEGIN = "<!-- lifecycle table: generated from policy/lifecycle.py by python -m infra.diffs.lifecycle_doc -->"
END = "<!-- end of lifecycle table -->"


def _order(row: Lifecycle) -> str:
    if row.delete_first == "provider":
        return "delete-first (provider)"
    if row.autonamed:
        return f"delete-first (bridge) when `{row.autonamed}` is given, else create-first with a fresh name"
    if not row.key_triggers(row.replace_on):
        return "create-first (no collision: a replacement changes the key)" if row.natural_key else "create-first"
    return "create-first: **collides**, needs `delete_before_replace`"


def _code(names: Iterable[str]) -> str:
    items = sorted(names) if isinstance(names, frozenset) else list(names)
    return ", ".join(f"`{name}`" for name in items) or "—"


def table() -> str:
    """The record as one Markdown table, a row per type token."""
    lines = [
        "| type | forces replacement | natural key | Create on an existing key | by default | gap when delete-first "
        "| read back | import id (`python -m infra adopt`) | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(RECORD, key=lambda row: row.type):
        forces = _code(row.replace_on)
        read_back = "; ".join(f"`{rule.sent}` {rule.when} → `{rule.read_into}`" for rule in row.read_back) or "—"
        gap = replacement_order(row.type, {}, True).gap
        source = row.source.replace("|", "\\|") + ("" if row.checked else " *(not re-read)*")
        adopt = "—"
        if row.import_id is not None:
            adopt = row.import_id.write_only or f"`{row.import_id.template}`: {row.import_id.source}"
            adopt = adopt.replace("|", "\\|")
        lines.append(
            f"| `{row.type}` | {forces} | {_code(row.natural_key)} | {row.create} | {_order(row)} | {gap} "
            f"| {read_back} | {adopt} | {source} |"
        )
    return "\n".join(lines)


def section() -> str:
    """The generated part of docs/lifecycle.md, markers included."""
    return f"{BEGIN}\n{table()}\n{END}"


def current(path: Path = DOC) -> str:
    """The generated part as the document holds it now."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main() -> int:
    """Rewrite the table in docs/lifecycle.md."""
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(text.replace(current(), section()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
