"""Run the policy pack's validators over an offline plan, through pulumi_policy's own argument types.

Each registration is handed to the validators the way the engine's analyzer hands a resource to a Python pack:
properties deserialized by `pulumi_policy.deserialize`, which strips secrets to their plaintext value (CrossGuard
decrypts secrets for policies; pulumi-policy#241), unknowns as the engine's sentinels behind the SDK's
unknown-checking proxy, options as `PolicyResourceOptions`; enforcement levels resolve as the analyzer resolves
them (pack config, then the policy's own level, then the pack's).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from infra.engine.runtime import Plan, Registration, Secret, replace_special
from policy.pack import PACK_ENFORCEMENT_LEVEL, PACK_NAME, build_policies
from policy.pack import rules as pack_rules
from policy.secrecy import stack_config
from policy.unknowns import Unknown
from settings.files import read_regular_file

MAX_POLICY_CONFIG_BYTES = 64 * 1024
"""A pack config names a few rules; a bigger file is refused before it is read whole."""
PolicyConfig = Mapping[str, Any]
"""The pack's config as `--policy-pack-config` takes it: rule name -> level, or {"enforcementLevel": ..., ...}."""


@dataclass(frozen=True)
class Violation:
    """One policy violation, as `pulumi preview` would report it."""

    policy: str
    """The rule's name."""
    level: str
    """mandatory (fails the plan) or advisory (shown)."""
    urn: str
    """The resource in violation; empty for the stack as a whole."""
    message: str
    """What is wrong and the fix."""
    description: str
    """The rule's description."""

    def to_json(self) -> dict[str, str]:
        """As in `plan --json`'s `policyViolations`."""
        return {
            "policyName": self.policy,
            "policyPackName": PACK_NAME,
            "enforcementLevel": self.level,
            "urn": self.urn,
            "message": self.message,
            "description": self.description,
        }


class _GivenTwiceError(Exception):
    """A key given twice in one JSON object (the message is the key)."""


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: JSON readers keep one of two silently (Pulumi's the last), so a
    rule set twice, to two levels, would be enforced at whichever the reader happens to keep."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _GivenTwiceError(repr(key))
        found[key] = value
    return found


def _policy_json(path: Path) -> Any:
    """The pack config's JSON; ValueError naming the file when it cannot be read as such."""
    try:
        data = read_regular_file(path, MAX_POLICY_CONFIG_BYTES + 1)
        if len(data) > MAX_POLICY_CONFIG_BYTES:
            raise ValueError(
                f"{path} is larger than {MAX_POLICY_CONFIG_BYTES // 1024} KiB; a pack config is a few lines"
            )
        loaded = json.loads(data.decode("utf-8"), object_pairs_hook=_once_each)
    except _GivenTwiceError as error:
        raise ValueError(f"{path}: {error} is given twice in one object; say which is meant") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise ValueError(f"{path} is not valid JSON: nested too deeply") from None
    return loaded


def read_policy_config(path: Path) -> dict[str, Any]:
    """A `--policy-pack-config` file, checked the way the engine checks it against the rules' config schemas, so a
    typo cannot quietly leave a rule at its default. ValueError naming the file and the entry otherwise."""
    loaded = _policy_json(path)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must hold a JSON object (rule name -> level or settings)")
    rules = {rule.name: rule for rule in pack_rules()}
    levels = sorted(level.value for level in EnforcementLevel)
    for name, entry in loaded.items():
        if name != "all" and name not in rules:
            raise ValueError(f"{path}: {name!r} is not a rule of {PACK_NAME} (rules: {', '.join(sorted(rules))})")
        level, options = (entry.get("enforcementLevel"), dict(entry)) if isinstance(entry, dict) else (entry, {})
        options.pop("enforcementLevel", None)
        if not isinstance(entry, (dict, str)) or (level is not None and level not in levels):
            raise ValueError(
                f"{path}: {name}: expected an enforcement level ({', '.join(levels)}) or an object of "
                "enforcementLevel and the rule's options"
            )
        settings = {setting.key: setting for setting in rules[name].settings} if name in rules else {}
        for key, value in options.items():
            setting = settings.get(key)
            if setting is None:
                known = ", ".join(settings) or "none"
                raise ValueError(f"{path}: {name}: unknown option {key!r} (options: {known})")
            if not _fits(value, setting.schema):
                raise ValueError(f"{path}: {name}.{key}: expected {_described(setting.schema)}")
    return loaded


# The JSON Schema types the rules' options use: how Python reads each from JSON, and how a message names it.
_JSON_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "string": (str, "a string"),
    "integer": (int, "an integer"),
    "number": ((int, float), "a number"),
    "boolean": (bool, "true or false"),
    "array": (list, "an array"),
    "object": (dict, "an object"),
}
_INNER = {"array": "items", "object": "additionalProperties"}
"""Where the schema of an array's items, or of an object's values, is."""


def _kinds(schema: Mapping[str, Any]) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether `value` is of one of the schema's types (with its items or values), as the engine validates it."""
    kinds = _kinds(schema)
    for kind in kinds:
        python, _ = _JSON_TYPES.get(kind, (object, ""))
        if not isinstance(value, python) or isinstance(value, bool) != (kind == "boolean"):  # true is not 1 in JSON
            continue
        inner = schema.get(_INNER.get(kind, ""), {})
        members = value if isinstance(value, list) else value.values() if isinstance(value, dict) else []
        if not isinstance(inner, Mapping) or all(_fits(member, inner) for member in members):
            return True
    return not kinds


def _described(schema: Mapping[str, Any]) -> str:
    """The schema's types in words: `an integer or an object (each an integer)`."""
    parts = []
    for kind in _kinds(schema):
        inner = schema.get(_INNER.get(kind, ""))
        each = f" (each {_described(inner)})" if isinstance(inner, Mapping) and _kinds(inner) else ""
        parts.append(_JSON_TYPES.get(kind, (object, kind))[1] + each)
    return " or ".join(parts)


def wire_value(value: Any) -> Any:
    """A recorded value as the engine sends it to an analyzer: secrets in their wire envelope, unknowns as sentinels."""
    return replace_special(value, _wire_leaf)


def _wire_leaf(leaf: Secret | Unknown, _path: str) -> Any:
    if isinstance(leaf, Secret):
        return {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": wire_value(leaf.value)}
    return UNKNOWN_STRING_VALUE


def policy_props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `props` a validator gets for these recorded inputs."""
    return unknown_checking_proxy(deserialize_properties(wire_value(dict(inputs))))


def policy_options(reg: Registration) -> PolicyResourceOptions:
    """The `opts` a validator gets for a registration."""
    return PolicyResourceOptions(
        protect=reg.protect,
        ignore_changes=list(reg.ignore_changes),
        # As the analyzer does (pulumi_policy.policy._get_resource_options): None unless the program set it.
        delete_before_replace=reg.delete_before_replace or (False if reg.delete_before_replace_defined else None),
        aliases=list(reg.aliases),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(reg.additional_secret_outputs),
        parent=reg.parent or None,
    )


def _provider(reg: Registration, by_urn: Mapping[str, Registration]) -> PolicyProviderResource | None:
    provider = by_urn.get(reg.provider)
    if provider is None:
        return None
    return PolicyProviderResource(provider.type, policy_props(provider.inputs), provider.urn, provider.name)


_ResourceView = tuple[Mapping[str, Any], str, str, PolicyResourceOptions, PolicyProviderResource | None]
"""What every rule is handed about one registration: props, urn, name, options, provider."""


def _views(registrations: list[Registration]) -> list[_ResourceView]:
    """Each registration's props, options and provider, computed once for every rule of the pack.

    Sharing is safe: pulumi_policy's unknown-checking proxies are read-only Mapping/Sequence views, so a rule
    cannot change what the next rule sees; options and provider are records the rules only read.
    """
    by_urn = {reg.urn: reg for reg in registrations}
    return [
        (policy_props(reg.inputs), reg.urn, reg.name, policy_options(reg), _provider(reg, by_urn))
        for reg in registrations
    ]


def policy_resources(
    registrations: list[Registration], views: list[_ResourceView] | None = None
) -> list[PolicyResource]:
    """The stack's resources as a stack validator gets them: parents, dependencies and property dependencies linked."""
    views = views if views is not None else _views(registrations)
    resources = {
        reg.urn: PolicyResource(reg.type, *view, None, [], {}) for reg, view in zip(registrations, views, strict=True)
    }
    for reg in registrations:
        resource = resources[reg.urn]
        resource.parent = resources.get(reg.parent)
        resource.dependencies = [resources[urn] for urn in reg.dependencies if urn in resources]
        resource.property_dependencies = {
            key: [resources[urn] for urn in urns if urn in resources] for key, urns in reg.property_dependencies.items()
        }
    return list(resources.values())


def enforcement_level(policy: Policy, config: PolicyConfig) -> EnforcementLevel:
    """The level a rule runs at: its pack config entry, else its own default, else the pack's."""
    entry = config.get(policy.name)
    configured = entry.get("enforcementLevel") if isinstance(entry, Mapping) else entry
    if configured is not None:
        return EnforcementLevel(configured)
    return policy.enforcement_level or PACK_ENFORCEMENT_LEVEL


def _properties(policy: Policy, config: PolicyConfig) -> dict[str, Any]:
    entry = config.get(policy.name)
    return {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, Mapping) else {}


def check_plan(
    plan: Plan, config: PolicyConfig | None = None, policies: Iterable[Policy] | None = None
) -> list[Violation]:
    """Every violation of the pack (or of `policies`) in the plan, in rule order."""
    config = config or {}
    violations: list[Violation] = []
    views = _views(plan.registrations)
    with stack_config(plan.config):
        for policy in build_policies() if policies is None else policies:
            level = enforcement_level(policy, config)
            if level == EnforcementLevel.DISABLED:
                continue
            if level == EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY  # as the analyzer reports what a remediation left
            properties = _properties(policy, config)
            if isinstance(policy, ResourceValidationPolicy):
                for reg, view in zip(plan.registrations, views, strict=True):
                    args = ResourceValidationArgs(reg.type, *view, properties)
                    report = _reporter(violations, policy, level, resource_urn=reg.urn)
                    _run(policy, functools.partial(policy.validate, args, report), violations)
            elif isinstance(policy, StackValidationPolicy):
                stack_args = StackValidationArgs(policy_resources(plan.registrations, views), properties)
                report = _reporter(violations, policy, level, resource_urn=None)
                _run(policy, functools.partial(policy.validate, stack_args, report), violations)
    return violations


def _reporter(
    violations: list[Violation], policy: Policy, level: EnforcementLevel, resource_urn: str | None
) -> ReportViolation:
    """The analyzer's report_violation: a resource rule's violation is always its resource's, whatever urn it names."""

    def report(message: str, urn: str | None = None) -> None:
        at = resource_urn if resource_urn is not None else urn or ""
        violations.append(Violation(policy.name, level.value, at, message, policy.description))

    return report


def _run(policy: Policy, call: Callable[[], Any], violations: list[Violation]) -> None:
    """Run one validation as the analyzer does: await it if async, an unknown read becomes an advisory note."""
    try:
        result = call()
        if inspect.isawaitable(result):
            asyncio.run(_awaited(result))
    except UnknownValueError as error:
        violations.append(
            Violation(
                policy.name,
                EnforcementLevel.ADVISORY.value,
                "",
                f"can't run policy '{policy.name}' from policy pack '{PACK_NAME}' during preview: {error.message}",
                policy.description,
            )
        )
    except _NotApplicableError:
        pass


async def _awaited(result: Any) -> None:
    await result


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    """The violations that fail a preview."""
    return [violation for violation in violations if violation.level == EnforcementLevel.MANDATORY.value]


def violations_text(violations: list[Violation]) -> str:
    """The violations as `pulumi preview` lists them: level, rule, resource, then what is wrong and the fix."""
    if not violations:
        return f"Policies: {PACK_NAME} reports no violation."
    lines = [f"Policy violations ({PACK_NAME}):"]
    for violation in violations:
        lines.append(f"    [{violation.level}] {violation.policy}  ({violation.description})")
        lines.append(f"        {violation.urn or '(the stack)'}")
        lines.append(f"        {violation.message}")
    count = len(mandatory(violations))
    lines.append(
        f"{count} mandatory violation(s): the preview fails." if count else "Advisory only: the preview passes."
    )
    return "\n".join(lines)
