"""Reading resource properties the way CrossGuard hands them to a validator, without tripping on unknowns.

In a preview the engine sends computed values as sentinel strings and the policy SDK wraps the properties in a
proxy that raises `UnknownValueError` when one is read; the engine then reports "can't run policy during preview"
instead of the rule's verdict. `plain()` copies the properties into ordinary dicts and lists with every unknown
replaced by `UNKNOWN`, so a rule decides for itself to skip what a preview cannot know (never flag it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import PolicyResource, ResourceValidationArgs
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from policy.unknowns import UNKNOWN

SENTINELS: Final[frozenset[str]] = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


def plain(value: Any) -> Any:
    """`value` (a policy SDK proxy or plain data) as dicts, lists and scalars, each unknown as `UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[str(key)] = plain(value[key])
            except UnknownValueError:
                result[str(key)] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def known(value: Any) -> bool:
    """True unless the value, or anything inside it, is unknown in this preview."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(known(item) for item in value.values())
    if isinstance(value, list):
        return all(known(item) for item in value)
    return True


def dig(value: Any, *path: str | int) -> Any:
    """The value at `path` inside nested dicts/lists; None where a step is absent, UNKNOWN where one is unknown."""
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


def json_document(value: Any) -> Any:
    """A JSON document input (an IAM or bucket policy): parsed; UNKNOWN if unknown; None if absent or not JSON."""
    if value is UNKNOWN or value is None:
        return value
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None


def as_list(value: Any) -> list[Any]:
    """A JSON-policy field that may be one item or a list of them, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def props_of(resource: ResourceValidationArgs | PolicyResource) -> dict[str, Any]:
    """A resource's properties as plain data (see `plain`)."""
    value = plain(resource.props)
    return value if isinstance(value, dict) else {}


def of_type(resources: Iterable[PolicyResource], type_: str) -> list[PolicyResource]:
    """The resources of one type token."""
    return [resource for resource in resources if resource.resource_type == type_]


def depends_on(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether `resource`'s input `prop` comes from `target`."""
    return any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, []))
