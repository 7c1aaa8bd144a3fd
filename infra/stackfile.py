"""Read a stack file the way the Pulumi CLI hands it to the program, standing placeholders in for secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from settings.loader import ConfigError, field_extra, load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("development", "staging", "production")
GENERIC_PLACEHOLDER = "offline-plan-placeholder"


class StackFileError(Exception):
    """The stack file is missing or is not a Pulumi stack file."""


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the program receives it, plus what the offline engine had to stand in for."""

    stack: str
    values: Mapping[str, str]
    """Config key -> value as the CLI passes it: scalars as text, objects as JSON."""
    secret_keys: frozenset[str]
    """Top-level keys holding at least one secret."""
    encrypted: tuple[str, ...] = ()
    """Paths stored encrypted in the stack file (their values are placeholders here)."""
    lacking: tuple[str, ...] = ()
    """Paths of required secrets the stack file does not hold yet (placeholders here too)."""
    plaintext_secrets: tuple[str, ...] = ()
    """Paths that the settings declare secret but the stack file holds in plaintext."""
    document: Mapping[str, Any] = field(default_factory=dict)
    """The stack file's `config:` mapping, encrypted values left as they are."""


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    """Path of a stack's config file."""
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project_dir: Path = PROJECT_DIR, text: str | None = None) -> StackConfig:
    """The config of a stack, with a placeholder (kept secret) for every encrypted or missing secret."""
    if text is None:
        path = stack_file(stack, project_dir)
        if not path.is_file():
            raise StackFileError(f"no stack file {path.name} for stack '{stack}'")
        text = path.read_text(encoding="utf-8")
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise StackFileError(f"Pulumi.{stack}.yaml is not valid YAML: {error}") from None
    document = loaded.get("config") or {} if isinstance(loaded, dict) else None
    if not isinstance(document, dict):
        raise StackFileError(f"Pulumi.{stack}.yaml has no `config:` mapping")

    encrypted: list[str] = []
    plaintext: list[str] = []
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in document.items():
        decrypted = _stand_in(str(key), value, encrypted, plaintext)
        values[str(key)] = decrypted if isinstance(decrypted, str) else _cli_text(decrypted)
        if any(path == key or path.startswith((f"{key}.", f"{key}[")) for path in encrypted):
            secret_keys.add(str(key))

    config = StackConfig(stack, values, frozenset(secret_keys), tuple(encrypted), (), tuple(plaintext), document)
    # Rules that relate several settings (a secret needed only with CI) run once every field is valid, so each
    # round of placeholders can reveal more secrets the stack lacks.
    while lacking := tuple(path for path in missing_secrets(config) if path not in config.lacking):
        config = with_placeholders(config, lacking)
    return config


def missing_secrets(config: StackConfig) -> tuple[str, ...]:
    """Paths of the required secrets the settings say this stack lacks."""
    try:
        load_settings(config.stack, config.values, config.secret_keys)
    except ConfigError as error:
        return tuple(problem.path for problem in error.problems if problem.missing_secret)
    return ()


def with_placeholders(config: StackConfig, paths: tuple[str, ...]) -> StackConfig:
    """The config with a placeholder set (as a secret) at each path; for the secrets a stack lacks."""
    values = dict(config.values)
    secret_keys = set(config.secret_keys)
    for path in paths:
        key, _, rest = path.partition(".")
        tree = json.loads(values[key]) if key in values else {}
        node = tree
        steps = rest.split(".") if rest else []
        for step in steps[:-1]:
            node = node.setdefault(step, {})
        placeholder = field_extra(path).get("placeholder", GENERIC_PLACEHOLDER)
        if steps:
            node[steps[-1]] = placeholder
            values[key] = json.dumps(tree)
        else:
            values[key] = placeholder
        secret_keys.add(key)
    return StackConfig(
        config.stack,
        values,
        frozenset(secret_keys),
        config.encrypted,
        tuple(dict.fromkeys(config.lacking + paths)),
        config.plaintext_secrets,
        config.document,
    )


def _stand_in(path: str, value: Any, encrypted: list[str], plaintext: list[str]) -> Any:
    """The value with each `secure:` leaf replaced by its placeholder; notes which paths were which."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        encrypted.append(path)
        return field_extra(path).get("placeholder", GENERIC_PLACEHOLDER)
    if isinstance(value, dict):
        return {k: _stand_in(f"{path}.{k}", v, encrypted, plaintext) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_in(f"{path}[{i}]", v, encrypted, plaintext) for i, v in enumerate(value)]
    if field_extra(path).get("secret"):
        plaintext.append(path)
    return value


def _cli_text(value: Any) -> str:
    """How the CLI passes a config value: booleans and numbers as text, objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
