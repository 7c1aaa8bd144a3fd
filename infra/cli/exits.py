"""The exit codes every verb shares, and the `--stack` argument they all read (no SDK, no policy pack)."""

from __future__ import annotations

from settings.stacks import STACKS

# One convention for every verb (docs/offline-tooling.md, "Exit codes"): 0 the answer is yes (no
# changes, no violations, valid); 1 the answer is no (changes, mandatory violations, an invalid config or env
# file); 2 the question could not be answered (bad arguments, an unknown stack, a file that cannot be read).
# Ctrl-C is 130 (infra/engine/interrupt.py).
EXIT_OK = 0
EXIT_NO = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad arguments: reported on one line, exit 2."""


def stacks_named(name: str) -> list[str]:
    """The stacks `--stack NAME` means (`all` is every stack)."""
    if name == "all":
        return list(STACKS)
    if name not in STACKS:
        raise UsageError(f"unknown stack '{name}' (expected one of {', '.join(STACKS)}, or all)")
    return [name]
