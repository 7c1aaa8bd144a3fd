"""Stacks' plans for a verb, or the exit code of why they could not be made (reported on stderr)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from infra.cli.exits import EXIT_NO, EXIT_OK, EXIT_USAGE
from infra.engine.runtime import Plan, plan_stack
from settings.loader import ConfigError
from settings.stackfile import StackConfig, StackFileError, checked_config

T = TypeVar("T")


def plan_or_exit(stack: str) -> Plan | int:
    """The stack's plan; 2 when its stack file cannot be read, 1 when its config is invalid."""
    return _or_exit(plan_stack, stack)


def plans_or_exit(stacks: Sequence[str]) -> list[Plan] | int:
    """The stacks' plans, in order. Every stack file is read and its config validated before any stack is planned,
    so each broken stack is reported at once rather than after the others' plans: 2 when a stack file cannot be
    read, else 1 when a config is invalid."""
    configs: list[StackConfig] = []
    code = EXIT_OK
    for stack in stacks:
        config = _or_exit(checked_config, stack)
        if isinstance(config, int):
            code = max(code, config)
        else:
            configs.append(config)
    if code != EXIT_OK:
        return code
    plans: list[Plan] = []
    for stack, config in zip(stacks, configs, strict=True):
        plan = _or_exit(functools.partial(plan_stack, config=config), stack)
        if isinstance(plan, int):
            return plan
        plans.append(plan)
    return plans


def _or_exit(step: Callable[[str], T], stack: str) -> T | int:
    try:
        return step(stack)
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO
