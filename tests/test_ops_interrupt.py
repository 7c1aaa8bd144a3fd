"""`ops.interrupt` where a signal lands awkwardly: inside a finalizer, where Python swallows what a handler raises,
and on a thread other than the main one while a cleanup holds signals back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROLOGUE = """
import os, signal, sys, threading, time
from ops import interrupt
interrupt.install()
"""


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
        class Finalized:
            def __del__(self):
                os.kill(os.getpid(), signal.{signum})
                sum(range(1000))  # the handler runs here, where Python ignores what it raises

        try:
            Finalized()
            time.sleep(600)  # past the run's timeout: only the signal, delivered again, ends it
            print("the job ran on")
        except interrupt.Interrupted as interrupted:
            print("interrupted by", interrupted.signal_name)
    """)
    assert done.stdout == f"interrupted by {signum}\n", f"the job after a signal in a finalizer:\n{done.stderr}"
    assert done.stderr == "", "the swallowed interruption was printed"


def test_a_signal_on_another_thread_waits_for_the_cleanup_it_interrupts() -> None:
    done = run_script("""
        worker = threading.Thread(target=time.sleep, args=(5,), daemon=True)
        worker.start()
        try:
            with interrupt.deferred():
                signal.pthread_kill(worker.ident, signal.SIGTERM)  # the OS hands it to a transfer thread, say
                time.sleep(0.2)
                print("cleanup finished")
            print("the job ran on")
        except interrupt.Interrupted as interrupted:
            print("interrupted by", interrupted.signal_name)
    """)
    assert done.stdout == "cleanup finished\ninterrupted by SIGTERM\n", f"a deferred cleanup:\n{done.stderr}"


def test_a_second_signal_does_not_interrupt_the_unwinding() -> None:
    done = run_script("""
        try:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(20)
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # GitHub's SIGTERM after its SIGINT
                time.sleep(0.2)
                print("cleanup finished")
        except interrupt.Interrupted as interrupted:
            print("interrupted by", interrupted.signal_name)
    """)
    assert done.stdout == "cleanup finished\ninterrupted by SIGINT\n", f"the unwinding:\n{done.stderr}"
