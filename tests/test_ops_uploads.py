"""The user-content jobs against S3 servers: only new or changed objects, a manifest per run, nothing left to expire;
restores of a run or a point in time, object for object, and the weekly check of a sample with the largest."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from ops import cli, uploads, vault
from ops.errors import BadInputError, JobError
from settings.base import S3_DAYS_MAX
from tests.ops_servers import S3Server

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def storage_with(s3_server: S3Server, objects: dict[str, bytes]) -> str:
    """A stand-in Supabase Storage bucket holding `objects`."""
    bucket = s3_server.bucket(locked=False)
    s3 = s3_server.client()
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


def test_only_new_or_changed_objects_are_copied_and_each_run_writes_a_manifest(s3_server: S3Server) -> None:
    source, target = s3_server.client(), s3_server.client()
    mirror = s3_server.bucket(locked=False)
    storage = storage_with(s3_server, {"user-1/a.webm": b"a" * 1000, "user-2/b.webm": b"b" * 10})
    start = vault.now()

    first = uploads.sync(source, target, bucket=mirror, retention_days=90, now=start, storage_buckets=[storage])
    source.put_object(Bucket=storage, Key="user-1/a.webm", Body=b"changed")
    source.put_object(Bucket=storage, Key="user-3/c.webm", Body=b"new")
    second = uploads.sync(
        source, target, bucket=mirror, retention_days=90, now=start + timedelta(hours=1), storage_buckets=[storage]
    )

    assert (first.copied, first.unchanged) == (2, 0)
    assert (second.copied, second.unchanged, second.refreshed) == (2, 1, 0)
    copied = vault.get_json(target, mirror, second.manifest_key)["copied"]
    assert sorted(entry["key"] for entry in copied) == [
        f"objects/{storage}/user-1/a.webm",
        f"objects/{storage}/user-3/c.webm",
    ]
    body = target.get_object(Bucket=mirror, Key=f"objects/{storage}/user-1/a.webm")["Body"].read()
    assert body == b"changed"
    manifests = [item.key for item in vault.list_objects(target, mirror, uploads.MANIFESTS_PREFIX)]
    assert manifests == sorted([first.manifest_key, second.manifest_key]), "one manifest per run"


def test_an_unchanged_object_is_copied_again_before_its_backup_would_expire(s3_server: S3Server) -> None:
    source, target = s3_server.client(), s3_server.client()
    mirror = s3_server.bucket(locked=False)
    storage = [storage_with(s3_server, {"user-1/a.webm": b"a"})]
    uploads.sync(source, target, bucket=mirror, retention_days=90, storage_buckets=storage)

    later = vault.now() + timedelta(days=90 - uploads.REFRESH_MARGIN_DAYS + 1)
    result = uploads.sync(source, target, bucket=mirror, retention_days=90, now=later, storage_buckets=storage)

    assert (result.copied, result.refreshed) == (0, 1), "a 90-day backup would have expired while the object lives"


def test_the_longest_retention_the_settings_allow_refreshes_nothing_and_fails_nothing(s3_server: S3Server) -> None:
    source, target = s3_server.client(), s3_server.client()
    mirror = s3_server.bucket(locked=False)
    storage = [storage_with(s3_server, {"user-1/a.webm": b"a"})]
    uploads.sync(source, target, bucket=mirror, retention_days=S3_DAYS_MAX, storage_buckets=storage)

    # More days than the calendar holds before now: no copy expires while the object lives.
    later = vault.now() + timedelta(days=3650)
    result = uploads.sync(source, target, bucket=mirror, retention_days=S3_DAYS_MAX, now=later, storage_buckets=storage)

    assert (result.copied, result.refreshed, result.unchanged) == (0, 0, 1)


class Generated:
    """`size` pseudo-random bytes, produced as they are read (a 100 MB object never sits whole in the test)."""

    def __init__(self, size: int, seed: bytes) -> None:
        self.left, self.block, self.digest = size, hashlib.sha256(seed).digest() * 32768, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        chunk = (self.block * (size // len(self.block) + 1))[:size]
        self.block = hashlib.sha256(self.block[:64]).digest() * 32768  # the next block differs
        self.left -= len(chunk)
        self.digest.update(chunk)
        return chunk


BIG = 101 * 1024 * 1024
# What Supabase Storage gives each upload besides its bytes: a recording's type and the cache time it was uploaded with.
TYPE, CACHE = "audio/webm", "max-age=3600"
HEADERS = {"ContentType": TYPE, "CacheControl": CACHE}


@pytest.fixture(scope="module")
def backed_up(s3_server: S3Server) -> Iterator[tuple[S3Server, str, dict[str, str], list[str]]]:
    """Upload backups of 200 small objects and one over 100 MB, written by two sync runs (as replication would copy
    them, with their times): the backups bucket, the SHA-256 of every object's latest content, the run manifests."""
    s3 = s3_server.client()
    storage, backups = s3_server.bucket(locked=False), s3_server.bucket(locked=False)
    sums: dict[str, str] = {}
    for index in range(200):
        body = f"recording {index}".encode() * (1 + index % 7)
        s3.put_object(
            Bucket=storage, Key=f"user-{index % 40}/clip-{index}.webm", Body=body, ContentType=TYPE, CacheControl=CACHE
        )
        sums[f"{storage}/user-{index % 40}/clip-{index}.webm"] = hashlib.sha256(body).hexdigest()
    big = Generated(BIG, b"big")
    s3.upload_fileobj(big, storage, "user-1/long-session.webm", ExtraArgs=HEADERS)  # type: ignore[arg-type]
    sums[f"{storage}/user-1/long-session.webm"] = big.digest.hexdigest()
    first = uploads.sync(s3, s3, bucket=backups, retention_days=90, storage_buckets=[storage])
    time.sleep(1.1)  # S3 times are to the second: the second run's versions are later than the first's manifest
    s3.put_object(
        Bucket=storage,
        Key="user-0/clip-0.webm",
        Body=b"changed after the first run",
        ContentType=TYPE,
        CacheControl=CACHE,
    )
    sums[f"{storage}/user-0/clip-0.webm"] = hashlib.sha256(b"changed after the first run").hexdigest()
    second = uploads.sync(s3, s3, bucket=backups, retention_days=90, storage_buckets=[storage])
    try:
        yield s3_server, backups, sums, [first.manifest_key, second.manifest_key]
    finally:  # moto keeps objects in memory for the session
        for bucket in (storage, backups):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
                if doomed:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})  # type: ignore[typeddict-item]


def restored_sums(s3: S3Client, bucket: str, prefix: str) -> dict[str, str]:
    found = {}
    for item in vault.list_objects(s3, bucket, prefix):
        body = uploads.Hashing(s3.get_object(Bucket=bucket, Key=item.key)["Body"])
        while body.read(8 * 1024 * 1024):
            pass
        found[item.key.removeprefix(prefix)] = body.hexdigest()
    return found


def test_uploads_restore_as_a_run_left_them_or_at_a_point_in_time_object_for_object(
    backed_up: tuple[S3Server, str, dict[str, str], list[str]],
) -> None:
    server, backups, sums, (first_run, second_run) = backed_up
    s3, target = server.client(), server.bucket(locked=False)
    storage = next(iter(sums)).split("/", 1)[0]
    changed = f"{storage}/user-0/clip-0.webm"

    run, moment = uploads.run_moment(s3, backups, first_run.removeprefix(uploads.MANIFESTS_PREFIX)[:16])
    at_first = uploads.restore(s3, s3, bucket=backups, moment=moment, into=uploads.Location(target, "first/"))
    latest = uploads.restore(
        s3, s3, bucket=backups, moment=vault.now(), into=uploads.Location(target, "now/"), only=f"{storage}/user-0/"
    )

    assert run == first_run, "a run is named by its timestamp"
    assert at_first.objects == len(sums), "every object the first run left"
    then = restored_sums(s3, target, "first/")
    assert then.keys() == sums.keys()
    differing = [key for key in sums if then[key] != sums[key]]
    assert differing == [changed], f"only {changed} changed after the first run; these differ: {differing}"
    now = restored_sums(s3, target, "now/")
    assert latest.objects == len(now) == len([key for key in sums if key.startswith(f"{storage}/user-0/")])
    assert now[changed] == sums[changed], f"{changed}: the latest restore holds the first run's version"
    assert second_run > first_run
    for prefix, key in (("first/", changed), ("first/", f"{storage}/user-1/long-session.webm"), ("now/", changed)):
        restored = s3.head_object(Bucket=target, Key=prefix + key)
        kept = {name: restored.get(name) for name in HEADERS}
        assert kept == HEADERS, f"{prefix}{key}: restored without the upload's own headers (served as a download)"


def test_the_weekly_check_restores_a_sample_with_the_largest_and_compares_checksums(
    backed_up: tuple[S3Server, str, dict[str, str], list[str]],
) -> None:
    server, backups, _, _ = backed_up
    s3, live = server.client(), server.bucket(locked=False)
    scratch = uploads.Location(live, uploads.CHECK_PREFIX)

    checked = uploads.check(s3, s3, bucket=backups, scratch=scratch, count=20, moment=vault.now())

    assert all(each.ok for each in checked), [each for each in checked if not each.ok]
    assert 20 <= len(checked) <= 21
    assert max(each.size for each in checked) == BIG, "the largest object (a multipart restore) is in the sample"
    assert all("as the sync recorded" in each.detail for each in checked), [each.detail for each in checked]
    assert [item.key for item in vault.list_objects(s3, live, "")] == [
        f"{uploads.CHECK_PREFIX}sample-{index:03d}" for index in range(len(checked))
    ], "the check writes its scratch prefix only"


def test_a_restored_copy_that_differs_from_the_syncs_record_fails_the_check(
    backed_up: tuple[S3Server, str, dict[str, str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, backups, _, _ = backed_up
    s3 = server.client()
    real = uploads.recorded_checksums

    def one_record_differs(*args: Any) -> dict[str, str]:
        records = real(*args)
        first = min(records)
        return {**records, first: "0" * 64}

    monkeypatch.setattr(uploads, "recorded_checksums", one_record_differs)
    scratch = uploads.Location(server.bucket(locked=False), uploads.CHECK_PREFIX)

    checked = uploads.check(s3, s3, bucket=backups, scratch=scratch, count=3, moment=vault.now())

    failed = [each for each in checked if not each.ok]
    assert [each.key for each in failed] == [checked[0].key], [each.key for each in failed]
    assert "differs from the sync's record" in failed[0].detail


def test_a_restored_copy_without_the_uploads_content_type_fails_the_check(
    backed_up: tuple[S3Server, str, dict[str, str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, backups, _, _ = backed_up
    s3 = server.client()
    real = s3.upload_fileobj

    def without_headers(body: Any, bucket: str, key: str, **_: Any) -> None:
        real(body, bucket, key)  # ExtraArgs (the headers) dropped

    monkeypatch.setattr(s3, "upload_fileobj", without_headers)
    scratch = uploads.Location(server.bucket(locked=False), uploads.CHECK_PREFIX)

    checked = uploads.check(s3, s3, bucket=backups, scratch=scratch, count=3, moment=vault.now())

    assert checked, "the check restored no sample"
    assert not [each for each in checked if each.ok], [each.detail for each in checked]
    assert all("lost its ContentType, CacheControl" in each.detail for each in checked), [e.detail for e in checked]


@pytest.mark.parametrize(
    ("to", "confirm", "refusal"),
    [
        ("s3://{live}", False, "it is the live uploads bucket"),
        ("s3://{live}/objects/", False, "it is the live uploads bucket"),
        ("s3://{live}/restore-check", True, None),
        ("s3://{live}/objects/", True, None),
        ("s3://{backups}/restored/", True, "it is the upload backups bucket itself"),
        ("s3://scratch-bucket/x/", False, None),
    ],
)
def test_the_live_bucket_is_refused_unless_confirmed_and_the_backups_always(
    to: str, confirm: bool, refusal: str | None
) -> None:
    into = uploads.Location.parse(to.format(live="vibelog-uploads", backups="vibelog-upload-backups"))
    refuse = functools.partial(
        uploads.refuse_live, into, live_bucket="vibelog-uploads", backup_bucket="vibelog-upload-backups"
    )
    if refusal is None:
        refuse(confirm_production=confirm)
    else:
        with pytest.raises(JobError, match=refusal):
            refuse(confirm_production=confirm)


@pytest.mark.parametrize(
    "to",
    [
        "vibelog-uploads",
        "s3://Vibelog-Uploads/",
        "s3://vibelog-uploads-abc123-s3alias/",
        "arn:aws:s3:::vibelog-uploads",
    ],
)
def test_a_target_not_named_by_its_own_bucket_name_is_bad_input(to: str) -> None:
    with pytest.raises(BadInputError, match="--to must be"):
        uploads.Location.parse(to)


def restore_uploads_env(monkeypatch: pytest.MonkeyPatch, backups: str, live: str) -> None:
    """The environment `restore-uploads` reads: the upload backups, the live bucket it refuses, their region."""
    monkeypatch.setenv("BACKUP_UPLOADS_BACKUP_BUCKET", backups)
    monkeypatch.setenv("BACKUP_UPLOADS_BUCKET", live)
    monkeypatch.setenv("BACKUP_UPLOADS_REGION", "us-west-2")


def test_restore_uploads_into_the_live_bucket_is_refused_before_anything_is_written(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = aws_env.client()
    storage, backups, live = (aws_env.bucket(locked=False) for _ in range(3))
    s3.put_object(Bucket=storage, Key="user-1/a.webm", Body=b"a")
    uploads.sync(s3, s3, bucket=backups, retention_days=90, storage_buckets=[storage])
    restore_uploads_env(monkeypatch, backups, live)
    at = ["--at", vault.now().isoformat()]

    assert cli.main(["restore-uploads", *at, "--to", f"s3://{live}/objects/"]) == 1
    assert "it is the live uploads bucket" in capsys.readouterr().err
    assert not list(vault.list_objects(s3, live, "")), "a refused restore wrote into the live bucket"
    assert cli.main(["restore-uploads", "--at", "yesterday", "--to", f"s3://{live}/x/"]) == 2
    assert (
        capsys.readouterr().err
        == "error: --at must be an ISO 8601 time with its zone (2026-11-27T02:00:00Z), not 'yesterday'\n"
    )
    assert cli.main(["restore-uploads", *at, "--to", f"s3://{live}/objects/", "--confirm-production"]) == 0
    assert [item.key for item in vault.list_objects(s3, live, "")] == [f"objects/{storage}/user-1/a.webm"]


def test_restore_uploads_of_a_run_named_on_the_command_line_restores_what_it_left(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = aws_env.client()
    storage, backups, target = (aws_env.bucket(locked=False) for _ in range(3))
    s3.put_object(Bucket=storage, Key="user-1/a.webm", Body=b"a")
    run = uploads.sync(s3, s3, bucket=backups, retention_days=90, storage_buckets=[storage]).manifest_key
    restore_uploads_env(monkeypatch, backups, storage)
    stamp = run.removeprefix(uploads.MANIFESTS_PREFIX)[:16]

    code = cli.main(["restore-uploads", "--run", stamp, "--to", f"s3://{target}/restored/"])

    out, err = capsys.readouterr()
    assert code == 0, f"restore-uploads --run {stamp}: exit {code}: {err}"
    assert out.startswith(f"run {run}: restoring the uploads as they were when it ended"), out
    restored = [item.key for item in vault.list_objects(s3, target, "")]
    assert restored == [f"restored/{storage}/user-1/a.webm"], f"--run {stamp} restored {restored}"
    assert cli.main(["restore-uploads", "--run", "20200101T000000Z", "--to", f"s3://{target}/x/"]) == 2
    assert capsys.readouterr().err.startswith("error: no run under "), "an unknown run is bad input"
