"""Ctrl-C and SIGTERM for `python -m ops`: one exception that unwinds the job through its own cleanups, children
stopped with their process groups, and cleanups that a second signal cannot cut short."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import CodeType, FrameType

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


class _State:
    """Where the job stands with signals. Python runs the handler in the main thread between two bytecodes,
    wherever the signal landed at the OS level (a transfer thread, say), so plain attributes are enough."""

    raised = False
    """The one interruption has been raised: a second Ctrl-C, or GitHub's SIGTERM after its SIGINT, must not cut
    the cleanup short."""
    signal_name = ""
    """The signal it was raised for."""
    over = False
    """The job has ended (`ended`): nothing is raised any more, not even an interruption delivered again."""
    held = 0
    """How many `deferred()` blocks are open."""
    pending: int | None = None
    """A signal that arrived while they were, raised when the last one closes."""


def install() -> None:
    """Make SIGINT and SIGTERM raise Interrupted in the job (Python's default for SIGTERM kills it in place)."""
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)
    sys.unraisablehook = _on_unraisable


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if _State.raised or _State.over:
        return
    if _State.held:
        _State.pending = _State.pending or signum
        return
    _raise(signum)


def _raise(signum: int) -> None:
    _State.raised, _State.signal_name = True, signal.Signals(signum).name
    raise Interrupted(signum)


def interruption() -> str | None:
    """The signal the job's interruption was raised for, or None. A library may turn the KeyboardInterrupt into an
    error of its own (pydantic-core building a validator when the signal lands in its callback, say): the job was
    interrupted all the same, and says so instead of reporting that error."""
    return _State.signal_name if _State.raised else None


def ended() -> None:
    """The job has ended and said how: a signal from now on changes nothing, one delivered again included."""
    _State.over = True


_default_unraisablehook = sys.unraisablehook


def _on_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """A signal that lands in a finalizer or a weakref callback (an import releasing its module lock, say) raises
    Interrupted where Python prints the exception and carries on: the interruption would be lost, with a
    traceback. Deliver it again once the main thread has left here, into whatever the job was doing."""
    if not isinstance(unraisable.exc_value, Interrupted):
        _default_unraisablehook(unraisable)
        return
    # Still raised while the main thread is in here (starting the thread below waits): a second signal arriving
    # meanwhile is ignored, as during any cleanup, instead of raising where it would be dropped too.
    signum = signal.Signals[unraisable.exc_value.signal_name]
    threading.Thread(target=_deliver_again, args=(signum, _on_unraisable.__code__), daemon=True).start()


def _deliver_again(signum: signal.Signals, hook: CodeType) -> None:
    main = threading.main_thread()
    while main.is_alive() and _runs(main, hook):
        time.sleep(0.001)
    if main.is_alive() and main.ident is not None and not _State.over:
        _State.raised = False
        # A signal, not `_thread.interrupt_main`: it also ends the system call the job waits in (a sleep, a read).
        signal.pthread_kill(main.ident, signum)


def _runs(thread: threading.Thread, code: CodeType) -> bool:
    """Whether `code` is on the thread's stack."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a cleanup runs; one that arrives meanwhile is raised after it. Signals are
    the main thread's: on another thread this holds nothing back (and raises nothing there, where it would be
    lost)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.held += 1
    try:
        yield
    finally:
        _State.held -= 1
        if not _State.held and _State.pending is not None and not _State.raised:
            signum, _State.pending = _State.pending, None
            _raise(signum)


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


# How long `stop` waits for the rest of a killed group to be gone (it is exiting: SIGKILL cannot be refused).
GROUP_EXIT_SECONDS = 5.0


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill a child's whole process group and reap it, a signal arriving meanwhile waiting until it is done; then
    wait (a few seconds at most) until the rest of the group has exited too: a grandchild the kill reached may still
    be tearing down (initdb's bootstrap backend, say) when the child itself is reaped."""
    with deferred():
        # Before the wait reaps it, the child's pid still names its group: the kill cannot hit another one.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        deadline = time.monotonic() + GROUP_EXIT_SECONDS
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)  # what is left of the group, killed above, until it has all exited
            except ProcessLookupError:
                return
            time.sleep(0.01)


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[Path]:
    """A new directory under $TMPDIR, removed on every way out, a signal arriving meanwhile waiting until it is."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        with deferred():
            shutil.rmtree(path, ignore_errors=True)
