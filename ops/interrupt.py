"""Ctrl-C and SIGTERM for `python -m ops`: one exception that unwinds the job through its own cleanups, children
stopped with their process groups, and cleanups that a second signal cannot cut short."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

# GitHub cancels a run with SIGINT, then SIGTERM; a person presses Ctrl-C. Both end a job the same way.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so psycopg cancels a running query and s3transfer its
    transfers on the way out; every `finally` and `with` of the job runs (temporary files, scratch servers,
    multipart uploads), which a handler ending the process at once would skip."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name
        """SIGINT or SIGTERM."""


def install() -> None:
    """Make SIGINT and SIGTERM raise Interrupted in the job (Python's default for SIGTERM kills it in place)."""
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # One interruption: a second Ctrl-C, or GitHub's SIGTERM after its SIGINT, must not cut the cleanup short.
    for each in SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a cleanup runs; one that arrives meanwhile is delivered after it."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run(command: Sequence[str], *, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a child with its output captured, in a process group of its own; whatever ends the wait (a signal, an
    error) kills the whole group first, so neither the child nor a helper it started outlives the job."""
    with start(command, env=env) as process:
        try:
            out, err = process.communicate()
        except BaseException:
            stop(process)
            raise
    return subprocess.CompletedProcess(list(command), process.returncode, out, err)


def start(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    """A child with its output piped, in a process group of its own (for `stop`); `stdin` is a file descriptor it
    reads (the read end of a pipe the caller feeds), else it inherits the job's."""
    return subprocess.Popen(  # noqa: S603 - the callers build the arguments from fixed binaries
        command, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill a child's whole process group and reap it, a signal arriving meanwhile waiting until it is done."""
    with deferred():
        # Before the wait reaps it, the child's pid still names its group: the kill cannot hit another one.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[Path]:
    """A new directory under $TMPDIR, removed on every way out, a signal arriving meanwhile waiting until it is."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        with deferred():
            shutil.rmtree(path, ignore_errors=True)
