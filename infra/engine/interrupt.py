"""Ctrl-C and SIGTERM: stop at once with status 130 and one line, after undoing what the verb left behind (child
processes, a temporary git worktree)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from types import FrameType

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
# A CI run that is cancelled sends SIGINT and then SIGTERM; either ends a verb the same way.
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_cleanups: list[Callable[[], None]] = []
_children: list[subprocess.Popen[str]] = []


def install() -> None:
    """Make SIGINT and SIGTERM end the process promptly. The default KeyboardInterrupt can surface inside the Pulumi
    runtime's threads and event loop, where it is printed as a traceback, swallowed, or waits on a thread; the
    default SIGTERM kills the process in place, its children and temporary worktree left behind."""
    for signum in SIGNALS:
        signal.signal(signum, _on_interrupt)


def _on_interrupt(_signum: int, _frame: FrameType | None) -> None:
    for signum in SIGNALS:  # a second Ctrl-C, or the SIGTERM after it, must not cut the cleanup short
        signal.signal(signum, signal.SIG_IGN)
    for child in list(_children):
        # A child started in a session of its own (`child()` asks for it) dies with its own helpers: `git worktree
        # add` runs `git reset --hard` in a process of its own, which would otherwise go on writing into the
        # worktree and its record after they are removed.
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            child.kill()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            child.wait(timeout=10)
    for cleanup in reversed(_cleanups):
        with contextlib.suppress(Exception):
            cleanup()
    os.write(2, b"interrupted\n")
    os._exit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def undo_on_interrupt(cleanup: Callable[[], None]) -> Iterator[None]:
    """Run `cleanup` if the process is interrupted inside the block (the block's own `finally` does not run)."""
    _cleanups.append(cleanup)
    try:
        yield
    finally:
        _cleanups.remove(cleanup)


@contextlib.contextmanager
def child(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Kill `process` (and its process group, if it was started with `start_new_session=True`) if the parent is
    interrupted while it runs; otherwise leave it to the caller."""
    _children.append(process)
    try:
        yield process
    finally:
        _children.remove(process)
