"""The stack files' JSON Schema and the settings reference (docs/configuration.md), generated from the models."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from settings.base import model_of
from settings.config_keys import SECRETS_KEY
from settings.stack import StackSettings
from settings.stacks import PROJECT_DIR

SCHEMA_PATH = PROJECT_DIR / "schema" / "stack-config.schema.json"
REFERENCE_PATH = PROJECT_DIR / "docs" / "configuration.md"
START = "<!-- settings reference: generated from settings/ by `make schema`; do not edit by hand -->"
END = "<!-- end of settings reference -->"
TOP_LEVEL = "top-level keys"
_OPTIONAL = {True: "Optional.", False: "Optional: unset, every key below has its default."}
_HEADER = ("key", "type", "default", "constraints", "secret", "description")
SECURE = {
    "type": "object",
    "description": "A value encrypted by `pulumi config set --secret`.",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of a Pulumi.<stack>.yaml, so editors complete and check the stack files."""
    config = StackSettings.model_json_schema(by_alias=True, mode="validation")
    _allow_secure(config, config.get("$defs", {}))
    # Secrets are set with `pulumi config set --secret` (often after the file is committed) and the program names
    # each one a stack lacks; a schema requiring them would flag every committed stack file in every editor.
    config["required"] = [key for key in config.get("required", []) if key != SECRETS_KEY]
    secrets_ref = str(config["properties"][SECRETS_KEY].get("$ref", ""))
    secrets_def = config.get("$defs", {}).get(secrets_ref.rsplit("/", 1)[-1], {})
    secrets_def.pop("required", None)  # set one at a time, so a file holding some of them is a valid file
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "vibelog stack file",
        "description": "Pulumi.<stack>.yaml of the vibelog project; generated from the settings models (settings/).",
        "type": "object",
        "properties": {
            "config": {
                **{k: v for k, v in config.items() if k not in {"title", "$defs"}},
                # Provider and engine settings this program does not model (aws:*, pulumi:*) stay allowed.
                "patternProperties": {"^(?!vibelog:)[A-Za-z0-9_-]+:": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {"type": "array", "items": {"type": "string"}},
        },
        # The top-level keys the CLI reads (settings/stackfile.py's TOP_LEVEL_KEYS); a typo would leave config unread.
        "additionalProperties": False,
        "$defs": config.get("$defs", {}),
    }


def _allow_secure(node: Any, defs: dict[str, Any]) -> None:
    """Secret fields may hold `{secure: ...}` in a stack file instead of their value."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key == "properties" and isinstance(value, dict):
                for name, prop in value.items():
                    if isinstance(prop, dict) and prop.get("secret") is True:
                        value[name] = {"description": prop.get("description", ""), "anyOf": [SECURE]}
            _allow_secure(value, defs)
    elif isinstance(node, list):
        for item in node:
            _allow_secure(item, defs)


def config_reference() -> str:
    """The settings reference of docs/configuration.md: a table per section, a row per key, from the models."""
    top_level = [(str(f.alias), f) for f in StackSettings.model_fields.values() if _children(f.annotation) is None]
    sections = [(str(f.alias), f) for f in StackSettings.model_fields.values() if _children(f.annotation) is not None]
    parts = ["Sections: " + ", ".join(f"[`{key}`](#{_anchor(key)})" for key, _ in [(TOP_LEVEL, None), *sections])]
    parts.append(
        f"## {TOP_LEVEL}\n\nKeys outside any section.\n\n{_table(row for k, f in top_level for row in _rows(k, f))}"
    )
    for key, field in sections:
        status = "Required." if field.is_required() else _OPTIONAL[field.default is None]
        rows = _rows(key, field)[1:]  # the section itself is the heading
        parts.append(f"## `{key}`\n\n{field.description} {status}\n\n{_table(rows)}")
    return "\n\n".join(parts)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def _table(rows: Iterable[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _children(annotation: Any) -> tuple[type[BaseModel], str] | None:
    """The model a field holds and how its keys continue the path: `.key`, or `[].key` for a list of objects."""
    model = model_of(annotation)
    if model is None:
        return None
    return model, "[]." if _is_list(annotation) else "."


def _is_list(annotation: Any) -> bool:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple):
        return True
    if origin in (Annotated, Union, UnionType):
        return any(_is_list(arg) for arg in args if arg is not type(None))
    return False


def _rows(path: str, field: FieldInfo) -> list[tuple[str, ...]]:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    rows: list[tuple[str, ...]] = [
        (
            f"`{path}`",
            _type_name(field.annotation),
            _default_text(field),
            ", ".join(_constraints(field.annotation, field.metadata)),
            "yes" if extra.get("secret") else "no",
            field.description or "",
        )
    ]
    children = _children(field.annotation)
    if children is not None:
        model, separator = children
        for name, sub in model.model_fields.items():
            rows += _rows(f"{path}{separator}{sub.alias or name}", sub)
    return rows


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    if isinstance(value, BaseModel):
        return "(see its keys)"
    return "unset" if value is None else f"`{json.dumps(value, ensure_ascii=False)}`"


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `a`, `b` or `c`; list of ...; map of ... to ...; bool or object."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    members = [arg for arg in args if arg is not type(None)]
    if origin in (Union, UnionType) and all(get_origin(arg) is Literal for arg in members):
        return _one_of([value for arg in members for value in get_args(arg)])
    if origin is Literal:
        return _one_of(list(args))
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if origin in (Union, UnionType):
        return " or ".join(dict.fromkeys(_type_name(arg) for arg in members))
    if annotation is SecretStr:
        return "str"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _one_of(values: list[Any]) -> str:
    names = [f"`{value}`" for value in values]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _constraints(annotation: Any, metadata: Iterable[Any], item: bool = False) -> list[str]:
    """The bounds and patterns on a field's value (and on each item of a list), from the model's own metadata."""
    found: list[str] = []
    for rule in metadata:
        if isinstance(rule, FieldInfo):
            found += _constraints(None, rule.metadata, item)
            continue
        text = _constraint_text(rule, is_list=_is_list(annotation) and not item)
        if text:
            found.append(f"each {text}" if item else text)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        found += _constraints(args[0], args[1:], item)
    elif origin in (Union, UnionType):
        for arg in args:
            found += _constraints(arg, (), item)
    elif origin in (list, tuple) and not item:
        found += _constraints(args[0], (), item=True)
    return found


def _constraint_text(rule: Any, *, is_list: bool) -> str:
    def count(n: int) -> str:
        return f"{n} {'item' if is_list else 'character'}{'' if n == 1 else 's'}"

    texts = {
        annotated_types.Ge: lambda: f"≥ {rule.ge}",
        annotated_types.Gt: lambda: f"> {rule.gt}",
        annotated_types.Le: lambda: f"≤ {rule.le}",
        annotated_types.Lt: lambda: f"< {rule.lt}",
        annotated_types.MinLen: lambda: f"at least {count(rule.min_length)}",
        annotated_types.MaxLen: lambda: f"at most {count(rule.max_length)}",
    }
    if type(rule) in texts:
        return texts[type(rule)]()
    pattern = getattr(rule, "pattern", None)
    return f"matches `{pattern}`" if isinstance(pattern, str) else ""


def document_with_reference(document: str) -> str:
    """docs/configuration.md with its generated part replaced by the current reference."""
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{REFERENCE_PATH.name} lacks the markers {START} ... {END}")
    return f"{head}{START}\n{config_reference()}\n{END}{tail}"
