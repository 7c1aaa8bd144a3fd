"""The vault read by version against moto with versioning and Object Lock: restores read what the dump job wrote, a
backup that is not whole is a finding, and every run writes under a key of its own."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from boto3.s3.transfer import TransferConfig

from ops import cli, restore, vault
from ops.errors import BadInputError, JobError
from tests.ops_servers import S3Server
from tests.test_ops_backups import RESTORE_TEST_CHECKS, dump_daily, fingerprint, leftovers, seed

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def test_a_version_written_in_front_of_a_locked_backup_is_not_what_a_restore_reads(
    database: str, aws_env: S3Server
) -> None:
    before = seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    # The writer role's PutObject without If-None-Match (the bucket policy refuses it in AWS; moto does not apply
    # bucket policies): a dump and a manifest that agree with each other, in front of the locked pair.
    impostor = b"PGDMP an impostor"
    s3.put_object(Bucket=bucket, Key=key, Body=impostor, Metadata={"sha256": vault.sha256_bytes(impostor)})
    forged = {**vault.manifest_of(s3, bucket, key), "sha256": vault.sha256_bytes(impostor), "version_id": ""}
    s3.put_object(Bucket=bucket, Key=vault.manifest_key(key), Body=json.dumps(forged).encode())
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP TABLE vibelogs")

    restored = restore.restore(s3, bucket=bucket, key=key, target_url=database, confirm_production=True)

    assert restored.ok, [check for check in restored.checks if not check.ok]
    assert fingerprint(database) == before, f"{key}: the restore read the version in front of the locked one"
    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)
    # It restored and checked the locked version: reading the impostor, it would stop at the checksum, with no check.
    checked = (result.failure, [check.name for check in result.checks])
    assert checked == ("", RESTORE_TEST_CHECKS), f"{key}: the restore test did not restore the locked version"
    assert all(check.ok for check in result.checks), f"{key}: the restore test read a version not the locked one"
    assert not result.passed, "an overwritten newest backup must fail the restore test"
    assert any("dump has 2 versions" in line for line in result.findings), result.findings
    assert any("manifest has 2 versions" in line for line in result.findings), result.findings


def two_dumps(s3: S3Client, bucket: str, database: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """An older and a newer daily dump of the seeded database, an hour apart."""
    start = vault.now()
    monkeypatch.setattr(vault, "now", lambda: start - timedelta(hours=1))
    (older,) = dump_daily(s3, bucket, database).keys
    monkeypatch.setattr(vault, "now", lambda: start)
    (newer,) = dump_daily(s3, bucket, database).keys
    return older, newer


def test_a_manifest_hidden_behind_a_delete_marker_is_a_finding_for_list_and_the_restore_test(
    database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    older, newer = two_dumps(s3, bucket, database, monkeypatch)
    # Object Lock allows a DeleteObject without a version: it adds a delete marker and hides the manifest.
    s3.delete_object(Bucket=bucket, Key=vault.manifest_key(newer))
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)

    assert cli.main(["list"]) == 1, "a finding fails the listing"
    out = capsys.readouterr().out
    assert f"FINDING {newer}: its manifest is hidden behind a delete marker" in out, out
    assert older in out, out
    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)
    assert result.key == older, "the newest complete backup is the older one"
    checked = (result.failure, [check.name for check in result.checks])
    assert checked == ("", RESTORE_TEST_CHECKS), f"{older}: not restored and checked: {result.lines()}"
    assert all(check.ok for check in result.checks), result.lines()
    assert not result.passed, "the newest dump hidden from view must fail the restore test, not pass on an older one"
    assert "Restore test FAILED" in result.lines()[0]
    assert any(newer in line and "delete marker" in line for line in result.lines()), result.lines()


def test_a_dump_without_a_manifest_and_a_manifest_without_a_dump_are_findings(database: str, aws_env: S3Server) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (whole,) = dump_daily(s3, bucket, database).keys
    s3.put_object(Bucket=bucket, Key="daily/20200101T000000Z-1-1.dump", Body=b"PGDMP unfinished")
    s3.put_object(Bucket=bucket, Key="daily/20200102T000000Z-1-1.manifest.json", Body=b"{}")
    # A backup expired on schedule (a delete marker on both) is no finding.
    s3.put_object(Bucket=bucket, Key="daily/20200103T000000Z-1-1.dump", Body=b"PGDMP")
    s3.put_object(Bucket=bucket, Key="daily/20200103T000000Z-1-1.manifest.json", Body=b"{}")
    s3.delete_object(Bucket=bucket, Key="daily/20200103T000000Z-1-1.dump")
    s3.delete_object(Bucket=bucket, Key="daily/20200103T000000Z-1-1.manifest.json")

    found = vault.inventory(s3, bucket, ["daily"])

    assert [backup.key for backup in found.backups] == [whole]
    assert [(f.key, f.problem.split(":")[0]) for f in found.findings] == [
        ("daily/20200101T000000Z-1-1.dump", "a dump without a manifest"),
        ("daily/20200102T000000Z-1-1.dump", "a manifest without its dump"),
    ]
    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)
    assert result.passed, "findings older than the dump restored are reported, and do not fail the test"
    assert sum("older than the dump restored" in line for line in result.lines()) == 2, result.lines()


def test_each_run_writes_under_a_key_of_its_own_checked_before_pg_dump_starts(
    database: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    moment = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    monkeypatch.setattr(vault, "now", lambda: moment)
    monkeypatch.setenv("GITHUB_RUN_ID", "9876543210")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "1")

    (first,) = dump_daily(s3, bucket, database).keys
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    (second,) = dump_daily(s3, bucket, database).keys  # the same second, a re-run
    monkeypatch.delenv("GITHUB_RUN_ID")
    (by_hand,) = dump_daily(s3, bucket, database).keys

    assert (first, second) == ("daily/20261127T020000Z-9876543210-1.dump", "daily/20261127T020000Z-9876543210-2.dump")
    assert vault.DUMP_KEY.fullmatch(by_hand), by_hand
    assert by_hand not in (first, second), by_hand
    monkeypatch.setenv("GITHUB_RUN_ID", "9876543210")
    stored = leftovers(s3, bucket)
    # The same run again: refused before pg_dump runs (a missing pg_dump would say so otherwise), nothing written.
    with pytest.raises(JobError, match=f"s3://{bucket}/daily/20261127T020000Z-9876543210-2.dump exists already"):
        dump_daily(s3, bucket, database, pg_dump="/nonexistent/pg_dump")
    assert leftovers(s3, bucket) == stored
    monkeypatch.setenv("GITHUB_RUN_ID", "12; rm -rf")
    with pytest.raises(BadInputError, match="GITHUB_RUN_ID"):
        vault.run_id()


@pytest.mark.parametrize("schedule", vault.DATABASE_SCHEDULES)
def test_every_schedule_s_dump_key_carries_its_stamp(schedule: str) -> None:
    # The stamp orders a schedule's dumps (the previous dump the restore test compares with, the vault's newest
    # dump the production guard reads): a key whose stamp is not found sorts before every other.
    moment = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    for run in ("9876543210-1", "0a1b2c3d"):
        key = vault.dump_key(schedule, moment, run)
        assert vault.key_stamp(key) == "20261127T020000Z", f"{key}: no stamp read"


def test_a_backup_under_the_old_key_shape_is_listed_and_restored(database: str, aws_env: S3Server) -> None:
    before = seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (new,) = dump_daily(s3, bucket, database).keys
    old = "daily/20200101T020000Z.dump"  # written before keys named their run
    manifest = vault.manifest_of(s3, bucket, new)
    body = s3.get_object(Bucket=bucket, Key=new)["Body"].read()
    copied = s3.put_object(Bucket=bucket, Key=old, Body=body, Metadata={"sha256": vault.sha256_bytes(body)})
    s3.put_object(
        Bucket=bucket,
        Key=vault.manifest_key(old),
        Body=json.dumps({**manifest, "key": old, "version_id": copied["VersionId"]}).encode(),
    )
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM vibelogs")

    found = vault.inventory(s3, bucket, ["daily"])
    restored = restore.restore(s3, bucket=bucket, key=old, target_url=database, confirm_production=True)

    assert [backup.key for backup in found.backups] == [old, new], "oldest first, by the key's timestamp"
    assert not found.findings, found.findings
    assert restore.newest(s3, bucket, "daily")[0].key == new
    assert restored.ok, restored.checks
    assert fingerprint(database) == before


def test_a_streamed_download_in_the_jobs_ranges_arrives_whole_and_in_order(aws_env: S3Server) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    key = "daily/20261207T020000Z-1-2.dump"
    # Three of the job's ranges, the last a short one, fetched in parallel into the restore test's pipe.
    body = os.urandom(2 * vault.DOWNLOAD.multipart_chunksize + 1024 * 1024)
    version = s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
    gets: list[dict[str, Any]] = []
    s3.meta.events.register("before-call.s3.GetObject", lambda params, **_: gets.append(dict(params)))

    read = bytearray()
    with vault.streaming(s3, bucket, key, version_id=version) as (fd, fetched):
        while chunk := os.read(fd, 1024 * 1024):
            read += chunk
        result = fetched()

    assert read == body, f"{key}: the stream is not the object's bytes in order"
    assert result.sha256 == vault.sha256_bytes(body), f"{key}: the stream's checksum"
    ranges = sorted(get["headers"]["Range"] for get in gets if "Range" in get["headers"])
    assert len(ranges) == 3, f"{key}: expected three of the job's ranges, got {ranges}"
    # What s3transfer may hold for ranges that arrive ahead of the reader.
    held = vault.DOWNLOAD.max_in_memory_download_chunks * vault.DOWNLOAD.multipart_chunksize
    assert held <= 256 * 1024 * 1024, f"the download may hold {held} bytes ahead of the reader"


def test_a_ranged_parallel_download_reads_every_range_of_the_named_version(
    aws_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    key = "daily/20261207T020000Z-1-1.dump"
    # The job's ranges are 64 MiB: 8 MiB ones make a 20 MiB object several ranged GETs on parallel threads.
    monkeypatch.setattr(vault, "DOWNLOAD", TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4))
    written, newer = os.urandom(20 * 1024 * 1024), os.urandom(20 * 1024 * 1024)
    version = s3.put_object(Bucket=bucket, Key=key, Body=written)["VersionId"]
    s3.put_object(Bucket=bucket, Key=key, Body=newer)
    gets: list[dict[str, Any]] = []
    s3.meta.events.register("before-call.s3.GetObject", lambda params, **_: gets.append(dict(params)))

    fetched = vault.download(s3, bucket, key, tmp_path / "database.dump", version_id=version)

    assert fetched.sha256 == vault.sha256_bytes(written), f"{key}: the download is not the version named"
    assert (tmp_path / "database.dump").read_bytes() == written, f"{key}: the ranges were not written in order"
    ranged = [get for get in gets if "Range" in get["headers"]]
    assert len(ranged) > 1, f"{key}: expected parallel ranged GETs, got {len(gets)} GET(s)"
    unnamed = [get["headers"].get("Range") for get in gets if get["query_string"].get("versionId") != version]
    assert not unnamed, f"{key}: these GETs did not name the version {version}: {unnamed}"


@pytest.mark.usefixtures("aws_env")
def test_a_bucket_name_s3_cannot_take_says_why_in_its_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", "my bucket")

    assert cli.main(["list"]) == 1

    err = capsys.readouterr().err
    reason = 'Parameter validation failed: Invalid bucket name "my bucket"'
    assert err.startswith(f"error: cannot list the versions of s3://my bucket/daily/: {reason}"), f"no reason: {err}"
    assert err.count("\n") == 1, f"not one line: {err}"
