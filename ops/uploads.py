"""The user-content job: copy new and changed objects of Supabase Storage into the uploads bucket, with a manifest.

The uploads bucket is replicated into the locked, 90-day upload backups; what this job writes is what gets backed
up. It decides what is new by listing both sides, never by reading the backups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ops import vault
from ops.errors import JobError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

OBJECTS_PREFIX = "objects/"
MANIFESTS_PREFIX = "manifests/"
# Days before the retention ends at which an unchanged object is copied again: its backup would otherwise expire
# while the object still lives, and an incremental backup kept N days must always hold every live object.
REFRESH_MARGIN_DAYS = 7


@dataclass(frozen=True)
class SyncResult:
    """What one run did."""

    manifest_key: str
    copied: int
    refreshed: int
    unchanged: int
    copied_bytes: int


def _decide(source: vault.Listed, mirrored: vault.Listed | None, refresh_before: datetime) -> str:
    """new, changed, refresh (its backup would soon expire) or unchanged."""
    if mirrored is None:
        return "new"
    if source.size != mirrored.size or source.last_modified > mirrored.last_modified:
        return "changed"
    if mirrored.last_modified < refresh_before:
        return "refresh"
    return "unchanged"


def sync(
    source: S3Client,
    target: S3Client,
    *,
    bucket: str,
    retention_days: int,
    now: datetime | None = None,
    storage_buckets: Sequence[str] | None = None,
) -> SyncResult:
    """Copy every new or changed object of the Storage buckets (all by default) to `objects/<bucket>/<key>`."""
    moment = now or vault.now()
    refresh_before = moment - timedelta(days=max(retention_days - REFRESH_MARGIN_DAYS, 1))
    mirror = {item.key: item for item in vault.list_objects(target, bucket, OBJECTS_PREFIX)}
    if storage_buckets is None:
        try:
            storage_buckets = [entry["Name"] for entry in source.list_buckets().get("Buckets", [])]
        except (ClientError, BotoCoreError) as error:
            raise JobError(f"cannot list the Supabase Storage buckets: {vault.reason(error)}") from None
    entries: list[dict[str, object]] = []
    counts = {"new": 0, "changed": 0, "refresh": 0, "unchanged": 0}
    copied_bytes = 0
    for storage_bucket in sorted(storage_buckets):
        for item in vault.list_objects(source, storage_bucket, ""):
            key = f"{OBJECTS_PREFIX}{storage_bucket}/{item.key}"
            decision = _decide(item, mirror.get(key), refresh_before)
            counts[decision] += 1
            if decision == "unchanged":
                continue
            try:
                body = source.get_object(Bucket=storage_bucket, Key=item.key)["Body"]
                # upload_fileobj streams in parts and aborts its multipart upload when a part fails.
                target.upload_fileobj(
                    body,
                    bucket,
                    key,
                    ExtraArgs={
                        "Metadata": {
                            "source-bucket": storage_bucket,
                            "source-last-modified": item.last_modified.isoformat(),
                        }
                    },
                )
            except vault.S3_ERRORS as error:
                raise JobError(f"cannot copy {storage_bucket}/{item.key}: {vault.reason(error)}") from None
            copied_bytes += item.size
            entries.append({"key": key, "size": item.size, "reason": decision})
    manifest_key = f"{MANIFESTS_PREFIX}{vault.stamp(moment)}-{vault.run_id()}.json"
    vault.put_json(
        target,
        bucket,
        manifest_key,
        {
            "run": moment.isoformat(),
            "buckets": sorted(storage_buckets),
            "counts": counts,
            "copied_bytes": copied_bytes,
            "copied": entries,
        },
    )
    return SyncResult(
        manifest_key, counts["new"] + counts["changed"], counts["refresh"], counts["unchanged"], copied_bytes
    )
