"""What other parts of the system send the runbooks: the rollback alarms' repository_dispatch and its payload."""

from __future__ import annotations

from typing import Literal

# The incident alarms start .github/workflows/runbook-rollback.yml with
#   POST /repos/{owner}/{repo}/dispatches {"event_type": ROLLBACK_EVENT_TYPE, "client_payload": {...}}
ROLLBACK_EVENT_TYPE = "incident-rollback"
RollbackAction = Literal["immediate_rollback", "staged_rollback"]
ROLLBACK_ACTIONS: tuple[RollbackAction, ...] = ("immediate_rollback", "staged_rollback")
SEVERITIES = ("P0", "P1", "P2")
# client_payload: alarm (the CloudWatch alarm's name), action (ROLLBACK_ACTIONS: the reference's error-rate trigger
# is immediate, the p95 trigger staged), severity (SEVERITIES), reason (the trigger's description,
# not the alarm's free-text state reason, which could break the JSON), time (ISO 8601).
ROLLBACK_PAYLOAD_KEYS = ("alarm", "action", "severity", "reason", "time")
# The reference's manual_triggers: the reasons a person may give for a rollback.
MANUAL_TRIGGERS = (
    "critical_bug_discovered",
    "security_vulnerability",
    "data_corruption_detected",
    "third_party_service_failure",
)
