"""Telling people: a restore test's result as Slack message and job summary, a job's failure in one line."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ops.errors import JobError
from ops.integrity import Check
from ops.runbook.http import Client


@dataclass(frozen=True)
class RestoreReport:
    """The outcome of one restore test, with the recovery point and time it achieved."""

    stack: str
    """Which environment's backups were tested."""
    key: str
    """The dump restored."""
    passed: bool
    """Whether it was fetched, verified, restored and passed every check."""
    dump_age_hours: float
    """Age of the dump's snapshot when the test ran: the RPO a restore now would achieve."""
    restore_minutes: float
    """Fetch, verification and restore time: the RTO achieved for the database."""
    rto_minutes: int
    """The objective it is measured against."""
    checks: tuple[Check, ...]
    """What was checked."""
    failure: str = ""
    """Why it failed before the checks, if it did."""
    findings: tuple[str, ...] = ()
    """Findings on the dump restored or a newer one (a dump without a visible manifest, ...): they fail the test."""
    warnings: tuple[str, ...] = ()
    """Findings on older dumps: reported, not failing."""
    left_out: tuple[str, ...] = ()
    """What the restore left out by rule (an extension the runner does not have), one line each: not failing."""
    steps: tuple[tuple[str, float], ...] = ()
    """The seconds each step took, in order, as far as the test got: where the restore time went."""

    def lines(self) -> list[str]:
        """The report, one fact a line."""
        if self.passed:
            lines = [
                f"Restore test PASSED for {self.stack}: {self.key}",
                f"RPO achieved: the dump was {self.dump_age_hours:.1f} h old",
                f"RTO achieved: fetched, verified and restored in {self.restore_minutes:.1f} min "
                f"(objective {self.rto_minutes} min)",
            ]
        else:
            # A restore that did not work achieved no recovery point and no recovery time, however fast it failed.
            lines = [
                f"Restore test FAILED for {self.stack}: {self.key or 'no backup'}",
                f"RPO and RTO not achieved: the test failed after {self.restore_minutes:.1f} min "
                f"(objective {self.rto_minutes} min)",
            ]
        if self.steps:
            lines.append("time: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.steps))
        if self.failure:
            lines.append(f"failure: {self.failure}")
        lines += [*self.findings, *(f"{line} (older than the dump restored)" for line in self.warnings)]
        lines += [f"{'ok' if check.ok else 'FAIL'} {check.name}: {check.detail}" for check in self.checks]
        lines += [f"finding: {line}" for line in self.left_out]
        return lines

    def markdown(self) -> str:
        """The job summary."""
        head, *rest = self.lines()
        return "\n".join([f"## {head}", "", *(f"- {line}" for line in rest), ""])


def summary(markdown: str) -> None:
    """Append to the GitHub Actions job summary, when running there."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        # Telling people never fails a job, nor hides why it failed: an unwritable summary is skipped, and text that
        # is not UTF-8 (a byte from the environment or argv) is escaped as stderr escapes it.
        with contextlib.suppress(OSError), Path(path).open("a", encoding="utf-8", errors="backslashreplace") as out:
            out.write(markdown + "\n")


def slack(text: str, webhook: str | None = None) -> bool:
    """Post to the Slack incoming webhook in $SLACK_WEBHOOK; False if there is none or it failed (never raises).

    Through the runbooks' client: https only (or a loopback stand-in), a timeout, and the webhook's secret path
    never shown.
    """
    url = webhook or os.environ.get("SLACK_WEBHOOK", "")
    try:
        Client(url, variable="SLACK_WEBHOOK").request("POST", "", body={"text": text})
    except JobError:
        return False
    return True


def hours_between(earlier: datetime, later: datetime) -> float:
    """Hours from one moment to another."""
    return (later - earlier).total_seconds() / 3600
