"""Set one runbook switch in a stack file, keeping its comments, so the change is a reviewable one-line diff."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ops.errors import JobError

# The switches a runbook changes through a pull request and `pulumi up` (docs/runbooks.md): section, key, values.
STACK_SWITCHES: dict[str, tuple[str, str, type]] = {
    "dns.forceFailover": ("vibelog:dns", "forceFailover", bool),
    "operations.securityMode": ("vibelog:operations", "securityMode", str),
    "operations.maintenanceMode": ("vibelog:operations", "maintenanceMode", bool),
    "operations.degradedMode": ("vibelog:operations", "degradedMode", bool),
    "operations.aiProvider": ("vibelog:operations", "aiProvider", str),
    "operations.secretRotation": ("vibelog:operations", "secretRotation", int),
    "operations.keepPreviousSecrets": ("vibelog:operations", "keepPreviousSecrets", bool),
}


def render(value: Any) -> str:
    """The YAML scalar of a switch value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read(text: str, switch: str) -> Any:
    """The switch's current value in a stack file's text (None when unset)."""
    section, key, _ = STACK_SWITCHES[switch]
    config = (yaml.safe_load(text) or {}).get("config", {})
    block = config.get(section) or {}
    return block.get(key) if isinstance(block, dict) else None


def set_switch(text: str, switch: str, value: Any) -> str:
    """`text` with the switch set: its line rewritten (comment kept), or added at the top of its section."""
    if switch not in STACK_SWITCHES:
        raise JobError(f"{switch} is not a stack switch a runbook changes (known: {sorted(STACK_SWITCHES)})")
    section, key, kind = STACK_SWITCHES[switch]
    if type(value) is not kind:
        raise JobError(f"{switch} takes a {kind.__name__}, not {value!r}")
    lines = text.splitlines(keepends=True)
    header = re.compile(rf"^  {re.escape(section)}:\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line.rstrip("\n"))), None)
    if start is None:
        raise JobError(f"the stack file has no {section} section")
    entry = re.compile(rf"^(    {re.escape(key)}:)\s*[^#\n]*?(\s+#.*)?$")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(("    ", "\n"))), len(lines))
    for i in range(start + 1, end):
        match = entry.match(lines[i].rstrip("\n"))
        if match:
            lines[i] = f"{match[1]} {render(value)}{match[2] or ''}\n"
            break
    else:
        lines.insert(start + 1, f"    {key}: {render(value)}\n")
    result = "".join(lines)
    if read(result, switch) != value:
        raise JobError(f"could not set {switch} in the stack file")
    return result


def edit(path: Path, switch: str, value: Any) -> tuple[Any, Any]:
    """Set the switch in the file at `path`; (value before, value after)."""
    text = path.read_text(encoding="utf-8")
    before = read(text, switch)
    path.write_text(set_switch(text, switch, value), encoding="utf-8")
    return before, value
