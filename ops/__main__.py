"""Entry point of `python -m ops`."""

import os
import signal
import sys

from ops import interrupt
from ops.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_GONE

# Before the jobs' imports (boto3, psycopg: most of a start-up), so a signal during them ends the process as well.
interrupt.install()
try:
    from ops.cli import main

    code = main()
except (interrupt.Interrupted, Exception) as error:  # outside a job (its imports, argument parsing): nothing to report
    # An import may turn the interruption into an error of its own (pydantic-core building a validator).
    if not isinstance(error, interrupt.Interrupted) and interrupt.interruption() is None:
        raise
    print("interrupted", file=sys.stderr)
    code = EXIT_INTERRUPTED
except SystemExit as stop:  # argparse's exit (usage, --help): what it printed is written out below too
    code = EXIT_OK if stop.code is None else stop.code if isinstance(stop.code, int) else EXIT_BAD_INPUT
finally:
    interrupt.ended()
    # The job has ended and said how: Python's shutdown restores the default handlers, under which a signal arriving
    # now would kill the process and replace that exit status with -15 or a traceback.
    signal.pthread_sigmask(signal.SIG_BLOCK, interrupt.SIGNALS)
unwritable = False
try:
    if sys.stdout is not None:  # None: started with stdout closed (`>&-`), so nothing was printed
        sys.stdout.flush()  # what is still buffered; a reader that left early is not a failure (`list | head`)
except BrokenPipeError:
    code = EXIT_OUTPUT_GONE
except OSError as error:  # a full disk: said by the job's own flush (ops/cli.py), unless nothing else was (--help)
    unwritable = True
    if code == EXIT_OK:
        print(f"error: the job's output cannot be written ({error.strerror or type(error).__name__})", file=sys.stderr)
        code = EXIT_FAILED
if code == EXIT_OUTPUT_GONE or unwritable:  # the interpreter's own flush at exit would fail again, with a message
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
sys.exit(code)
