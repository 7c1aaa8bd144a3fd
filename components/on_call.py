"""The on-call rotation in PagerDuty: the people it pages, declared with the contact methods that reach them, and the
schedule whose turns they take. The escalation policy (components/incident_response.py) pages the schedule first,
then the tech lead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_pagerduty as pagerduty

from settings.oncall import CONTACT_METHOD_TYPES, OnCallSettings


@dataclass(frozen=True)
class Contact:
    """One way PagerDuty reaches a member."""

    type: str
    """PagerDuty's contact method type (phone_contact_method, sms_contact_method, email_contact_method)."""
    address: str
    """The number (without calling code) or the e-mail address."""
    country_code: int | None
    """The calling code of a number; None for e-mail."""
    label: str
    """How PagerDuty shows it."""
    delay_minutes: int
    """Minutes after a high-urgency assignment before it is used."""


@dataclass(frozen=True)
class Person:
    """A PagerDuty user the rotation or the escalation pages."""

    key: str
    """The settings' key: the resource names' stable part."""
    name: str
    """Full name, as in PagerDuty."""
    email: str
    """Login e-mail (PagerDuty's key for a user)."""
    role: str
    """PagerDuty role."""
    contacts: Sequence[Contact]
    """How it is paged, each with a high-urgency notification rule."""


@dataclass(frozen=True)
class OnCallArgs:
    """The rotation's people, its turns, and its tech lead."""

    provider: pagerduty.Provider
    """PagerDuty, with the stack's API token."""
    schedule_name: str
    """Name of the schedule in PagerDuty."""
    time_zone: str
    """The schedule's time zone (one of PagerDuty's)."""
    people: Sequence[Person]
    """Everyone declared: the rotation's members and the tech lead."""
    rotation: Sequence[str]
    """Keys of the people taking turns, in order."""
    first_handoff: str
    """RFC 3339 start of the first turn (its local hand-off time with the zone's offset)."""
    turn_seconds: int
    """Length of a turn."""
    tech_lead: str
    """Key of the person paged when the on-call engineer does not acknowledge."""

    @classmethod
    def from_settings(cls, settings: OnCallSettings, project_name: str, provider: pagerduty.Provider) -> OnCallArgs:
        """The args for these settings."""
        return cls(
            provider=provider,
            schedule_name=f"{project_name} on-call",
            time_zone=settings.time_zone,
            people=tuple(
                Person(
                    key,
                    member.name,
                    member.email,
                    member.role,
                    tuple(
                        Contact(
                            CONTACT_METHOD_TYPES[method.type],
                            method.address,
                            method.country_code,
                            method.label,
                            method.delay_minutes,
                        )
                        for method in member.contact_methods
                    ),
                )
                for key, member in settings.members.items()
            ),
            rotation=tuple(settings.rotation.members),
            first_handoff=settings.first_handoff().isoformat(),
            turn_seconds=settings.rotation.turn_seconds,
            tech_lead=settings.tech_lead,
        )


class OnCall(pulumi.ComponentResource):
    """PagerDuty users for the rotation and the tech lead, their contact methods and notification rules, and the
    on-call schedule."""

    schedule_id: pulumi.Output[str]
    """The schedule the escalation policy pages first."""
    tech_lead_id: pulumi.Output[str]
    """The user it pages next."""

    def __init__(self, name: str, args: OnCallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:incident:OnCall", name, None, opts)
        on_pagerduty = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.users: dict[str, pagerduty.User] = {}
        self.contact_methods: list[pagerduty.UserContactMethod] = []
        self.notification_rules: list[pagerduty.UserNotificationRule] = []
        for person in args.people:
            # A user is a person's account and history, not the rotation's: leaving the rotation (or the stack) must
            # not delete it. Create adopts an existing user of the same e-mail, name and role
            # (heimweh/go-pagerduty UserService.Create, findExistingUser).
            user = pagerduty.User(
                f"{name}-{person.key}",
                name=person.name,
                email=person.email,
                role=person.role,
                description=f"Paged by {args.schedule_name} (vibelog-infra)",
                opts=pulumi.ResourceOptions.merge(on_pagerduty, pulumi.ResourceOptions(retain_on_delete=True)),
            )
            self.users[person.key] = user
            for contact in person.contacts:
                # Named by what PagerDuty tells contact methods apart by, so reordering the list renames nothing
                # (a renamed one would be created before the old is deleted, and PagerDuty refuses the duplicate).
                number = "" if contact.country_code is None else f"+{contact.country_code}"
                method_name = (
                    f"{name}-{person.key}-{contact.type.removesuffix('_contact_method')}-{number}{contact.address}"
                )
                method = pagerduty.UserContactMethod(
                    method_name,
                    user_id=user.id,
                    type=contact.type,
                    address=contact.address,
                    country_code=contact.country_code,
                    label=contact.label,
                    opts=on_pagerduty,
                )
                self.contact_methods.append(method)
                # PagerDuty notifies a user only through notification rules: a contact method without one is never
                # used for a page.
                self.notification_rules.append(
                    pagerduty.UserNotificationRule(
                        f"{method_name}-high",
                        user_id=user.id,
                        urgency="high",
                        start_delay_in_minutes=contact.delay_minutes,
                        contact_method=pagerduty.UserNotificationRuleContactMethodArgs(type=contact.type, id=method.id),
                        opts=on_pagerduty,
                    )
                )
        # No input of a schedule is ForceNew: its layer is updated in place, and a layer dropped from the program is
        # ended, never deleted (pagerduty/resource_pagerduty_schedule.go resourcePagerDutyScheduleUpdate).
        self.schedule = pagerduty.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            description=f"Who is on call for {args.schedule_name.removesuffix(' on-call')}: paged first for a P0",
            time_zone=args.time_zone,
            layers=[
                pagerduty.ScheduleLayerArgs(
                    name="Rotation",
                    # A fixed start from the settings, never "now": the same settings plan the same turns.
                    start=args.first_handoff,
                    rotation_virtual_start=args.first_handoff,
                    rotation_turn_length_seconds=args.turn_seconds,
                    users=[self.users[key].id for key in args.rotation],
                )
            ],
            opts=on_pagerduty,
        )
        self.schedule_id = self.schedule.id
        self.tech_lead_id = self.users[args.tech_lead].id
        self.register_outputs({"schedule_id": self.schedule_id, "tech_lead_id": self.tech_lead_id})
