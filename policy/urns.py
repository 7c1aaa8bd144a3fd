"""Reading a URN (`urn:pulumi:<stack>::<project>::<type chain>::<name>`): no imports, so the offline diff can use it
without loading the policy SDK."""

from __future__ import annotations


def stack_of(urn: str) -> str:
    """The stack a URN belongs to (`urn:pulumi:<stack>::<project>::<type>::<name>`)."""
    parts = urn.split("::")
    return parts[0].rsplit(":", 1)[-1] if parts and parts[0].startswith("urn:pulumi:") else ""


def type_chain(urn: str) -> list[str]:
    """The type tokens of a URN: the resource's own last, its ancestors' before it."""
    parts = urn.split("::")
    return parts[2].split("$") if len(parts) >= 4 else []


def name_of(urn: str) -> str:
    """The logical name at the end of a URN."""
    return urn.rsplit("::", 1)[-1]
