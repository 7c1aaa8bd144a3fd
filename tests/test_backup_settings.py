"""vibelog:backup: retention, storage-class minimums, Object Lock, recovery objectives, checked before any resource."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from settings.retention import cron_interval_minutes, lifecycle_problems
from tests.helpers.stacks import only_problem, problems_of, settings_of

Edit = Callable[[dict[str, Any]], None]


def backup_edit(change: Callable[[dict[str, Any]], None]) -> Edit:
    """An edit of the stack's vibelog:backup object."""
    return lambda config: change(config["vibelog:backup"])


def test_production_declares_the_reference_schedule_and_retention() -> None:
    backup = settings_of("production").backup
    assert backup is not None, "production declares its backups"
    assert backup.region == "us-west-2"
    days = {
        key: (c.retention_days, [(t.storage_class, t.days) for t in c.transitions])
        for key, c in backup.classes().items()
    }
    assert days == {
        "daily": (30, []),
        "weekly": (84, [("STANDARD_IA", 30)]),  # 12 weeks
        "yearly": (365, [("DEEP_ARCHIVE", 0)]),  # 1 year, offline cold storage
        "uploads": (90, [("GLACIER_IR", 0)]),  # 90 days in Glacier
        "config": (90, []),  # the stack files and Vercel's variables, encrypted, daily
    }
    assert (backup.daily.schedule, backup.weekly.schedule) == ("0 2 * * *", "0 1 * * 0")  # 02:00, Sunday 01:00 UTC
    assert (backup.object_lock.mode, backup.object_lock.days) == ("COMPLIANCE", 30)
    objectives = backup.recovery_objectives
    assert (objectives.database.rpo_minutes, objectives.database.recovery_path) == (15, "supabase_pitr")
    assert (objectives.user_uploads.rpo_minutes, objectives.user_uploads.recovery_path) == (60, "backup_vault")
    assert objectives.application_state.rpo_minutes == 5
    assert objectives.restore_test_every_days == 7


def test_staging_keeps_less_under_a_governance_lock_and_development_has_no_vault() -> None:
    staging = settings_of("staging").backup
    production = settings_of("production").backup
    assert staging is not None, "staging declares backups"
    assert production is not None, "production declares backups"
    assert staging.object_lock.mode == "GOVERNANCE"
    for key, backup in staging.classes().items():
        assert backup.retention_days < production.classes()[key].retention_days, key
    assert settings_of("development").backup is None
    assert settings_of("development").aws_allowed_account_ids is None


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (
            backup_edit(lambda b: b.__setitem__("region", "us-east-1")),
            "vibelog:backup.region",
            "other than the primary",
        ),
        (lambda c: c.pop("aws:allowedAccountIds"), "aws:allowedAccountIds", "account"),
        (lambda c: c.__setitem__("aws:allowedAccountIds", ["31857403629"]), "aws:allowedAccountIds", "12-digit"),
        (lambda c: c.pop("aws:region"), "aws:region", "region"),
        (backup_edit(lambda b: b.pop("objectLock")), "vibelog:backup.objectLock", "required"),
        (backup_edit(lambda b: b.pop("writerSubject")), "vibelog:backup.writerSubject", "required"),
        # Glacier Instant Retrieval bills 90 days; the weekly archive lives 84.
        (
            backup_edit(lambda b: b["weekly"].__setitem__("transitions", [{"storageClass": "GLACIER_IR", "days": 0}])),
            "vibelog:backup.weekly.transitions",
            "90-day minimum",
        ),
        # Deep Archive bills 180 days: moved on day 200, expired on day 365, a copy has not paid them.
        (
            backup_edit(lambda b: b["yearly"]["transitions"][0].__setitem__("days", 200)),
            "vibelog:backup.yearly.transitions",
            "180-day minimum",
        ),
        # S3 refuses a move to STANDARD_IA before day 30.
        (
            backup_edit(lambda b: b["weekly"]["transitions"][0].__setitem__("days", 10)),
            "vibelog:backup.weekly.transitions",
            "no earlier than day 30",
        ),
        (
            backup_edit(
                lambda b: b["yearly"].__setitem__(
                    "transitions",
                    [{"storageClass": "GLACIER", "days": 0}, {"storageClass": "DEEP_ARCHIVE", "days": 30}],
                )
            ),
            "vibelog:backup.yearly.transitions",
            "leaves GLACIER before its 90-day minimum",
        ),
        (
            backup_edit(lambda b: b["daily"].__setitem__("retentionDays", 29)),
            "vibelog:backup.daily.retentionDays",
            "promised",
        ),
        # User uploads are restored from the vault: a two-hourly sync loses more than the 1-hour RPO allows.
        (
            backup_edit(lambda b: b["uploads"].__setitem__("schedule", "0 */2 * * *")),
            "vibelog:backup.uploads.schedule",
            "rpoMinutes allows losing at most 60 minutes",
        ),
        # A daily dump cannot meet the database's 15 minutes: that is what PITR is for.
        (
            backup_edit(lambda b: b["recoveryObjectives"]["database"].__setitem__("recoveryPath", "backup_vault")),
            "vibelog:backup.daily.schedule",
            "at most 15 minutes",
        ),
        (
            backup_edit(
                lambda b: b["recoveryObjectives"]["applicationState"].__setitem__("recoveryPath", "backup_vault")
            ),
            "vibelog:backup.recoveryObjectives.applicationState.recoveryPath",
            "holds no application_state",
        ),
        (
            backup_edit(lambda b: b["recoveryObjectives"].__setitem__("restoreTestEveryDays", 1)),
            "vibelog:backup.restoreTestSchedule",
            "restoreTestEveryDays",
        ),
        (
            backup_edit(lambda b: b.__setitem__("restoreTestSchedule", "0 4 1 * *")),
            "vibelog:backup.restoreTestSchedule",
            "every day or every week",
        ),
        (
            backup_edit(lambda b: b["objectLock"].__setitem__("days", 31)),
            "vibelog:backup.objectLock.days",
            "could not expire on time",
        ),
    ],
)
def test_a_production_setting_that_breaks_a_rule_is_reported_at_its_key(edit: Edit, path: str, words: str) -> None:
    problems = problems_of("production", edit)
    at_path = [problem for problem in problems if problem.path == path]
    assert len(at_path) == 1, f"expected one problem at {path}, got {[(p.path, p.expected) for p in problems]}"
    problem = at_path[0]
    assert words in problem.expected, problem.expected


def test_an_unknown_lock_mode_and_a_loose_oidc_subject_are_refused() -> None:
    problem = only_problem("staging", backup_edit(lambda b: b["objectLock"].__setitem__("mode", "NONE")))
    assert problem.path == "vibelog:backup.objectLock.mode", problem
    # A wildcard subject would let any branch or pull request of the repository write backups.
    problem = only_problem("staging", backup_edit(lambda b: b.__setitem__("writerSubject", "repo:vibelog/vibelog:*")))
    assert problem.path == "vibelog:backup.writerSubject", problem


def test_a_stack_without_the_section_is_not_held_to_the_vault_rules() -> None:
    def remove(config: dict[str, Any]) -> None:
        config.pop("vibelog:backup")

    assert settings_of("staging", remove).backup is None


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [
        ("*/15 * * * *", 15),
        ("0 * * * *", 60),
        ("30 */6 * * *", 360),
        ("0 2 * * *", 1440),
        ("0 1 * * 0", 10080),
    ],
)
def test_schedule_intervals(cron: str, minutes: int) -> None:
    assert cron_interval_minutes(cron) == minutes


@pytest.mark.parametrize(
    ("cron", "refusal"),
    [
        ("0 2 1 * *", "only schedules that run every day or every week"),
        ("*/7 * * * *", "a minute step must divide 60"),
        ("0 2 * * 1-5", "'1-5' is not a number from 0 to 6"),
        ("0 25 * * *", "'25' is not a number from 0 to 23"),
        ("daily", "is not a five-field cron expression"),
    ],
)
def test_schedules_the_check_cannot_reason_about_are_refused(cron: str, refusal: str) -> None:
    # The refusal names the schedule and says why: not any ValueError (int("1-5") would raise one too).
    with pytest.raises(ValueError, match=re.escape(f"{cron!r}")) as refused:
        cron_interval_minutes(cron)
    assert refusal in str(refused.value), f"{cron}: {refused.value}"


def test_lifecycle_minimums_at_their_exact_boundaries() -> None:
    assert lifecycle_problems(90, [("GLACIER_IR", 0)]) == []
    assert lifecycle_problems(89, [("GLACIER_IR", 0)]) != []
    assert lifecycle_problems(60, [("STANDARD_IA", 30)]) == []
    assert lifecycle_problems(59, [("STANDARD_IA", 30)]) != []
    assert lifecycle_problems(300, [("STANDARD_IA", 30), ("DEEP_ARCHIVE", 60)]) == []
    assert lifecycle_problems(300, [("STANDARD_IA", 30), ("DEEP_ARCHIVE", 59)]) != []
    assert lifecycle_problems(30, [("DEEP_ARCHIVE", 30)]) != [], "expiration must follow the last move"
    assert lifecycle_problems(400, [("GLACIER", 0), ("GLACIER_IR", 90)]) != [], "S3 never moves objects back up"


def test_backup_operators_are_named_iam_principals_of_the_stack_s_account() -> None:
    assert settings_of("staging").backup is not None, "the compliant case"
    problem = only_problem("staging", backup_edit(lambda b: b.__setitem__("operators", [])))
    assert problem.path == "vibelog:backup.operators", problem
    other = "arn:aws:iam::111122223333:user/alice"
    problem = only_problem("staging", backup_edit(lambda b: b.__setitem__("operators", [other])))
    assert problem.path == "vibelog:backup.operators[0]", problem
    assert "not the stack's 210987654321" in problem.expected, problem.expected
    # A wildcard or a whole account would let anyone there with MFA read every backup.
    for loose in ("*", "arn:aws:iam::210987654321:root", "arn:aws:iam::210987654321:user/*"):
        problem = only_problem("staging", backup_edit(operators_edit(loose)))
        assert problem.path.startswith("vibelog:backup.operators"), (loose, problem)


def operators_edit(arn: str) -> Callable[[dict[str, Any]], None]:
    return lambda backup: backup.__setitem__("operators", [arn])
