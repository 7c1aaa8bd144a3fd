"""S3 storage-class rules and backup-schedule arithmetic, shared by the settings checks, the vault and its tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

# Days an object is billed for in a class even if it leaves earlier (AWS: "minimum storage duration").
MINIMUM_DAYS: dict[str, int] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "INTELLIGENT_TIERING": 0,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
}

# S3 refuses a lifecycle transition into these classes before an object is 30 days old.
EARLIEST_TRANSITION_DAY: dict[str, int] = {"STANDARD_IA": 30, "ONEZONE_IA": 30}

# S3's lifecycle "waterfall": an object only ever moves down this list, never back up.
WATERFALL: tuple[str, ...] = (
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)

# Classes S3 serves only after a RestoreObject (GLACIER_IR is read directly).
ARCHIVED_CLASSES: tuple[str, ...] = ("GLACIER", "DEEP_ARCHIVE")

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def lifecycle_problems(retention_days: int, transitions: Sequence[tuple[str, int]]) -> list[str]:
    """What is wrong with a retention and its transitions (class, day): [] when every minimum is paid."""
    problems: list[str] = []
    previous: tuple[str, int] | None = None
    for storage_class, day in transitions:
        earliest = EARLIEST_TRANSITION_DAY.get(storage_class, 0)
        if day < earliest:
            problems.append(f"S3 moves objects to {storage_class} no earlier than day {earliest}, not day {day}")
        if previous is not None:
            before, since = previous
            if WATERFALL.index(storage_class) <= WATERFALL.index(before):
                problems.append(f"{storage_class} cannot follow {before}: S3 only moves objects down {WATERFALL}")
            if day < since + MINIMUM_DAYS[before]:
                problems.append(
                    f"the move to {storage_class} on day {day} leaves {before} before its "
                    f"{MINIMUM_DAYS[before]}-day minimum (day {since + MINIMUM_DAYS[before]})"
                )
        previous = (storage_class, day)
    if previous is not None:
        last, since = previous
        if retention_days <= since:
            problems.append(f"expiration on day {retention_days} must come after the move to {last} on day {since}")
        elif retention_days < since + MINIMUM_DAYS[last]:
            problems.append(
                f"expiration on day {retention_days} deletes {last} objects before their "
                f"{MINIMUM_DAYS[last]}-day minimum (keep them until day {since + MINIMUM_DAYS[last]} or later)"
            )
    return problems


def cron_interval_minutes(cron: str) -> int:
    """The longest gap between two runs of a UTC cron schedule, for the forms a backup workflow uses.

    Understood: `M * * * *` (hourly), `*/N * * * *`, `M */N * * *`, `M H * * *` (daily), `M H * * D` (weekly, one
    day). Anything else raises ValueError, so a schedule the check cannot reason about is refused, not trusted.
    """
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"{cron!r} is not a five-field cron expression")
    minute, hour, day_of_month, month, day_of_week = fields
    if day_of_month != "*" or month != "*":
        raise ValueError(f"{cron!r}: only schedules that run every day or every week are understood")
    if minute.startswith("*/") and hour == "*" and day_of_week == "*":
        step = _number(minute[2:], 1, 59, cron)
        if MINUTES_PER_HOUR % step:
            raise ValueError(f"{cron!r}: a minute step must divide 60")
        return step
    _number(minute, 0, 59, cron)
    if hour == "*" and day_of_week == "*":
        return MINUTES_PER_HOUR
    if hour.startswith("*/") and day_of_week == "*":
        step = _number(hour[2:], 1, 23, cron)
        if 24 % step:
            raise ValueError(f"{cron!r}: an hour step must divide 24")
        return step * MINUTES_PER_HOUR
    _number(hour, 0, 23, cron)
    if day_of_week == "*":
        return MINUTES_PER_DAY
    _number(day_of_week, 0, 6, cron)
    return MINUTES_PER_WEEK


def _number(text: str, low: int, high: int, cron: str) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{cron!r}: {text!r} is not a number from {low} to {high}")
    return int(text)


def _understood_schedule(cron: str) -> str:
    cron_interval_minutes(cron)  # ValueError (a config problem at this field) for a schedule it cannot reason about
    return cron


CronSchedule = Annotated[str, AfterValidator(_understood_schedule)]
"""A UTC cron schedule `cron_interval_minutes` understands, checked at its own field: a typo is reported in the
same run as any other error of its section, not only once the section's own rules can run."""
