"""The backup jobs end to end against a real PostgreSQL server and an S3 server enforcing versioning and Object Lock."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from psycopg.conninfo import make_conninfo

from ops import cli, dump, restore, vault
from ops.errors import JobError
from tests.ops_servers import S3Server

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


def test_dump_writes_checksummed_dump_and_manifest_of_the_snapshot(database: str, s3_server: S3Server) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)

    result = dump_daily(s3, bucket, database)

    (key,) = result.keys
    assert key.startswith("daily/"), key
    assert key.endswith(".dump"), key
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"]["sha256"] == result.sha256, f"{key}: metadata checksum"
    assert head["Metadata"]["size-bytes"] == str(head["ContentLength"]), f"{key}: metadata size"
    assert head["Metadata"]["server-version"].startswith("15"), f"{key}: source server version"
    assert head["ObjectLockMode"] == "COMPLIANCE", f"{key} is not locked"
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))
    assert manifest["row_counts"] == {"public.users": 200, "public.vibelogs": 3000}
    assert manifest["sha256"] == result.sha256


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


def test_restore_over_the_source_or_production_is_refused_without_confirmation(
    database: str, s3_server: S3Server
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP TABLE vibelogs")

    with pytest.raises(JobError, match=r"refusing to restore over production .*--confirm-production"):
        restore.restore(s3, bucket=bucket, key=key, target_url=database)

    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.vibelogs')").fetchone() == (None,), "nothing was restored"
    ref = restore.production_project_ref()
    assert ref == "vibelog-production", "the production Supabase project is read from Pulumi.production.yaml"
    manifest = {"source_host": "elsewhere"}
    direct = f"postgresql://postgres:pw@db.{ref}.supabase.co:5432/postgres"
    pooled = f"postgresql://postgres.{ref}:pw@aws-0-us-east-1.pooler.supabase.com:5432/postgres"
    staging = "postgresql://postgres:pw@db.vibelog-staging.supabase.co:5432/postgres"
    assert restore.production_reason(direct, manifest, ref) is not None
    assert restore.production_reason(pooled, manifest, ref) is not None
    assert restore.production_reason(staging, manifest, ref) is None


def failing_pg_dump(tmp_path: Path) -> str:
    """A pg_dump that writes half a dump and then dies, as one killed mid-way would."""
    script = tmp_path / "pg_dump"
    script.write_text(
        '#!/bin/sh\nfor a; do case "$a" in --file=*) f="${a#--file=}";; esac; done\n'
        'head -c 300000 /dev/urandom > "$f"\necho "pg_dump: error: connection lost" >&2\nexit 1\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_a_dump_failing_half_way_leaves_no_object(database: str, s3_server: S3Server, tmp_path: Path) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)

    with pytest.raises(JobError, match=r"^pg_dump failed \(exit 1\): pg_dump: error: connection lost$"):
        dump_daily(s3, bucket, database, pg_dump=failing_pg_dump(tmp_path))

    assert leftovers(s3, bucket) == ([], []), "a failed dump left an object or an upload behind"


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


def test_restore_test_passes_and_reports_rpo_and_rto(database: str, aws_env: S3Server) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    dump_daily(s3, bucket, database)

    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)

    assert result.passed, result.lines()
    assert [check.name for check in result.checks] == ["row counts", "constraints", "app query"]
    assert result.dump_age_hours < 1
    assert "RTO achieved: fetched, verified and restored in" in result.markdown()
    assert "RPO achieved: the dump was 0.0 h old" in result.markdown()


def test_a_checksum_mismatch_fails_the_restore_test(database: str, aws_env: S3Server) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    # A new version in front of the locked dump (someone with PutObject, or corruption): its bytes differ.
    s3.put_object(Bucket=bucket, Key=key, Body=b"PGDMP not the dump that was written")

    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)

    assert not result.passed
    assert result.failure.startswith(f"checksum mismatch for {key}"), result.failure


def test_restore_test_fails_when_rows_differ_from_the_manifest(database: str, aws_env: S3Server) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM vibelogs WHERE id > 2990")
    checks = restore.check(database, manifest)

    assert [check.name for check in checks if not check.ok] == ["row counts"]


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
    assert re.search(r"^daily +[0-9.]+h +[0-9]+ +STANDARD +daily/[0-9TZ]+\.dump$", out, re.MULTILINE), out

    secret_url = database.replace("postgres@", "postgres:s3cr3t-password@").replace("127.0.0.1:", "127.0.0.1:1")
    monkeypatch.setenv("BACKUP_DATABASE_URL", secret_url)
    assert cli.main(["dump", "--to", "daily"]) == 1
    captured = capsys.readouterr()
    assert "s3cr3t-password" not in captured.out + captured.err
    assert captured.err.startswith("error: cannot connect to the source database")
    assert captured.err.count("\n") == 1, "the reason is one line"


def test_the_runbooks_restore_goes_beside_the_live_database_and_leaves_it_as_it_was(
    database: str, s3_server: S3Server
) -> None:
    before = seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE users SET email = 'x' || email WHERE id < 50")
    corrupted = fingerprint(database)

    with pytest.raises(JobError, match=r"refusing to restore next to production .*--confirm-production"):
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
