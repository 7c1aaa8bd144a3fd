"""The one exception a job raises to stop with a one-line reason (never a connection string)."""

from __future__ import annotations


class JobError(Exception):
    """A job failed; the message is one line, safe to print, post to Slack and keep in a job summary."""
