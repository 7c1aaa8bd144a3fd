"""The user-content job against S3 servers: only new or changed objects, a manifest per run, nothing left to expire."""

from __future__ import annotations

from datetime import timedelta

from ops import uploads, vault
from tests.ops_servers import S3Server


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
