"""Render a plan: a tree like `pulumi preview` prints, and the JSON shape of `pulumi preview --json`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from infra.engine.runtime import Plan, Registration, Secret, replace_special
from infra.plans.plan_format import FINGERPRINT_KEY_ENV, SECRET_TEXT, UNKNOWN_TEXT
from policy.unknowns import UNKNOWN_SHOWN, Unknown

WIDTH = 118


def to_json_value(value: Any) -> Any:
    """A recorded value as `pulumi preview --json` shows it: secrets masked, unknowns as the engine's sentinel."""
    return replace_special(value, lambda leaf, _path: SECRET_TEXT if isinstance(leaf, Secret) else UNKNOWN_TEXT)


def fingerprint_key_from_env() -> bytes | None:
    """The per-run fingerprint key `infra diff` passed in the environment, if any; ValueError (never the value, a
    key) if it is not hex."""
    text = os.environ.get(FINGERPRINT_KEY_ENV, "")
    try:
        return bytes.fromhex(text) if text else None
    except ValueError:
        raise ValueError(f"${FINGERPRINT_KEY_ENV} must be hex digits (`infra diff` sets it)") from None


def fingerprint(key: bytes, value: Any) -> str:
    """A keyed, non-reversible digest of a value: equal values give equal fingerprints under one key."""
    message = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def secret_paths(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(property path, value) of each secret inside a recorded value; paths like `a.b[0].c`."""
    found: list[tuple[str, Any]] = []
    replace_special(value, lambda leaf, at: found.append((at, leaf.value)) if isinstance(leaf, Secret) else None, path)
    yield from found


def _encrypted_leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        yield path, value["secure"]
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _encrypted_leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _encrypted_leaves(item, f"{path}[{index}]")


def plan_json(plan: Plan, fingerprint_key: bytes | None = None) -> dict[str, Any]:
    """One stack's plan in the shape of `pulumi preview --json`, plus what the offline engine stood in for.

    With a fingerprint key, each step also carries `secretFingerprints` (property path -> keyed digest of the
    secret value) and the config the digests of the encrypted values in the stack file, so two plans made with
    one key can be compared secret by secret without either value being shown.
    """
    steps: list[dict[str, Any]] = []
    for reg in plan.registrations:
        steps.append(
            {
                "op": "create",
                "urn": reg.urn,
                "provider": reg.provider,
                "newState": {
                    "type": reg.type,
                    "urn": reg.urn,
                    "custom": reg.custom,
                    "parent": reg.parent,
                    "inputs": to_json_value(reg.inputs),
                    "dependencies": list(reg.dependencies),
                    "propertyDependencies": {k: list(v) for k, v in reg.property_dependencies.items()},
                    "protect": reg.protect,
                    "retainOnDelete": reg.retain_on_delete,
                    "deleteBeforeReplace": reg.delete_before_replace,
                    "aliases": list(reg.aliases),
                    "replaceOnChanges": list(reg.replace_on_changes),
                    "ignoreChanges": list(reg.ignore_changes),
                    "additionalSecretOutputs": list(reg.additional_secret_outputs),
                    "provider": reg.provider,
                },
            }
        )
        if fingerprint_key is not None:
            found = {path: fingerprint(fingerprint_key, value) for path, value in secret_paths(reg.inputs)}
            if found:
                steps[-1]["newState"]["secretFingerprints"] = found
    document: dict[str, Any] = {
        "stack": plan.stack,
        "steps": steps,
        "changeSummary": {"create": len(steps)},
        "outputs": to_json_value(plan.outputs),
        "config": {
            "encryptedSecrets": list(plan.config.encrypted),
            "lackingSecrets": list(plan.config.lacking),
        },
    }
    if fingerprint_key is not None:
        config: dict[str, Any] = document["config"]
        config["secretFingerprints"] = {
            path: fingerprint(fingerprint_key, ciphertext)
            for key, value in plan.config.document.items()
            for path, ciphertext in _encrypted_leaves(value, str(key))
        }
    return document


def plan_text(plan: Plan) -> str:
    """One stack's plan as a tree of resources with their key inputs, a count per type, and missing secrets."""
    lines = [f"Previewing stack {plan.stack} (offline, under Pulumi's mock runtime)", ""]
    children: dict[str, list[Registration]] = {}
    roots: list[Registration] = []
    for reg in plan.registrations:
        (children.setdefault(reg.parent, []) if reg.parent else roots).append(reg)
    lines.append(f"     {'Type':<62} {'Name':<36} Info")

    def walk(reg: Registration, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        info = ", ".join(flag for flag, on in (("protect", reg.protect), ("retain", reg.retain_on_delete)) if on)
        lines.append(f" +   {(prefix + branch + reg.type):<62} {reg.name:<36} {info}".rstrip())
        inner = prefix + ("" if depth == 0 else ("   " if last else "│  "))
        kids = children.get(reg.urn, [])
        if reg.custom and reg.inputs:
            pad = inner + ("│  " if kids else "   ")
            lines.append(_clip(f"     {pad}  {summarize(reg.inputs)}"))
        for index, kid in enumerate(kids):
            walk(kid, inner, index == len(kids) - 1, depth + 1)

    for root in roots:
        walk(root, "", True, 0)

    counts = Counter(reg.type for reg in plan.registrations if reg.custom)
    lines += ["", "Resources by type:"]
    lines += [f"    {count:>3}  {type_}" for type_, count in sorted(counts.items())]
    lines.append(f"    {sum(counts.values()):>3}  to create ({len(plan.registrations)} registrations in all)")
    if plan.outputs:
        lines += ["", "Outputs:"]
        lines += [f"    {key}: {_show(value)}" for key, value in plan.outputs.items()]
    if plan.config.encrypted:
        lines += [
            "",
            f"{len(plan.config.encrypted)} secret(s) are encrypted in the stack file; placeholders stood in.",
        ]
    if plan.config.lacking:
        lines += [
            "",
            f"Secrets this stack still lacks ({len(plan.config.lacking)}; placeholders stood in for the plan):",
        ]
        lines += [
            f"    pulumi config set --stack {plan.stack} --secret --path '{path}'" for path in plan.config.lacking
        ]
    return "\n".join(lines)


def summarize(inputs: dict[str, Any]) -> str:
    """The inputs of a resource on one line: key=value, secrets masked."""
    return ", ".join(f"{key}={_show(value)}" for key, value in inputs.items() if key != "comment")


def _show(value: Any) -> str:
    shown = to_json_value(value)
    if isinstance(value, Unknown):
        return UNKNOWN_SHOWN
    if isinstance(shown, str):
        return shown
    return json.dumps(shown, separators=(",", ":")).replace(f'"{UNKNOWN_TEXT}"', UNKNOWN_SHOWN)


def _clip(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"
