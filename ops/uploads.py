"""User content: the hourly copy of Supabase Storage into the uploads bucket (with a manifest per run), and its
restore from the upload backups, of a run or a point in time, with the weekly check that a sample restores whole.

The uploads bucket is replicated into the locked, 90-day upload backups; what the sync writes is what gets backed
up. It decides what is new by listing both sides, never by reading the backups.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from ops import vault
from ops.errors import BadInputError, JobError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

OBJECTS_PREFIX = "objects/"
MANIFESTS_PREFIX = "manifests/"
# Days before the retention ends at which an unchanged object is copied again: its backup would otherwise expire
# while the object still lives, and an incremental backup kept N days must always hold every live object.
REFRESH_MARGIN_DAYS = 7
# What Supabase Storage keeps of an upload besides its bytes (its `mimetype` and `cacheControl`), which browsers act
# on: copied with every object into the backups and back out of them on a restore. Without them S3 stores
# binary/octet-stream, and a restored recording or image is served as a download.
HEADERS = ("ContentType", "CacheControl")


def headers_of(response: Any) -> dict[str, str]:
    """The object's HEADERS, from a GetObject or HeadObject response: those it has."""
    return {name: str(response[name]) for name in HEADERS if response.get(name)}


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
    try:
        refresh_before = moment - timedelta(days=max(retention_days - REFRESH_MARGIN_DAYS, 1))
    except OverflowError:  # a retention reaching past year 1: no copy expires within the calendar, none is refreshed
        refresh_before = datetime.min.replace(tzinfo=UTC)
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
                got = source.get_object(Bucket=storage_bucket, Key=item.key)
                body = Hashing(got["Body"])
                # upload_fileobj streams in parts and aborts its multipart upload when a part fails.
                target.upload_fileobj(
                    body.as_file(),
                    bucket,
                    key,
                    ExtraArgs={
                        **headers_of(got),
                        "Metadata": {
                            "source-bucket": storage_bucket,
                            "source-last-modified": item.last_modified.isoformat(),
                        },
                    },
                )
            except vault.S3_ERRORS as error:
                raise JobError(f"cannot copy {storage_bucket}/{item.key}: {vault.reason(error)}") from None
            copied_bytes += item.size
            # The SHA-256 of the bytes copied: what a restore of this version is checked against (uploads-check).
            entries.append({"key": key, "size": item.size, "reason": decision, "sha256": body.hexdigest()})
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


class Hashing:
    """A readable stream that hashes what is read through it (SHA-256), so a copy is checksummed on the way."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        """Read and hash."""
        chunk: bytes = self._stream.read(size)
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def hexdigest(self) -> str:
        """Hex SHA-256 of everything read so far."""
        return self._digest.hexdigest()

    def as_file(self) -> IO[bytes]:
        """This stream where a file is expected: s3transfer only calls read()."""
        return cast("IO[bytes]", self)


# S3's bucket names: what `--to s3://NAME/prefix` may name (an ARN or an access point alias names a bucket by another
# name, so it cannot be told apart from the live one and is refused).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Where the weekly check restores its sample, in the uploads bucket; the replication carries objects/ and manifests/
# only, and each week's sample overwrites the last (older versions expire with the bucket's noncurrent rule).
CHECK_PREFIX = "restore-check/"


@dataclass(frozen=True)
class Location:
    """A bucket and a key prefix objects are restored under."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, text: str) -> Location:
        """`s3://bucket` or `s3://bucket/prefix/`; BadInputError for anything else."""
        bucket, _, prefix = text.removeprefix("s3://").partition("/")
        if (
            not text.startswith("s3://")
            or not BUCKET_NAME.fullmatch(bucket)
            or bucket.endswith(("-s3alias", "--ol-s3"))
        ):
            raise BadInputError(f"--to must be s3://BUCKET[/PREFIX] naming a bucket by its own name, not {text!r}")
        return cls(bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def refuse_live(into: Location, *, live_bucket: str, backup_bucket: str, confirm_production: bool) -> None:
    """JobError before anything is written if the target holds live data or backups.

    By identity: a bucket's name is its identity within the job's S3 endpoint (names are global and lowercase, and
    `Location.parse` refuses the aliases that would name it otherwise), and keys are literal strings, so a prefix
    is exactly where objects land. The upload backups are never a target; the uploads bucket (the live mirror the
    hourly sync writes, whose objects replicate into the backups) only under the check's scratch prefix, or with
    --confirm-production.
    """
    if into.bucket == backup_bucket:
        raise JobError(f"refusing to restore into {into}: it is the upload backups bucket itself")
    if into.bucket == live_bucket and not into.prefix.startswith(CHECK_PREFIX) and not confirm_production:
        raise JobError(
            f"refusing to restore into {into}: it is the live uploads bucket ($BACKUP_UPLOADS_BUCKET); "
            "add --confirm-production if you mean it"
        )


def run_moment(s3: S3Client, bucket: str, run: str) -> tuple[str, datetime]:
    """A run's manifest key and the moment it was written (the run's end); `run` is its key or its timestamp."""
    wanted = (run if run.startswith(MANIFESTS_PREFIX) else f"{MANIFESTS_PREFIX}{run}").removesuffix(".json")
    found = sorted(
        (key, first.last_modified)
        for key, versions in vault.list_versions(s3, bucket, wanted).items()
        if (first := vault.first_written(versions)) is not None
    )
    if len(found) != 1:
        problem = "no run" if not found else f"{len(found)} runs ({', '.join(key for key, _ in found)})"
        raise BadInputError(
            f"{problem} under s3://{bucket}/{wanted}: `python -m ops list --schedule uploads` lists them"
        )
    return found[0]


def as_of(s3: S3Client, bucket: str, moment: datetime, only: str = "") -> list[vault.Version]:
    """Each object's newest backed-up version written at or before `moment`, by key.

    Replication keeps a version's id and creation time, so the backups' times are the uploads bucket's. Deletions
    in Storage never reach the backups (delete-marker replication is off): an object deleted before `moment` comes
    back, unless its versions expired (90 days).
    """
    chosen = []
    for _key, versions in sorted(vault.list_versions(s3, bucket, OBJECTS_PREFIX + only).items()):
        held = [version for version in versions if not version.deleted and version.last_modified <= moment]
        if held:
            chosen.append(held[-1])  # stored versions are oldest first
    return chosen


@dataclass(frozen=True)
class Copied:
    """One version as a restore wrote it."""

    sha256: str
    headers: dict[str, str]
    """Its HEADERS, as the backup holds them and the copy was given."""


def copy_version(
    source: S3Client, bucket: str, version: vault.Version, *, target: S3Client, into: str, key: str
) -> Copied:
    """Stream one backed-up version into the target with its HEADERS (multipart when large, aborted on failure).

    Through the runner rather than CopyObject: the backups' key decrypts in the vault region only, and the bytes
    are hashed on the way. The sync's own metadata (where and when it copied from) stays in the backups.
    """
    try:
        got = source.get_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
        body = Hashing(got["Body"])
        target.upload_fileobj(body.as_file(), into, key, ExtraArgs=headers_of(got))
    except vault.S3_ERRORS as error:
        raise JobError(f"cannot restore {version.key} into s3://{into}/{key}: {vault.reason(error)}") from None
    return Copied(body.hexdigest(), headers_of(got))


@dataclass(frozen=True)
class Restored:
    """What a restore of uploads wrote."""

    moment: datetime
    """The point in time restored."""
    objects: int
    size: int


def restore(
    source: S3Client, target: S3Client, *, bucket: str, moment: datetime, into: Location, only: str = ""
) -> Restored:
    """Every object as the upload backups held it at `moment` (those whose `<bucket>/<key>` starts with `only`),
    into `into`: `objects/<bucket>/<key>` lands at `<prefix><bucket>/<key>`, the layout of Supabase Storage's
    buckets. The caller has refused live targets."""
    versions = as_of(source, bucket, moment, only)
    if not versions:
        raise JobError(
            f"the upload backups in s3://{bucket} hold no object{f' under {only}' if only else ''} "
            f"written by {moment.isoformat()}"
        )
    for version in versions:
        key = into.prefix + version.key.removeprefix(OBJECTS_PREFIX)
        copy_version(source, bucket, version, target=target, into=into.bucket, key=key)
    return Restored(moment, len(versions), sum(version.size for version in versions))


def sample(versions: Sequence[vault.Version], count: int) -> list[vault.Version]:
    """`count` objects spread evenly over the keys, and the largest (a multipart restore): the same for the same
    backups, so a failing check fails again when run again."""
    ordered = sorted(versions, key=lambda version: version.key)
    step = max(len(ordered) / max(count, 1), 1)
    picked = {ordered[int(index * step)].key: ordered[int(index * step)] for index in range(min(count, len(ordered)))}
    largest = max(ordered, key=lambda version: version.size)
    picked.setdefault(largest.key, largest)
    return sorted(picked.values(), key=lambda version: version.key)


def recorded_checksums(s3: S3Client, bucket: str, versions: Sequence[vault.Version]) -> dict[str, str]:
    """The SHA-256 the sync recorded for each version (`<key> <version id>`): from the manifest of the run that
    copied it, the first one written after it (a run writes its manifest last, within the hour)."""
    manifests = sorted(
        (version.last_modified, key, version.version_id)
        for key, versions_of in vault.list_versions(s3, bucket, MANIFESTS_PREFIX).items()
        if (version := vault.first_written(versions_of)) is not None
    )
    loaded: dict[str, dict[str, str]] = {}
    found: dict[str, str] = {}
    for version in versions:
        for written, key, manifest_version in manifests:
            if written < version.last_modified:
                continue
            if key not in loaded:
                copied = vault.get_json(s3, bucket, key, manifest_version).get("copied", [])
                loaded[key] = {str(e.get("key")): str(e.get("sha256", "")) for e in copied if isinstance(e, dict)}
            if version.key in loaded[key]:
                found[f"{version.key} {version.version_id}"] = loaded[key][version.key]
                break
            if written > version.last_modified + timedelta(hours=2):
                break
    return found


@dataclass(frozen=True)
class Checked:
    """One sampled object of the weekly check."""

    key: str
    size: int
    ok: bool
    detail: str


def check(
    source: S3Client, target: S3Client, *, bucket: str, scratch: Location, count: int, moment: datetime
) -> list[Checked]:
    """Restore a sample of the upload backups into the scratch prefix and compare each object's SHA-256: the bytes
    read from the backups, the bytes read back from the restored copy, and what the sync recorded when it copied."""
    versions = as_of(source, bucket, moment)
    if not versions:
        raise JobError(f"the upload backups in s3://{bucket} hold no object")
    chosen = sample(versions, count)
    recorded = recorded_checksums(source, bucket, chosen)
    results = []
    for index, version in enumerate(chosen):
        key = f"{scratch.prefix}sample-{index:03d}"
        copied = copy_version(source, bucket, version, target=target, into=scratch.bucket, key=key)
        sent = copied.sha256
        try:
            read = target.get_object(Bucket=scratch.bucket, Key=key)
            back = Hashing(read["Body"])
            while back.read(1024 * 1024):
                pass
        except vault.S3_ERRORS as error:
            raise JobError(f"cannot read back s3://{scratch.bucket}/{key}: {vault.reason(error)}") from None
        expected = recorded.get(f"{version.key} {version.version_id}", "")
        lost = [name for name, value in copied.headers.items() if headers_of(read).get(name) != value]
        ok = back.hexdigest() == sent and (not expected or expected == sent) and back.size == version.size and not lost
        if not expected:
            record = "no checksum recorded (copied before runs recorded them)"
        else:
            record = "as the sync recorded" if expected == sent else "differs from the sync's record"
        readback = "" if back.hexdigest() == sent else "; the restored copy reads back differently"
        kept = f"; the restored copy lost its {', '.join(lost)}" if lost else ""
        detail = f"{version.size} bytes, sha256 {sent[:12]}... {record}{readback}{kept}"
        results.append(Checked(version.key, version.size, ok, detail))
    return results
