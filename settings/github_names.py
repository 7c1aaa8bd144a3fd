"""GitHub's rules for the names of Actions secrets and variables, checked before anything is registered."""

from __future__ import annotations

import re
from collections.abc import Iterable

# GitHub: alphanumerics and underscores only, no leading digit, no GITHUB_ prefix; names are case-insensitive.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_PREFIX = "GITHUB_"


def name_problem(name: str) -> str | None:
    """Why GitHub would refuse `name` for an Actions secret or variable, or None if it is valid."""
    if not NAME.match(name):
        return f"{name!r} must use only letters, digits and underscores, and not start with a digit"
    if name.upper().startswith(RESERVED_PREFIX):
        return f"{name!r} must not start with {RESERVED_PREFIX} (reserved by GitHub)"
    return None


def names_problems(names: Iterable[str]) -> list[str]:
    """Every invalid name, and every name that repeats another one ignoring case (GitHub stores them upper-cased)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            problems.append(problem)
        previous = seen.get(name.upper())
        if previous is not None:
            problems.append(f"{name!r} repeats {previous!r} (GitHub names are case-insensitive)")
        else:
            seen[name.upper()] = name
    return problems
