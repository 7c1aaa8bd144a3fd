"""The backup section: the vault's classes, lifecycle, Object Lock, recovery objectives and its jobs' identities."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from settings.base import (
    OBJECT_LOCK_DAYS_MAX,
    S3_DAYS_MAX,
    AwsRegion,
    ConfigModel,
    CrossFieldError,
    IamPrincipalArn,
    RecoveryMinutes,
    S3Days,
    config_path,
    setting,
)
from settings.github_oidc import OIDC_SUBJECT_PATTERN
from settings.maintenance import MaintenanceSettings
from settings.retention import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    CronSchedule,
    cron_interval_minutes,
    lifecycle_problems,
)

StorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]
RecoveryPath = Literal["supabase_pitr", "backup_vault", "redis_persistence"]
# The backup class each data class is restored from when the vault is its recovery path.
VAULT_FEEDS = {"database": "daily", "user_uploads": "uploads"}
# The GitHub environment (`<stack>-config-backup`) of this infra repository the configuration backup runs in.
CONFIG_BACKUP_ENVIRONMENT_SUFFIX = "-config-backup"


class StorageTransition(ConfigModel):
    """A lifecycle move of a backup into a cheaper storage class."""

    storage_class: StorageClass = setting("The S3 storage class the backup moves to.", example="GLACIER_IR")
    days: int = setting("Days after the backup is written.", example=0, ge=0, le=S3_DAYS_MAX)


class BackupClassSettings(ConfigModel):
    """One class of backups (a key prefix): when the workflow writes it, how long it is kept, where it moves."""

    schedule: CronSchedule = setting("UTC cron schedule of the workflow that writes this class.", example="0 2 * * *")
    retention_days: S3Days = setting("Days a backup of this class is kept before it expires.", example=30)
    transitions: list[StorageTransition] = setting(
        "Storage-class moves, in order; each class's minimum duration is paid before the next move or expiry.",
        example=[],
        default_factory=list,
    )


def _backup_class(schedule: str, days: int, transitions: list[tuple[StorageClass, int]]) -> BackupClassSettings:
    return BackupClassSettings.model_validate(
        {
            "schedule": schedule,
            "retentionDays": days,
            "transitions": [{"storageClass": cls, "days": day} for cls, day in transitions],
        }
    )


class ObjectLockSettings(ConfigModel):
    """Default Object Lock retention of the vault's buckets: no one deletes a backup version before it ends."""

    mode: ObjectLockMode = setting(
        "GOVERNANCE (s3:BypassGovernanceRetention can lift it) or COMPLIANCE (nobody can, not even root).",
        example="GOVERNANCE",
    )
    days: int = setting("Days each new backup version is locked.", example=30, ge=1, le=OBJECT_LOCK_DAYS_MAX)


class RecoveryObjective(ConfigModel):
    """How much data a class may lose and how long its recovery may take, and what it is recovered from."""

    rpo_minutes: RecoveryMinutes = setting(
        "Recovery point objective: the most data, in minutes, that may be lost.", example=15
    )
    rto_minutes: RecoveryMinutes = setting(
        "Recovery time objective: the longest the recovery may take, in minutes.", example=240
    )
    recovery_path: RecoveryPath = setting(
        "What the class is recovered from; only backup_vault is bound to this vault's schedules.",
        example="supabase_pitr",
    )


class RetentionFloor(ConfigModel):
    """The shortest retention, in days, this stack promises for each backup class."""

    daily: S3Days = setting("Daily database dumps.", example=30, default=30)
    weekly: S3Days = setting("Weekly database archives (12 weeks).", example=84, default=84)
    yearly: S3Days = setting("Cold copies of the weekly archive (1 year).", example=365, default=365)
    uploads: S3Days = setting("Incremental user-upload backups.", example=90, default=90)
    config: S3Days = setting(
        "Configuration backups (stack files, Vercel environment variables).", example=90, default=90
    )


class RecoveryObjectives(ConfigModel):
    """The reference's recovery objectives; the vault's schedules and retention are checked against them."""

    database: RecoveryObjective = setting(
        "Postgres: 15 minutes through Supabase point-in-time recovery, restored within 4 hours.",
        default_factory=lambda: RecoveryObjective.model_validate(
            {"rpoMinutes": 15, "rtoMinutes": 240, "recoveryPath": "supabase_pitr"}
        ),
    )
    user_uploads: RecoveryObjective = setting(
        "User uploads: 1 hour (the backup frequency), from this vault, within 4 hours.",
        default_factory=lambda: RecoveryObjective.model_validate(
            {"rpoMinutes": 60, "rtoMinutes": 240, "recoveryPath": "backup_vault"}
        ),
    )
    application_state: RecoveryObjective = setting(
        "Redis/cache state: 5 minutes, from Redis persistence (not this vault), within 30 minutes.",
        default_factory=lambda: RecoveryObjective.model_validate(
            {"rpoMinutes": 5, "rtoMinutes": 30, "recoveryPath": "redis_persistence"}
        ),
    )
    retention_days: RetentionFloor = setting(
        "The shortest retention promised per backup class.", default_factory=RetentionFloor
    )
    restore_test_every_days: int = setting(
        "Longest gap, in days, between two restore tests (the reference's restore_test_weekly).",
        example=7,
        ge=1,
        le=366,
        default=7,
    )


class RestoreDropBound(ConfigModel):
    """How far a backup may shrink against the one before it before the weekly restore test fails."""

    percent: int = setting(
        "Largest drop, in percent of the previous dump's count, of a table's rows or of a schema's objects of one "
        "kind (indexes, policies, grants...).",
        example=25,
        default=25,
        ge=0,
        le=100,
    )
    min_rows: int = setting(
        "A table losing fewer rows than this is never flagged (small tables churn).",
        example=1000,
        default=1000,
        ge=0,
        le=1_000_000_000,
    )


class BackupSettings(ConfigModel):
    """Database dumps and user-upload backups in a region separate from the primary, locked against deletion.

    A stack without the section (development) declares no vault and no backup jobs.
    """

    region: AwsRegion = setting(
        "AWS region of the vault; must differ from aws:region (the reference's separate_region).", example="us-west-2"
    )
    daily: BackupClassSettings = setting(
        "Daily full dumps (daily/), 02:00 UTC, kept 30 days.",
        default_factory=lambda: _backup_class("0 2 * * *", 30, []),
    )
    weekly: BackupClassSettings = setting(
        "Weekly compressed archives (weekly/), Sunday 01:00 UTC, kept 12 weeks.",
        default_factory=lambda: _backup_class("0 1 * * 0", 84, [("STANDARD_IA", 30)]),
    )
    yearly: BackupClassSettings = setting(
        "The cold copy of the weekly archive (yearly/), kept 1 year in cold storage.",
        default_factory=lambda: _backup_class("0 1 * * 0", 365, [("DEEP_ARCHIVE", 0)]),
    )
    uploads: BackupClassSettings = setting(
        "Incremental user-upload backups, replicated from the uploads bucket, kept 90 days in Glacier.",
        default_factory=lambda: _backup_class("0 * * * *", 90, [("GLACIER_IR", 0)]),
    )
    config: BackupClassSettings = setting(
        "The stacks' configuration and the Vercel project's environment variables (config/), encrypted, daily at "
        "03:30 UTC, kept 90 days (the reference's encrypted_backup_daily).",
        default_factory=lambda: _backup_class("30 3 * * *", 90, []),
    )
    pre_migration_retention_days: S3Days = setting(
        "Days a pre-migration dump (pre-migration/) is kept: the daily dumps' 30, since a bad migration found later "
        "is recovered from the daily, weekly or yearly dumps taken since; Object Lock's days must fit within it.",
        example=30,
        default=30,
    )
    noncurrent_version_days: S3Days = setting(
        "Days an expired backup version is kept before it is removed (superseded upload backups: their retention).",
        example=7,
        default=7,
    )
    abort_incomplete_upload_days: S3Days = setting(
        "Days after which an unfinished multipart upload is aborted (its parts are billed until then).",
        example=7,
        default=7,
    )
    object_lock: ObjectLockSettings = setting("Default Object Lock retention of the vault's buckets.")
    restore_test_schedule: CronSchedule = setting(
        "UTC cron schedule of the restore-test workflow.", example="0 4 * * 1", default="0 4 * * 1"
    )
    restore_test_max_drop: RestoreDropBound = setting(
        "The restore test fails when the tested dump lost more than this against the one before it.",
        default_factory=RestoreDropBound,
    )
    writer_subject: str = setting(
        "OIDC subject of the backup jobs: this infra repository's `<stack>-backup` environment (the only writer).",
        example="repo:vibelog/vibelog-infra:environment:production-backup",
        pattern=OIDC_SUBJECT_PATTERN,
    )
    reader_subject: str = setting(
        "OIDC subject of the restore test: this infra repository's `<stack>-restore-test` environment (read-only).",
        example="repo:vibelog/vibelog-infra:environment:production-restore-test",
        pattern=OIDC_SUBJECT_PATTERN,
    )
    operators: list[IamPrincipalArn] = setting(
        "IAM users or roles of the stack's account whose people list, thaw and restore backups by hand "
        "(docs/backups.md): only they may assume the backup operator role, and only with MFA.",
        example=["arn:aws:iam::210987654321:user/alice"],
        min_length=1,
        max_length=20,
    )
    recovery_objectives: RecoveryObjectives = setting(
        "The recovery objectives these backups must meet.", default_factory=RecoveryObjectives
    )
    supabase_region: AwsRegion = setting(
        "Region of the Supabase project; its Storage S3 API signs requests for it (the upload backup).",
        example="us-east-1",
    )
    maintenance: MaintenanceSettings = setting(
        "The weekly database maintenance, run after the weekly dump (docs/maintenance.md).",
        default_factory=MaintenanceSettings,
    )
    postgres_major: int = setting(
        "Major version of the Supabase PostgreSQL server; the jobs install this pg_dump/pg_restore (never older).",
        example=15,
        default=15,
        ge=13,
        le=99,  # a two-digit major: the jobs install postgresql-client-<major>
    )

    @property
    def writer_environment(self) -> str:
        """The GitHub environment the writer's subject names (`...:environment:<name>`)."""
        return self.writer_subject.rpartition(":environment:")[2]

    @property
    def reader_environment(self) -> str:
        """The GitHub environment the reader's subject names."""
        return self.reader_subject.rpartition(":environment:")[2]

    def classes(self) -> dict[str, BackupClassSettings]:
        """Every backup class by its key prefix (and config key)."""
        return {
            "daily": self.daily,
            "weekly": self.weekly,
            "yearly": self.yearly,
            "uploads": self.uploads,
            "config": self.config,
        }

    @model_validator(mode="after")
    def _meets_objectives(self) -> BackupSettings:
        problems = self._lifecycle_problems() + self._objective_problems() + self._maintenance_problems()
        if problems:
            raise CrossFieldError(problems)
        return self

    def _lifecycle_problems(self) -> list[tuple[str, str]]:
        """Storage-class minimums, understood schedules, retention floors, a lock short enough to let backups expire."""
        problems: list[tuple[str, str]] = []
        floors = self.recovery_objectives.retention_days
        for key, backup in self.classes().items():
            path = config_path(BackupSettings, key)
            moves = [(move.storage_class, move.days) for move in backup.transitions]
            problems += [(f"{path}.transitions", error) for error in lifecycle_problems(backup.retention_days, moves)]
            floor: int = getattr(floors, key)
            if backup.retention_days < floor:
                problems.append(
                    (
                        f"{path}.retentionDays",
                        f"{backup.retention_days} days is shorter than the {floor} days promised by "
                        f"{config_path(BackupSettings, 'recovery_objectives', 'retention_days', key)}",
                    )
                )
        config = self.config.schedule
        if (every := cron_interval_minutes(config)) > MINUTES_PER_DAY:
            problems.append(
                (
                    config_path(BackupSettings, "config", "schedule"),
                    f"runs every {every // MINUTES_PER_DAY} days: the reference's configuration backup is daily",
                )
            )
        shortest = min(
            self.pre_migration_retention_days, *(backup.retention_days for backup in self.classes().values())
        )
        if self.object_lock.days > shortest:
            problems.append(
                (
                    config_path(BackupSettings, "object_lock", "days"),
                    f"a {self.object_lock.days}-day lock outlives the shortest retention ({shortest} days): "
                    "those backups could not expire on time",
                )
            )
        return problems

    def _objective_problems(self) -> list[tuple[str, str]]:
        """Where this vault is a class's recovery path, its schedule must be at least as frequent as the RPO."""
        problems: list[tuple[str, str]] = []
        objectives = self.recovery_objectives
        for data_class, objective in (
            ("database", objectives.database),
            ("user_uploads", objectives.user_uploads),
            ("application_state", objectives.application_state),
        ):
            if objective.recovery_path != "backup_vault":
                continue
            objective_key = config_path(BackupSettings, "recovery_objectives", data_class)
            source = VAULT_FEEDS.get(data_class)
            if source is None:
                problems.append((f"{objective_key}.recoveryPath", f"the backup vault holds no {data_class} backups"))
                continue
            schedule = self.classes()[source].schedule
            if (every := cron_interval_minutes(schedule)) > objective.rpo_minutes:
                problems.append(
                    (
                        config_path(BackupSettings, source, "schedule"),
                        f"runs every {every} minutes, but {objective_key}.rpoMinutes allows losing "
                        f"at most {objective.rpo_minutes} minutes of {data_class}",
                    )
                )
        # Every schedule is a CronSchedule, checked at its own field before these rules run.
        restore_key = config_path(BackupSettings, "restore_test_schedule")
        restore_every = cron_interval_minutes(self.restore_test_schedule)
        if restore_every > objectives.restore_test_every_days * MINUTES_PER_DAY:
            problems.append(
                (
                    restore_key,
                    f"restore tests {restore_every // MINUTES_PER_DAY} days apart "
                    f"exceed {config_path(BackupSettings, 'recovery_objectives', 'restore_test_every_days')} "
                    f"({objectives.restore_test_every_days})",
                )
            )
        return problems

    def _maintenance_problems(self) -> list[tuple[str, str]]:
        """Maintenance runs weekly, on the weekly dump's day after that day's dumps: the dump is taken of the data
        before any of it is deleted or moved, and a dump never waits behind a REINDEX (the job also waits for a
        running pg_dump, ops/maintain.py)."""
        path = config_path(BackupSettings, "maintenance", "schedule")
        cron = self.maintenance.schedule
        if cron_interval_minutes(cron) != MINUTES_PER_WEEK:
            return [(path, f"{cron!r} is not weekly (`M H * * D`): the reference's maintenance is weekly")]
        weekly = self.weekly.schedule
        if cron_interval_minutes(weekly) != MINUTES_PER_WEEK:
            return []  # a weekly class that is not weekly: no day to follow
        day = cron.split()[4]
        if day != weekly.split()[4]:
            return [(path, f"runs on day {day}, not on the weekly dump's day ({weekly!r})")]
        start = _minute_of_day(cron)
        earlier = [
            config_path(BackupSettings, key, "schedule")
            for key in ("weekly", "daily")
            if start is not None
            and (dump := _minute_of_day(self.classes()[key].schedule)) is not None
            and start <= dump
        ]
        if earlier:
            return [(path, f"starts before or with the dump of {' and '.join(earlier)}: it must start after it")]
        return []


def _minute_of_day(cron: str) -> int | None:
    """When a `M H * * *` or `M H * * D` schedule starts in its day; None for any other one."""
    minute, hour = cron.split()[:2]
    if not (minute.isdigit() and hour.isdigit()):
        return None
    return int(hour) * 60 + int(minute)
