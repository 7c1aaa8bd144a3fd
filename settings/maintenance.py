"""The weekly database maintenance (the reference's "Database Maintenance"): what it touches, how old, and when."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from settings.base import ConfigModel, setting
from settings.retention import CronSchedule

# A table or index as `name` or `schema.name`, in the unquoted lowercase form PostgreSQL folds names to: the job
# resolves it with to_regclass(), which would fold or reject anything else differently from how it reads here.
RELATION_PATTERN = r"^([a-z_][a-z0-9_$]{0,62}\.)?[a-z_][a-z0-9_$]{0,62}$"
Relation = Annotated[str, Field(pattern=RELATION_PATTERN)]
# The most days a maintenance age may be (100 years); the job refuses a longer one from its environment as well.
MAX_DAYS = 36_500
# The maintenance workflow's GitHub environment is the stack's name with this suffix (maintenance.yml).
MAINTENANCE_ENVIRONMENT_SUFFIX = "-maintenance"


class MaintenanceSettings(ConfigModel):
    """`python -m ops maintain`, weekly after the weekly dump: ANALYZE, REINDEX CONCURRENTLY, expired sessions
    deleted and old audit logs archived, in bounded batches (docs/maintenance.md)."""

    schedule: CronSchedule = setting(
        "UTC cron schedule of the maintenance workflow: weekly, on the weekly dump's day, after that day's dumps.",
        example="0 4 * * 0",
        default="0 4 * * 0",
    )
    index: Relation = setting(
        "The index rebuilt with REINDEX INDEX CONCURRENTLY.",
        example="idx_vibelogs_created_at",
        default="idx_vibelogs_created_at",
    )
    sessions_table: Relation = setting(
        "The table whose rows expired (expires_at) long enough ago are deleted.", example="sessions", default="sessions"
    )
    sessions_expired_days: int = setting(
        "Days after expires_at a session is deleted.", example=30, default=30, ge=1, le=MAX_DAYS
    )
    audit_table: Relation = setting(
        "The audit log table whose old rows (created_at) are moved into the archive.",
        example="audit_logs",
        default="audit_logs",
    )
    audit_archive_table: Relation = setting(
        "The table they are moved into; it must exist with every column of the audit table (the app's migrations "
        "own it: the job refuses to run without it).",
        example="audit_logs_archive",
        default="audit_logs_archive",
    )
    audit_days: int = setting(
        "Days after created_at an audit log row is archived (the reference: 1 year).",
        example=365,
        default=365,
        ge=1,
        le=MAX_DAYS,
    )
