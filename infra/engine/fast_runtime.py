"""Three of the Pulumi SDK's internals, replaced while the offline engine runs a program under mocks.

Measured in docs/offline-engine-speed.md (the upstream report): under the mock monitor the SDK spends much of a
plan's time in three places whose work a mock preview does not need, or needs once:

- `pulumi.runtime.stack.wait_for_rpcs` waits for the program's outstanding Outputs with
  `asyncio.wait(..., return_when=FIRST_COMPLETED)` in a loop, so every completion re-registers a callback on every
  still-pending Output: quadratic in the number of Outputs (about 30 per registration). Here each batch of
  Outputs is waited on once with FIRST_EXCEPTION, which returns when all are done or one has failed; the RPC
  loop, the re-raising of a failed RPC or Output and the repeat-until-quiet cycle are the SDK's own (its debug
  log lines are left out).
- `pulumi.runtime.resource._get_stack_trace` walks and formats the Python stack (reading source lines) for every
  resource, for the engine's source positions; the mock monitor and our recording never read them. Here it
  returns the empty trace the SDK itself returns when it cannot find the caller.
- `pulumi._types._raw_return_hints` resolves, once per class, every property getter's return annotation with
  `typing.get_type_hints`: for the SDKs' generated classes (their annotations deferred by
  `infra/engine/deferred_annotations.py`) that is an `eval` of the annotation's text in the globals of the class's
  modules. The same text recurs across the classes of a module (`pulumi.Output[Optional[_builtins.str]]` on
  dozens of getters): here each text is resolved once per set of modules (the module objects of the class's MRO,
  whose globals the SDK merges) and the result reused. A text resolves to the same object each time because the
  SDKs' generated modules bind every name an annotation uses when they are imported and never rebind it; a class
  whose module is not in `sys.modules` is resolved as the SDK does, getter by getter.

All are swapped in only for the SDK version they were written against (`PINNED_SDK`, the exact pin in
requirements.txt) and only inside `sdk_shortcuts()`; with any other version the SDK's own functions run (correct,
slower), and tests/test_fast_runtime.py fails naming what changed, so an SDK bump revisits this file. The Pulumi
program never sees a difference: the plans are byte-identical with and without these shortcuts (also tested).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any, get_type_hints

from pulumi import _types as sdk_types
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.settings import _get_rpc_manager as get_rpc_manager

PINNED_SDK = "3.272.0"
"""The pulumi version whose internals the replacements below mirror."""

REPLACED = {
    "pulumi.runtime.stack.wait_for_rpcs": "c0f9027f85ad09255ded0a1908033b490f76d303a3e40b50d3cf47a69265469d",
    "pulumi.runtime.resource._get_stack_trace": "3943b2273016925109e1c3a7bc603db06a44ea09ff3494c29544e44bccf8dd1f",
    "pulumi._types._raw_return_hints": "2d3a92980274817e81102dad85488da7ff8b2829f88ba69ec797feada5302f0f",
}
"""The SDK functions replaced, with the sha256 of their source in PINNED_SDK (checked by the tests)."""


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """`pulumi.runtime.stack.wait_for_rpcs` of PINNED_SDK, waiting on each batch of Outputs once, not per completion."""
    rpc_manager = get_rpc_manager()
    while True:
        while len(rpc_manager.rpcs) > 0:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    cause = rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                    raise exn from cause
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)

        if await_all_outstanding_tasks:
            while True:
                with SETTINGS.lock:
                    if len(SETTINGS.outputs) == 0:
                        break
                    pending_outputs: list[asyncio.Task[Any]] = list(SETTINGS.outputs)
                    SETTINGS.outputs.clear()
                # The one change: one wait per batch, returning when all are done or one has failed.
                done, not_done = await asyncio.wait(pending_outputs, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    await task
                if not_done:
                    with SETTINGS.lock:
                        for task in not_done:
                            SETTINGS.outputs.add(task)

        if len(rpc_manager.rpcs) == 0:
            break


_resolved_hints: dict[tuple[str, tuple[ModuleType, ...]], Any] = {}
"""Annotation text and the modules (the objects) of the class it is resolved for -> the resolved hint."""


@functools.cache
def raw_return_hints(cls: type) -> dict[str, Any]:
    """`pulumi._types._raw_return_hints` of PINNED_SDK, resolving each distinct annotation text once per set of
    modules (the same globals, the same locals) instead of once per getter. The modules are the objects, not their
    names: a program run again (a new `__main__`) declares new classes under old names."""
    from pulumi import Output  # noqa: PLC0415 - as the SDK's own function imports it

    globalns = sdk_types._globals_for_cls(cls)
    localns = {"Output": Output, "T": type(None)}
    found = [sys.modules.get(base.__module__) for base in cls.__mro__]
    modules = tuple(module for module in found if module is not None) if None not in found else None
    hints: dict[str, Any] = {}
    for _, pulumi_name, prop in sdk_types._py_properties(cls):
        annotation = prop.fget.__annotations__.get("return") if prop.fget is not None else None
        key = (annotation, modules) if isinstance(annotation, str) and modules is not None else None
        if key is not None and key in _resolved_hints:
            return_hint = _resolved_hints[key]
        else:
            return_hint = get_type_hints(prop.fget, globalns=globalns, localns=localns).get("return")
            if key is not None:
                _resolved_hints[key] = return_hint
        if return_hint is not None:
            hints[pulumi_name] = return_hint
    return hints


def get_stack_trace() -> source_pb2.StackTrace:
    """No source positions: what the SDK's `_get_stack_trace` returns when it finds no user frame."""
    return source_pb2.StackTrace()


def sdk_is_pinned() -> bool:
    """Whether the installed SDK is the one the replacements were written against."""
    return importlib.metadata.version("pulumi") == PINNED_SDK


@contextlib.contextmanager
def sdk_shortcuts() -> Iterator[None]:
    """Swap the replacements in for the duration of one offline run (no-op on any SDK but PINNED_SDK)."""
    if not sdk_is_pinned():
        yield
        return
    saved = sdk_stack.wait_for_rpcs, sdk_resource._get_stack_trace, sdk_types._raw_return_hints
    sdk_stack.wait_for_rpcs = wait_for_rpcs
    sdk_resource._get_stack_trace = get_stack_trace
    sdk_types._raw_return_hints = raw_return_hints
    try:
        yield
    finally:
        sdk_stack.wait_for_rpcs, sdk_resource._get_stack_trace, sdk_types._raw_return_hints = saved
