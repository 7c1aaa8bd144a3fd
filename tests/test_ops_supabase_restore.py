"""The restore test on a Supabase-shaped database: what it restores, and the broken backups it must fail on."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ops import cli, dump, postgres, report, restore, vault
from ops.errors import JobError
from settings.backup import RestoreDropBound
from tests.ops_servers import SUPABASE_ROWS, S3Server, as_supabase_admin, fingerprint
from tests.test_ops_backups import RESTORE_TEST_CHECKS

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def dump_daily(s3: S3Client, bucket: str, url: str, *flags: str, tmp_path: Path | None = None) -> str:
    """One daily dump; `flags` are added to pg_dump's own (a dump taken the way a broken job would take it)."""
    wrapper = None
    if flags:
        assert tmp_path is not None
        wrapper = tmp_path / "pg_dump"
        wrapper.write_text(f'#!/bin/sh\nexec {postgres.tool("pg_dump")} {" ".join(flags)} "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
    result = dump.dump(
        s3,
        database_url=url,
        bucket=bucket,
        destinations=[dump.Destination("daily")],
        pg_dump=None if wrapper is None else str(wrapper),
    )
    (key,) = result.keys
    return key


def restore_test(s3: S3Client, bucket: str, **kwargs: Any) -> report.RestoreReport:
    return cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False, **kwargs)


def failed(result: report.RestoreReport) -> dict[str, str]:
    return {check.name: check.detail for check in result.checks if not check.ok}


def test_the_dump_records_the_schema_its_extensions_and_roles(supabase: str, s3_server: S3Server) -> None:
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    key = dump_daily(s3, bucket, supabase)

    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))

    assert manifest["row_counts"] == SUPABASE_ROWS
    extensions = {e["name"]: (e["schema"], e["version"]) for e in manifest["extensions"]}
    assert extensions["pg_trgm"][0] == "extensions", extensions
    roles = {role["name"]: role for role in manifest["roles"]}
    assert not roles["anon"]["login"], "anon is NOLOGIN on Supabase, and must be recorded so"
    assert roles["authenticator"]["member_of"] == ["anon", "authenticated", "service_role"], roles["authenticator"]
    # Dumped as Supabase's postgres, which is not a superuser: recorded as it is, and it may still read the identity.
    assert (roles["postgres"]["superuser"], roles["postgres"]["bypassrls"]) == (False, True), roles["postgres"]
    assert manifest["source"]["system_identifier"], "postgres may call pg_control_system(): the guard needs it"
    objects = manifest["inventory"]["objects"]
    for schema, kinds in {
        "public": ("tables", "views", "constraints", "indexes", "triggers", "policies", "functions", "types", "grants"),
        "auth": ("tables", "constraints", "indexes", "functions", "grants"),
        "storage": ("tables", "constraints", "policies", "grants"),
    }.items():
        for kind in kinds:
            assert objects[schema][kind]["count"] > 0, f"{schema}: no {kind} recorded"
    assert manifest["inventory"]["sequence_values"] == {
        "public.audit_logs_id_seq": 2000,
        "public.invite_codes": 1234,
        "public.vibelogs_id_seq": 3000,
    }


def test_the_restore_test_restores_the_supabase_shaped_database_whole(supabase: str, aws_env: S3Server) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, supabase)

    result = restore_test(s3, bucket)

    assert result.passed, result.lines()
    assert [check.name for check in result.checks] == RESTORE_TEST_CHECKS
    assert result.left_out == (), result.left_out


def test_the_restore_test_fails_on_a_dump_without_post_data(supabase: str, aws_env: S3Server, tmp_path: Path) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, supabase, "--section=pre-data", "--section=data", tmp_path=tmp_path)

    result = restore_test(s3, bucket)

    assert not result.passed, "a dump without keys, indexes, triggers or policies passed"
    assert list(failed(result)) == ["schema objects"], result.lines()
    assert "restored" in failed(result)["schema objects"], result.lines()


def test_the_restore_test_fails_on_a_dump_missing_a_table(supabase: str, aws_env: S3Server, tmp_path: Path) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, supabase, "--exclude-table=public.sessions", tmp_path=tmp_path)

    result = restore_test(s3, bucket)

    assert not result.passed, "a dump without public.sessions passed"
    assert failed(result)["row counts"] == "1 table(s) missing, first public.sessions", result.lines()


def test_the_restore_test_fails_on_lost_grants(supabase: str, aws_env: S3Server, tmp_path: Path) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, supabase, "--no-acl", tmp_path=tmp_path)

    result = restore_test(s3, bucket)

    assert not result.passed, "a dump without its grants passed"
    assert list(failed(result)) == ["schema objects"], result.lines()
    assert " grants: " in failed(result)["schema objects"], result.lines()


@pytest.mark.parametrize(
    ("deleted", "passes"),
    [("id <= 10", True), ("true", False)],
    ids=["ten rows gone: within the bound", "every row gone: beyond it"],
)
def test_the_restore_test_fails_on_a_drop_beyond_the_bound_since_the_previous_dump(
    supabase: str, aws_env: S3Server, deleted: str, passes: bool
) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    earlier = dump_daily(s3, bucket, supabase)
    with psycopg.connect(supabase, autocommit=True) as conn:
        conn.execute(f"DELETE FROM vibelogs WHERE {deleted}")  # noqa: S608 - the test's own two cases
    time.sleep(max(0.0, 1.05 - time.time() % 1))  # a dump's key is its second
    later = dump_daily(s3, bucket, supabase)
    assert later > earlier, (earlier, later)

    result = restore_test(s3, bucket, bound=RestoreDropBound.model_validate({"percent": 10, "minRows": 100}))

    assert result.key == later
    assert result.passed is passes, result.lines()
    if not passes:
        detail = "1 drop(s) beyond 10%, first public.vibelogs: 0 rows, 3000 in the previous dump"
        assert failed(result) == {"drop since the previous dump": detail}, result.lines()


def test_the_drop_bound_reads_the_previous_manifest_the_dump_job_wrote(supabase: str, aws_env: S3Server) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    earlier = dump_daily(s3, bucket, supabase)
    # A manifest written in front of the previous dump's locked one, claiming far more rows than were dumped.
    forged = vault.manifest_of(s3, bucket, earlier)
    forged["row_counts"] = {**forged["row_counts"], "public.vibelogs": 10**6}
    s3.put_object(Bucket=bucket, Key=vault.manifest_key(earlier), Body=json.dumps(forged).encode())
    time.sleep(max(0.0, 1.05 - time.time() % 1))  # a dump's key is its second
    dump_daily(s3, bucket, supabase)

    result = restore_test(s3, bucket)

    assert "drop since the previous dump" not in failed(result), f"{earlier}: the forged manifest was read"
    assert result.passed, result.lines()
    assert any(earlier in line and "manifest has 2 versions" in line for line in result.warnings), result.lines()


def test_the_workflows_flags_set_the_drop_bound(
    supabase: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, supabase)
    with psycopg.connect(supabase, autocommit=True) as conn:
        conn.execute("DELETE FROM vibelogs WHERE id <= 500")  # a sixth: within 25%, beyond 10%
    time.sleep(max(0.0, 1.05 - time.time() % 1))
    dump_daily(s3, bucket, supabase)
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)

    assert cli.main(["restore-test"]) == 0, capsys.readouterr().out
    assert cli.main(["restore-test", "--max-drop-percent", "10", "--min-drop-rows", "100"]) == 1
    out = capsys.readouterr().out
    assert "FAIL drop since the previous dump: 1 drop(s) beyond 10%, first public.vibelogs: 2500 rows" in out, out


@pytest.mark.parametrize("flags", [["--min-drop-rows", "-1"], ["--max-drop-percent", "101"], ["--min-drop-rows", "x"]])
def test_a_bad_drop_bound_is_a_usage_error(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["restore-test", *flags])
    assert exited.value.code == 2, flags
    assert capsys.readouterr().err.count("error:") == 1


def test_a_drop_bound_beyond_the_settings_limit_is_bad_input(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=False))

    assert cli.main(["restore-test", "--min-drop-rows", "99999999999"]) == 2
    err = capsys.readouterr().err
    assert err == "error: the drop bound: Input should be less than or equal to 1000000000\n", err


# A stand-in for an extension Supabase has and a runner cannot install (pg_graphql, pgsodium, vault, pg_net): an
# extension the catalogs record without a control file on this server, owning a function of its own schema, which
# also holds a function of Supabase's that the extension does not own.
FAKE_EXTENSION = """
SET allow_system_table_mods = on;
CREATE SCHEMA {schema_ddl};
CREATE FUNCTION {schema}.{name}_resolve(query text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{{}}'::jsonb $$;
CREATE FUNCTION {schema}.{name}_helper() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
SELECT pg_nextoid('pg_extension', 'oid', 'pg_extension_oid_index'), '{name}', 10, '{schema}'::regnamespace, false,
       '1.5.11';
INSERT INTO pg_depend
SELECT 'pg_proc'::regclass, '{schema}.{name}_resolve(text)'::regprocedure, 0, 'pg_extension'::regclass, e.oid, 0, 'e'
FROM pg_extension e WHERE e.extname = '{name}'
UNION ALL
SELECT 'pg_extension'::regclass, e.oid, 0, 'pg_namespace'::regclass, '{schema}'::regnamespace, 0, 'n'
FROM pg_extension e WHERE e.extname = '{name}';
"""


def fake_extension(url: str, name: str, schema: str) -> None:
    schema_ddl = f"IF NOT EXISTS {schema}"
    with psycopg.connect(as_supabase_admin(url), autocommit=True) as conn:  # catalog rows: a superuser's setup
        conn.execute(FAKE_EXTENSION.format(name=name, schema=schema, schema_ddl=schema_ddl).encode())


def test_an_extension_the_runner_lacks_is_left_out_by_rule_and_reported(supabase: str, aws_env: S3Server) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    fake_extension(supabase, "pg_graphql", "graphql")  # in a schema of its own: left out with it
    fake_extension(supabase, "pgjwt", "extensions")  # beside pg_trgm: the schema is restored
    dump_daily(s3, bucket, supabase)

    result = restore_test(s3, bucket)

    assert result.passed, result.lines()
    assert result.left_out == (
        "extension pg_graphql 1.5.11 is not available on this server: left out (1 entries); "
        "schema graphql left out with it (2 entries)",
        "extension pgjwt 1.5.11 is not available on this server: left out (1 entries); "
        "schema extensions restored: it holds more than this extension",
    ), result.left_out
    assert "finding: extension pg_graphql 1.5.11 is not available" in result.markdown()


def test_a_table_beside_a_missing_extension_is_restored_or_fails_never_skipped(
    supabase: str, aws_env: S3Server
) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    fake_extension(supabase, "pg_graphql", "graphql")
    # graphql is Supabase's (supabase_admin's): `postgres` may not create in it, and reads it by pg_read_all_data.
    with psycopg.connect(as_supabase_admin(supabase), autocommit=True) as conn:
        conn.execute("CREATE TABLE graphql.app_notes (id int PRIMARY KEY); INSERT INTO graphql.app_notes VALUES (1)")
    dump_daily(s3, bucket, supabase)

    result = restore_test(s3, bucket)

    assert result.passed, result.lines()
    assert result.left_out == (
        "extension pg_graphql 1.5.11 is not available on this server: left out (1 entries); "
        "schema graphql restored: it holds more than this extension",
    ), result.left_out
    assert "row counts" not in failed(result)


def test_a_restore_over_a_database_whose_default_privileges_grant_more_says_so(
    supabase: str, s3_server: S3Server
) -> None:
    """Supabase's default privileges grant ALL on public's new tables to anon and authenticated: restored over a
    database that has them, the dump's deliberate REVOKE on audit_logs silently became a grant; the check says so.
    Into a new database (the runbook's way) the privileges are the source's."""
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    key = dump_daily(s3, bucket, supabase)

    over = restore.restore(s3, bucket=bucket, key=key, target_url=supabase, confirm_production=True)
    beside, name = restore.restore_alongside(s3, bucket=bucket, key=key, target_url=supabase, confirm_production=True)

    assert {check.name: check.ok for check in over.checks}["schema objects"] is False, over.checks
    said = [check.detail for check in over.checks if check.name == "left out"]
    for schema in ("auth", "storage"):  # supabase_admin's: `postgres` may not drop them (pg_restore --clean would)
        assert any(line.startswith(f"schema {schema} kept as the target has it") for line in said), said
    assert any(line.startswith("default privileges of role supabase_admin left out") for line in said), said
    with psycopg.connect(supabase, autocommit=True) as conn:
        leaked = conn.execute("SELECT has_table_privilege('anon', 'public.audit_logs', 'SELECT')").fetchone()
    assert leaked == (True,), "the default privileges no longer grant more: this test no longer shows the hazard"
    assert beside.ok, beside.checks
    with psycopg.connect(make_conninfo(supabase, dbname=name), autocommit=True) as conn:
        kept = conn.execute("SELECT has_table_privilege('anon', 'public.audit_logs', 'SELECT')").fetchone()
    assert kept == (False,), "the REVOKE on audit_logs was not restored into the new database"
    assert fingerprint(make_conninfo(supabase, dbname=name)) == fingerprint(supabase)


def _restored_as_postgres(supabase: str, s3_server: S3Server) -> tuple[restore.Restored, str, restore.Preparation]:
    """A dump of the Supabase-shaped database restored by the runbook's way (a new database, as `postgres`), that
    database's URL, and what its restore prepared."""
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    key = dump_daily(s3, bucket, supabase)
    restored, name = restore.restore_alongside(s3, bucket=bucket, key=key, target_url=supabase, confirm_production=True)
    assert restored.ok, restored.checks
    return (
        restored,
        make_conninfo(supabase, dbname=name),
        restore.Preparation(None, foreign_defaults=("supabase_admin",), owner="postgres"),
    )


def test_the_restore_as_postgres_compares_every_grant_and_needs_the_recorded_grant_lines(
    supabase: str, s3_server: S3Server
) -> None:
    """As Supabase's `postgres` (not a superuser) the restore leaves out supabase_admin's default privileges and owns
    what it restores; the grants those make implicit come from the manifest's grant lines, and nothing else: a
    manifest without them shows the difference rather than passing."""
    restored, target, prepared = _restored_as_postgres(supabase, s3_server)

    older = {name: value for name, value in restored.manifest.items() if name != "grant_lines"}
    checks = {check.name: check for check in restore.check(target, older, prepared=prepared)}
    assert not checks["schema objects"].ok, "without the recorded grant lines the grants cannot match"
    assert "grants" in checks["schema objects"].detail, checks["schema objects"].detail

    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("REVOKE SELECT ON public.profiles FROM anon")
    checks = {check.name: check for check in restore.check(target, restored.manifest, prepared=prepared)}
    assert not checks["schema objects"].ok, "a grant lost beyond those made implicit went unseen"


def test_the_restoring_users_own_default_privileges_are_compared(supabase: str, s3_server: S3Server) -> None:
    """Owning what it restores makes the grants to `postgres` on those objects implicit, not a default privilege
    granting to it: the restore sets postgres's own, and one lost is a difference."""
    restored, target, prepared = _restored_as_postgres(supabase, s3_server)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM postgres")
    checks = {check.name: check for check in restore.check(target, restored.manifest, prepared=prepared)}
    assert not checks["schema objects"].ok, "postgres's lost default privilege on public's tables went unseen"


def test_the_restoring_users_grant_on_a_schema_kept_as_the_target_has_it_is_compared(
    supabase: str, s3_server: S3Server, tmp_path: Path
) -> None:
    """A schema the restoring user does not own (auth, supabase_admin's) is kept as the target has it: the user's
    grant on it is not implicit in owning what it restored, and one the target lacks is a difference."""
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    key = dump_daily(s3, bucket, supabase)
    manifest, _ = restore.fetch_verified(s3, bucket, key, tmp_path / "database.dump")
    prepared = restore.for_target_user(tmp_path / "database.dump", supabase, tmp_path)
    assert {"auth", "storage"} <= set(prepared.foreign_schemas), prepared.foreign_schemas
    checks = {check.name: check for check in restore.check(supabase, manifest, prepared=prepared)}
    assert checks["schema objects"].ok, checks["schema objects"].detail
    with psycopg.connect(as_supabase_admin(supabase), autocommit=True) as conn:
        conn.execute("REVOKE ALL ON SCHEMA auth FROM postgres")
    checks = {check.name: check for check in restore.check(supabase, manifest, prepared=prepared)}
    assert not checks["schema objects"].ok, "postgres's lost grant on schema auth (kept, not its own) went unseen"


def test_a_dump_login_that_may_not_read_a_schema_or_bypass_row_security_fails_naming_it(
    supabase: str, s3_server: S3Server
) -> None:
    """What Supabase gives `postgres` and the dump needs: pg_read_all_data (auth and storage are other roles') and
    BYPASSRLS (RLS would hide rows). A login without one fails in one line naming what it may not read, and writes
    nothing."""
    with psycopg.connect(as_supabase_admin(supabase), autocommit=True) as conn:
        for role in ("app_reader", "all_reader"):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
                conn.execute(f"CREATE ROLE {role} LOGIN NOBYPASSRLS")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app_reader")
        conn.execute("GRANT pg_read_all_data TO all_reader")
    s3 = s3_server.client()
    cases = {
        "app_reader": "permission denied for schema auth",
        "all_reader": "query would be affected by row-level security policy for table",
    }
    for role, reason in cases.items():
        bucket = s3_server.bucket(locked=False)
        with pytest.raises(JobError) as failed_dump:
            dump_daily(s3, bucket, make_conninfo(supabase, user=role))
        assert reason in str(failed_dump.value), f"{role}: {failed_dump.value}"
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0, f"{role}: the failed dump left an object"
