"""The backup jobs end to end against a real PostgreSQL server and an S3 server enforcing versioning and Object Lock."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ops import cli, dump, integrity, interrupt, postgres, restore, vault
from ops.errors import BadInputError, JobError
from settings.backup import RecoveryObjectives
from tests.helpers.proxy import StallingProxy
from tests.ops_servers import SUPABASE_ROWS, S3Server

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

SEED = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE CHECK (position('@' in email) > 1));
CREATE TABLE vibelogs (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    title text NOT NULL,
    body text,
    created_at timestamptz NOT NULL
);
CREATE INDEX idx_vibelogs_created_at ON vibelogs (created_at);
INSERT INTO users SELECT n, 'user' || n || '@vibelog.io' FROM generate_series(1, 200) n;
INSERT INTO vibelogs
SELECT n, 1 + n % 200, 'post ' || n, repeat(md5(n::text), 8), now() - n * interval '1 minute'
FROM generate_series(1, 3000) n;
"""
# A fingerprint of every row, to say "the same rows came back" rather than "as many rows".
FINGERPRINT = """
SELECT (SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u),
       (SELECT md5(string_agg(v::text, ',' ORDER BY id)) FROM vibelogs v)
"""


def seed(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED)
        row = conn.execute(FINGERPRINT).fetchone()
    assert row is not None
    return tuple(row)


def fingerprint(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(FINGERPRINT).fetchone()
    assert row is not None
    return tuple(row)


def dump_daily(s3: S3Client, bucket: str, url: str, **kwargs: Any) -> dump.DumpResult:
    return dump.dump(s3, database_url=url, bucket=bucket, destinations=[dump.Destination("daily")], **kwargs)


def leftovers(s3: S3Client, bucket: str) -> tuple[list[str], list[str]]:
    """Every object version and every unfinished multipart upload in a bucket."""
    versions = [item["Key"] for item in s3.list_object_versions(Bucket=bucket).get("Versions", [])]
    uploads = [item["Key"] for item in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    return versions, uploads


def test_dump_writes_checksummed_dump_and_manifest_of_the_snapshot(supabase: str, s3_server: S3Server) -> None:
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)

    result = dump_daily(s3, bucket, supabase)

    (key,) = result.keys
    assert key.startswith("daily/"), key
    assert key.endswith(".dump"), key
    head = s3.head_object(Bucket=bucket, Key=key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert vault.sha256_bytes(body) == result.sha256, f"{key}: the bytes stored are not the dump's"
    assert head["ContentLength"] == result.size, f"{key}: size"
    assert head["Metadata"]["server-version"].startswith("15"), f"{key}: source server version"
    assert head["ObjectLockMode"] == "COMPLIANCE", f"{key} is not locked"
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))
    assert manifest["row_counts"] == SUPABASE_ROWS
    assert (manifest["sha256"], manifest["size_bytes"]) == (result.sha256, result.size), f"{key}: manifest"


def test_a_pre_migration_dump_lands_under_its_prefix_and_is_offered_for_restore(
    database: str, s3_server: S3Server
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    destinations = [dump.Destination.parse("pre-migration")]
    (key,) = dump.dump(s3, database_url=database, bucket=bucket, destinations=destinations).keys
    assert key.startswith("pre-migration/"), f"{key}: the vault's pre-migration lifecycle rule matches this prefix"
    listed = vault.inventory(s3, bucket, vault.DATABASE_SCHEDULES)
    assert [(backup.schedule, backup.key) for backup in listed.backups] == [("pre-migration", key)]
    assert listed.findings == []
    assert restore.newest(s3, bucket, "pre-migration")[0].key == key


@pytest.mark.parametrize("text", ["dialy", "pre_migration", "", "=STANDARD", "../daily"])
def test_a_dump_to_an_unknown_schedule_is_bad_input(text: str) -> None:
    # Its key would match no lifecycle rule (kept for ever) and no role may write it.
    with pytest.raises(BadInputError, match="the schedule is one of daily, weekly, yearly, pre-migration"):
        dump.Destination.parse(text)


@pytest.mark.parametrize("text", ["yearly=deep_archive", "yearly=BOGUS", "daily=REDUCED_REDUNDANCY", "weekly=="])
def test_a_dump_in_a_storage_class_the_settings_do_not_name_is_bad_input_before_the_dump(
    text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "BACKUP_VAULT_REGION": "us-west-2",
        "BACKUP_DATABASE_BUCKET": "vault",
        "BACKUP_DATABASE_URL": f"postgresql://u:p@127.0.0.1:{postgres.free_port()}/db",  # nothing listens
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_WEBHOOK", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    code = cli.main(["dump", "--to", text])

    err = capsys.readouterr().err
    assert code == 2, f"--to {text}: bad input before the database is read (exit 2), got {code}: {err}"
    assert err.startswith(f"error: --to {text!r}: the storage class is one of STANDARD, "), err


def test_restore_brings_back_the_same_rows_after_a_table_is_dropped_and_rows_corrupted(
    database: str, aws_env: S3Server
) -> None:
    before = seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP TABLE vibelogs")
        conn.execute("UPDATE users SET email = 'x' || email WHERE id < 50")

    restored = restore.restore(s3, bucket=bucket, key=key, target_url=database, confirm_production=True)

    assert restored.ok, [check for check in restored.checks if not check.ok]
    assert fingerprint(database) == before, "the restored rows differ from the dumped ones"


LATE_ROW = "INSERT INTO users VALUES (9999, 'written-after-the-dump@vibelog.io')"


def late_row_is_there(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM users WHERE id = 9999").fetchone() == (1,)


SOURCE = "production: the target is the database this dump was taken from"


def respellings(cluster: postgres.Cluster, url: str, services: Path) -> dict[str, tuple[str, str]]:
    """The source database, named every way libpq accepts that the old host comparison did not see through, each
    with the reason it must be refused for; `services` is the PGSERVICEFILE to write its service entry in."""
    port, name = cluster.port, conninfo_to_dict(url)["dbname"]
    services.write_text(f"[vibelog]\nhost=localhost\nport={port}\ndbname={name}\nuser=postgres\n")
    return {
        "localhost for 127.0.0.1": (f"postgresql://postgres@localhost:{port}/{name}", SOURCE),
        "LOCALHOST": (f"postgresql://postgres@LOCALHOST:{port}/{name}", SOURCE),
        "a trailing dot": (f"host=localhost. hostaddr=127.0.0.1 port={port} dbname={name} user=postgres", SOURCE),
        "hostaddr= under another name": (
            f"host=db.staging.example hostaddr=127.0.0.1 port={port} dbname={name} user=postgres",
            SOURCE,
        ),
        "a multi-host list": (f"postgresql://postgres@localhost:{port},127.0.0.1:{port}/{name}", SOURCE),
        "a multi-host list whose first host is down": (
            f"host=127.0.0.1,localhost port=1,{port} dbname={name} user=postgres",
            "a target that may be production: cannot connect",
        ),
        "host in the query string": (f"postgresql:///{name}?host=127.0.0.1&port={port}&user=postgres", SOURCE),
        "the Unix socket": (f"host={cluster.data_dir.parent} port={port} dbname={name} user=postgres", SOURCE),
        "a service file": ("service=vibelog", SOURCE),
        "an upper-case pooler user": (
            f"postgresql://POSTGRES.VIBELOG-PRODUCTION@127.0.0.1:{port}/{name}",
            "production: the target is the production Supabase project (vibelog-production)",
        ),
    }


def test_restore_over_the_source_is_refused_however_it_is_spelled(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = tmp_path / "pg_service.conf"
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(LATE_ROW)

    overwritten = []
    for case, (url, reason) in respellings(pg_cluster, database, services).items():
        with pytest.raises(JobError) as refused:
            restore.restore(s3, bucket=bucket, key=key, target_url=url, production_ref="vibelog-production")
        message = str(refused.value)
        assert message.startswith(f"refusing to restore over {reason}"), f"{case}: {message}"
        assert message.endswith("add --confirm-production if you mean it"), f"{case}: {message}"
        assert "\n" not in message, f"{case}: more than one line"
        if not late_row_is_there(database):
            overwritten.append(case)
    assert not overwritten, f"restored over the source database spelled as: {overwritten}"
    # Without the Supabase rule, the pooler user's target is still recognised by what it is.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute('CREATE ROLE "POSTGRES.VIBELOG-PRODUCTION" LOGIN SUPERUSER')
    try:
        pooler, _ = respellings(pg_cluster, database, services)["an upper-case pooler user"]
        with pytest.raises(JobError, match=f"^refusing to restore over {SOURCE}"):
            restore.restore(s3, bucket=bucket, key=key, target_url=pooler)
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute('DROP ROLE "POSTGRES.VIBELOG-PRODUCTION"')
    assert late_row_is_there(database), "the pooler user's restore went through"


def test_another_database_of_the_same_server_is_not_production(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server
) -> None:
    before = seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    other = f"{database}_copy"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{conninfo_to_dict(other)["dbname"]}"')

    restored = restore.restore(s3, bucket=bucket, key=key, target_url=other.replace("127.0.0.1", "localhost"))

    assert restored.ok, [check for check in restored.checks if not check.ok]
    assert fingerprint(other) == before, "the other database did not get the dumped rows"


def test_a_target_that_cannot_be_asked_what_it_is_is_refused(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    hidden = f"{database}_hidden"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{conninfo_to_dict(hidden)["dbname"]}"')
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'restorer'").fetchone() is None:
            conn.execute("CREATE ROLE restorer LOGIN")
    with psycopg.connect(hidden, autocommit=True) as conn:
        conn.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
    unreachable = f"postgresql://postgres:s3cr3t-password@127.0.0.1:{postgres.free_port()}/postgres"

    cases = {
        "unreachable": (unreachable, "may be production: cannot connect to the target"),
        "no pg_control_system()": (hidden.replace("postgres@", "restorer@"), "may not read pg_control_system()"),
    }
    for case, (url, reason) in cases.items():
        with pytest.raises(JobError) as refused:
            restore.restore(s3, bucket=bucket, key=key, target_url=url)
        assert reason in str(refused.value), f"{case}: {refused.value}"
        assert "s3cr3t-password" not in str(refused.value), f"{case}: the password was printed"


def test_the_production_supabase_project_is_refused_in_any_case() -> None:
    ref = restore.production_project_ref()
    assert ref == "vibelog-production", "the production Supabase project is read from Pulumi.production.yaml"
    direct = f"postgresql://postgres:pw@DB.{ref.upper()}.SUPABASE.CO.:5432/postgres"
    pooled = f"postgresql://POSTGRES.{ref.upper()}:pw@aws-0-us-east-1.pooler.supabase.com:5432/postgres"
    for url in (direct, pooled):
        why = restore.production_reason(url, {}, ref)
        assert why is not None, f"{url}: not recognised as production"
        assert why.startswith("production: the target is the production Supabase project"), why


def failing_pg_dump(tmp_path: Path, size: int) -> str:
    """A pg_dump that writes `size` bytes of a dump to its output and then dies, as one killed mid-way would."""
    script = tmp_path / "pg_dump"
    script.write_text(f'#!/bin/sh\nhead -c {size} /dev/urandom\necho "pg_dump: error: connection lost" >&2\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize("written", [300_000, 6 * 1024 * 1024], ids=["less than a part", "parts already sent"])
def test_a_dump_failing_half_way_leaves_no_object(
    database: str, s3_server: S3Server, tmp_path: Path, written: int
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)

    with pytest.raises(JobError, match=r"^pg_dump failed \(exit 1\): pg_dump: error: connection lost$"):
        dump_daily(s3, bucket, database, pg_dump=failing_pg_dump(tmp_path, written), part_size=5 * 1024 * 1024)

    assert leftovers(s3, bucket) == ([], []), "a failed dump left an object or an upload behind"


# A tool writing like pg_dump's custom format: 4 KiB writes (here about 10 MB/s), then its exit.
TRICKLE = """
import os, time
for n in range(2048):
    os.write(1, n.to_bytes(4, "big") * 1024)
    time.sleep(0.0002)
"""


def read_syscalls() -> int:
    """Read system calls this process has made so far (/proc/self/io's syscr)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["syscr"])


def test_a_streamed_tools_output_is_read_whole_in_a_few_large_reads() -> None:
    expected = b"".join(n.to_bytes(4, "big") * 1024 for n in range(2048))

    with postgres.streamed([sys.executable, "-c", TRICKLE], dict(os.environ), "") as output:
        before = read_syscalls()
        parts = [output.read(3 * 1024 * 1024) for _ in range(4)]
        reads = read_syscalls() - before

    assert [len(part) for part in parts] == [3 * 1024 * 1024, 3 * 1024 * 1024, 2 * 1024 * 1024, 0], "parts cut wrong"
    assert b"".join(parts) == expected, "the streamed output differs from what the tool wrote"
    # A reader woken for each write makes about one read per 4 KiB written; this one lets the pipe fill first.
    assert reads < 2048 // 8, f"{reads} reads for 2,048 writes of 4 KiB: the reader wakes for every write"


class FailsOnSecondPart:
    """An S3 client whose connection drops after the first part of an upload."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def upload_part(self, **kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:
            raise ClientError({"Error": {"Code": "RequestTimeout", "Message": "connection dropped"}}, "UploadPart")
        return self._s3.upload_part(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_an_upload_interrupted_half_way_is_aborted_and_leaves_no_object(database: str, s3_server: S3Server) -> None:
    seed(database)
    with psycopg.connect(database, autocommit=True) as conn:  # about 10 MB uncompressed: two 5 MB parts at least
        conn.execute(
            "INSERT INTO vibelogs SELECT n, 1, 'x', repeat(md5(n::text), 8), now() FROM generate_series(4000, 40000) n"
        )
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)

    with pytest.raises(JobError, match="failed and was aborted: RequestTimeout"):
        dump_daily(FailsOnSecondPart(s3), bucket, database, part_size=5 * 1024 * 1024, compress=0)  # type: ignore[arg-type]

    assert leftovers(s3, bucket) == ([], []), "an interrupted upload left an object or its parts behind"


def test_a_locked_backup_cannot_be_deleted_or_overwritten(database: str, s3_server: S3Server) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    result = dump_daily(s3, bucket, database)
    (key,) = result.keys
    version = s3.head_object(Bucket=bucket, Key=key)["VersionId"]

    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    refused = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": version}]})
    assert [error["Code"] for error in refused.get("Errors", [])] == ["AccessDenied"]
    # The job never writes over an existing key (a retried run cannot put a version in front of a backup) ...
    with Path(os.devnull).open("rb") as empty, pytest.raises(JobError, match="PreconditionFailed"):
        vault.upload(s3, bucket, key, empty, metadata={})
    # ... and whatever else writes there adds a version: the locked one keeps its bytes.
    s3.put_object(Bucket=bucket, Key=key, Body=b"overwritten")
    kept = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert vault.sha256_bytes(kept) == result.sha256, f"{key}: the locked version changed"


# What the restore test checks on the restored copy, in order.
RESTORE_TEST_CHECKS = [
    "row counts",
    "schema objects",
    "sequences",
    "extensions",
    "constraints",
    "app query",
    "drop since the previous dump",
]


def test_restore_test_passes_and_reports_rpo_and_rto(supabase: str, aws_env: S3Server) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, supabase)

    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)

    assert result.passed, result.lines()
    assert [check.name for check in result.checks] == RESTORE_TEST_CHECKS
    assert result.dump_age_hours < 1
    assert "RTO achieved: fetched, verified and restored in" in result.markdown()
    assert "RPO achieved: the dump was 0.0 h old" in result.markdown()
    # Where the restore time went, step by step, adding up to it.
    steps = ["listing", "head", "scratch server", "pre-data and data", "post-data", "checks", "stop and comparison"]
    assert [step for step, _ in result.steps] == steps, result.steps
    total = sum(seconds for _, seconds in result.steps)
    assert all(seconds >= 0 for _, seconds in result.steps), result.steps
    assert abs(total - result.restore_minutes * 60) < 0.5, f"{result.steps} do not add up to the restore time"
    assert "- time: listing " in result.markdown()


def test_a_checksum_mismatch_fails_the_restore_test(database: str, aws_env: S3Server) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.unversioned_bucket()
    (key,) = dump_daily(s3, bucket, database).keys
    # Without versioning (a bucket that is not the vault's), an overwrite replaces the bytes the manifest describes.
    s3.put_object(Bucket=bucket, Key=key, Body=b"PGDMP not the dump that was written")

    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)

    assert not result.passed
    assert result.failure.startswith(f"checksum mismatch for {key}"), result.failure
    assert [step for step, _ in result.steps] == ["listing", "until the failure"], result.steps


def test_restore_test_fails_when_rows_differ_from_the_manifest(database: str, aws_env: S3Server) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM vibelogs WHERE id > 2990")
    checks = restore.check(database, manifest)

    assert [check.name for check in checks if not check.ok] == ["row counts"]


def test_restore_test_fails_when_a_sequence_is_behind_its_value_at_dump_time(database: str, aws_env: S3Server) -> None:
    seed(database)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE vibelogs_id_seq")
        conn.execute("SELECT setval('vibelogs_id_seq', 3000)")
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))

    def sequences_check(value: int) -> integrity.Check:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("SELECT setval('vibelogs_id_seq', %s)", [value])
        (found,) = [check for check in restore.check(database, manifest) if check.name == "sequences"]
        return found

    # Further on is what a sequence in use during the dump looks like; behind, new rows would reuse ids.
    for value in (3000, 3100):
        assert sequences_check(value).ok, f"{key}: public.vibelogs_id_seq at {value}, 3000 at dump time, was refused"
    behind = sequences_check(10)
    assert not behind.ok, f"{key}: public.vibelogs_id_seq restored at 10, 3000 at dump time, passed"
    assert "vibelogs_id_seq at 10, 3000 at dump time" in behind.detail, behind.detail


def test_a_yearly_copy_in_deep_archive_is_restored_from_the_archive_first(database: str, s3_server: S3Server) -> None:
    before = seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    result = dump.dump(
        s3,
        database_url=database,
        bucket=bucket,
        destinations=[dump.Destination("weekly"), dump.Destination.parse("yearly=DEEP_ARCHIVE")],
        compress=9,
    )
    weekly, yearly = result.keys
    assert s3.head_object(Bucket=bucket, Key=yearly)["StorageClass"] == "DEEP_ARCHIVE"
    with pytest.raises(ClientError, match="InvalidObjectState"):
        s3.get_object(Bucket=bucket, Key=yearly)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("TRUNCATE vibelogs")

    restored = restore.restore(s3, bucket=bucket, key=yearly, target_url=database, confirm_production=True)

    assert restored.ok
    assert fingerprint(database) == before
    assert "Restore" in s3.head_object(Bucket=bucket, Key=yearly), f"{yearly} was read without RestoreObject"
    assert weekly.startswith("weekly/")
    assert yearly.startswith("yearly/")


def test_cli_dump_and_list_never_print_the_connection_string(
    database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    bucket = aws_env.bucket(locked=True)
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    monkeypatch.setenv("BACKUP_DATABASE_URL", database)
    assert cli.main(["dump", "--to", "daily"]) == 0
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^daily +[0-9.]+h +[0-9]+ +STANDARD +daily/[0-9TZ]+-[0-9a-f]{8}\.dump$", out, re.MULTILINE), out

    secret_url = database.replace("postgres@", "postgres:s3cr3t-password@").replace("127.0.0.1:", "127.0.0.1:1")
    monkeypatch.setenv("BACKUP_DATABASE_URL", secret_url)
    assert cli.main(["dump", "--to", "daily"]) == 1
    captured = capsys.readouterr()
    assert "s3cr3t-password" not in captured.out + captured.err
    assert captured.err.startswith("error: cannot connect to the source database")
    assert captured.err.count("\n") == 1, "the reason is one line"


def test_a_schedule_named_twice_is_listed_once(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket, key = aws_env.bucket(locked=True), "daily/20261127T020000Z-7-1.dump"
    for written in (key, vault.manifest_key(key)):
        aws_env.client().put_object(Bucket=bucket, Key=written, Body=b"x")
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)

    assert cli.main(["list", "--schedule", "daily", "--schedule", "daily"]) == 0
    out = capsys.readouterr().out
    assert out.count(key) == 1, f"{key} is listed {out.count(key)} times:\n{out}"


def test_listing_the_upload_backups_without_their_bucket_is_bad_input_not_an_empty_list(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=True))
    monkeypatch.delenv("BACKUP_UPLOADS_BACKUP_BUCKET", raising=False)

    code = cli.main(["list", "--schedule", "daily", "--schedule", "uploads"])

    out, err = capsys.readouterr()
    assert code == 2, f"--schedule uploads without its bucket listed nothing and exited {code}: {out}{err}"
    assert (out, err) == ("", "error: --schedule uploads lists $BACKUP_UPLOADS_BACKUP_BUCKET, which is not set\n")


def test_the_runbooks_restore_goes_beside_the_live_database_and_leaves_it_as_it_was(
    database: str, s3_server: S3Server
) -> None:
    before = seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE users SET email = 'x' || email WHERE id < 50")
    corrupted = fingerprint(database)

    with pytest.raises(JobError, match=r"refusing to restore next to production: .*--confirm-production"):
        restore.restore_alongside(s3, bucket=bucket, key=key, target_url=database)
    restored, name = restore.restore_alongside(s3, bucket=bucket, key=key, target_url=database, confirm_production=True)

    assert restored.ok, [check for check in restored.checks if not check.ok]
    assert fingerprint(database) == corrupted, "the live database changed: what the restore replaces must stay"
    assert fingerprint(make_conninfo(database, dbname=name)) == before, f"{name} does not hold the dumped rows"
    with psycopg.connect(database, autocommit=True) as conn:
        created = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s", [name.split("_restored_")[0] + "_restored_%"]
        ).fetchone()
    assert created == (1,), "the refused attempt created a database"


def test_a_runbook_restore_that_fails_leaves_no_new_database_beside_the_live_one(
    database: str, s3_server: S3Server
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    (key,) = dump_daily(s3, bucket, database).keys
    for version in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]:
        if version["Key"] == key:  # the dump is gone, its manifest is not: the download fails
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    live = conninfo_to_dict(database)["dbname"]

    with pytest.raises(JobError) as failed:
        restore.restore_alongside(s3, bucket=bucket, key=key, target_url=database, confirm_production=True)

    with psycopg.connect(database, autocommit=True) as conn:
        created = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{live}_restored_%"])
        left = [row[0] for row in created.fetchall()]
    assert left == [], f"the failed restore ({failed.value}) left {left} on the live server"


@pytest.mark.parametrize(
    "case",
    [
        ("postgresql:postgres:s3cr3t-password@localhost/db", []),
        ("postgresql://postgres:s3cr3t-password@[::1/db", []),
        ("postgresql://postgres:s3cr3t-password@[::1/db", ["--confirm-production"]),
    ],
    ids=["missing //", "unclosed [", "unclosed [, confirmed"],
)
def test_a_malformed_target_url_is_one_line_without_the_password(
    database: str,
    aws_env: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, list[str]],
) -> None:
    url, confirm = case
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    monkeypatch.setenv("RESTORE_TARGET_URL", url)

    assert cli.main(["restore", key, *confirm]) == 2, "a malformed URL is bad input"

    err = capsys.readouterr().err
    assert err.startswith("error: the database URL is not a valid PostgreSQL connection URL"), err
    assert err.count("\n") == 1, f"not one line: {err}"
    assert "s3cr3t-password" not in err, err


def test_a_schema_the_dump_does_not_hold_is_named_not_restored_as_nothing(
    database: str,
    pg_cluster: postgres.Cluster,
    aws_env: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    target = f"t_{os.urandom(6).hex()}"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target}"')
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    monkeypatch.setenv("RESTORE_TARGET_URL", pg_cluster.database_url(target))

    # A typo: pg_restore restores nothing, and the checks of what is kept pass on nothing.
    assert cli.main(["restore", key, "--confirm-production", "--schema", "pubilc"]) == 2
    assert capsys.readouterr().err == f"error: {key} holds no schema 'pubilc' (its schemas: public)\n"
    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, schemas=["pubilc"], durable=False)
    assert not result.passed
    assert result.failure == f"{key} holds no schema 'pubilc' (its schemas: public)", result.lines()


def test_every_connection_gets_the_timeouts_and_the_url_may_set_its_own(database: str, s3_server: S3Server) -> None:
    seed(database)
    own = {"keepalives_idle": "5", "tcp_user_timeout": "20000"}
    url = make_conninfo(database, **own)

    expected = {**postgres.TIMEOUTS, **own}
    with postgres.connect(url, "the database") as conn:
        used = conn.info.get_parameters()
    assert {key: used.get(key) for key in expected} == expected, "psycopg's connection"
    dbname, env = postgres.tool_connection(make_conninfo(url, password="s3cr3t-password"))
    tool = conninfo_to_dict(dbname)
    assert {key: tool.get(key) for key in expected} == expected, "pg_dump's and pg_restore's --dbname"
    assert "s3cr3t-password" not in dbname, "the password would be in argv"
    assert env["PGPASSWORD"] == "s3cr3t-password"
    # Accepted, not refused as an unknown parameter: the dump runs with them.
    (key,) = dump_daily(s3_server.client(), s3_server.bucket(locked=True), url).keys
    assert key.startswith("daily/")


def through(url: str, port: int, proxy: StallingProxy) -> str:
    return url.replace(f":{port}/", f":{proxy.port}/")


def test_a_dump_through_a_network_that_stalls_fails_within_the_stall_limit(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    monkeypatch.setenv(postgres.STALL_ENV, "1")
    # The job's own connection (the first) passes; pg_dump's stalls once it has read its first 3,000 bytes.
    with StallingProxy(pg_cluster.port, budget=3000, stall_from=2) as proxy:
        start = time.monotonic()
        with pytest.raises(JobError) as failed:
            dump_daily(s3, bucket, through(database, pg_cluster.port, proxy))
        elapsed = time.monotonic() - start

    assert str(failed.value).startswith("pg_dump stalled: it moved no data for 1 s"), failed.value
    assert proxy.stalled == 1, "the proxy never stalled pg_dump's connection"
    assert elapsed < 15, f"the stall took {elapsed:.0f} s to be noticed"
    assert leftovers(s3, bucket) == ([], []), "a stalled dump left an object behind"


def test_a_connect_that_stalls_fails_within_the_connect_timeout(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    with StallingProxy(pg_cluster.port, budget=0) as proxy:
        url = make_conninfo(through(database, pg_cluster.port, proxy), connect_timeout="2")
        jobs: list[tuple[str, Callable[[], object], str]] = [
            ("dump", lambda: dump_daily(s3, bucket, url), "cannot connect to the source database: "),
            (
                "restore",
                lambda: restore.restore(s3, bucket=bucket, key=key, target_url=url),
                "refusing to restore over a target that may be production: cannot connect to the target",
            ),
        ]
        for job, run, expected in jobs:
            start = time.monotonic()
            with pytest.raises(JobError) as failed:
                run()
            elapsed = time.monotonic() - start
            assert str(failed.value).startswith(expected), f"{job}: {failed.value}"
            assert elapsed < 10, f"{job}: the stalled connect took {elapsed:.0f} s"
    assert late_row_is_there(database) is False, "nothing was restored"


def drained(s3: S3Client, bucket: str, key: str) -> vault.Downloaded:
    """Read an object through `vault.streaming` to its end, as the restore test's load does."""
    with vault.streaming(s3, bucket, key) as (fd, fetched):
        while os.read(fd, 1024 * 1024):
            pass
        return fetched()


def test_an_s3_transfer_that_stalls_fails_within_the_stall_limit(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    direct, bucket = aws_env.client(), aws_env.bucket(locked=False)
    direct.put_object(Bucket=bucket, Key="daily/big.dump", Body=os.urandom(1024 * 1024))
    monkeypatch.setenv(postgres.STALL_ENV, "1")
    port = int(aws_env.endpoint.rsplit(":", 1)[1])
    transfers: list[tuple[str, int, Callable[[S3Client], object]]] = [
        ("download", 100_000, lambda s3: vault.download(s3, bucket, "daily/big.dump", tmp_path / "big.dump")),
        ("stream", 100_000, lambda s3: drained(s3, bucket, "daily/big.dump")),
        ("upload", 0, lambda s3: vault.put_json(s3, bucket, "daily/x.manifest.json", {"key": "x"})),
    ]
    for case, budget, transfer in transfers:
        with StallingProxy(port, budget=budget) as proxy:
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{proxy.port}")
            start = time.monotonic()
            with pytest.raises(JobError) as failed:
                transfer(cli.vault_client())
            elapsed = time.monotonic() - start
        assert proxy.stalled, f"{case}: the proxy never stalled"
        assert "stalled: no data moved for 1 s" in str(failed.value), f"{case}: {failed.value}"
        assert "\n" not in str(failed.value), f"{case}: not one line"
        assert elapsed < 30, f"{case}: the stall took {elapsed:.0f} s to fail"


def test_a_dump_user_that_may_not_read_the_server_identity_is_said_and_its_restore_fails_closed(
    database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    server = make_conninfo(database, dbname="postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'dumper'").fetchone() is None:
            conn.execute("CREATE ROLE dumper LOGIN")
        conn.execute(f'CREATE DATABASE "{conninfo_to_dict(database)["dbname"]}_other"')
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO dumper")
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    monkeypatch.setenv("BACKUP_DATABASE_URL", database.replace("postgres@", "dumper@"))

    assert cli.main(["dump", "--to", "daily"]) == 0

    out = capsys.readouterr().out
    assert "pg_control_system() is not permitted for this user" in out, out
    (backup,) = vault.inventory(s3, bucket, ["daily"]).backups
    manifest = vault.manifest_of(s3, bucket, backup.key)
    assert manifest["source"]["system_identifier"] is None, manifest["source"]
    assert manifest["source"]["database"] == conninfo_to_dict(database)["dbname"]
    other = f"{database}_other"
    with pytest.raises(JobError, match="no manifest records the identity of production's database"):
        restore.restore(s3, bucket=bucket, key=backup.key, target_url=other)
    assert restore.restore(s3, bucket=bucket, key=backup.key, target_url=other, confirm_production=True).ok


def test_a_restore_through_a_network_that_stalls_fails_within_the_stall_limit(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    path = tmp_path / "database.dump"
    restore.fetch_verified(s3, bucket, key, path)
    monkeypatch.setenv(postgres.STALL_ENV, "1")
    with StallingProxy(pg_cluster.port, budget=800) as proxy:
        start = time.monotonic()
        with pytest.raises(JobError) as failed:
            restore.pg_restore(path, through(database, pg_cluster.port, proxy))
        elapsed = time.monotonic() - start

    assert str(failed.value).startswith("pg_restore stalled: it moved no data for 1 s"), failed.value
    assert proxy.stalled == 1, "the proxy never stalled pg_restore's connection"
    assert elapsed < 15, f"the stall took {elapsed:.0f} s to be noticed"
    assert fingerprint(database) == before, "a stalled restore left part of its work behind"


def test_the_restore_tests_streamed_load_through_a_network_that_stalls_fails_within_the_stall_limit(
    pg_cluster: postgres.Cluster, database: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    monkeypatch.setenv(postgres.STALL_ENV, "1")
    with (
        restore.streaming_verified(s3, bucket, key) as stream,
        StallingProxy(pg_cluster.port, budget=800) as proxy,
    ):
        head = restore.read_head(stream, tmp_path / "head.dump")
        start = time.monotonic()
        with pytest.raises(JobError) as failed:
            restore.load_streamed(stream, head, through(database, pg_cluster.port, proxy))
        elapsed = time.monotonic() - start

    assert str(failed.value).startswith("pg_restore stalled: it moved no data for 1 s"), failed.value
    assert proxy.stalled == 1, "the proxy never stalled the streamed pg_restore's connection"
    assert elapsed < 15, f"the stall took {elapsed:.0f} s to be noticed"
    assert fingerprint(database) == before, "a stalled streamed load left part of its work behind"


@pytest.fixture
def recording_pg_restore() -> Iterator[tuple[Path, Path]]:
    """A PG_BIN whose pg_restore writes its arguments to a log, then runs the real one; the other tools are real.

    In a directory the postgres account (initdb's user when run as root) may enter.
    """
    real = postgres.bin_dir()
    root = Path(tempfile.mkdtemp(prefix="pg-bin-"))
    root.chmod(0o755)
    wrapped, log = root / "bin", root / "pg_restore.log"
    wrapped.mkdir()
    for binary in real.iterdir():
        (wrapped / binary.name).symlink_to(binary)
    (wrapped / "pg_restore").unlink()
    (wrapped / "pg_restore").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real / "pg_restore"} "$@"\n')
    (wrapped / "pg_restore").chmod(0o755)
    yield wrapped, log
    shutil.rmtree(root, ignore_errors=True)


def test_the_restore_test_streams_its_data_builds_in_parallel_and_a_restore_into_a_target_is_one_transaction(
    database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, recording_pg_restore: tuple[Path, Path]
) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    wrapped, log = recording_pg_restore
    monkeypatch.setenv(postgres.PG_BIN.name, str(wrapped))

    tested = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)
    restore.restore(s3, bucket=bucket, key=key, target_url=database, confirm_production=True)

    assert tested.passed, tested.lines()
    *heads, streamed, post_data, listing, target = (line.split() for line in log.read_text().splitlines())
    assert listing[0] == "--list", f"the restore reads the dump's table of contents first: {listing}"
    assert heads, "the restore test never read the dump's table of contents"
    assert all(head[0] == "--list" for head in heads), heads
    assert not any(arg.endswith(".dump") for arg in streamed), f"the restore test's data is not streamed: {streamed}"
    assert {"--section=pre-data", "--section=data", "--single-transaction"} <= set(streamed), streamed
    assert f"--jobs={restore.cores()}" in post_data, f"the restore test's post-data is not parallel: {post_data}"
    assert "--section=post-data" in post_data, post_data
    assert "--single-transaction" not in post_data, post_data
    assert "--single-transaction" in target, f"a restore into a real target is not all or nothing: {target}"
    assert not any(flag.startswith("--jobs") for flag in target), target


def test_the_restore_tests_default_objective_is_the_databases_rto_as_the_reference_states_it() -> None:
    # deployment-and-infrastructure.md: rto.full_functionality '4 hours'; recoveryObjectives.database.rtoMinutes.
    default = cli.parser().parse_args(["restore-test", "--stack", "production"]).rto_minutes
    assert default == RecoveryObjectives().database.rto_minutes == 240, default


def test_a_schedule_given_twice_is_bad_input_and_writes_nothing(database: str, s3_server: S3Server) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)

    with pytest.raises(BadInputError, match="a schedule is given twice"):
        dump.dump(s3, database_url=database, bucket=bucket, destinations=[dump.Destination("daily")] * 2)

    assert leftovers(s3, bucket) == ([], []), "a refused dump wrote something"


# About 8 MiB of random bytes: data pg_dump cannot compress, so the dump is far bigger than its head.
NOISE = """
CREATE TABLE noise (id bigint PRIMARY KEY, bytes bytea NOT NULL);
INSERT INTO noise SELECT n, decode(md5(random()::text) || md5(random()::text), 'hex')
FROM generate_series(1, 250000) n;
"""


def seed_noise(url: str) -> None:
    seed(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(NOISE)


def test_the_restore_test_keeps_only_the_dumps_head_on_disk(
    database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_noise(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    workdirs: list[Path] = []
    real = interrupt.temporary_directory

    @contextlib.contextmanager
    def recorded(prefix: str) -> Iterator[Path]:
        with real(prefix) as path:
            workdirs.append(path)
            yield path

    monkeypatch.setattr(interrupt, "temporary_directory", recorded)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            for workdir in workdirs:
                with contextlib.suppress(OSError):
                    peak[0] = max(peak[0], sum(f.stat().st_size for f in workdir.iterdir()))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)
    finally:
        done.set()
        sampler.join()

    assert result.passed, result.lines()
    assert workdirs, "the restore test made no temporary directory"
    assert 0 < peak[0] <= restore.HEAD_STEP * 2, f"the restore test's temporary files reached {peak[0]} bytes"
    assert peak[0] < size / 10, f"the restore test kept {peak[0]} bytes of a {size}-byte dump on disk"


def test_a_byte_changed_in_the_middle_of_the_dump_fails_the_restore_test_on_its_checksum(
    database: str, aws_env: S3Server
) -> None:
    seed_noise(database)
    s3, bucket = aws_env.client(), aws_env.unversioned_bucket()
    (key,) = dump_daily(s3, bucket, database).keys
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    # Without versioning (a bucket that is not the vault's), an overwrite replaces the bytes the manifest describes.
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))

    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)

    assert not result.passed
    assert result.failure.startswith(f"checksum mismatch for {key}"), result.failure
