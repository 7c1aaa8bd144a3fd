"""Set runbook switches in a stack file, keeping its comments, so the change is a reviewable one-line diff; the edited
stack is validated as `python -m infra plan` validates it, and written whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.errors import JobError
from settings.loader import ConfigError, load_settings
from settings.operations import OperationsSettings
from settings.stack import StackSettings
from settings.stackfile import StackFileError, checked_config, load_yaml, read_stack_config, read_text_bounded

# The switches a runbook changes through a pull request and `pulumi up` (docs/runbooks.md): section, key. What each
# may hold is the settings models' to say.
STACK_SWITCHES: dict[str, tuple[str, str]] = {
    "dns.forceFailover": ("vibelog:dns", "forceFailover"),
    "operations.securityMode": ("vibelog:operations", "securityMode"),
    "operations.maintenanceMode": ("vibelog:operations", "maintenanceMode"),
    "operations.degradedMode": ("vibelog:operations", "degradedMode"),
    "operations.aiProvider": ("vibelog:operations", "aiProvider"),
    "operations.secretRotation": ("vibelog:operations", "secretRotation"),
    "operations.keepPreviousSecrets": ("vibelog:operations", "keepPreviousSecrets"),
}
# The Edge Config switches a runbook flips at once (ops/runbook/steps.py SWITCHES), each with the stack setting that
# declares its item: a flip is checked as that setting's value, so it is refused where the stack file would be (the
# AI fallback without its key in the app's env).
EDGE_SWITCHES: dict[str, str] = {
    "MAINTENANCE_MODE": "operations.maintenanceMode",
    "DEGRADED_MODE": "operations.degradedMode",
    "AI_PROVIDER": "operations.aiProvider",
    "SECURITY_MODE": "operations.securityMode",
}
# securityMode while a security lockdown lasts (the security-lockdown runbook).
LOCKDOWN_MODE = "enhanced"
# A word YAML reads back as the same string: anything else is written quoted.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Edit:
    """What setting switches in one stack file did."""

    path: Path
    """The stack file."""
    before: Mapping[str, Any]
    """Each switch asked for, with the value the file held (None when unset)."""
    after: Mapping[str, Any]
    """The switches whose value changed, with their new value; empty when the file already held every value."""

    def lines(self) -> list[str]:
        """One line per switch: what changed, or that it already held the value."""
        return [
            f"{self.path}: vibelog:{switch} {_shown(before)} -> {render(self.after[switch])}"
            if switch in self.after
            else f"{self.path}: vibelog:{switch} is already {render(before)}; unchanged"
            for switch, before in self.before.items()
        ]


def _shown(value: Any) -> str:
    return "(unset)" if value is None else render(value)


def render(value: Any) -> str:
    """The YAML scalar of a switch value, on one line: text that YAML would read otherwise is quoted (JSON is YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and load_yaml(text, "the value") == text:
        return text
    return json.dumps(text)


def set_switch(text: str, switch: str, value: Any) -> str:
    """`text` with the switch set: its line rewritten (comment and line ending kept), or added at the top of its
    section. The caller checks the result: this edits lines, it does not parse YAML."""
    if switch not in STACK_SWITCHES:
        raise JobError(f"{switch} is not a stack switch a runbook changes (known: {sorted(STACK_SWITCHES)})")
    section, key = STACK_SWITCHES[switch]
    lines = text.splitlines(keepends=True)
    header = re.compile(rf"  {re.escape(section)}:[ \t]*(#.*)?")
    start = next((i for i, line in enumerate(lines) if header.fullmatch(_body(line))), None)
    if start is None:
        raise JobError(f"the stack file has no `  {section}:` block to set {switch} in")
    entry = re.compile(rf"(    {re.escape(key)}:)[ \t]*[^#]*?([ \t]+#.*)?")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i].startswith("    ")), len(lines)
    )
    for i in range(start + 1, end):
        match = entry.fullmatch(_body(lines[i]))
        if match:
            lines[i] = f"{match[1]} {render(value)}{match[2] or ''}{lines[i][len(_body(lines[i])) :]}"
            break
    else:
        ending = lines[start][len(_body(lines[start])) :] or "\n"
        lines.insert(start + 1, f"    {key}: {render(value)}{ending}")
    return "".join(lines)


def _body(line: str) -> str:
    """The line without its ending (\\n or \\r\\n)."""
    return line.rstrip("\r\n")


def current(path: Path, stack: str) -> StackSettings:
    """The stack's settings as its file holds them now, validated (defaults filled in); JobError if it cannot be."""
    try:
        config = read_stack_config(stack, path.parent, read_text_bounded(path))
        return load_settings(stack, config.values, config.secret_keys)
    except StackFileError as error:
        raise JobError(str(error)) from None
    except ConfigError as error:
        raise JobError(refusal(path, error, "the stack is invalid as it stands")) from None


def apply(path: Path, stack: str, changes: Sequence[tuple[str, Any]]) -> Edit:
    """Set the switches in the stack file at `path`, if the edited stack passes the settings models as `plan` runs
    them. The file is replaced whole (a temporary file beside it, synced, then renamed) or left byte for byte as it
    was; a switch that already holds its value is not rewritten, so a second run changes nothing."""
    edit, edited = _edited(path, stack, changes, "refused, the file is unchanged")
    if not edit.after:
        return edit
    try:
        write_whole(path, edited)
    except OSError as error:
        raise JobError(
            f"{path} cannot be written ({error.strerror or type(error).__name__}); it is unchanged"
        ) from None
    return edit


def check(path: Path, stack: str, changes: Sequence[tuple[str, Any]]) -> None:
    """JobError unless the stack at `path`, with the switches set, passes the settings models as `plan` runs them;
    nothing is written (a switch flipped in Edge Config now, declared in the stack file afterwards)."""
    _edited(path, stack, changes, "refused, nothing was switched")


def _edited(path: Path, stack: str, changes: Sequence[tuple[str, Any]], refused: str) -> tuple[Edit, str]:
    """What setting the switches does to the stack file, and its edited text, once the edited stack is valid."""
    wanted = dict(changes)
    if len(wanted) != len(changes):
        raise JobError("a switch is given twice")
    try:
        text = read_text_bounded(path)
        document = read_stack_config(stack, path.parent, text).document
        before = {switch: _held(document, switch) for switch in wanted}
        after = {switch: value for switch, value in wanted.items() if not _same(before[switch], value)}
        if not after:
            return Edit(path, before, {}), text
        edited = text
        for switch, value in after.items():
            edited = set_switch(edited, switch, value)
        expected = dict(document)
        for switch, value in after.items():
            section, key = STACK_SWITCHES[switch]
            block = expected.get(section)
            expected[section] = {**(block if isinstance(block, dict) else {}), key: value}
        if checked_config(stack, path.parent, edited).document != expected:
            raise JobError(f"{path}: could not set {', '.join(after)} by editing its line alone; nothing was written")
    except StackFileError as error:
        raise JobError(str(error)) from None
    except ConfigError as error:
        raise JobError(refusal(path, error, refused)) from None
    return Edit(path, before, after), edited


def _held(document: Mapping[str, Any], switch: str) -> Any:
    """The switch's value in a stack file's `config:` mapping (None when unset)."""
    section, key = STACK_SWITCHES[switch]
    block = document.get(section)
    return block.get(key) if isinstance(block, dict) else None


def _same(held: Any, value: Any) -> bool:
    """Whether the file already holds the value (`1` is not `true`, though Python says they are equal)."""
    return type(held) is type(value) and held == value


def refusal(path: Path, error: ConfigError, what: str) -> str:
    """The settings' verdict in one line: each key path and what it should hold (never the value it holds)."""
    return f"{path}: {what}: " + "; ".join(f"{problem.path}: {problem.expected}" for problem in error.problems)


def write_whole(path: Path, text: str) -> None:
    """Replace the file's content at once (or create it): a crash or a full disk leaves the old file or the new one,
    never a mix."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # The rename is durable once the directory is synced; a file system that cannot sync a directory still renamed.
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def lockdown(operations: OperationsSettings, *, rotate_again: bool) -> tuple[list[tuple[str, Any]], str]:
    """What a lockdown sets, decided from the state the stack holds, and a note when it sets less than a lockdown does.

    A lockdown is a state: securityMode enhanced, entered with step 1 of one secret rotation (the next generation
    with keepPreviousSecrets true). Entering is the only way the runbooks set enhanced (runbook-stack-set refuses
    it), so enhanced means this lockdown has rotated, and a second run changes nothing. A new generation while
    keepPreviousSecrets is true would revoke the one before it, which running deployments may still serve with: no
    rotation starts until the one in progress is finished (JobError when `rotate_again` asks for one).
    """
    generation, unfinished = operations.secret_rotation, operations.keep_previous_secrets
    finish = (
        f"rotation {generation} is not finished (keepPreviousSecrets true: the app may still serve with the token "
        "before it); redeploy the app, then set operations.keepPreviousSecrets=false"
    )
    if unfinished and rotate_again:
        raise JobError(f"no new rotation: {finish}, then run again with --rotate-again")
    if operations.security_mode == LOCKDOWN_MODE and not rotate_again:
        after = finish if unfinished else f"rotation {generation} is finished; --rotate-again starts a new one"
        return [], f"already in lockdown (securityMode {LOCKDOWN_MODE}): {after}"
    changes: list[tuple[str, Any]] = [("operations.securityMode", LOCKDOWN_MODE)]
    if unfinished:
        return changes, f"no rotation started: {finish}, then run again with --rotate-again"
    return [*changes, ("operations.secretRotation", generation + 1), ("operations.keepPreviousSecrets", True)], ""
