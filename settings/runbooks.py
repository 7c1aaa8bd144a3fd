"""The runbooks section: the runbook workflows' GitHub environment, who approves a runbook, and how fast."""

from __future__ import annotations

from settings.base import ConfigModel, setting
from settings.ci import CiReviewers

# The runbook workflows' environment in this infra repository is the stack's name with this suffix
# (.github/workflows/runbook-*.yml name `<stack>-runbooks`).
RUNBOOK_ENVIRONMENT_SUFFIX = "-runbooks"


class RunbookSettings(ConfigModel):
    """The runbook workflows' GitHub environment (docs/runbooks.md): who approves a runbook, and how fast.

    A stack without the section declares no `<stack>-runbooks` environment (it needs vibelog:ci).
    """

    reviewers: CiReviewers = setting(
        "The reference's decision makers (tech lead, on-call engineer) who approve a runbook: at least two users "
        "or teams, so whoever starts one cannot approve it alone.",
        default_factory=CiReviewers,
    )
    approval_minutes: int = setting(
        "Minutes an approval may take (the reference: approval < 5 minutes); a run approved later stops before "
        "acting, since the incident it was started for may have changed.",
        example=5,
        default=5,
        ge=1,
        le=60,
    )
