"""How a job ends: the exceptions that stop it with a one-line reason (never a connection string), and exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2  # argparse's own code for bad usage; a missing or malformed variable is bad input too
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C; SIGTERM ends a job the same way
EXIT_OUTPUT_GONE = 141  # 128 + SIGPIPE, what a shell reports when a reader left early (`list | head`)


class JobError(Exception):
    """A job failed; the message is one line, safe to print, post to Slack and keep in a job summary."""


class BadInputError(JobError):
    """The job was given what it cannot run with (a variable missing or malformed): exit 2, nothing was done."""
