"""OnCall: the PagerDuty schedule and its members from the stack settings, the escalation order (schedule, then the
tech lead), and every settings mistake reported at its key."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from infra.diffs.changes import diff_plans
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, run_program
from infra.plans.render import plan_json
from settings.oncall import OnCallSettings
from tests.helpers.stacks import Edit, only_problem, settings_of, stack_config

SCHEDULE = "pagerduty:index/schedule:Schedule"
USER = "pagerduty:index/user:User"
CONTACT = "pagerduty:index/userContactMethod:UserContactMethod"
RULE = "pagerduty:index/userNotificationRule:UserNotificationRule"
POLICY = "pagerduty:index/escalationPolicy:EscalationPolicy"
ON_CALL = "vibelog:incident.pagerduty.onCall"
KEY = bytes(range(32))


def on_call(change: Callable[[dict[str, Any]], None]) -> Edit:
    """An edit of production's onCall section."""

    def edit(config: dict[str, Any]) -> None:
        change(config["vibelog:incident"]["pagerduty"]["onCall"])

    return edit


def up(edit: Edit | None = None) -> Plan:
    """Production as a mock `up` records it: ids are known (`<name>-id`), so references can be compared."""
    return run_program("production", stack_config("production", edit), mocks=VibelogMocks(preview=False))


def ids(plan: Plan, type_: str) -> dict[str, str]:
    """Each resource of a type by its mock id."""
    return {f"{reg.name}-id": reg.name for reg in plan.by_type(type_)}


@pytest.fixture(scope="module")
def production_up() -> Plan:
    return up()


# ---------------------------------------------------------------------------------------------- the schedule


def test_the_schedule_layer_takes_its_members_and_turns_from_settings(production_up: Plan) -> None:
    settings = settings_of("production").incident
    assert settings is not None, "production declares its incident section"
    assert settings.pagerduty is not None, "production pages PagerDuty"
    rotation = settings.pagerduty.on_call.rotation
    schedule = production_up.one(SCHEDULE, "incident-oncall-schedule")
    assert schedule.inputs["timeZone"] == "Europe/Berlin", schedule.urn
    [layer] = schedule.inputs["layers"]
    users = ids(production_up, USER)
    assert [users[user] for user in layer["users"]] == [f"incident-oncall-{key}" for key in rotation.members], (
        f"{schedule.urn}: the rotation's members, in the order their turns come"
    )
    # weekly, one week a turn, Monday 09:00 Berlin time from 2027-01-04 (a Monday, in winter: +01:00).
    assert layer["rotationTurnLengthSeconds"] == 7 * 24 * 3600, schedule.urn
    assert layer["rotationVirtualStart"] == "2027-01-04T09:00:00+01:00", schedule.urn
    assert layer["start"] == layer["rotationVirtualStart"], f"{schedule.urn}: a fixed start, never `now`"


def test_the_escalation_policy_pages_the_schedule_then_the_tech_lead(production_up: Plan) -> None:
    policy = production_up.one(POLICY, "incident-pagerduty-escalation")
    levels = [(rule["escalationDelayInMinutes"], rule["targets"]) for rule in policy.inputs["rules"]]
    assert levels == [
        (15, [{"type": "schedule_reference", "id": "incident-oncall-schedule-id"}]),
        (15, [{"type": "user_reference", "id": "incident-oncall-tech-lead-id"}]),
    ], f"{policy.urn}: the on-call engineer's schedule first, the tech lead after 15 minutes (the P0 response time)"


def test_every_person_paged_has_a_contact_method_with_a_high_urgency_rule(production_up: Plan) -> None:
    users = ids(production_up, USER)
    methods = ids(production_up, CONTACT)
    reached = {users[reg.inputs["userId"]] for reg in production_up.by_type(CONTACT)}
    assert reached == set(users.values()), f"users no contact method reaches: {set(users.values()) - reached}"
    ruled = set()
    for rule in production_up.by_type(RULE):
        method = production_up.one(CONTACT, methods[rule.inputs["contactMethod"]["id"]])
        assert rule.inputs["userId"] == method.inputs["userId"], f"{rule.urn}: another user's contact method"
        assert rule.inputs["contactMethod"]["type"] == method.inputs["type"], rule.urn
        assert rule.inputs["urgency"] == "high", f"{rule.urn}: a P0 is a high-urgency incident"
        ruled.add(method.name)
    assert ruled == set(methods.values()), f"contact methods no rule uses: {set(methods.values()) - ruled}"


def test_the_people_outlive_the_rotation(production_up: Plan) -> None:
    for user in production_up.by_type(USER):
        assert user.retain_on_delete, f"{user.urn}: leaving the rotation must not delete the person's account"


def changes(edit: Edit) -> list[tuple[str, str, str]]:
    diff = diff_plans(plan_json(up(), KEY), plan_json(up(edit), KEY))
    return sorted((c.op, c.type.rsplit(":", 1)[-1], c.name) for c in diff.resources)


def test_a_new_turn_order_updates_the_schedule_in_place() -> None:
    found = changes(on_call(lambda section: section["rotation"]["members"].reverse()))
    assert found == [("update", "Schedule", "incident-oncall-schedule")], found


def test_reordering_a_members_contact_methods_changes_nothing() -> None:
    found = changes(on_call(lambda section: section["members"]["engineer-1"]["contactMethods"].reverse()))
    assert found == [], f"contact methods are named by what they are, not their place: {found}"


def _settings(**rotation: Any) -> OnCallSettings:
    return OnCallSettings.model_validate(
        {
            "timeZone": "Europe/Berlin",
            "members": {
                "a": {"name": "A", "email": "a@x.io", "contactMethods": [{"type": "email", "address": "a@x.io"}]}
            },
            "rotation": {"members": ["a"], **rotation},
            "techLead": "a",
        }
    )


def test_the_first_handoff_is_the_handoff_day_at_local_time() -> None:
    # 2027-07-01 is a Thursday; Berlin is on summer time (+02:00) in July.
    weekly = _settings(start="2027-07-01", handoffDay="monday", handoffTime="10:30").first_handoff()
    assert weekly.isoformat() == "2027-07-05T10:30:00+02:00", weekly
    daily = _settings(start="2027-07-01", every="daily", turnLength=2, handoffTime="08:00")
    assert daily.first_handoff() == datetime.datetime.fromisoformat("2027-07-01T08:00:00+02:00"), "daily: the start"
    assert daily.rotation.turn_seconds == 2 * 24 * 3600, "two days a turn"


# ---------------------------------------------------------------------------------------------- settings errors


def assert_refused(edit: Edit, path: str, *words: str) -> None:
    """The edit is refused with one problem at `path`, whose message holds `words`, and a fix naming the key."""
    problem = only_problem("production", edit)
    assert problem.path == path, problem
    for word in words:
        assert word in problem.expected, problem
    assert path in problem.fix, f"the fix must name {path}: {problem.fix}"


def test_an_unknown_time_zone_is_refused() -> None:
    # Valid in the IANA database but absent from PagerDuty's list; then no zone at all.
    assert_refused(on_call(lambda s: s.update(timeZone="Asia/Ho_Chi_Minh")), f"{ON_CALL}.timeZone", "PagerDuty")
    assert_refused(on_call(lambda s: s.update(timeZone="Mars/Olympus")), f"{ON_CALL}.timeZone", "Europe/Berlin")


def test_an_empty_rotation_is_refused() -> None:
    def edit(section: dict[str, Any]) -> None:
        section["rotation"]["members"] = []
        section["members"] = {"tech-lead": section["members"]["tech-lead"]}

    assert_refused(on_call(edit), f"{ON_CALL}.rotation.members", "pages nobody")


def test_a_member_without_a_contact_method_is_refused() -> None:
    assert_refused(
        on_call(lambda s: s["members"]["engineer-2"].pop("contactMethods")),
        f"{ON_CALL}.members.engineer-2.contactMethods",
        "engineer-2 has no contact method",
    )


@pytest.mark.parametrize("time", ["9:00", "09:00:00", "24:00", "9am"])
def test_a_handoff_time_not_hh_mm_is_refused(time: str) -> None:
    assert_refused(
        on_call(lambda s: s["rotation"].update(handoffTime=time)), f"{ON_CALL}.rotation.handoffTime", "HH:MM"
    )


def test_a_start_that_is_no_date_is_refused() -> None:
    assert_refused(on_call(lambda s: s["rotation"].update(start="2027-02-30")), f"{ON_CALL}.rotation.start", "date")


def test_a_member_listed_twice_in_the_rotation_is_refused() -> None:
    assert_refused(
        on_call(lambda s: s["rotation"]["members"].append("engineer-1")),
        f"{ON_CALL}.rotation.members[2]",
        "listed twice",
    )


def test_a_rotation_member_who_is_not_declared_is_refused() -> None:
    assert_refused(
        on_call(lambda s: s["rotation"]["members"].append("engineer-3")),
        f"{ON_CALL}.rotation.members[2]",
        "'engineer-3' is no key of onCall.members",
    )


def test_an_undeclared_tech_lead_is_refused() -> None:
    def edit(section: dict[str, Any]) -> None:
        section["techLead"] = "cto"
        section["rotation"]["members"].append("tech-lead")

    assert_refused(on_call(edit), f"{ON_CALL}.techLead", "'cto' is no key")


def test_two_members_with_one_email_are_refused() -> None:
    assert_refused(
        on_call(lambda s: s["members"]["engineer-2"].update(email="ONCALL-1@vibelog.io")),
        f"{ON_CALL}.members.engineer-2.email",
        "engineer-1 has this e-mail too",
    )


def test_a_contact_method_listed_twice_is_refused() -> None:
    def edit(section: dict[str, Any]) -> None:
        methods = section["members"]["engineer-1"]["contactMethods"]
        methods.append({**methods[0], "label": "Work"})

    assert_refused(on_call(edit), f"{ON_CALL}.members.engineer-1.contactMethods[2]", "list it once")


def test_a_number_with_its_trunk_prefix_or_without_a_calling_code_is_refused() -> None:
    def with_prefix(section: dict[str, Any]) -> None:
        section["members"]["engineer-1"]["contactMethods"][0].update(countryCode=49, address="015112345678")

    assert_refused(
        on_call(with_prefix), f"{ON_CALL}.members.engineer-1.contactMethods[0].address", "drop the leading 0"
    )

    def without_code(section: dict[str, Any]) -> None:
        section["members"]["engineer-1"]["contactMethods"][0].pop("countryCode")

    assert_refused(on_call(without_code), f"{ON_CALL}.members.engineer-1.contactMethods[0].countryCode", "calling code")


def test_a_member_nobody_pages_is_refused() -> None:
    assert_refused(
        on_call(lambda s: s["rotation"]["members"].remove("engineer-2")),
        f"{ON_CALL}.members.engineer-2",
        "neither in the rotation nor the tech lead",
    )


def test_the_retired_escalation_targets_are_refused_with_what_replaced_them() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:incident"]["pagerduty"]["targets"] = [{"type": "schedule_reference", "id": "PVIB0P1"}]

    problem = only_problem("production", edit)
    assert problem.path == "vibelog:incident.pagerduty.targets", problem
    assert "onCall" in problem.expected, problem
    assert "adopt" in problem.expected, problem
    assert problem.fix.startswith("pulumi config rm"), problem


def test_a_turn_longer_than_pagerduty_allows_is_refused() -> None:
    assert_refused(on_call(lambda s: s["rotation"].update(turnLength=53)), f"{ON_CALL}.rotation.turnLength", "365 days")
