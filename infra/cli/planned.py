"""A stack's plan for a verb, or the exit code of why it could not be made (reported on stderr)."""

from __future__ import annotations

import sys

from infra.cli.exits import EXIT_NO, EXIT_USAGE
from infra.engine.runtime import Plan, plan_stack
from settings.loader import ConfigError
from settings.stackfile import StackFileError


def plan_or_exit(stack: str) -> Plan | int:
    """The stack's plan; 2 when its stack file cannot be read, 1 when its config is invalid."""
    try:
        return plan_stack(stack)
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO
