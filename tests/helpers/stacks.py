"""Real stack files, edited in memory, validated by the settings loader or run through the offline engine."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.engine.runtime import Plan, Secret, run_program
from settings.loader import ConfigError, ConfigProblem, load_settings
from settings.stack import StackSettings
from settings.stackfile import StackConfig, read_stack_config, stack_file

Edit = Callable[[dict[str, Any]], None]


@functools.cache
def _committed(stack: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(stack_file(stack).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return document


def ciphertext(plaintext: str, *, service: bool = False) -> str:
    """`plaintext` as the Pulumi CLI writes it under `secure:`: AES-256-GCM, under a key and nonce derived from it
    (the same text each run), in the passphrase provider's `v1:<nonce>:<sealed>` or, with `service`, the Pulumi
    Cloud service's base64 of a 00 00 01 00 header, the nonce and the sealed value (settings/stackfile.py)."""
    key = hashlib.sha256(plaintext.encode()).digest()
    nonce = key[:12]
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    if service:
        return base64.b64encode(b"\x00\x00\x01\x00" + nonce + sealed).decode()
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def committed_document(stack: str) -> dict[str, Any]:
    """A committed stack file, parsed: a fresh copy each time, to edit at will (parsed once per session)."""
    return copy.deepcopy(_committed(stack))


def stack_config(stack: str, edit: Edit | None = None) -> StackConfig:
    """A real stack's config, optionally with its `config:` mapping edited first (the file is not touched)."""
    document = committed_document(stack)
    if edit is not None:
        edit(document["config"])
    return read_stack_config(stack, text=yaml.dump(document, Dumper=yaml.CSafeDumper))


def settings_of(stack: str, edit: Edit | None = None) -> StackSettings:
    """The validated settings of a real stack (placeholders standing in for its secrets)."""
    config = stack_config(stack, edit)
    return load_settings(stack, config.values, config.secret_keys)


def problems_of(stack: str, edit: Edit) -> list[ConfigProblem]:
    """The problems the settings loader reports for a real stack after `edit`; fails if it reports none."""
    config = stack_config(stack, edit)
    with pytest.raises(ConfigError) as raised:
        load_settings(stack, config.values, config.secret_keys)
    return raised.value.problems


def only_problem(stack: str, edit: Edit) -> ConfigProblem:
    """The single problem an edit causes (a negative case changes one thing)."""
    problems = problems_of(stack, edit)
    assert len(problems) == 1, f"expected one problem, got {[(p.path, p.expected) for p in problems]}"
    return problems[0]


def plan_of(stack: str, edit: Edit | None = None, program: Callable[[], object] | None = None) -> Plan:
    """The offline plan of a real stack, or of `program` run with that stack's config."""
    return run_program(stack, stack_config(stack, edit), program=program)


def reveal(value: Any) -> Any:
    """The value inside a recorded secret (tests only: outputs never show it)."""
    return value.value if isinstance(value, Secret) else value
