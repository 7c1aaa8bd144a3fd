"""A small evaluator of IAM policy documents for the tests: does a set of policies allow an action on an ARN?"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

# Verbs that only read; any other action of an Allow statement writes (IAM's own access levels, by verb).
READ_VERBS = ("Get", "List", "Describe", "Head", "View")


def documents(registrations: Iterable[Any]) -> list[dict[str, Any]]:
    """The policy documents of RolePolicy registrations (their `policy` input, as JSON text)."""
    return [json.loads(r.inputs["policy"]) for r in registrations]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(patterns: Iterable[str], value: str, *, case: bool) -> bool:
    if not case:
        return any(fnmatchcase(value.lower(), p.lower()) for p in patterns)
    return any(fnmatchcase(value, p) for p in patterns)


# The condition operators this evaluator implements, by how they compare a present key; any other operator raises, so
# a policy using one is never judged by a test that silently treats it as satisfied.
_OPERATORS: dict[str, Callable[[list[str], str], bool]] = {
    "StringEquals": lambda wanted, actual: actual in wanted,
    "StringNotEquals": lambda wanted, actual: actual not in wanted,
    "StringLike": lambda wanted, actual: _matches(wanted, actual, case=True),
    "StringNotLike": lambda wanted, actual: not _matches(wanted, actual, case=True),
    "ArnEquals": lambda wanted, actual: actual in wanted,
    "ArnNotEquals": lambda wanted, actual: actual not in wanted,
    "ArnLike": lambda wanted, actual: _matches(wanted, actual, case=True),
    "ArnNotLike": lambda wanted, actual: not _matches(wanted, actual, case=True),
    "Bool": lambda wanted, actual: actual.lower() in [w.lower() for w in wanted],
}


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """The String*, Arn*, Bool and Null operators (and the ...IfExists forms) against the request context.

    An absent key fails a positive operator and satisfies a negated one (IAM: a missing key matches no value) and any
    ...IfExists operator. An operator not in _OPERATORS raises ValueError.
    """
    for operator, clauses in condition.items():
        if operator == "Null":  # "true": the key is absent from the request; "false": it is present
            if any((str(wanted).lower() == "true") == (key in context) for key, wanted in clauses.items()):
                return False
            continue
        test = operator.removesuffix("IfExists")
        compare = _OPERATORS.get(test)
        if compare is None:
            raise ValueError(f"condition operator {operator!r} is not implemented by tests/iam_eval.py")
        for key, expected in clauses.items():
            actual = context.get(key)
            if actual is None:
                if operator.endswith("IfExists") or "Not" in test:
                    continue
                return False
            if not compare([str(w) for w in _listed(expected)], actual):
                return False
    return True


def statement_applies(statement: Mapping[str, Any], action: str, arn: str, context: Mapping[str, str]) -> bool:
    """Whether one statement covers the action on the resource in this context."""
    if not _matches(_listed(statement.get("Action", [])), action, case=False):
        return False
    if "NotResource" in statement:
        if _matches(_listed(statement["NotResource"]), arn, case=True):
            return False
    elif not _matches(_listed(statement["Resource"]), arn, case=True):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def allowed(
    policies: Iterable[Mapping[str, Any]], action: str, arn: str, context: Mapping[str, str] | None = None
) -> bool:
    """IAM's answer for identity policies alone: some Allow applies and no Deny does."""
    statements = [s for policy in policies for s in policy["Statement"]]
    context = context or {}
    if any(s["Effect"] == "Deny" and statement_applies(s, action, arn, context) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and statement_applies(s, action, arn, context) for s in statements)


def allows_on(policies: Iterable[Mapping[str, Any]], arn: str, context: Mapping[str, str] | None = None) -> list[str]:
    """The Sids of Allow statements with an action of the ARN's service whose resources and conditions reach it.

    A statement on `"*"` is left out: the tests require those to hold only creations, which act on no existing object
    (`unscoped_actions`).
    """
    service = arn.split(":")[2]
    found = []
    for policy in policies:
        for statement in policy["Statement"]:
            if statement["Effect"] != "Allow" or _listed(statement["Resource"]) == ["*"]:
                continue
            for action in _listed(statement["Action"]):
                if action.split(":", 1)[0] in (service, "*") and statement_applies(
                    statement, action, arn, context or {}
                ):
                    found.append(statement.get("Sid", "?"))
                    break
    return found


def write_actions(policies: Iterable[Mapping[str, Any]]) -> list[str]:
    """Actions of Allow statements that are not reads (a wildcard such as `s3:*` or `s3:Put*` counts as a write)."""
    writes = []
    for policy in policies:
        for statement in policy["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in _listed(statement["Action"]):
                verb = action.split(":", 1)[-1]
                if verb == "*" or not verb.startswith(READ_VERBS):
                    writes.append(action)
    return writes


def unscoped_actions(policies: Iterable[Mapping[str, Any]]) -> list[str]:
    """Actions allowed on every resource (`"*"`)."""
    return [
        action
        for policy in policies
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow" and "*" in _listed(statement.get("Resource", []))
        for action in _listed(statement["Action"])
    ]
