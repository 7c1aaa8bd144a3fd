"""Run the unchanged Pulumi program under Pulumi's mock runtime, as a preview, and record every registration."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import heapq
import itertools
import json
import logging
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack

from infra.engine import deferred_annotations, lazy_sdk
from infra.engine.fast_runtime import sdk_shortcuts
from infra.engine.mocks import VibelogMocks
from policy.type_tokens import STACK
from policy.unknowns import UNKNOWN, Unknown
from settings.stackfile import StackConfig, read_stack_config
from settings.stacks import PROJECT_DIR

# Before the program first imports pulumi_aws: its services then load only the resource modules used, and the
# generated modules keep their annotations unevaluated.
lazy_sdk.install()
deferred_annotations.install()

PROJECT = "vibelog"


class Secret:
    """A value the program marked secret. Only its presence is ever shown, never its value."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "[secret]"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("secret", json.dumps(self.value, sort_keys=True, default=str)))


def replace_special(value: Any, replace: Callable[[Secret | Unknown, str], Any], path: str = "") -> Any:
    """A recorded value with each secret and unknown in it replaced by `replace(leaf, path)`: the one walk over
    recorded values (paths like `a.b[0].c`); a secret's own value is not walked into."""
    if isinstance(value, (Secret, Unknown)):
        return replace(value, path)
    if isinstance(value, dict):
        return {
            key: replace_special(item, replace, f"{path}.{key}" if path else str(key)) for key, item in value.items()
        }
    if isinstance(value, list):
        return [replace_special(item, replace, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


@dataclass(frozen=True)
class Registration:
    """One resource registration, with everything the engine was told about it."""

    type: str
    name: str
    urn: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provider: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    delete_before_replace_defined: bool = False
    """The program set the option (True or False); the analyzer hands policies None otherwise."""
    aliases: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    import_id: str = ""
    """The id of an existing resource the engine adopts (the `import_` option) instead of creating one."""


@dataclass
class Plan:
    """What `pulumi preview` of one stack would register, recorded offline."""

    stack: str
    config: StackConfig
    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_type(self, type_: str) -> list[Registration]:
        """The registrations of one type token."""
        return [r for r in self.registrations if r.type == type_]

    def by_urn(self) -> dict[str, Registration]:
        """Registrations keyed by URN."""
        return {r.urn: r for r in self.registrations}

    def one(self, type_: str, name: str) -> Registration:
        """The registration of the given type and logical name; KeyError naming both if absent."""
        for registration in self.registrations:
            if registration.type == type_ and registration.name == name:
                return registration
        raise KeyError(f"no {type_} named {name!r} in the {self.stack} plan")


def decode(value: Any) -> Any:
    """A property value as the engine received it, with secrets and unknowns made explicit."""
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            inner = decode(value.get("value"))
            return inner if isinstance(inner, Unknown) else Secret(inner)
        if sig == rpc._special_resource_sig:
            return value.get("urn", "")
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double; 308 is an int to a reader
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping every registration request as the engine would see it."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        """Record the request, then let the SDK's mock monitor answer it."""
        urn = self.make_urn(request.parent, request.type, request.name)
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=urn,
                custom=request.custom,
                parent=request.parent,
                inputs=decode(json_format.MessageToDict(request.object)),
                dependencies=tuple(request.dependencies),
                property_dependencies={key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()},
                provider="::".join(request.provider.split("::")[:4]),
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                delete_before_replace_defined=request.deleteBeforeReplaceDefined,
                aliases=tuple(_alias_text(alias) for alias in request.aliases),
                replace_on_changes=tuple(request.replaceOnChanges),
                ignore_changes=tuple(request.ignoreChanges),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                import_id=request.importId,
            )
        )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        """Keep the stack's exports."""
        if request.urn.split("::")[2] == STACK:
            self.stack_outputs = decode(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def _alias_text(alias: Any) -> str:
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    parts = [f"name={spec.name}"] if spec.name else []
    if spec.type:
        parts.append(f"type={spec.type}")
    if spec.parentUrn:
        parts.append(f"parent={spec.parentUrn}")
    if spec.noParent:
        parts.append("noParent")
    return ",".join(parts)


def run_program(
    stack: str,
    config: StackConfig | None = None,
    program: Path | Callable[[], object] | None = None,
    mocks: pulumi.runtime.Mocks | None = None,
) -> Plan:
    """Preview one stack offline: `program` (the project's __main__.py by default, or a function that declares
    resources, for testing a component on its own) with the stack's config.

    The config is handed over the way the Python language host does it, so the program cannot tell the
    difference; exceptions raised by the program (a ConfigError for a misconfigured stack) propagate.
    """
    config = config if config is not None else read_stack_config(stack)
    program = program or PROJECT_DIR / "__main__.py"
    body = program if callable(program) else functools.partial(_run_path, program)
    monitor = RecordingMonitor(mocks or VibelogMocks())
    with _runtime(stack, monitor, config), sdk_shortcuts():
        loop = asyncio.new_event_loop()
        # The SDK sends every RPC through the loop's default executor, and the mock monitor answers each at once
        # (none waits on another). One thread does that 3-8 % faster than asyncio's default pool of up to six,
        # each of which builds its own event loop to serialize the mock's answers and contends for the GIL.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="mock-monitor"))
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(run_in_stack(lambda: (body(), None)[1]))
        finally:
            _finish_pending(loop)
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()
    return Plan(stack, config, canonical_order(monitor.registrations), monitor.stack_outputs)


def _finish_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failed program left running and collect each outcome, as `asyncio.run` does before it closes
    its loop. A task left pending (or failing later on the closed executor) is logged whenever the collector reaches
    it, with a traceback, and Python 3.11 formats tracebacks with `ast.parse`: reached inside another `ast.parse`,
    that fails with "AST constructor recursion depth mismatch"."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def canonical_order(registrations: list[Registration]) -> list[Registration]:
    """The registrations in one order that does not depend on scheduling: every resource after its parent,
    provider and dependencies, ties broken by URN; dependency lists sorted.

    The SDK registers from several threads and keeps dependencies in sets, so the raw order changes from run to
    run; two plans of the same program must be byte-identical, or a diff of plan files shows noise.
    """
    by_urn = {reg.urn: _sorted_dependencies(reg) for reg in registrations}
    before = {
        urn: {
            dep
            for dep in (
                reg.parent,
                reg.provider,
                *reg.dependencies,
                *itertools.chain(*reg.property_dependencies.values()),
            )
            if dep in by_urn and dep != urn
        }
        for urn, reg in by_urn.items()
    }
    waiting = {urn: len(deps) for urn, deps in before.items()}
    after: dict[str, list[str]] = {}
    for urn, deps in before.items():
        for dep in deps:
            after.setdefault(dep, []).append(urn)
    ready = [urn for urn, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Registration] = []
    while ready:
        urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for follower in after.get(urn, []):
            waiting[follower] -= 1
            if waiting[follower] == 0:
                heapq.heappush(ready, follower)
    # The engine never registers a cycle; should one appear, keep the rest rather than drop resources.
    ordered += sorted((reg for urn, reg in by_urn.items() if waiting[urn] > 0), key=lambda reg: reg.urn)
    return ordered


def _sorted_dependencies(reg: Registration) -> Registration:
    return dataclasses.replace(
        reg,
        dependencies=tuple(sorted(set(reg.dependencies))),
        property_dependencies={
            key: tuple(sorted(set(urns))) for key, urns in sorted(reg.property_dependencies.items())
        },
    )


def plan_stack(stack: str, config: StackConfig | None = None) -> Plan:
    """Read the stack file (unless its config is given), stand placeholders in for secrets, and run the program
    offline (no policy run)."""
    return run_program(stack, config)


def _run_path(program: Path) -> None:
    runpy.run_path(str(program), run_name="__main__")


@contextlib.contextmanager
def _runtime(stack: str, monitor: RecordingMonitor, config: StackConfig) -> Iterator[None]:
    project_dir = str(PROJECT_DIR)
    added = project_dir not in sys.path
    if added:
        sys.path.insert(0, project_dir)
    settings = pulumi_mocks.MockSettings(  # type: ignore[no-untyped-call]
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),  # type: ignore[no-untyped-call]
        engine=pulumi_mocks.MockEngine(logging.getLogger("infra.plan")),
        project=PROJECT,
        stack=stack,
        root_directory=project_dir,
        dry_run=True,
        organization="organization",
        callbacks=None,
        # A run's own set of outstanding Outputs, as `Settings.__init__` gives it (MockSettings skips that): the
        # previous run's set would otherwise carry a failed program's cancelled Outputs into this run's wait.
        outputs=set(),
    )
    runtime_settings.configure(settings)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
    try:
        yield
    finally:
        runtime_settings.ROOT.set(None)
        pulumi.runtime.set_all_config({}, [])
        if added:
            sys.path.remove(project_dir)
