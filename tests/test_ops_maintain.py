"""`python -m ops maintain` against a real PostgreSQL holding a Supabase-shaped database (an `authenticated` role,
row level security on the app's tables): batches, dry run, refusals, an interrupted REINDEX resumed, a running
backup waited for, and a concurrent writer that loses nothing."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from infra.engine.runtime import Plan
from ops import cli, maintain
from policy.type_tokens import ENVIRONMENT_SECRET, ENVIRONMENT_VARIABLE
from settings.maintenance import MaintenanceSettings
from tests.helpers.jobs import WORKFLOWS, load
from tests.helpers.stacks import only_problem, settings_of
from tests.ops_processes import wait_for
from tests.runbook_servers import World, stand_in
from tests.test_ops_errors import start, told

# Supabase's shape, as far as the job sees it: the API role `authenticated` (cluster-wide, so created once per
# server), row level security on the app's tables with a policy for that role, and the reference's tables.
SCHEMA = """
DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE vibelogs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_vibelogs_created_at ON vibelogs (created_at);
CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    touched integer NOT NULL DEFAULT 0
);
CREATE TABLE audit_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor uuid,
    action text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE audit_logs_archive (LIKE audit_logs INCLUDING ALL);
DO $$
DECLARE name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['vibelogs', 'sessions', 'audit_logs', 'audit_logs_archive'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
        EXECUTE format('CREATE POLICY app ON %I TO authenticated USING (true) WITH CHECK (true)', name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO authenticated', name);
    END LOOP;
END $$;
"""
# Sessions that expired 40 days ago go; those that expired 10 days ago, or expire next week, stay.
SEED = """
INSERT INTO vibelogs (user_id, body, created_at)
SELECT gen_random_uuid(), 'post ' || n, now() - make_interval(hours => n) FROM generate_series(1, %(posts)s) n;
INSERT INTO sessions (user_id, expires_at)
SELECT gen_random_uuid(), now() - make_interval(days => 40, mins => n) FROM generate_series(1, %(expired)s) n;
INSERT INTO sessions (user_id, expires_at)
SELECT gen_random_uuid(), now() - make_interval(days => 10) FROM generate_series(1, %(recent)s) n;
INSERT INTO sessions (user_id, expires_at)
SELECT gen_random_uuid(), now() + make_interval(days => 7) FROM generate_series(1, %(recent)s) n;
INSERT INTO audit_logs (actor, action, detail, created_at)
SELECT gen_random_uuid(), 'old', jsonb_build_object('n', n), now() - make_interval(days => 400, mins => n)
FROM generate_series(1, %(old)s) n;
INSERT INTO audit_logs (actor, action, detail, created_at)
SELECT gen_random_uuid(), 'recent', jsonb_build_object('n', n), now() - make_interval(days => 100)
FROM generate_series(1, %(recent)s) n;
"""
COUNTS = {"posts": 50, "expired": 25, "recent": 10, "old": 12}
INVALID_INDEXES = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1
"""


@pytest.fixture
def app_database(supabase: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A Supabase-shaped database (tests/fixtures/supabase.sql: its roles, auth and storage of other owners) with the
    reference's tables in public, made by and connected to as Supabase's `postgres`, not a superuser; and the job's
    environment pointing at it with the settings' defaults (what the stack's `<stack>-maintenance` environment
    holds)."""
    database = supabase
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE public.vibelogs, public.sessions, public.audit_logs, public.audit_logs_archive CASCADE"
        )
        conn.execute(SCHEMA)
    seed(database, COUNTS)
    defaults = MaintenanceSettings()
    for name, value in {
        "MAINTENANCE_DATABASE_URL": database,
        "MAINTENANCE_INDEX": defaults.index,
        "MAINTENANCE_SESSIONS_TABLE": defaults.sessions_table,
        "MAINTENANCE_SESSIONS_EXPIRED_DAYS": str(defaults.sessions_expired_days),
        "MAINTENANCE_AUDIT_TABLE": defaults.audit_table,
        "MAINTENANCE_AUDIT_ARCHIVE_TABLE": defaults.audit_archive_table,
        "MAINTENANCE_AUDIT_DAYS": str(defaults.audit_days),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "STACK": "staging",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_WEBHOOK", raising=False)
    return database


def seed(url: str, counts: dict[str, int]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in SEED.split(";")[:-1]:  # bound parameters: one statement at a time
            conn.execute(statement, counts)


def query(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def state(url: str) -> dict[str, Any]:
    """Every row of the maintained tables (those that exist) and the index's storage: what a run may change."""
    found = {}
    for key, statement in (
        ("sessions", "SELECT id, expires_at FROM sessions ORDER BY id"),
        ("audit", "SELECT * FROM audit_logs ORDER BY id"),
        ("archive", "SELECT * FROM audit_logs_archive ORDER BY id"),
    ):
        table = statement.split()[-4]  # SELECT ... FROM <table> ORDER BY id
        if query(url, "SELECT to_regclass(%s)", (table,)) != [(None,)]:
            found[key] = query(url, statement)
    found["index"] = query(url, "SELECT relfilenode FROM pg_class WHERE relname = 'idx_vibelogs_created_at'")
    found["invalid"] = query(url, INVALID_INDEXES)
    return found


def test_a_run_deletes_and_moves_in_batches_rebuilds_and_analyzes_and_a_rerun_changes_nothing_more(
    app_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(app_database)
    old_audit = [row for row in before["audit"] if row[2] == "old"]

    assert cli.main(["maintain", "--batch-rows", "7"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out

    after = state(app_database)
    expired = query(app_database, "SELECT count(*) FROM sessions WHERE expires_at < now() - interval '30 days'")
    assert expired == [(0,)], "sessions expired more than 30 days ago are left"
    assert len(after["sessions"]) == len(before["sessions"]) - COUNTS["expired"], "a session that is kept was deleted"
    assert after["archive"] == old_audit, "the archive does not hold exactly the old audit rows, unchanged"
    assert after["audit"] == [row for row in before["audit"] if row[2] != "old"], "a recent audit row moved"
    assert after["index"] != before["index"], "idx_vibelogs_created_at was not rebuilt (same relfilenode)"
    assert after["invalid"] == [], f"the rebuild left invalid indexes: {after['invalid']}"
    analyzed = query(app_database, "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NULL")
    assert analyzed == [], f"not analyzed: {analyzed}"
    # 25 rows in batches of 7 are 4 batches; 12 are 2.
    assert f"deleted {COUNTS['expired']} public.sessions rows" in out, out
    assert "in 4 batch(es)" in out, out
    assert f"moved {COUNTS['old']} public.audit_logs rows" in out, out
    assert "in 2 batch(es)" in out, out
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## Database maintenance of staging\n"), summary
    assert "- rebuilt public.idx_vibelogs_created_at concurrently" in summary, summary
    assert "postgresql://" not in out + summary, "the connection string was printed"

    assert cli.main(["maintain"]) == 0
    again = capsys.readouterr().out
    assert "deleted 0 public.sessions" in again, again
    assert "moved 0 public.audit_logs" in again, again
    rerun = state(app_database)
    assert {k: v for k, v in rerun.items() if k != "index"} == {k: v for k, v in after.items() if k != "index"}, (
        "a second run changed rows"
    )


def test_a_dry_run_changes_nothing_and_says_what_a_run_would_change(
    app_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(app_database)

    assert cli.main(["maintain", "--dry-run"]) == 0
    out = capsys.readouterr().out

    assert state(app_database) == before, "the dry run changed the database"
    assert f"would delete {COUNTS['expired']} public.sessions rows that expired before" in out, out
    assert f"would move {COUNTS['old']} public.audit_logs rows created before" in out, out
    assert "into public.audit_logs_archive" in out, out
    assert "would rebuild public.idx_vibelogs_created_at" in out, out
    assert "would ANALYZE the database" in out, out


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("DROP INDEX idx_vibelogs_created_at", "missing index idx_vibelogs_created_at ($MAINTENANCE_INDEX)"),
        ("DROP TABLE sessions", "missing table sessions ($MAINTENANCE_SESSIONS_TABLE)"),
        ("DROP TABLE audit_logs_archive", "missing table audit_logs_archive ($MAINTENANCE_AUDIT_ARCHIVE_TABLE)"),
        ("ALTER TABLE audit_logs RENAME created_at TO at", "missing column created_at of public.audit_logs"),
        ("ALTER TABLE audit_logs ADD COLUMN ip inet", "missing column ip of public.audit_logs_archive"),
    ],
)
def test_a_missing_table_index_or_column_is_refused_in_one_line_before_anything_changes(
    change: str, named: str, app_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(app_database, autocommit=True) as conn:
        conn.execute(change)
    before = state(app_database)

    assert cli.main(["maintain"]) == 2, f"{change}: not refused as bad input"
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: refusing to maintain: "), err
    assert named in err, err
    assert err.rstrip().endswith("nothing was changed"), err
    assert state(app_database) == before, f"{change}: the refused run changed the database"


@pytest.mark.usefixtures("app_database")
def test_a_table_named_where_an_index_is_expected_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINTENANCE_INDEX", "vibelogs")
    monkeypatch.setenv("MAINTENANCE_SESSIONS_TABLE", "idx_vibelogs_created_at")

    assert cli.main(["maintain"]) == 2
    err = capsys.readouterr().err
    assert "missing index vibelogs ($MAINTENANCE_INDEX), table idx_vibelogs_created_at" in err, err


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAINTENANCE_INDEX", 'idx"; DROP TABLE sessions; --', "$MAINTENANCE_INDEX must be a [schema.]name"),
        ("MAINTENANCE_AUDIT_TABLE", "Audit_Logs", "$MAINTENANCE_AUDIT_TABLE must be a [schema.]name"),
        ("MAINTENANCE_AUDIT_DAYS", "365d", "$MAINTENANCE_AUDIT_DAYS must be a whole number from 1 to 36500"),
        ("MAINTENANCE_AUDIT_DAYS", "99999999999", "$MAINTENANCE_AUDIT_DAYS must be a whole number from 1 to 36500"),
        ("MAINTENANCE_SESSIONS_EXPIRED_DAYS", "0", "$MAINTENANCE_SESSIONS_EXPIRED_DAYS must be a whole number"),
    ],
)
def test_a_malformed_setting_is_bad_input_and_changes_nothing(
    name: str, value: str, message: str, app_database: str, *, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    before = state(app_database)
    monkeypatch.setenv(name, value)

    assert cli.main(["maintain"]) == 2, f"{name}={value!r} is bad input"
    assert capsys.readouterr().err.startswith(f"error: {message}")
    assert state(app_database) == before


@pytest.fixture
def slack() -> Iterator[tuple[World, str]]:
    """A Slack webhook stand-in: what it was sent, and its URL."""
    world = World()
    with stand_in(world) as base:
        yield world, f"{base}/hooks/slack"


@pytest.fixture
def snapshot_holder(app_database: str) -> Iterator[psycopg.Connection[Any]]:
    """A session holding a snapshot open (a long report, a stuck client): REINDEX CONCURRENTLY waits for it."""
    with psycopg.connect(app_database) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT count(*) FROM audit_logs").fetchone()
        yield conn


def test_a_reindex_cut_short_leaves_an_invalid_copy_that_the_next_run_drops_before_it_rebuilds(
    app_database: str, snapshot_holder: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.02 minutes: the REINDEX has made its copy and waits for the holder's snapshot when the timeout ends it.
    assert cli.main(["maintain", "--rebuild-timeout", "0.02"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: REINDEX INDEX CONCURRENTLY"), err
    assert "ran past 0.02 min" in err, err
    assert "the next run drops what it left" in err, err
    assert query(app_database, INVALID_INDEXES) == [("idx_vibelogs_created_at_ccnew",)], "no leftover to resume from"
    assert query(app_database, "SELECT count(*) FROM audit_logs_archive") == [(COUNTS["old"],)], (
        "the batches done before the REINDEX were not kept"
    )
    snapshot_holder.rollback()

    assert cli.main(["maintain"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "dropped public.idx_vibelogs_created_at_ccnew, the invalid copy an interrupted REINDEX left" in out, out
    assert query(app_database, INVALID_INDEXES) == [], "the leftover (or a new one) is still there"
    assert "rebuilt public.idx_vibelogs_created_at concurrently" in out, out


def test_a_dry_run_names_the_leftover_it_would_drop(
    app_database: str, snapshot_holder: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["maintain", "--rebuild-timeout", "0.02"]) == 1
    snapshot_holder.rollback()
    capsys.readouterr()

    assert cli.main(["maintain", "--dry-run"]) == 0
    assert "would drop public.idx_vibelogs_created_at_ccnew" in capsys.readouterr().out
    assert query(app_database, INVALID_INDEXES) == [("idx_vibelogs_created_at_ccnew",)], "the dry run dropped it"


def test_a_running_pg_dump_is_waited_for_and_refused_when_it_outlasts_the_wait(
    app_database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(app_database)
    dump = psycopg.connect(app_database, application_name=maintain.DUMP_APPLICATION, autocommit=True)
    try:
        assert cli.main(["maintain", "--backup-wait", "0"]) == 1
        err = capsys.readouterr().err
        assert "a pg_dump of the database is still running after 0 min" in err, err
        assert "nothing was changed" in err, err
        assert state(app_database) == before, "maintenance ran under a backup"

        # A dump that ends within the wait: the run goes ahead once it has.
        monkeypatch.setattr(maintain, "BACKUP_POLL_SECONDS", 0.05)
        threading.Timer(0.5, dump.close).start()
        assert cli.main(["maintain", "--backup-wait", "1"]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "waiting for the running pg_dump of the database to end" in out, out
        assert f"deleted {COUNTS['expired']} public.sessions" in out, out
    finally:
        dump.close()


def test_a_concurrent_writer_loses_no_row_and_meets_no_deadlock(
    app_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Enough old rows for many batches, so the writer's transactions land between and across them.
    seed(app_database, {"posts": 2000, "expired": 3000, "recent": 200, "old": 3000})
    old_audit = {row[0] for row in query(app_database, "SELECT id FROM audit_logs WHERE action = 'old'")}
    stop = threading.Event()
    failures: list[str] = []
    written: dict[str, list[Any]] = {"vibelogs": [], "sessions": [], "audit": []}

    def writer() -> None:
        """The app: as `authenticated` (RLS applies), inserting, and updating old rows the job is taking, several
        per transaction, holding their locks a moment."""
        try:
            with psycopg.connect(app_database) as conn:
                conn.execute("SET ROLE authenticated")
                conn.commit()
                while not stop.is_set():
                    with conn.transaction():
                        conn.execute(
                            "UPDATE sessions SET touched = touched + 1 WHERE id IN (SELECT id FROM sessions "
                            "WHERE expires_at < now() - interval '30 days' ORDER BY random() LIMIT 20)"
                        )
                        conn.execute(
                            "UPDATE audit_logs SET detail = detail || '{\"seen\": true}' WHERE id IN (SELECT id "
                            "FROM audit_logs WHERE action = 'old' ORDER BY random() LIMIT 20)"
                        )
                        written["vibelogs"] += (
                            conn.execute(
                                "INSERT INTO vibelogs (user_id, body) VALUES (gen_random_uuid(), 'new') RETURNING id"
                            ).fetchone()
                            or []
                        )
                        written["sessions"] += (
                            conn.execute(
                                "INSERT INTO sessions (user_id, expires_at) "
                                "VALUES (gen_random_uuid(), now() + interval '1 day') RETURNING id"
                            ).fetchone()
                            or []
                        )
                        written["audit"] += (
                            conn.execute("INSERT INTO audit_logs (action) VALUES ('new') RETURNING id").fetchone() or []
                        )
                        time.sleep(0.01)
        except psycopg.Error as error:
            failures.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.2)
        code = cli.main(["maintain", "--batch-rows", "200"])
    finally:
        stop.set()
        thread.join(timeout=30)
    captured = capsys.readouterr()

    assert not thread.is_alive(), "the writer is stuck"
    assert failures == [], f"the app's writes failed while maintenance ran: {failures}"
    assert code == 0, captured.err
    assert len(written["audit"]) > 10, "the writer barely ran: the test proves nothing"
    for table, ids in (("vibelogs", written["vibelogs"]), ("sessions", written["sessions"])):
        found = {row[0] for row in query(app_database, f"SELECT id FROM {table} WHERE id = ANY(%s)", (ids,))}  # noqa: S608
        assert found == set(ids), f"{table}: rows the app wrote while maintenance ran are gone"
    live = [row[0] for row in query(app_database, "SELECT id FROM audit_logs")]
    archived = [row[0] for row in query(app_database, "SELECT id FROM audit_logs_archive")]
    assert not set(live) & set(archived), "an audit row is both live and archived"
    assert old_audit <= set(archived) | set(live), "an old audit row was lost between the tables"
    assert set(written["audit"]) <= set(live), "an audit row the app wrote while maintenance ran is gone"
    # The writer's updates of archived rows either landed before the move (and moved with the row) or found none.
    assert query(app_database, "SELECT count(*) FROM audit_logs WHERE action = 'old'") == [
        (len(old_audit - set(archived)),)
    ]

    # What the writer held locked was skipped, not waited for: the next run takes it.
    assert cli.main(["maintain"]) == 0
    assert query(app_database, "SELECT count(*) FROM audit_logs WHERE created_at < now() - interval '1 year'") == [(0,)]
    assert query(app_database, "SELECT count(*) FROM sessions WHERE expires_at < now() - interval '30 days'") == [(0,)]
    assert old_audit <= {row[0] for row in query(app_database, "SELECT id FROM audit_logs_archive")}


def test_the_workflow_runs_on_each_stacks_schedule_in_its_declared_environment_apart_from_the_dumps(
    all_plans: dict[str, Plan],
) -> None:
    workflow = load(WORKFLOWS / "maintenance.yml")
    job = workflow["jobs"]["maintain"]
    crons = {entry["cron"] for entry in workflow["on"]["schedule"]}
    stacks = [stack for stack in ("development", "staging", "production") if settings_of(stack).backup is not None]
    assert job["strategy"]["matrix"]["stack"] == stacks, "every stack with backups (and so maintenance), only those"
    assert job["environment"] == "${{ matrix.stack }}-maintenance"
    for stack in stacks:
        backup = settings_of(stack).backup
        assert backup is not None
        assert crons == {backup.maintenance.schedule}, f"crons {crons} are not {stack}'s maintenance schedule"
        declared = {
            reg.inputs.get("variableName") or reg.inputs.get("secretName")
            for reg in all_plans[stack].registrations
            if reg.type in (ENVIRONMENT_VARIABLE, ENVIRONMENT_SECRET)
            and reg.inputs["environment"] == f"{stack}-maintenance"
        }
        read = set(re.findall(r"(?:vars|secrets)\.([A-Z0-9_]+)", yaml.safe_dump(job)))
        assert read <= declared, f"{sorted(read - declared)} are not declared in {stack}-maintenance"
    # A run is never cancelled halfway, and never queues in the dump's group, where it could cancel a pending dump.
    assert job["concurrency"] == {"group": "maintenance-${{ matrix.stack }}", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read"}, "the job needs no OIDC token: no AWS role trusts it"
    limits = maintain.Limits()
    assert job["timeout-minutes"] >= limits.backup_wait_minutes + 2 * limits.rebuild_timeout_minutes, (
        "the job's timeout ends it before its own limits do"
    )
    assert workflow["on"]["workflow_dispatch"]["inputs"]["dry_run"]["default"] is True, "a manual run is a dry run"


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("0 4 * * *", "is not weekly"),
        ("0 4 * * 1", "not on the weekly dump's day"),
        ("30 0 * * 0", "starts before or with the dump of weekly.schedule and daily.schedule"),
        ("0 2 * * 0", "starts before or with the dump of daily.schedule:"),
        ("0 4 * * x", "'x' is not a number from 0 to 6"),
    ],
)
def test_a_schedule_not_after_the_weekly_backup_is_refused_at_its_key(schedule: str, problem: str) -> None:
    found = only_problem(
        "production", lambda config: config["vibelog:backup"].setdefault("maintenance", {}).update(schedule=schedule)
    )
    assert found.path == "vibelog:backup.maintenance.schedule", found
    assert problem in found.expected, found


def test_a_rebuild_running_in_another_session_keeps_its_copy_and_is_not_raced(
    app_database: str, snapshot_holder: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # A person's REINDEX CONCURRENTLY, waiting for the holder's snapshot: its _ccnew is invalid until it ends.
    other = psycopg.connect(app_database, autocommit=True)
    rebuild = threading.Thread(target=other.execute, args=("REINDEX INDEX CONCURRENTLY idx_vibelogs_created_at",))
    rebuild.start()
    try:
        deadline = time.monotonic() + 10
        while query(app_database, INVALID_INDEXES) != [("idx_vibelogs_created_at_ccnew",)]:
            assert time.monotonic() < deadline, "the other session's REINDEX never made its copy"
            time.sleep(0.05)

        assert cli.main(["maintain"]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "left public.idx_vibelogs_created_at and any invalid copy of it for the next run" in out, out
        assert "dropped" not in out, out
        assert query(app_database, INVALID_INDEXES) == [("idx_vibelogs_created_at_ccnew",)], "its copy was dropped"
        assert f"moved {COUNTS['old']} public.audit_logs rows" in out, "the other steps did not run"
    finally:
        snapshot_holder.rollback()
        rebuild.join(timeout=30)
        other.close()
    assert query(app_database, INVALID_INDEXES) == [], "the other session's REINDEX did not finish"


def test_a_batch_that_cannot_lock_its_table_is_tried_again_then_fails_saying_a_rerun_resumes(
    app_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(app_database)
    with psycopg.connect(app_database) as migration:
        migration.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        assert cli.main(["maintain", "--lock-timeout", "0.1"]) == 1
        migration.rollback()
    err = capsys.readouterr().err
    assert err.startswith("error: a batch could not lock its table within the lock timeout 3 times in a row"), err
    assert err.rstrip().endswith("0 rows were done and are committed: a rerun resumes"), err
    assert state(app_database) == before, "a failed batch changed the database"

    # A lock held for less than the retries last: the batch goes through on a later try.
    with psycopg.connect(app_database) as migration:
        migration.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        threading.Timer(0.5, migration.rollback).start()
        assert cli.main(["maintain", "--lock-timeout", "0.1"]) == 0, capsys.readouterr().err
    assert f"deleted {COUNTS['expired']} public.sessions" in capsys.readouterr().out


def test_sigterm_during_the_reindex_ends_it_reports_and_the_next_run_finishes_the_work(
    app_database: str,
    snapshot_holder: psycopg.Connection[Any],
    slack: tuple[World, str],
    tmp_path: Path,
) -> None:
    world, webhook = slack
    env = {**os.environ, "SLACK_WEBHOOK": webhook, "PYTHONUNBUFFERED": "1"}
    job = start(["maintain"], env)
    # The REINDEX has made its copy and waits for the holder's snapshot: the batches before it are done.
    wait_for("the REINDEX's copy", lambda: query(app_database, INVALID_INDEXES) == [("idx_vibelogs_created_at_ccnew",)])
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=60)

    assert (job.returncode, err) == (130, "interrupted\n"), f"exit {job.returncode}: {err}"
    assert f"moved {COUNTS['old']} public.audit_logs rows" in out, out
    building = "SELECT count(*) FROM pg_stat_progress_create_index"
    wait_for("the server to cancel the REINDEX", lambda: query(app_database, building) == [(0,)], seconds=10)
    posts, summary = told(world, tmp_path)
    assert posts == ["staging: maintain interrupted (SIGTERM)"], posts
    assert "## Database maintenance of staging\n" in summary, "the steps done before the signal are not reported"
    assert summary.rstrip().endswith("## maintain interrupted (SIGTERM)"), summary
    snapshot_holder.rollback()

    job = start(["maintain"], env)
    out, err = job.communicate(timeout=60)
    assert job.returncode == 0, err
    assert query(app_database, INVALID_INDEXES) == [], "the next run left the interrupted REINDEX's copy"
    posts, _ = told(world, tmp_path)
    assert posts[-1] == "\n".join(["Database maintenance of staging", *out.splitlines()]), posts[-1]
    assert "dropped public.idx_vibelogs_created_at_ccnew" in posts[-1], posts[-1]


@pytest.mark.parametrize(
    "argv",
    [
        ["--batch-rows", "0"],
        ["--batch-rows", "1e3"],
        ["--lock-timeout", "inf"],
        ["--statement-timeout", "nan"],
        ["--rebuild-timeout", "0"],
        ["--lock-timeout", "0.0004"],  # 0 ms, which turns the timeout off
        ["--statement-timeout", "1e7"],  # past PostgreSQL's 2**31-1 ms
        ["--rebuild-timeout", "40000"],
        ["--backup-wait", "-1"],
        ["--vacuum"],
    ],
)
def test_a_bad_option_is_bad_usage_and_changes_nothing(
    argv: list[str], app_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(app_database)
    with pytest.raises(SystemExit) as exited:
        cli.main(["maintain", *argv])
    assert exited.value.code == 2, argv
    assert "error:" in capsys.readouterr().err
    assert state(app_database) == before
