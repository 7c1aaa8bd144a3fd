"""The on-call rotation PagerDuty pages first, and the tech lead it pages after: the reference's manual failover
decision makers (tech lead and on-call engineer) as the people a P0 reaches."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from settings.base import ConfigModel, CrossFieldError, config_path, setting

# The zones PagerDuty accepts for a schedule: its API has no list to ask, so the provider keeps one and refuses any
# other zone at plan time (PagerDuty/terraform-provider-pagerduty util/util.go ValidTZ, ValidateTZValueDiagFunc).
_PAGERDUTY_ZONE_LIST = """
    Africa/Algiers Africa/Cairo Africa/Casablanca Africa/Harare Africa/Johannesburg Africa/Monrovia Africa/Nairobi
    America/Argentina/Buenos_Aires America/Bogota America/Caracas America/Chicago America/Chihuahua America/Denver
    America/Godthab America/Guatemala America/Guyana America/Halifax America/Indiana/Indianapolis America/Juneau
    America/La_Paz America/Lima America/Los_Angeles America/Mazatlan America/Mexico_City America/Monterrey
    America/Montevideo America/New_York America/Phoenix America/Puerto_Rico America/Regina America/Santiago
    America/Sao_Paulo America/St_Johns America/Tijuana Asia/Almaty Asia/Baghdad Asia/Baku Asia/Bangkok
    Asia/Chongqing Asia/Colombo Asia/Dhaka Asia/Hong_Kong Asia/Irkutsk Asia/Jakarta Asia/Jerusalem Asia/Kabul
    Asia/Kamchatka Asia/Karachi Asia/Kathmandu Asia/Kolkata Asia/Krasnoyarsk Asia/Kuala_Lumpur Asia/Kuwait
    Asia/Magadan Asia/Muscat Asia/Novosibirsk Asia/Rangoon Asia/Riyadh Asia/Seoul Asia/Shanghai Asia/Singapore
    Asia/Srednekolymsk Asia/Taipei Asia/Tashkent Asia/Tbilisi Asia/Tehran Asia/Tokyo Asia/Ulaanbaatar Asia/Urumqi
    Asia/Vladivostok Asia/Yakutsk Asia/Yekaterinburg Asia/Yerevan Atlantic/Azores Atlantic/Cape_Verde
    Atlantic/South_Georgia Australia/Adelaide Australia/Brisbane Australia/Darwin Australia/Hobart
    Australia/Melbourne Australia/Perth Australia/Sydney Etc/GMT+12 Etc/UTC Europe/Amsterdam Europe/Athens
    Europe/Belgrade Europe/Berlin Europe/Bratislava Europe/Brussels Europe/Bucharest Europe/Budapest
    Europe/Copenhagen Europe/Dublin Europe/Helsinki Europe/Istanbul Europe/Kaliningrad Europe/Kiev Europe/Lisbon
    Europe/Ljubljana Europe/London Europe/Madrid Europe/Minsk Europe/Moscow Europe/Paris Europe/Prague Europe/Riga
    Europe/Rome Europe/Samara Europe/Sarajevo Europe/Skopje Europe/Sofia Europe/Stockholm Europe/Tallinn
    Europe/Vienna Europe/Vilnius Europe/Volgograd Europe/Warsaw Europe/Zagreb Europe/Zurich Pacific/Apia
    Pacific/Auckland Pacific/Chatham Pacific/Fakaofo Pacific/Fiji Pacific/Guadalcanal Pacific/Guam Pacific/Honolulu
    Pacific/Majuro Pacific/Midway Pacific/Noumea Pacific/Pago_Pago Pacific/Port_Moresby Pacific/Tongatapu
"""
PAGERDUTY_TIME_ZONES = frozenset(_PAGERDUTY_ZONE_LIST.split())

ContactType = Literal["phone", "sms", "email"]
CONTACT_METHOD_TYPES: dict[ContactType, str] = {
    "phone": "phone_contact_method",
    "sms": "sms_contact_method",
    "email": "email_contact_method",
}
"""PagerDuty's type of each contact method a member may declare."""
# A number written with its national trunk prefix is refused for these calling codes
# (pagerdutyplugin/resource_pagerduty_user_contact_method.go ValidateConfig, isTrunkPrefixNotSupported).
TRUNK_PREFIXES = {1: "1", 33: "0", 40: "0", 44: "0", 45: "0", 49: "0", 61: "0", 66: "0", 91: "0"}
# The roles PagerDuty's user resource accepts (pagerduty/resource_pagerduty_user.go, `role`).
UserRole = Literal[
    "admin",
    "limited_user",
    "observer",
    "owner",
    "read_only_user",
    "restricted_access",
    "read_only_limited_user",
    "user",
]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A layer's turn is 1 hour to 365 days (pagerduty/resource_pagerduty_schedule.go rotation_turn_length_seconds).
TURN_SECONDS_MAX = 365 * 24 * 3600
TURN_DAYS: dict[Literal["daily", "weekly"], int] = {"daily": 1, "weekly": 7}
CallingCode = Annotated[int, Field(ge=1, le=999)]
"""An international calling code: one to three digits."""
MEMBER_KEY_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ContactMethod(ConfigModel):
    """One way PagerDuty reaches a member, and how soon after an incident is assigned to them."""

    type: ContactType = setting("phone (a call), sms or email.", example="phone")
    address: str = setting(
        "The number without its country code or trunk prefix (digits only), or the e-mail address.",
        example="2025550101",
        pattern=r"^([0-9]{4,15}|[^@\s]+@[^@\s]+\.[^@\s]+)$",
    )
    country_code: CallingCode | None = setting(
        "The calling code of a phone or sms number (1 for North America, 49 for Germany); none for email.",
        example=1,
        default=None,
    )
    label: str = setting("How PagerDuty shows it (Mobile, Work).", example="Mobile", default="Mobile", min_length=1)
    delay_minutes: int = setting(
        "Minutes after a high-urgency incident is assigned before this method is used (0: at once).",
        example=0,
        default=0,
        ge=0,
        le=1440,
    )

    @model_validator(mode="after")
    def _address_fits_type(self) -> ContactMethod:
        address, code = config_path(ContactMethod, "address"), config_path(ContactMethod, "country_code")
        problems: list[tuple[str, str]] = []
        if self.type == "email":
            if "@" not in self.address:
                problems.append((address, "an email contact method needs an e-mail address"))
            if self.country_code is not None:
                problems.append((code, "an e-mail address has no country code: remove it"))
        elif "@" in self.address:
            problems.append((address, f"a {self.type} contact method needs a number (digits only)"))
        elif self.country_code is None:
            problems.append(
                (code, f"a {self.type} number needs its calling code (1 for North America, 49 for Germany)")
            )
        elif self.address.startswith(TRUNK_PREFIXES.get(self.country_code, "-")):
            prefix = TRUNK_PREFIXES[self.country_code]
            problems.append(
                (address, f"PagerDuty refuses the trunk prefix for +{self.country_code}: drop the leading {prefix}")
            )
        if problems:
            raise CrossFieldError(problems)
        return self

    @property
    def identity(self) -> tuple[str, str, int | None]:
        """What PagerDuty tells contact methods apart by (a second one is refused: "must be unique")."""
        return (self.type, self.address, self.country_code)


class Member(ConfigModel):
    """A person PagerDuty pages: their user (adopted when one with this e-mail, name and role exists) and how it
    reaches them."""

    name: str = setting("Full name, exactly as in PagerDuty.", example="Alex Doe", min_length=1, max_length=100)
    email: str = setting(
        "Login e-mail: one PagerDuty user per address.", example="alex@vibelog.io", pattern=EMAIL_PATTERN
    )
    role: UserRole = setting(
        "PagerDuty role, exactly as the user has it (a different role is refused on adoption, a lower one demotes).",
        example="user",
        default="user",
    )
    contact_methods: list[ContactMethod] = setting(
        "How PagerDuty pages them, each with a high-urgency notification rule; at least one (a phone or sms number "
        "wakes someone up, an e-mail rarely does).",
        default_factory=list,
    )


class Rotation(ConfigModel):
    """Who is on call when: one layer of turns, handed over at the same local time."""

    members: list[str] = setting(
        "Keys of onCall.members in the order their turns come; each once.",
        example=["alex", "sam"],
        default_factory=list,
    )
    every: Literal["daily", "weekly"] = setting(
        "Whether turns are counted in days or weeks.", example="weekly", default="weekly"
    )
    turn_length: int = setting(
        "Days or weeks (per `every`) one person is on call before handing over (in all at most 365 days).",
        example=1,
        default=1,
        ge=1,
        le=365,
    )
    handoff_day: Weekday = setting(
        "Weekday of the hand-off for a weekly rotation (a daily one hands off every day).",
        example="monday",
        default="monday",
    )
    handoff_time: str = setting(
        "Local time of the hand-off in the schedule's time zone, HH:MM (24-hour).",
        example="09:00",
        default="09:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
    )
    start: str = setting(
        "Date the rotation starts, YYYY-MM-DD: the first hand-off is the first hand-off day from then, and the "
        "first person in `members` takes it. A fixed date, so every plan computes the same turns.",
        example="2027-01-04",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    )

    @model_validator(mode="after")
    def _fits_pagerduty(self) -> Rotation:
        problems = []
        try:
            datetime.date.fromisoformat(self.start)
        except ValueError:
            problems.append((config_path(Rotation, "start"), f"{self.start} is no calendar date (YYYY-MM-DD)"))
        if self.turn_seconds > TURN_SECONDS_MAX:
            problems.append(
                (config_path(Rotation, "turn_length"), "PagerDuty turns last at most 365 days: shorten the turn")
            )
        if problems:
            raise CrossFieldError(problems)
        return self

    @property
    def turn_seconds(self) -> int:
        """Length of one turn: PagerDuty's rotation_turn_length_seconds."""
        return self.turn_length * TURN_DAYS[self.every] * 24 * 3600


class OnCallSettings(ConfigModel):
    """The on-call schedule the escalation policy pages first, and the tech lead it pages when nobody acknowledges.

    Members are declared with how PagerDuty reaches them, so a rotation that would page nobody fails here, before
    any resource exists (docs/incident-response.md, "On-call").
    """

    time_zone: str = setting(
        "The schedule's time zone, one PagerDuty accepts (its list: developer.pagerduty.com, Types, Time Zone).",
        example="Europe/Berlin",
    )
    members: dict[str, Member] = setting(
        "The people PagerDuty pages, by a short key (lower-case letters, digits, -) the rotation and techLead name.",
        example={"alex": {"name": "Alex Doe", "email": "alex@vibelog.io"}},
    )
    rotation: Rotation = setting("The on-call schedule's turns.")
    tech_lead: str = setting(
        "Key of onCall.members paged when the on-call engineer does not acknowledge (the reference's manual failover "
        "decision makers: tech lead and on-call engineer).",
        example="sam",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        if zone not in PAGERDUTY_TIME_ZONES:
            raise ValueError(
                f"{zone!r} is not a time zone PagerDuty accepts: use one of its list (Europe/Berlin, "
                "America/New_York, Etc/UTC; developer.pagerduty.com, Types, Time Zone)"
            )
        return zone

    @model_validator(mode="after")
    def _people_rules(self) -> OnCallSettings:
        members = config_path(OnCallSettings, "members")
        listed = config_path(OnCallSettings, "rotation", "members")
        problems: list[tuple[str, str]] = []
        emails: dict[str, str] = {}
        methods: dict[tuple[str, str, int | None], str] = {}
        for key, member in self.members.items():
            if not re.fullmatch(MEMBER_KEY_PATTERN, key):
                problems.append((f"{members}.{key}", "a member's key is lower-case letters, digits and -"))
            if not member.contact_methods:
                problems.append(
                    (
                        f"{members}.{key}.{config_path(Member, 'contact_methods')}",
                        f"{key} has no contact method: PagerDuty could not page them; add a phone or sms number",
                    )
                )
            address = member.email.lower()
            if address in emails:
                problems.append(
                    (
                        f"{members}.{key}.{config_path(Member, 'email')}",
                        f"{emails[address]} has this e-mail too: PagerDuty has one user per address",
                    )
                )
            emails.setdefault(address, key)
            for index, method in enumerate(member.contact_methods):
                owner = methods.get(method.identity)
                methods.setdefault(method.identity, key)
                if owner is not None:
                    problems.append(
                        (
                            f"{members}.{key}.{config_path(Member, 'contact_methods')}[{index}]",
                            f"{owner} has this {method.type} contact method too: PagerDuty refuses a second one; "
                            "list it once",
                        )
                    )
        if not self.rotation.members:
            problems.append((listed, "the rotation pages nobody: list at least one key of onCall.members"))
        for index, key in enumerate(self.rotation.members):
            if key not in self.members:
                problems.append((f"{listed}[{index}]", f"{key!r} is no key of onCall.members: add it there first"))
            elif self.rotation.members.index(key) != index:
                problems.append((f"{listed}[{index}]", f"{key} is listed twice: list each member once"))
        if self.tech_lead not in self.members:
            problems.append(
                (
                    config_path(OnCallSettings, "tech_lead"),
                    f"{self.tech_lead!r} is no key of onCall.members: add the tech lead there first",
                )
            )
        paged = {*self.rotation.members, self.tech_lead}
        problems += [
            (f"{members}.{key}", f"{key} is neither in the rotation nor the tech lead: nobody pages them; remove it")
            for key in self.members
            if key not in paged
        ]
        if problems:
            raise CrossFieldError(problems)
        return self

    def first_handoff(self) -> datetime.datetime:
        """The first turn's start: the hand-off time on the first hand-off day from `rotation.start`, in the
        schedule's zone (PagerDuty's rotation_virtual_start; turns follow every turn_seconds from it)."""
        rotation = self.rotation
        day = datetime.date.fromisoformat(rotation.start)
        if rotation.every == "weekly":
            day += datetime.timedelta(days=(WEEKDAYS.index(rotation.handoff_day) - day.weekday()) % 7)
        hour, minute = (int(part) for part in rotation.handoff_time.split(":"))
        return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(self.time_zone))
