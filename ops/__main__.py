"""Entry point of `python -m ops`."""

import sys

from ops import interrupt
from ops.errors import EXIT_INTERRUPTED

# Before the jobs' imports (boto3, psycopg: most of a start-up), so a signal during them ends the process as well.
interrupt.install()
try:
    from ops.cli import main

    code = main()
except interrupt.Interrupted:  # outside a job (its imports, argument parsing): nothing started, nothing to report
    print("interrupted", file=sys.stderr)
    code = EXIT_INTERRUPTED
sys.exit(code)
