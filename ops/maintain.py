"""`python -m ops maintain`: the reference's weekly database maintenance, in steps that are bounded, resumable and
idempotent, so a run stopped anywhere is finished by the next one (docs/maintenance.md)."""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors, sql

from ops import environment, postgres, report
from ops.environment import Variable
from ops.errors import BadInputError, JobError
from settings.maintenance import MAX_DAYS, RELATION_PATTERN

VARIABLES = (
    Variable(
        "MAINTENANCE_DATABASE_URL",
        "the database maintained (a direct URL: REINDEX CONCURRENTLY needs one session throughout)",
        secret=True,
    ),
    Variable("MAINTENANCE_INDEX", "the index rebuilt concurrently ([schema.]name)"),
    Variable("MAINTENANCE_SESSIONS_TABLE", "the table whose long-expired rows (expires_at) are deleted"),
    Variable("MAINTENANCE_SESSIONS_EXPIRED_DAYS", "days after expires_at a session is deleted (whole number)"),
    Variable("MAINTENANCE_AUDIT_TABLE", "the audit log table whose old rows (created_at) are archived"),
    Variable("MAINTENANCE_AUDIT_ARCHIVE_TABLE", "the table they are moved into (it must exist)"),
    Variable("MAINTENANCE_AUDIT_DAYS", "days after created_at an audit log row is archived (whole number)"),
)
# pg_dump's default application_name: how a running backup shows in pg_stat_activity to any role.
DUMP_APPLICATION = "pg_dump"
BACKUP_POLL_SECONDS = 10.0
# A lock timeout or a deadlock rolls the batch back and it is tried again this many times in all.
ATTEMPTS = 3


@dataclass(frozen=True)
class Targets:
    """What the stack's settings (vibelog:backup.maintenance) name, as the workflow passes them."""

    index: str
    """The index rebuilt concurrently."""
    sessions: str
    """The sessions table."""
    sessions_expired_days: int
    """Days after expires_at a session is deleted."""
    audit: str
    """The audit log table."""
    archive: str
    """The table audit rows are moved into."""
    audit_days: int
    """Days after created_at an audit row is moved."""

    @classmethod
    def from_environment(cls) -> Targets:
        """The targets from the job's variables; BadInputError naming the first malformed one."""
        return cls(
            index=_relation_name("MAINTENANCE_INDEX"),
            sessions=_relation_name("MAINTENANCE_SESSIONS_TABLE"),
            sessions_expired_days=environment.whole_number("MAINTENANCE_SESSIONS_EXPIRED_DAYS", MAX_DAYS),
            audit=_relation_name("MAINTENANCE_AUDIT_TABLE"),
            archive=_relation_name("MAINTENANCE_AUDIT_ARCHIVE_TABLE"),
            audit_days=environment.whole_number("MAINTENANCE_AUDIT_DAYS", MAX_DAYS),
        )


def _relation_name(variable: str) -> str:
    text = environment.value(variable)
    if not re.fullmatch(RELATION_PATTERN, text):
        raise BadInputError(f"${variable} must be a [schema.]name in lowercase letters, digits and _")
    return text


@dataclass(frozen=True)
class Limits:
    """How much one step may hold and for how long."""

    batch_rows: int = 5000
    """Rows deleted or moved per transaction."""
    lock_timeout_seconds: float = 5.0
    """Longest wait for a table lock: the app's queries never queue behind the job for longer."""
    statement_timeout_seconds: float = 60.0
    """Longest one batch, count or catalog statement may run."""
    rebuild_timeout_minutes: float = 120.0
    """Longest REINDEX CONCURRENTLY, a leftover's DROP INDEX CONCURRENTLY, or the ANALYZE may run (lock waits
    included)."""
    backup_wait_minutes: float = 120.0
    """Longest wait for a running pg_dump of the database to end (the dump job's own timeout)."""


# What lock_timeout and statement_timeout take: whole milliseconds, 1 (0 turns them off) to 2**31-1.
TIMEOUT_SECONDS = (0.001, 2147483.0)


def timeout_seconds(text: str) -> float:
    """`--lock-timeout`, `--statement-timeout`: seconds PostgreSQL can keep as a timeout."""
    return environment.number_between(text, *TIMEOUT_SECONDS)


def timeout_minutes(text: str) -> float:
    """`--rebuild-timeout`: minutes PostgreSQL can keep as a statement timeout."""
    return environment.number_between(text, TIMEOUT_SECONDS[0], TIMEOUT_SECONDS[1] // 60)


@dataclass(frozen=True)
class Relation:
    """A table or index as the server resolved it."""

    oid: int
    schema: str
    name: str

    @property
    def identifier(self) -> sql.Identifier:
        """The quoted `schema.name`."""
        return sql.Identifier(self.schema, self.name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Resolved:
    """Every relation the job touches, checked to exist before anything changes."""

    index: Relation
    sessions: Relation
    audit: Relation
    archive: Relation
    columns: tuple[str, ...]
    """The audit table's columns, in order: what each archived row carries."""


Say = Callable[[str], None]
Connection = psycopg.Connection[tuple[Any, ...]]


def maintain(url: str, targets: Targets, limits: Limits, *, dry_run: bool, say: Say) -> None:
    """Run the maintenance (or, with `dry_run`, only say what it would change), each finished step told to `say`.

    The order is not the reference's listing: rows are deleted and moved before the index is rebuilt and the
    statistics are gathered, so both describe the tables as they are left.
    """
    with postgres.connect(url, "the database to maintain") as conn:
        _set(conn, "lock_timeout", limits.lock_timeout_seconds, local=False)
        _set(conn, "statement_timeout", limits.statement_timeout_seconds, local=False)
        say(f"{'dry run on' if dry_run else 'maintaining'} {postgres.identity(conn).describe()}")
        resolved = resolve(conn, targets)
        if not dry_run:
            _wait_for_backup(conn, limits, say)
        cutoffs = conn.execute(
            "SELECT now() - make_interval(days => %s), now() - make_interval(days => %s)",
            (targets.sessions_expired_days, targets.audit_days),
        ).fetchone()
        assert cutoffs is not None
        expired_before, archived_before = cutoffs
        building = _other_index_builds(conn, resolved.index)
        if not building:
            _drop_leftovers(conn, resolved.index, limits, dry_run=dry_run, say=say)
        _delete_sessions(conn, resolved.sessions, expired_before, limits, dry_run=dry_run, say=say)
        _move_audit(conn, resolved, archived_before, limits, dry_run=dry_run, say=say)
        if building:
            say(
                f"left {resolved.index} and any invalid copy of it for the next run: another session builds an index "
                f"on its table (pid {', '.join(map(str, building))}), and those copies may be its own"
            )
        else:
            _reindex(conn, resolved.index, limits, dry_run=dry_run, say=say)
        _analyze(conn, limits, dry_run=dry_run, say=say)


RELATION_QUERY = """
SELECT c.oid::bigint, n.nspname, c.relname, c.relkind::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.to_regclass(%s)
"""
COLUMNS_QUERY = """
SELECT attname, attgenerated::text FROM pg_catalog.pg_attribute
WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""
# Ordinary and partitioned tables; ordinary and partitioned indexes.
TABLES, INDEXES = ("r", "p"), ("i", "I")


def resolve(conn: Connection, targets: Targets) -> Resolved:
    """Each named table and index, and the columns the job relies on; BadInputError naming everything missing, in
    one line, before anything changes."""
    missing: list[str] = []
    found: dict[str, Relation] = {}
    for key, name, kinds, what, variable in (
        ("index", targets.index, INDEXES, "index", "MAINTENANCE_INDEX"),
        ("sessions", targets.sessions, TABLES, "table", "MAINTENANCE_SESSIONS_TABLE"),
        ("audit", targets.audit, TABLES, "table", "MAINTENANCE_AUDIT_TABLE"),
        ("archive", targets.archive, TABLES, "table", "MAINTENANCE_AUDIT_ARCHIVE_TABLE"),
    ):
        row = conn.execute(RELATION_QUERY, (name,)).fetchone()
        if row is None or row[3] not in kinds:
            missing.append(f"{what} {name} (${variable})")
        else:
            found[key] = Relation(int(row[0]), str(row[1]), str(row[2]))
    columns: dict[str, list[tuple[str, str]]] = {
        key: [(str(n), str(g)) for n, g in conn.execute(COLUMNS_QUERY, (relation.oid,)).fetchall()]
        for key, relation in found.items()
        if key != "index"
    }
    for key, column in (("sessions", "expires_at"), ("audit", "created_at")):
        if key in found and column not in {name for name, _ in columns[key]}:
            missing.append(f"column {column} of {found[key]}")
    if "audit" in found and "archive" in found:
        if found["audit"].oid == found["archive"].oid:
            missing.append(f"an archive apart from {found['audit']}")
        else:
            # A generated column of the archive computes its own value: it cannot receive the audit row's.
            writable = {name for name, generated in columns["archive"] if not generated}
            missing += [f"column {name} of {found['archive']}" for name, _ in columns["audit"] if name not in writable]
    if missing:
        raise BadInputError(f"refusing to maintain: missing {', '.join(missing)}; nothing was changed")
    return Resolved(
        found["index"],
        found["sessions"],
        found["audit"],
        found["archive"],
        tuple(name for name, generated in columns["audit"] if not generated),
    )


def _set(conn: Connection, name: str, seconds: float, *, local: bool) -> None:
    # set_config(), not SET: SET takes no bound parameter.
    conn.execute("SELECT pg_catalog.set_config(%s, %s, %s)", (name, f"{round(seconds * 1000)}ms", local))


def _wait_for_backup(conn: Connection, limits: Limits, say: Say) -> None:
    """Wait while a pg_dump of this database runs: maintenance never runs under a backup (a REINDEX would wait for
    the dump's snapshot, and the dump should hold the rows before they are deleted or moved)."""
    deadline = time.monotonic() + limits.backup_wait_minutes * 60
    told = False
    while True:
        row = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database() AND pid <> pg_backend_pid()",
            (DUMP_APPLICATION,),
        ).fetchone()
        if not row or not row[0]:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise JobError(
                f"a pg_dump of the database is still running after {limits.backup_wait_minutes:g} min: maintenance "
                "runs after the backup, never during it; nothing was changed"
            )
        if not told:
            say("waiting for the running pg_dump of the database to end")
            told = True
        time.sleep(min(BACKUP_POLL_SECONDS, left))


LEFTOVERS_QUERY = """
SELECT n.nspname, c.relname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = (SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = %s)
  AND NOT i.indisvalid AND c.relname ~ %s
ORDER BY c.relname
"""


def _drop_leftovers(conn: Connection, index: Relation, limits: Limits, *, dry_run: bool, say: Say) -> None:
    """Drop the invalid copies an interrupted REINDEX CONCURRENTLY leaves (`<index>_ccnew`, `_ccold`, numbered):
    they slow every write to the table and hold no data. Only called when no other session builds an index on the
    table (_other_index_builds): a running REINDEX's copy is invalid too until it ends."""
    pattern = f"^{re.escape(index.name)}_cc(new|old)[0-9]*$"
    leftovers = [Relation(0, str(s), str(n)) for s, n in conn.execute(LEFTOVERS_QUERY, (index.oid, pattern))]
    for leftover in leftovers:
        if dry_run:
            say(f"would drop {leftover}, the invalid copy an interrupted REINDEX left")
            continue
        _concurrently(conn, sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(leftover.identifier), limits)
        say(f"dropped {leftover}, the invalid copy an interrupted REINDEX left")


def _delete_sessions(
    conn: Connection, sessions: Relation, before: datetime, limits: Limits, *, dry_run: bool, say: Say
) -> None:
    what = f"{sessions} rows that expired before {_utc(before)}"
    matching = sql.SQL("FROM {} WHERE expires_at < %(before)s").format(sessions.identifier)
    if dry_run:
        say(f"would delete {_count(conn, matching, before)} {what}")
        return
    # Rows the app holds locked are skipped (SKIP LOCKED), never waited for: the app is never blocked by the job
    # nor deadlocked with it; they are counted below and taken by the next run.
    statement = sql.SQL(
        "WITH batch AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        "SELECT ctid {matching} LIMIT %(rows)s FOR UPDATE SKIP LOCKED)) RETURNING 1) "
        "SELECT count(*), count(*) FROM batch"
    ).format(table=sessions.identifier, matching=matching)
    done, _, batches = _in_batches(conn, statement, before, limits)
    say(f"deleted {done} {what} in {batches} batch(es){_left(conn, matching, before)}")


def _move_audit(
    conn: Connection, resolved: Resolved, before: datetime, limits: Limits, *, dry_run: bool, say: Say
) -> None:
    audit, archive = resolved.audit, resolved.archive
    what = f"{audit} rows created before {_utc(before)} into {archive}"
    matching = sql.SQL("FROM {} WHERE created_at < %(before)s").format(audit.identifier)
    if dry_run:
        say(f"would move {_count(conn, matching, before)} {what}")
        return
    # One statement per batch deletes the rows and inserts what it deleted: a row is in one table or the other at
    # every moment, whatever stops the job. A row already archived (the reference's INSERT run by hand without its
    # DELETE) is kept once: ON CONFLICT DO NOTHING against the archive's keys.
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in resolved.columns)
    statement = sql.SQL(
        "WITH batch AS (DELETE FROM {audit} WHERE ctid = ANY(ARRAY("
        "SELECT ctid {matching} LIMIT %(rows)s FOR UPDATE SKIP LOCKED)) RETURNING {columns}), "
        "archived AS (INSERT INTO {archive} ({columns}) OVERRIDING SYSTEM VALUE "
        "SELECT {columns} FROM batch ON CONFLICT DO NOTHING RETURNING 1) "
        "SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM archived)"
    ).format(audit=audit.identifier, archive=archive.identifier, matching=matching, columns=columns)
    done, inserted, batches = _in_batches(conn, statement, before, limits)
    duplicates = f" ({done - inserted} were already archived)" if done != inserted else ""
    say(f"moved {done} {what} in {batches} batch(es){duplicates}{_left(conn, matching, before)}")


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _count(conn: Connection, matching: sql.Composed, before: datetime) -> int:
    try:
        row = conn.execute(sql.SQL("SELECT count(*) {}").format(matching), {"before": before}).fetchone()
    except errors.QueryCanceled:
        raise JobError(
            "counting the rows to delete or move ran past the statement timeout (--statement-timeout); what the "
            "lines above say was done is committed"
        ) from None
    return int(row[0]) if row else 0


def _left(conn: Connection, matching: sql.Composed, before: datetime) -> str:
    left = _count(conn, matching, before)
    return f"; {left} left for the next run (locked by the app meanwhile)" if left else ""


def _in_batches(conn: Connection, statement: sql.Composed, before: datetime, limits: Limits) -> tuple[int, int, int]:
    """Run a batch statement (it returns rows taken, rows written) until it takes none: rows taken, rows written,
    batches. Each batch is its own transaction with its own lock and statement timeouts; a lock timeout or a
    deadlock rolls that batch back and it is tried again."""
    taken = written = batches = 0
    while True:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with conn.transaction():
                    _set(conn, "lock_timeout", limits.lock_timeout_seconds, local=True)
                    _set(conn, "statement_timeout", limits.statement_timeout_seconds, local=True)
                    row = conn.execute(statement, {"before": before, "rows": limits.batch_rows}).fetchone()
                break
            except (errors.LockNotAvailable, errors.DeadlockDetected) as error:
                if attempt == ATTEMPTS:
                    raise JobError(
                        f"{_why(error)} {ATTEMPTS} times in a row; {taken} rows were done and are "
                        "committed: a rerun resumes"
                    ) from None
                time.sleep(attempt)
            except errors.QueryCanceled:
                raise JobError(
                    f"a batch of {limits.batch_rows} rows ran past {limits.statement_timeout_seconds:g} s; {taken} "
                    "rows were done and are committed: a rerun resumes (with a smaller --batch-rows)"
                ) from None
        if row is None or not row[0]:
            return taken, written, batches
        taken, written, batches = taken + int(row[0]), written + int(row[1]), batches + 1


def _why(error: psycopg.Error) -> str:
    if isinstance(error, errors.DeadlockDetected):
        return "a batch was chosen as a deadlock's victim"
    return "a batch could not lock its table within the lock timeout"


PROGRESS_QUERY = """
SELECT pid FROM pg_catalog.pg_stat_progress_create_index
WHERE relid = (SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = %s) AND pid <> pg_backend_pid()
ORDER BY pid
"""


def _other_index_builds(conn: Connection, index: Relation) -> list[int]:
    """The sessions building or rebuilding an index on the index's table right now (a migration, a person)."""
    return [int(pid) for (pid,) in conn.execute(PROGRESS_QUERY, (index.oid,))]


def _concurrently(conn: Connection, statement: sql.SQL | sql.Composed, limits: Limits) -> None:
    """A statement that runs outside a transaction for long (REINDEX or DROP INDEX CONCURRENTLY, ANALYZE), bounded
    by the rebuild timeout alone.

    No lock_timeout: their waits for other transactions (every writer of the table, every older snapshot) are lock
    waits that it would end after seconds whenever the app has a longer transaction open; and the lock they queue
    for (SHARE UPDATE EXCLUSIVE) does not conflict with the app's reads and writes, so no query waits behind them.
    """
    _set(conn, "lock_timeout", 0, local=False)
    _set(conn, "statement_timeout", limits.rebuild_timeout_minutes * 60, local=False)
    try:
        conn.execute(statement)
    except errors.QueryCanceled:
        raise JobError(
            f"{statement.as_string(conn)} ran past {limits.rebuild_timeout_minutes:g} min; the next run drops what "
            "it left and resumes"
        ) from None
    finally:
        _set(conn, "lock_timeout", limits.lock_timeout_seconds, local=False)
        _set(conn, "statement_timeout", limits.statement_timeout_seconds, local=False)


def _size(conn: Connection, index: Relation) -> int:
    # By name: the rebuilt index takes the old one's name, not its oid.
    row = conn.execute("SELECT pg_catalog.pg_relation_size(pg_catalog.to_regclass(%s))", (str(index),)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _reindex(conn: Connection, index: Relation, limits: Limits, *, dry_run: bool, say: Say) -> None:
    before = _size(conn, index)
    if dry_run:
        say(f"would rebuild {index} ({before} bytes) with REINDEX INDEX CONCURRENTLY")
        return
    start = time.monotonic()
    # Concurrently: writes to the table go on while it runs. It cannot run in a transaction block: the connection
    # is in autocommit.
    _concurrently(conn, sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(index.identifier), limits)
    say(f"rebuilt {index} concurrently: {before} -> {_size(conn, index)} bytes in {time.monotonic() - start:.1f} s")


def _analyze(conn: Connection, limits: Limits, *, dry_run: bool, say: Say) -> None:
    if dry_run:
        say("would ANALYZE the database")
        return
    start = time.monotonic()
    # SKIP_LOCKED: a table another session holds (autovacuum, a migration) is passed over, not waited for.
    _concurrently(conn, sql.SQL("ANALYZE (SKIP_LOCKED)"), limits)
    say(f"analyzed the database in {time.monotonic() - start:.1f} s")


def register(verbs: Any) -> None:
    """Add `maintain` to `python -m ops`."""
    command = environment.add_job(
        verbs,
        "maintain",
        summary="the weekly database maintenance: expired sessions deleted, old audit logs archived, an index "
        "rebuilt concurrently, statistics updated",
        run=run,
        variables=VARIABLES,
    )
    defaults = Limits()
    command.add_argument("--dry-run", action="store_true", help="change nothing; say what a run would change")
    command.add_argument(
        "--batch-rows", type=environment.whole, default=defaults.batch_rows, help="rows per transaction"
    )
    command.add_argument(
        "--lock-timeout",
        type=timeout_seconds,
        default=defaults.lock_timeout_seconds,
        help="seconds a lock may be waited for",
    )
    command.add_argument(
        "--statement-timeout",
        type=timeout_seconds,
        default=defaults.statement_timeout_seconds,
        help="seconds one batch may run",
    )
    command.add_argument(
        "--rebuild-timeout",
        type=timeout_minutes,
        default=defaults.rebuild_timeout_minutes,
        help="minutes the REINDEX or the ANALYZE may run",
    )
    command.add_argument(
        "--backup-wait",
        type=environment.not_negative,
        default=defaults.backup_wait_minutes,
        help="minutes to wait for a running pg_dump of the database (0: refuse at once)",
    )


def run(args: argparse.Namespace) -> int:
    """The job: the steps' lines printed as each ends, then the job summary and Slack."""
    targets = Targets.from_environment()
    limits = Limits(args.batch_rows, args.lock_timeout, args.statement_timeout, args.rebuild_timeout, args.backup_wait)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    title = f"Database maintenance{' (dry run)' if args.dry_run else ''} of {os.environ.get('STACK', 'unknown stack')}"
    try:
        maintain(environment.value("MAINTENANCE_DATABASE_URL"), targets, limits, dry_run=args.dry_run, say=say)
    finally:
        # What was done before a failure is committed and worth knowing; the failure itself is reported by main.
        if lines:
            report.summary("\n".join([f"## {title}", "", *(f"- {line}" for line in lines), ""]))
    report.slack("\n".join([title, *lines]))
    return 0
