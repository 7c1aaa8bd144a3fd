"""Read a stack file the way the Pulumi CLI hands it to the program, standing placeholders in for secrets."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from settings.config_keys import PROJECT_NAMESPACE, provider_secret_keys
from settings.files import read_regular_file
from settings.loader import ConfigError, ConfigProblem, field_extra, load_settings
from settings.stacks import PROJECT_DIR

GENERIC_PLACEHOLDER = "offline-plan-placeholder"
# A stack file is a few kilobytes; anything near this is not one, and is refused before it is read whole.
MAX_STACK_FILE_BYTES = 1024 * 1024
# Nodes of the document once every YAML alias is expanded: bounds an alias bomb ("billion laughs") that would
# otherwise be walked, serialized and validated billions of times over.
MAX_EXPANDED_NODES = 100_000
# The top-level keys of a Pulumi.<stack>.yaml (the CLI's ProjectStack: config, secrets provider and its key, ESC
# environments); anything else is a typo that would leave `config:` unread.
TOP_LEVEL_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
# YAML types a config value cannot be. The CLI (yaml.v3 into interface{}) reads an unquoted date, or a !!binary,
# as the text written and a !!set as a mapping of nulls, where PyYAML, JSON Schema editors and this reader see a
# date, bytes or a set: refused by path, so every reader of the file agrees. (what it is, expected, fix)
_NOT_CONFIG_TYPES: tuple[tuple[type, str, str, str], ...] = (
    (datetime.date, "a YAML date or timestamp", "a string", 'quote it ("2026-01-15", not 2026-01-15)'),
    (bytes, "a YAML !!binary value", "a string", "drop the !!binary tag and quote the text"),
    (set, "a YAML !!set", "a list", "drop the !!set tag and write the items as a list (- item)"),
)


class StackFileError(Exception):
    """The stack file is missing or is not a Pulumi stack file. The message never quotes the file's content."""


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """` (did you mean X?)` for the closest candidate, or nothing when none is close."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


class _DuplicateKeyError(Exception):
    """A mapping gives one key twice."""


class _StrictLoader(yaml.CSafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (it would silently win over the first).

    It parses with libyaml (part of PyYAML's wheels), several times faster than the pure-Python parser; the
    constructor, and so every check here, is PyYAML's Python code either way."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise _DuplicateKeyError(f"key '{key}' appears twice in one mapping (lines {seen[key]} and {line})")
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, name: str) -> Any:
    """Parse one YAML document strictly: no duplicate keys, a bounded expansion, errors without the file's text."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise StackFileError(f"{name} expands (through YAML aliases) to more than {MAX_EXPANDED_NODES} values")
        return loader.construct_document(node)  # type: ignore[no-untyped-call]
    except _DuplicateKeyError as error:
        raise StackFileError(f"{name}: {error}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{name} is not valid YAML: {_yaml_problem(error)}") from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes the document has with every alias expanded; memoized, so an alias bomb costs its size."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_EXPANDED_NODES + 1  # a recursive alias is as good as infinite
    total = 1
    if isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(item, sizes) for item in node.value)
    sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)]


def _yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong and where, never the line itself: that line may hold a secret."""
    problem = getattr(error, "problem", None) or "cannot be parsed"
    mark = getattr(error, "problem_mark", None)
    # PyYAML quotes what it choked on ("found undefined alias 'x'"), which can be part of a value; a single
    # character ("expected ',' or ']'") and the scanner's token names ('<block end>') tell where, and are kept.
    problem = re.sub(r"'([^']*)'|\"([^\"]*)\"", _keep_token, str(problem))
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def _keep_token(match: re.Match[str]) -> str:
    inner = match.group(1) if match.group(1) is not None else match.group(2)
    return match.group(0) if len(inner) <= 1 or re.fullmatch(r"<[a-z ]+>", inner) else "…"


def read_text_bounded(path: Path, limit: int = MAX_STACK_FILE_BYTES) -> str:
    """A UTF-8 text file read whole only when it is smaller than `limit` bytes."""
    try:
        data = read_regular_file(path, limit + 1)
    except IsADirectoryError:
        raise StackFileError(f"{path.name} is a directory") from None
    except OSError as error:
        raise StackFileError(f"{path.name} cannot be read ({error.strerror or type(error).__name__})") from None
    if len(data) > limit:
        raise StackFileError(f"{path.name} is larger than {limit // 1024} KiB; a stack file is a few KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise StackFileError(f"{path.name} is not UTF-8 text (an invalid byte on line {line})") from None


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
    not_ciphertext: tuple[str, ...] = ()
    """Paths whose `secure:` value is not Pulumi ciphertext: plaintext wrapped by hand, committed in the clear."""
    document: Mapping[str, Any] = field(default_factory=dict)
    """The stack file's `config:` mapping, encrypted values left as they are."""


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    """Path of a stack's config file."""
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project_dir: Path = PROJECT_DIR, text: str | None = None) -> StackConfig:
    """The config of a stack, with a placeholder (kept secret) for every encrypted or missing secret.

    StackFileError when the file is not a stack file; ConfigError when a value has a YAML type no config value has.
    """
    name = f"Pulumi.{stack}.yaml"
    if text is None:
        path = stack_file(stack, project_dir)
        if not path.exists():
            raise StackFileError(f"no stack file {path.name} for stack '{stack}'")
        text = read_text_bounded(path)
    elif len(text.encode("utf-8", "surrogatepass")) > MAX_STACK_FILE_BYTES:
        raise StackFileError(f"{name} is larger than {MAX_STACK_FILE_BYTES // 1024} KiB; a stack file is a few KiB")
    document = _config_mapping(load_yaml(text, name), name)
    problems = [
        ConfigProblem(path, f"is {what}; expected {expected}", f"in {name}, {fix}")
        for key, value in document.items()
        for path, (what, expected, fix) in _not_config_values(str(key), value)
    ]
    if problems:
        raise ConfigError(stack, problems)

    encrypted: list[str] = []
    plaintext: list[str] = []
    not_ciphertext: list[str] = []
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in document.items():
        decrypted = _stand_in(str(key), value, encrypted, plaintext, not_ciphertext)
        values[str(key)] = decrypted if isinstance(decrypted, str) else _cli_text(decrypted)
        if any(path == key or path.startswith((f"{key}.", f"{key}[")) for path in encrypted):
            secret_keys.add(str(key))

    config = StackConfig(
        stack,
        values,
        frozenset(secret_keys),
        tuple(encrypted),
        plaintext_secrets=tuple(plaintext),
        not_ciphertext=tuple(not_ciphertext),
        document=document,
    )
    # Rules that relate several settings (a secret needed only with CI) run once every field is valid, so each
    # round of placeholders can reveal more secrets the stack lacks.
    while lacking := tuple(path for path in missing_secrets(config) if path not in config.lacking):
        config = with_placeholders(config, lacking)
    return config


def checked_config(stack: str, project_dir: Path = PROJECT_DIR, text: str | None = None) -> StackConfig:
    """The stack's config once its file (or `text`) is read and its settings validated, as the program's first step
    validates them: StackFileError or ConfigError before anything runs."""
    config = read_stack_config(stack, project_dir, text)
    load_settings(stack, config.values, config.secret_keys)
    return config


def _config_mapping(loaded: Any, name: str) -> dict[str, Any]:
    """The `config:` mapping of a parsed stack file, every key with its namespace, as the CLI reads it."""
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise StackFileError(f"{name} is not a mapping of `config:` and the secrets provider's keys")
    unknown = [str(key) for key in loaded if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise StackFileError(
            "; ".join(
                f"{name}: unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS)}"
                f" (expected {', '.join(TOP_LEVEL_KEYS)})"
                for key in unknown
            )
        )
    document = loaded.get("config")
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise StackFileError(f"{name}: `config:` must be a mapping of config keys")
    # The CLI reads a key without a namespace as one of the project's own (`domain` is `vibelog:domain`).
    namespaced: dict[str, Any] = {}
    for key, value in document.items():
        full = str(key) if ":" in str(key) else f"{PROJECT_NAMESPACE}:{key}"
        if full in namespaced:
            raise StackFileError(f"{name}: config key '{full}' is given twice (once without its namespace)")
        namespaced[full] = value
    return namespaced


def _not_config_values(path: str, value: Any) -> Iterator[tuple[str, tuple[str, str, str]]]:
    """The paths (keys included) whose YAML type no config value has, each with what it is, what was expected
    and the fix; never the value."""
    for kind, what, expected, fix in _NOT_CONFIG_TYPES:
        if isinstance(value, kind):
            yield path, (what, expected, fix)
            return
    if isinstance(value, dict):
        for key, item in value.items():
            for at, (what, expected, fix) in _not_config_values(f"{path}.{key}", key):
                yield at, (f"a key that is {what}", expected, fix)
            yield from _not_config_values(f"{path}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _not_config_values(f"{path}[{index}]", item)


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
    return dataclasses.replace(
        config,
        values=values,
        secret_keys=frozenset(secret_keys),
        lacking=tuple(dict.fromkeys(config.lacking + paths)),
    )


# What a `secure:` value is when the Pulumi CLI wrote it (pulumi/pulumi):
# - the passphrase provider and the cloud KMS ones (awskms, azurekeyvault, gcpkms, hashivault) encrypt with the
#   symmetric crypter, `symmetricCrypter.EncryptValue` in sdk/go/common/resource/config/crypt.go:
#   "v1:" + base64(the 12-byte AES-256-GCM nonce) + ":" + base64(the sealed value, its 16-byte tag included);
# - the Pulumi Cloud service, `serviceCrypter.EncryptValue` in pkg/secrets/service/manager.go: the standard base64
#   of the service's ciphertext, whose format the service does not publish: in the stack files it writes, a version
#   header 00 00 01 00 ("AAABA...") and then, by their lengths, a 12-byte nonce, the value and a 16-byte tag.
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SERVICE_HEADER = b"\x00\x00\x01\x00"


def is_ciphertext(value: Any) -> bool:
    """Whether a `secure:` value has the shape of Pulumi ciphertext (of any secrets provider); a plaintext value
    wrapped in `secure:` by hand has not."""
    if not isinstance(value, str):
        return False
    if value.startswith("v1:"):
        nonce, _, sealed = (_base64(part) for part in value[3:].partition(":"))
        return nonce is not None and len(nonce) == _NONCE_BYTES and sealed is not None and len(sealed) >= _TAG_BYTES
    service = _base64(value)
    return (
        service is not None
        and service.startswith(_SERVICE_HEADER)
        and len(service) >= len(_SERVICE_HEADER) + _NONCE_BYTES + _TAG_BYTES
    )


def _base64(text: str) -> bytes | None:
    """Standard base64 (padded, no other characters), as Go's base64.StdEncoding reads it; None if it is not."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _stand_in(path: str, value: Any, encrypted: list[str], plaintext: list[str], not_ciphertext: list[str]) -> Any:
    """The value with each `secure:` leaf replaced by its placeholder; notes which paths were which."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        encrypted.append(path)
        if not is_ciphertext(value["secure"]):
            not_ciphertext.append(path)  # plaintext wrapped by hand (the policy pack names each one)
        return field_extra(path).get("placeholder", GENERIC_PLACEHOLDER)
    if isinstance(value, dict):
        return {k: _stand_in(f"{path}.{k}", v, encrypted, plaintext, not_ciphertext) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_in(f"{path}[{i}]", v, encrypted, plaintext, not_ciphertext) for i, v in enumerate(value)]
    if field_extra(path).get("secret") or path.split(".", 1)[0] in provider_secret_keys():
        plaintext.append(path)  # a credential committed in the clear (the policy pack names each one)
    return value


def _cli_text(value: Any) -> str:
    """How the CLI passes a config value: booleans and numbers as text, objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
