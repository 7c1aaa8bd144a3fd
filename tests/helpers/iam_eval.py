"""An evaluator of IAM policy documents for the tests: may a principal do an action on an ARN, or assume a role?

It follows IAM's policy evaluation logic for one account (AWS docs, "Policy evaluation logic"): an explicit Deny in
any applicable policy wins; otherwise the identity policies must allow, and so must the permissions boundary when
the principal has one. A statement matches on Action or NotAction, Resource or NotResource (Principal or
NotPrincipal in a trust policy), and every condition: operators and keys as IAM reads them (keys case-insensitive,
String values case-sensitive, `...IfExists`, `ForAnyValue:`/`ForAllValues:` over multi-valued keys, `Null`). An
operator it does not implement raises, so a policy using one is never judged by a test that treats it as satisfied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

# Verbs that only read; any other action of an Allow statement writes (IAM's own access levels, by verb).
READ_VERBS = ("Get", "List", "Describe", "Head", "View")

Context = Mapping[str, str | Sequence[str]]
Policies = Iterable[Mapping[str, Any]]


def documents(registrations: Iterable[Any]) -> list[dict[str, Any]]:
    """The policy documents of RolePolicy registrations (their `policy` input, as JSON text)."""
    return [json.loads(r.inputs["policy"]) for r in registrations]


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one; no character classes (fnmatch's `[` is escaped)."""
    pattern = pattern.replace("[", "[[]")
    return fnmatchcase(value, pattern) if case else fnmatchcase(value.lower(), pattern.lower())


def _matches(patterns: Iterable[str], value: str, *, case: bool) -> bool:
    return any(_like(p, value, case=case) for p in patterns)


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own (a `*` never spans a colon there)."""
    wanted, actual = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(_like(w, a) for w, a in zip(wanted, actual, strict=True))


def _number(text: str) -> float:
    return float(text)


# How each operator compares one value of the request with the policy's values (any of which may match).
_OPERATORS: dict[str, Callable[[list[str], str], bool]] = {
    "StringEquals": lambda wanted, actual: actual in wanted,
    "StringEqualsIgnoreCase": lambda wanted, actual: actual.lower() in [w.lower() for w in wanted],
    "StringLike": lambda wanted, actual: _matches(wanted, actual, case=True),
    "ArnEquals": lambda wanted, actual: actual in wanted,
    "ArnLike": lambda wanted, actual: any(_arn_like(w, actual) for w in wanted),
    "Bool": lambda wanted, actual: actual.lower() in [w.lower() for w in wanted],
    "NumericEquals": lambda wanted, actual: _number(actual) in [_number(w) for w in wanted],
    "NumericLessThan": lambda wanted, actual: any(_number(actual) < _number(w) for w in wanted),
    "NumericLessThanEquals": lambda wanted, actual: any(_number(actual) <= _number(w) for w in wanted),
    "NumericGreaterThan": lambda wanted, actual: any(_number(actual) > _number(w) for w in wanted),
    "NumericGreaterThanEquals": lambda wanted, actual: any(_number(actual) >= _number(w) for w in wanted),
}
# The negated operators: IAM's "matches none of the values".
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _lookup(context: Context, key: str) -> list[str] | None:
    """The request's values of a condition key (IAM compares key names case-insensitively); None when absent."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return _listed(value)
    return None


def _clause_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One key of one operator block, against the request."""
    wanted = [str(w).lower() if isinstance(w, bool) else str(w) for w in _listed(expected)]
    actual = _lookup(context, key)
    if operator == "Null":
        # Null true: the key must be absent; false: present.
        return (actual is None) == (wanted[0].lower() == "true")
    qualifier, _, test = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise ValueError(f"condition operator {operator!r} is not implemented by tests/helpers/iam_eval.py")
    if_exists = test.endswith("IfExists")
    test = test.removesuffix("IfExists")
    negated = test in _NEGATED
    compare = _OPERATORS.get(_NEGATED.get(test, test))
    if compare is None:
        raise ValueError(f"condition operator {operator!r} is not implemented by tests/helpers/iam_eval.py")
    if actual is None:
        # An absent key: ...IfExists is satisfied, ForAllValues is (vacuously), a negated operator is (it matches
        # none of the values), any other fails.
        return if_exists or qualifier == "ForAllValues" or (negated and qualifier != "ForAnyValue")

    def one(value: str) -> bool:
        return compare(wanted, value) != negated

    if qualifier == "ForAllValues":
        return all(one(value) for value in actual)
    if qualifier == "ForAnyValue":
        return any(one(value) for value in actual)
    if len(actual) != 1:
        raise ValueError(f"{key} has several values: a single-valued operator {operator!r} cannot compare them")
    return one(actual[0])


def condition_holds(condition: Mapping[str, Any], context: Context) -> bool:
    """Every operator block and every key in it holds (IAM ANDs them; the values within one key are ORed)."""
    return all(
        _clause_holds(operator, key, expected, context)
        for operator, clauses in condition.items()
        for key, expected in clauses.items()
    )


def _covers(statement: Mapping[str, Any], field: str, value: str, *, case: bool) -> bool:
    """Whether the statement's `field` (or its Not- form) reaches `value`."""
    if field in statement:
        return _matches(_listed(statement[field]), value, case=case)
    negated = f"Not{field}"
    if negated in statement:
        return not _matches(_listed(statement[negated]), value, case=case)
    raise ValueError(f"statement {statement.get('Sid', '')!r} has neither {field} nor {negated}")


def statement_applies(statement: Mapping[str, Any], action: str, arn: str, context: Context) -> bool:
    """Whether one statement of an identity policy covers the action on the resource in this context."""
    return (
        _covers(statement, "Action", action, case=False)
        and _covers(statement, "Resource", arn, case=True)
        and condition_holds(statement.get("Condition", {}), context)
    )


def decision(
    policies: Policies, action: str, arn: str, context: Context | None = None, *, boundary: Policies | None = None
) -> str:
    """`Allow`, `ExplicitDeny` or `ImplicitDeny`: the identity policies, within the permissions boundary if any."""
    context = context or {}
    identity = [s for policy in policies for s in policy["Statement"]]
    bounds = None if boundary is None else [s for policy in boundary for s in policy["Statement"]]
    every = identity + (bounds or [])
    if any(s["Effect"] == "Deny" and statement_applies(s, action, arn, context) for s in every):
        return "ExplicitDeny"
    if not any(s["Effect"] == "Allow" and statement_applies(s, action, arn, context) for s in identity):
        return "ImplicitDeny"
    if bounds is not None and not any(
        s["Effect"] == "Allow" and statement_applies(s, action, arn, context) for s in bounds
    ):
        return "ImplicitDeny"
    return "Allow"


def allowed(
    policies: Policies,
    action: str,
    arn: str,
    context: Context | None = None,
    *,
    boundary: Policies | None = None,
) -> bool:
    """IAM's answer for identity policies (and a permissions boundary): some Allow applies and no Deny does."""
    return decision(policies, action, arn, context, boundary=boundary) == "Allow"


def _principal_matches(statement: Mapping[str, Any], principal: Mapping[str, str]) -> bool:
    """Whether a trust statement's Principal (or NotPrincipal) names the caller, e.g. {"AWS": arn}."""

    def named(block: Any) -> bool:
        if block == "*":
            return True
        return any(
            kind in block and _matches(_listed(block[kind]), value, case=True) for kind, value in principal.items()
        )

    if "Principal" in statement:
        return named(statement["Principal"])
    if "NotPrincipal" in statement:
        return not named(statement["NotPrincipal"])
    raise ValueError(f"trust statement {statement.get('Sid', '')!r} names no Principal")


def may_assume(
    trust: Mapping[str, Any], principal: Mapping[str, str], action: str, context: Context | None = None
) -> bool:
    """Whether a role's trust policy lets this principal call `action` (sts:AssumeRole, ...WithWebIdentity)."""
    context = context or {}

    def applies(statement: Mapping[str, Any]) -> bool:
        return (
            _principal_matches(statement, principal)
            and _covers(statement, "Action", action, case=False)
            and condition_holds(statement.get("Condition", {}), context)
        )

    statements = trust["Statement"]
    if any(s["Effect"] == "Deny" and applies(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and applies(s) for s in statements)


def allows_on(policies: Policies, arn: str, context: Context | None = None) -> list[str]:
    """The Sids of Allow statements with an action of the ARN's service whose resources and conditions reach it.

    A statement on `"*"` is left out: the tests require those to hold only creations, which act on no existing object
    (`unscoped_actions`).
    """
    service = arn.split(":")[2]
    found = []
    for policy in policies:
        for statement in policy["Statement"]:
            if statement["Effect"] != "Allow" or _listed(statement.get("Resource", [])) == ["*"]:
                continue
            for action in _listed(statement.get("Action", [])):
                if action.split(":", 1)[0] in (service, "*") and statement_applies(
                    statement, action, arn, context or {}
                ):
                    found.append(statement.get("Sid", "?"))
                    break
    return found


def write_actions(policies: Policies) -> list[str]:
    """Actions of Allow statements that are not reads (a wildcard such as `s3:*` or `s3:Put*` counts as a write)."""
    writes = []
    for policy in policies:
        for statement in policy["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            if "NotAction" in statement:
                writes.append(f"NotAction {statement['NotAction']}")
            for action in _listed(statement.get("Action", [])):
                verb = action.split(":", 1)[-1]
                if verb == "*" or not verb.startswith(READ_VERBS):
                    writes.append(action)
    return writes


def unscoped_actions(policies: Policies) -> list[str]:
    """Actions allowed on every resource (`"*"`)."""
    return [
        action
        for policy in policies
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow" and "*" in _listed(statement.get("Resource", []))
        for action in _listed(statement.get("Action", ["NotAction"]))
    ]
