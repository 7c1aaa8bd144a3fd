"""The metrics the backup jobs publish to CloudWatch (ops/metrics.py) and the stack's dashboard shows: one contract."""

from __future__ import annotations

NAMESPACE = "VibeLog/Backups"
"""The jobs' namespace: their roles may put metric data into it and no other (components/backup_vault.py)."""
STACK_DIMENSION = "Stack"
"""Every data point's dimension: the stack whose backups it is about (the jobs' STACK, e.g. production)."""
SCHEDULE_DIMENSION = "Schedule"
"""DUMP_WRITTEN's second dimension: the schedule the copy was written under (daily, weekly, yearly)."""

DUMP_WRITTEN = "DumpWritten"
"""1 for each schedule a database dump was written to, when the dump job ends well (Count)."""
RESTORE_TEST_PASSED = "RestoreTestPassed"
"""1 when the weekly restore test passed, 0 when it failed (Count)."""
BACKUP_AGE_HOURS = "BackupAgeHours"
"""Age of the newest daily dump when the restore test fetched it: the recovery point a restore would reach (None)."""
RESTORE_MINUTES = "RestoreMinutes"
"""How long the restore test took to fetch, verify and restore that dump: the recovery time it achieved (None)."""
