"""The rollback alarms' repository_dispatch and the runbook's contract (ops/runbook/contract.py) agree."""

from __future__ import annotations

import json
from typing import get_args

from components import incident_response
from infra.engine.runtime import Plan
from ops.runbook import contract
from policy.type_tokens import EVENT_TARGET as TARGET


def test_the_component_and_the_runbook_name_the_same_event_actions_and_severities() -> None:
    assert incident_response.DISPATCH_EVENT_TYPE == contract.ROLLBACK_EVENT_TYPE, (
        "components/incident_response.py dispatches an event type ops/runbook/contract.py does not listen for"
    )
    assert set(get_args(incident_response.RollbackAction)) == set(contract.ROLLBACK_ACTIONS), (
        "the rollback actions the alarms send differ from those the runbook accepts"
    )
    assert set(incident_response.SEVERITIES) == set(contract.SEVERITIES), "the severities differ"


def test_every_dispatch_the_plan_registers_is_one_the_runbook_accepts(production: Plan) -> None:
    targets = [t for t in production.by_type(TARGET) if t.name.startswith("incident-dispatch-")]
    assert targets, "production registers no rollback dispatch target: the check is vacuous"
    for target in targets:
        template = target.inputs["inputTransformer"]["inputTemplate"]
        body = json.loads(template.replace("<alarm>", "a").replace("<time>", "t"))
        payload = body["client_payload"]
        assert body["event_type"] == contract.ROLLBACK_EVENT_TYPE, target.urn
        assert tuple(payload) == contract.ROLLBACK_PAYLOAD_KEYS, f"{target.urn}: payload keys {tuple(payload)}"
        assert payload["action"] in contract.ROLLBACK_ACTIONS, f"{target.urn}: action {payload['action']!r}"
        assert payload["severity"] in contract.SEVERITIES, f"{target.urn}: severity {payload['severity']!r}"
