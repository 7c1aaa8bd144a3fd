"""`ops.interrupt` where a signal lands awkwardly: inside a finalizer, where Python swallows what a handler raises,
on a thread other than the main one while a cleanup holds signals back, and inside a library that reports it as an
error of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROLOGUE = '''
import os, signal, sys, threading, time
from ops import interrupt
interrupt.install()


class Finalized:
    """Sends a signal from its finalizer: the handler runs there, where Python ignores what it raises."""

    def __init__(self, signum):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        sum(range(1000))


def job(body):
    """Run a job's body and say how it ended."""
    try:
        body()
        print("the job ran on")
    except interrupt.Interrupted as interrupted:
        print("interrupted by", interrupted.signal_name)
'''


def run_script(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", PROLOGUE + textwrap.dedent(body)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_landing_in_a_finalizer_still_interrupts_the_job_without_a_traceback(signum: str) -> None:
    done = run_script(f"""
        def body():
            Finalized(signal.{signum})
            time.sleep(600)  # past the run's timeout: only the signal, delivered again, ends it

        job(body)
    """)
    assert done.stdout == f"interrupted by {signum}\n", f"the job after a signal in a finalizer:\n{done.stderr}"
    assert done.stderr == "", "the swallowed interruption was printed"


def test_a_second_signal_while_a_swallowed_one_is_delivered_again_loses_neither_the_job_nor_the_first() -> None:
    done = run_script("""
        start = threading.Thread.start

        def started_late(thread):
            os.kill(os.getpid(), signal.SIGINT)  # GitHub's second signal, while the hook starts its thread
            sum(range(1000))
            start(thread)

        threading.Thread.start = started_late

        def body():
            Finalized(signal.SIGTERM)
            time.sleep(600)

        job(body)
    """)
    assert done.stdout == "interrupted by SIGTERM\n", f"two signals, the first in a finalizer:\n{done.stderr}"
    assert done.stderr == "", "an interruption was printed"


def test_a_signal_on_another_thread_waits_for_the_cleanup_it_interrupts() -> None:
    done = run_script("""
        worker = threading.Thread(target=time.sleep, args=(5,), daemon=True)
        worker.start()

        def body():
            with interrupt.deferred():
                signal.pthread_kill(worker.ident, signal.SIGTERM)  # the OS hands it to a transfer thread, say
                time.sleep(0.2)
                print("cleanup finished")

        job(body)
    """)
    assert done.stdout == "cleanup finished\ninterrupted by SIGTERM\n", f"a deferred cleanup:\n{done.stderr}"


def test_a_second_signal_does_not_interrupt_the_unwinding() -> None:
    done = run_script("""
        def body():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(600)
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # GitHub's SIGTERM after its SIGINT
                time.sleep(0.2)
                print("cleanup finished")

        job(body)
    """)
    assert done.stdout == "cleanup finished\ninterrupted by SIGINT\n", f"the unwinding:\n{done.stderr}"


def test_a_cleanup_on_a_worker_thread_does_not_hold_back_the_jobs_signal() -> None:
    done = run_script("""
        ready = threading.Event()

        def cleanup():
            with interrupt.deferred():
                ready.set()
                time.sleep(5)

        threading.Thread(target=cleanup, daemon=True).start()
        ready.wait()

        def body():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(600)

        job(body)
    """)
    assert done.stdout == "interrupted by SIGTERM\n", f"a worker's cleanup held the job's signal:\n{done.stderr}"


@pytest.mark.parametrize(
    ("argv", "variables", "patched"),
    [
        (["list"], "LIST_ENV", "cli.run_list"),
        # The restore test reports its own failures: not this one.
        (["restore-test", "--stack", "staging"], "RESTORE_TEST_ENV", "vault.inventory"),
    ],
)
def test_an_interruption_a_library_turned_into_its_own_error_is_reported_as_the_interruption(
    argv: list[str], variables: str, patched: str
) -> None:
    done = run_script(f"""
        from ops import cli, vault

        def converting(*args):  # as pydantic-core does when the signal lands in a callback it runs
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(600)
            except KeyboardInterrupt as interrupted:
                raise ValueError("Error building validator: Interrupted: SIGTERM") from interrupted

        os.environ.update({{variable.name: "set" for variable in cli.{variables} if variable.required}})
        {patched} = converting
        print("exit", cli.main({argv!r}))
    """)
    assert (done.stdout, done.stderr) == ("exit 130\n", "interrupted\n"), (
        f"{argv}: the interruption was reported otherwise"
    )
