"""The offline engine's SDK shortcuts: pinned to the SDK they mirror, and invisible in every plan."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import importlib
import importlib.metadata
import inspect
import logging
import re
import sys
import types

import pulumi
import pytest
from pulumi import _types as pulumi_types

from infra.engine import deferred_annotations, fast_runtime
from infra.engine import runtime as engine
from infra.engine.runtime import Plan, Registration
from infra.plans.render import plan_json
from settings.stacks import PROJECT_DIR, STACKS
from tests.helpers.stacks import plan_of

REREAD = (
    "infra/engine/fast_runtime.py mirrors SDK internals of pulumi {pinned}: re-read {name} in the installed SDK, carry "
    "its changes into the replacement (or drop the replacement), then update PINNED_SDK/REPLACED"
)


def test_the_shortcuts_are_pinned_to_the_sdk_in_requirements() -> None:
    requirements = (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^pulumi==(\S+)$", requirements, re.MULTILINE)
    assert pinned is not None, "requirements.txt pins no exact pulumi version"
    assert pinned.group(1) == fast_runtime.PINNED_SDK, REREAD.format(pinned=fast_runtime.PINNED_SDK, name="both")
    installed = importlib.metadata.version("pulumi")
    assert installed == fast_runtime.PINNED_SDK, f"pulumi {installed} is installed; " + REREAD.format(
        pinned=fast_runtime.PINNED_SDK, name="both"
    )


@pytest.mark.parametrize("name", sorted(fast_runtime.REPLACED))
def test_each_replaced_function_is_unchanged_in_the_sdk(name: str) -> None:
    module, _, function = name.rpartition(".")
    source = inspect.getsource(getattr(importlib.import_module(module), function))
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == fast_runtime.REPLACED[name], REREAD.format(pinned=fast_runtime.PINNED_SDK, name=name)


def test_the_shortcuts_are_undone_after_a_run() -> None:
    from pulumi import _types  # noqa: PLC0415
    from pulumi.runtime import resource, stack  # noqa: PLC0415

    before = stack.wait_for_rpcs, resource._get_stack_trace, _types._raw_return_hints
    with fast_runtime.sdk_shortcuts():
        inside = stack.wait_for_rpcs, resource._get_stack_trace, _types._raw_return_hints
        replacements = fast_runtime.wait_for_rpcs, fast_runtime.get_stack_trace, fast_runtime.raw_return_hints
        assert inside == replacements, "a shortcut is not in place inside a run"
    assert (stack.wait_for_rpcs, resource._get_stack_trace, _types._raw_return_hints) == before, (
        "an SDK function stayed replaced"
    )


def _canonical(plan: Plan) -> list[Registration]:
    """Registrations in URN order, dependency lists sorted: the SDK itself does not fix either order."""
    return sorted(
        (
            dataclasses.replace(
                reg,
                dependencies=tuple(sorted(reg.dependencies)),
                property_dependencies={k: tuple(sorted(v)) for k, v in reg.property_dependencies.items()},
            )
            for reg in plan.registrations
        ),
        key=lambda reg: reg.urn,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_plans_are_identical_with_and_without_the_shortcuts(
    all_plans: dict[str, Plan], stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "sdk_shortcuts", contextlib.nullcontext)
    without = plan_of(stack)
    with_shortcuts = all_plans[stack]
    assert _canonical(with_shortcuts) == _canonical(without), f"the {stack} plan differs under the shortcuts"
    assert plan_json(with_shortcuts)["outputs"] == plan_json(without)["outputs"], f"{stack}'s exports differ"


def _failing_program() -> None:
    def fail(_: str) -> str:
        raise RuntimeError("derived value failed")

    bucket = pulumi.ComponentResource("vibelog:test:Thing", "thing")
    pulumi.export("broken", pulumi.Output.from_input("x").apply(fail))
    bucket.register_outputs({})


def test_a_failing_output_still_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="derived value failed"):
        plan_of("production", program=_failing_program)


def test_a_failed_run_leaves_no_task_behind(caplog: pytest.LogCaptureFixture) -> None:
    # A task left pending, or failing on the closed executor, is logged whenever the collector finds it; inside an
    # ast.parse (the traceback formatting parses too) that was a SystemError in an unrelated test.
    caplog.set_level(logging.ERROR, logger="asyncio")
    for _ in range(2):  # the second run fails for the same reason, not on the first run's leftovers
        with pytest.raises(RuntimeError, match="derived value failed"):
            plan_of("production", program=_failing_program)
    plan_of("development", program=lambda: None)  # the next run lets go of everything the failed ones made
    gc.collect()
    left = [record.getMessage().splitlines()[0] for record in caplog.records if record.name == "asyncio"]
    assert left == [], f"the failed run left tasks behind: {left}"


def _classes_with_getters() -> list[type]:
    """Every class of the loaded provider SDK modules that has Pulumi property getters."""
    return [
        value
        for name, module in sorted(sys.modules.items())
        if name.partition(".")[0] in deferred_annotations.SDK_PACKAGES
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == name and pulumi_types._py_properties(value)
    ]


@pytest.mark.usefixtures("all_plans")  # every SDK module the stacks use is loaded
def test_each_class_resolves_to_the_hints_the_sdk_resolves() -> None:
    classes = _classes_with_getters()
    assert len(classes) > 500, f"only {len(classes)} SDK classes with getters are loaded"
    sdk = pulumi_types._raw_return_hints.__wrapped__  # the SDK's own function, past its per-class cache
    different = [cls.__qualname__ for cls in classes if fast_runtime.raw_return_hints.__wrapped__(cls) != sdk(cls)]
    assert different == [], f"resolved differently from the SDK: {different[:10]}"


def test_a_class_declared_again_under_the_same_names_resolves_to_its_own_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What `plan --stack all` does: the program runs again in a new `__main__`, with new classes of the old names.
    source = (
        "import pulumi\n"
        "class Inner:\n    pass\n"
        "@pulumi.output_type\n"
        "class Holder:\n"
        "    @property\n    @pulumi.getter\n    def inner(self) -> 'Inner': ...\n"
    )
    resolved = []
    for _ in range(2):
        module = types.ModuleType("vibelog_rerun_probe")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(source, "<probe>", "exec"), vars(module))  # noqa: S102 - the test's own module
        resolved.append(fast_runtime.raw_return_hints.__wrapped__(module.Holder)["inner"] is module.Inner)
    assert resolved == [True, True], "a re-declared class resolved to the first run's types"
