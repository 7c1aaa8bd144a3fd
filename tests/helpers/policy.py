"""Synthetic registrations and a one-rule runner for the policy tests: start compliant, change one thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from infra.engine.policies import Violation, check_plan
from infra.engine.runtime import Plan, Registration, Secret
from policy.pack import build_policies
from settings.stackfile import StackConfig

PROJECT = "vibelog"


def urn(type_: str, name: str, parents: Sequence[str] = (), stack: str = "production") -> str:
    """The URN the engine gives a resource of `type_` named `name` under components of types `parents`."""
    return f"urn:pulumi:{stack}::{PROJECT}::{'$'.join([*parents, type_])}::{name}"


def reg(
    type_: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    parents: Sequence[str] = (),
    stack: str = "production",
    deps: Mapping[str, Registration] | None = None,
    **options: Any,
) -> Registration:
    """A registration; `deps` maps an input name to the registration it depends on (an output of it)."""
    property_dependencies = {key: (dep.urn,) for key, dep in (deps or {}).items()}
    return Registration(
        type=type_,
        name=name,
        urn=urn(type_, name, parents, stack),
        custom=True,
        parent="",
        inputs=dict(inputs),
        dependencies=tuple(dep.urn for dep in (deps or {}).values()),
        property_dependencies=property_dependencies,
        **options,
    )


def with_inputs(registration: Registration, **changes: Any) -> Registration:
    """The registration with some inputs changed (None removes one)."""
    inputs = {**registration.inputs, **changes}
    return replace(registration, inputs={k: v for k, v in inputs.items() if v is not None})


def swap(registrations: Iterable[Registration], new: Registration) -> list[Registration]:
    """The registrations with the one of the same URN replaced by `new`."""
    return [new if r.urn == new.urn else r for r in registrations]


def run_rule(
    rule: str,
    registrations: Iterable[Registration],
    config: Mapping[str, Any] | None = None,
    stack_config: StackConfig | None = None,
) -> list[Violation]:
    """The violations one rule of the pack reports on these registrations."""
    registrations = list(registrations)
    stack = registrations[0].urn.split("::")[0].rsplit(":", 1)[-1] if registrations else "production"
    policies = [policy for policy in build_policies() if policy.name == rule]
    assert policies, f"no rule {rule} in the pack"
    plan = Plan(stack, stack_config or StackConfig(stack, {}, frozenset()), registrations)
    return check_plan(plan, config, policies)


def found(violations: Iterable[Violation]) -> list[tuple[str, str]]:
    """(rule, urn) of each violation."""
    return [(v.policy, v.urn) for v in violations]


__all__ = ["Secret", "found", "reg", "run_rule", "swap", "urn", "with_inputs"]
