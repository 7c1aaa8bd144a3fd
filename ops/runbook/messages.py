"""The reference's incident message templates, and posting them to the status page and Slack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ops.runbook.http import Client

Phase = Literal["investigating", "identified", "resolved"]
PHASES: tuple[Phase, ...] = ("investigating", "identified", "resolved")

# The reference's communication plan (Incident Response), word for word.
TEMPLATES: dict[Phase, str] = {
    "investigating": "We're investigating reports of issues with {service}. We'll provide updates as we learn more.",
    "identified": "We've identified the issue affecting {service} and are working on a fix.",
    "resolved": "The issue with {service} has been resolved. We apologize for any inconvenience.",
}


def public_message(phase: Phase, service: str) -> str:
    """The customer-facing text of a phase."""
    return TEMPLATES[phase].format(service=service)


@dataclass(frozen=True)
class Announcement:
    """One update: the status page's status and text, and the team's Slack line."""

    phase: Phase
    """investigating, identified or resolved (the status page's status)."""
    message: str
    """The status page text."""
    slack_text: str
    """The team's Slack message (internal: it may name deployments and reasons)."""


def announce(status_page: Client, slack: Client, announcement: Announcement) -> None:
    """Post to the status page webhook and to Slack, as scripts/rollback.sh's steps 5 and 6 do."""
    status_page.request("POST", "", body={"status": announcement.phase, "message": announcement.message})
    slack.request("POST", "", body={"text": announcement.slack_text})
