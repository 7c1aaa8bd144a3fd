"""The backup vault from the jobs' side: where each backup lands, uploads that leave nothing half-written, reads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import boto3
from boto3.exceptions import Boto3Error, RetriesExceededError
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, InvalidRegionError, ReadTimeoutError
from s3transfer.exceptions import RetriesExceededError as TransferRetriesExceededError
from s3transfer.futures import TransferFuture
from s3transfer.subscribers import BaseSubscriber

from ops import environment, postgres
from ops.environment import Variable
from ops.errors import BadInputError, JobError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

# The database dumps' schedules, each a key prefix of the database bucket with its own lifecycle rule
# (components/backup_vault.py); pre-migration is the dump the migrate workflow takes before a migration.
DATABASE_SCHEDULES = ("daily", "weekly", "yearly", "pre-migration")
DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
# S3's smallest multipart part (except the last); 16 MiB keeps a 10 GB dump far below the 10,000-part limit.
PART_SIZE = 16 * 1024 * 1024
# How a dump is fetched: in 64 MiB ranges, four at a time. A restore reads it in order (into pg_restore's pipe, or a
# file hashed on the way), so more ranges in flight would only buffer more: four keep a network with per-connection
# limits busy. The writer is not seekable, so s3transfer holds ranges that arrive ahead of their turn in memory, up
# to `max_in_memory_download_chunks` of them (10 by default; boto3's constructor does not take it): four ranges,
# 256 MiB, at most. A 10 GB dump is 160 GETs, not boto3's default 1,280 of 8 MiB; moto reads the whole object for
# each ranged GET, so in the benchmark this is what makes its fetch of a 550 MB dump take seconds rather than most
# of a raw restore (docs/backups.md, "Measured RPO and RTO").
DOWNLOAD = TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)
DOWNLOAD.max_in_memory_download_chunks = 4
STAMP = "%Y%m%dT%H%M%SZ"
# Classes S3 serves only after a RestoreObject (GLACIER_IR is read directly).
ARCHIVED_CLASSES = ("GLACIER", "DEEP_ARCHIVE")


def client_config() -> Config:
    """Every AWS client's timeouts: a bounded connect, and no socket read or write waiting past the stall limit.

    A read timeout is botocore's own stall detector: it fires when no byte has moved for that long, however big the
    transfer. Three attempts each (standard retries); a download's stalled body is tried again by s3transfer up to
    5 times, so a transfer that stalls for good fails within about 5 stall limits.
    """
    return Config(
        connect_timeout=int(postgres.TIMEOUTS["connect_timeout"]),
        read_timeout=postgres.stall_seconds(),
        retries={"max_attempts": 3, "mode": "standard"},
    )


@contextmanager
def region(variable: str) -> Iterator[str]:
    """The AWS region a variable holds, for the client made in the `with`: a value botocore refuses as a region
    name is bad input naming the variable (exit 2), like a missing one."""
    name = environment.value(variable)
    try:
        yield name
    except InvalidRegionError:
        raise BadInputError(f"${variable}: {name!r} is not an AWS region name (like us-east-1)") from None


def client(region_variable: str = "BACKUP_VAULT_REGION") -> S3Client:
    """S3 in the vault's region (or the region the variable named holds) with the job's own credentials (the role
    assumed through OIDC). AWS_ENDPOINT_URL_S3, which boto3 reads itself, points it at a stand-in S3 in tests."""
    with region(region_variable) as name:
        return boto3.client("s3", region_name=name, config=client_config())


def stamp(moment: datetime) -> str:
    """The UTC timestamp in backup keys; it sorts as it reads."""
    return moment.astimezone(UTC).strftime(STAMP)


# The run a key names, so two runs started in the same second never share a key (docs/backups.md, key format).
RUN_ENV = (
    Variable(
        "GITHUB_RUN_ID", "the workflow run, named in every key the job writes (else a random suffix)", required=False
    ),
    Variable(
        "GITHUB_RUN_ATTEMPT", "the run's attempt, named in every key the job writes beside the run", required=False
    ),
)
# `<schedule>/<stamp>-<run>.dump`; keys written before runs were named have no `-<run>` and are read all the same.
DUMP_KEY = re.compile(r"(?P<schedule>[a-z]+(?:-[a-z]+)*)/(?P<stamp>[0-9]{8}T[0-9]{6}Z)(?:-(?P<run>[0-9a-z-]+))?\.dump")


def run_id() -> str:
    """`<run id>-<attempt>` of the GitHub Actions run, else 8 random hex digits (a job started by hand)."""
    run, attempt = os.environ.get("GITHUB_RUN_ID", ""), os.environ.get("GITHUB_RUN_ATTEMPT", "") or "1"
    if not run:
        return secrets.token_hex(4)
    if not (run.isascii() and run.isdigit() and attempt.isascii() and attempt.isdigit()):
        raise BadInputError("$GITHUB_RUN_ID and $GITHUB_RUN_ATTEMPT must be whole numbers (GitHub Actions sets them)")
    return f"{run}-{attempt}"


def dump_key(schedule: str, moment: datetime, run: str) -> str:
    """Key of a dump: `<schedule>/<UTC timestamp>-<run>.dump` (the lifecycle rules match the schedule's prefix)."""
    return f"{schedule}/{stamp(moment)}-{run}{DUMP_SUFFIX}"


def key_stamp(key: str) -> str:
    """The UTC timestamp a dump's key starts with, or "" for a key no dump job wrote; it orders dumps by age."""
    found = DUMP_KEY.fullmatch(key)
    return found["stamp"] if found else ""


def require_new(s3: S3Client, bucket: str, key: str) -> None:
    """JobError if anything is stored under the dump's name already (dump or manifest), before a byte is uploaded.

    If-None-Match would refuse the second writer too, but real S3 says so only when the whole upload completes.
    """
    stem = key.removesuffix(DUMP_SUFFIX)
    try:
        taken = s3.list_objects_v2(Bucket=bucket, Prefix=stem, MaxKeys=1).get("Contents", [])
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot check that s3://{bucket}/{key} is new: {reason(error)}") from None
    if taken:
        raise JobError(f"s3://{bucket}/{taken[0]['Key']} exists already: another run wrote under this name")


def manifest_key(key: str) -> str:
    """Key of the manifest beside a dump; it is written last, so its presence means the dump is complete."""
    return key.removesuffix(DUMP_SUFFIX) + MANIFEST_SUFFIX


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# What a failed S3 call raises: botocore's errors, and those of the managed transfers, boto3's (download_file) or
# s3transfer's own (download_fileobj), which wrap a timeout that their own retries did not get past.
S3_ERRORS = (ClientError, BotoCoreError, Boto3Error, TransferRetriesExceededError)


def reason(error: Exception) -> str:
    """One line saying why an S3 call failed."""
    if isinstance(error, RetriesExceededError | TransferRetriesExceededError) and isinstance(
        last := getattr(error, "last_exception", None), Exception
    ):
        return reason(last)
    if isinstance(error, ReadTimeoutError):
        return f"stalled: no data moved for {postgres.stall_seconds():g} s (${postgres.STALL_ENV} sets the limit)"
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'error')}: {info.get('Message', '')}".strip()
    # A message whose first line only announces the next (botocore's "Parameter validation failed:") gives both.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


class Readable(Protocol):
    """What an upload reads: a file, or a running pg_dump's output (`postgres.Output`)."""

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True)
class Target:
    """One object an upload writes."""

    key: str
    metadata: dict[str, str]
    """Fixed when the upload starts: nothing learnt from the data (its checksum) can be in it."""
    storage_class: str = "STANDARD"


def upload(
    s3: S3Client,
    bucket: str,
    key: str,
    source: Readable,
    *,
    metadata: dict[str, str],
    storage_class: str = "STANDARD",
    part_size: int = PART_SIZE,
) -> str:
    """Upload `source` as one new object; returns its version id (see `upload_each`)."""
    return upload_each(s3, bucket, [Target(key, metadata, storage_class)], source, part_size=part_size)[0]


def _put_each(
    s3: S3Client, bucket: str, targets: Sequence[Target], body: bytes, written: Callable[[Target, str], None] | None
) -> list[str]:
    """A source smaller than a part: one PutObject per target (S3 applies the bucket's default lock either way)."""
    versions: list[str] = []
    for target in targets:
        try:
            put = s3.put_object(
                Bucket=bucket,
                Key=target.key,
                Body=body,
                Metadata=target.metadata,
                StorageClass=target.storage_class,  # type: ignore[arg-type]  # S3's names, checked by the settings
                ChecksumAlgorithm="SHA256",
                IfNoneMatch="*",
            )
        except (ClientError, BotoCoreError) as error:
            raise JobError(f"upload of s3://{bucket}/{target.key} failed: {reason(error)}") from None
        versions.append(str(put.get("VersionId", "")))
        if written is not None:
            written(target, versions[-1])
    return versions


def _abort_each(s3: S3Client, bucket: str, uploads: dict[str, str], parts: dict[str, list[Any]]) -> str:
    """Abort every unfinished upload; says whether that worked, and what stays where it did not."""
    outcomes = []
    for key, upload_id in uploads.items():
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            outcomes.append("was aborted")
        except (ClientError, BotoCoreError) as abort_error:
            # The parts stay until the lifecycle rule's abort of incomplete uploads removes them.
            outcomes.append(
                f"could not be aborted ({reason(abort_error)}): its {len(parts[key])} uploaded part(s) stay "
                "until the bucket's abort-incomplete-uploads lifecycle rule removes them"
            )
    return " and ".join(dict.fromkeys(outcomes)) or "left nothing unfinished"


def upload_each(
    s3: S3Client,
    bucket: str,
    targets: Sequence[Target],
    source: Readable,
    *,
    part_size: int = PART_SIZE,
    written: Callable[[Target, str], None] | None = None,
) -> list[str]:
    """Read `source` once, a part at a time, into a new object under each target; returns their version ids.

    Each part goes to every target's multipart upload while the next part is read, so a source that is a running
    pg_dump keeps writing meanwhile, and at most two parts are in memory. A source smaller than a part is one
    PutObject per target. Never overwrites: each object completes only if its key does not exist yet
    (If-None-Match), so a retried job cannot push a second version in front of a locked backup. `written(target,
    version)` runs as each object completes, before the next one does (the dump job writes its manifest there).
    Any failure, or a signal, aborts every upload not yet complete, so no part is left behind (the lifecycle's abort
    rule is only the backstop); the source's own JobError (pg_dump failed) goes on as it is, any other failure as a
    JobError with the reason.
    """
    first = source.read(part_size)
    if len(first) < part_size:
        return _put_each(s3, bucket, targets, first, written)
    versions: list[str] = []
    uploads: dict[str, str] = {}  # key -> UploadId, while unfinished
    parts: dict[str, list[dict[str, Any]]] = {target.key: [] for target in targets}

    def send(number: int, chunk: bytes) -> None:
        for key, upload_id in uploads.items():
            # S3 verifies each part's SHA-256 on arrival: a part corrupted in transit is refused, not stored.
            sent = s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk, ChecksumAlgorithm="SHA256"
            )
            parts[key].append(
                {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": sent.get("ChecksumSHA256")}
            )

    try:
        for target in targets:
            try:
                created = s3.create_multipart_upload(
                    Bucket=bucket,
                    Key=target.key,
                    Metadata=target.metadata,
                    StorageClass=target.storage_class,  # type: ignore[arg-type]  # S3's names, checked by the settings
                    ChecksumAlgorithm="SHA256",
                )
            except (ClientError, BotoCoreError) as error:
                raise JobError(f"cannot start the upload of s3://{bucket}/{target.key}: {reason(error)}") from None
            uploads[target.key] = created["UploadId"]
        # One part on its way while the next is read; the pool's exit waits for it, so an abort comes after it.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as sender:
            pending: Future[None] | None = None
            chunk, number = first, 1
            while chunk:
                if pending is not None:
                    pending.result()
                pending = sender.submit(send, number, chunk)
                chunk, number = source.read(part_size), number + 1
            if pending is not None:
                pending.result()
        for target in targets:
            done = s3.complete_multipart_upload(
                Bucket=bucket,
                Key=target.key,
                UploadId=uploads[target.key],
                MultipartUpload={"Parts": parts[target.key]},  # type: ignore[typeddict-item]
                IfNoneMatch="*",
            )
            del uploads[target.key]
            versions.append(str(done.get("VersionId", "")))
            if written is not None:
                written(target, versions[-1])
    except BaseException as error:
        aborted = _abort_each(s3, bucket, uploads, parts)
        if isinstance(error, JobError):
            raise
        if isinstance(error, Exception):  # an interruption goes on as one, its uploads aborted all the same
            names = " and ".join(f"s3://{bucket}/{key}" for key in uploads) or f"s3://{bucket}/{targets[0].key}"
            raise JobError(f"upload of {names} failed and {aborted}: {reason(error)}") from None
        raise
    return versions


def put_json(s3: S3Client, bucket: str, key: str, document: dict[str, Any]) -> None:
    """Write a small JSON object (a manifest), never over an existing key."""
    body = json.dumps(document, indent=2, sort_keys=True).encode()
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            IfNoneMatch="*",
        )
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot write s3://{bucket}/{key}: {reason(error)}") from None


def get_json(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    """Read a JSON object (a manifest): the version named, else the current one."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **_version(version_id))["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot read s3://{bucket}/{key}: {reason(error)}") from None
    document = json.loads(body)
    if not isinstance(document, dict):
        raise JobError(f"s3://{bucket}/{key} is not a manifest")
    return document


@dataclass(frozen=True)
class Listed:
    """One object of a listing."""

    key: str
    size: int
    last_modified: datetime
    storage_class: str


def list_objects(s3: S3Client, bucket: str, prefix: str) -> Iterator[Listed]:
    """Every object under a prefix (ListObjectsV2, page by page)."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield Listed(item["Key"], item["Size"], item["LastModified"], str(item.get("StorageClass", "STANDARD")))
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot list s3://{bucket}/{prefix}: {reason(error)}") from None


@dataclass(frozen=True)
class Version:
    """One version of an object, or a delete marker, as ListObjectVersions gives it."""

    key: str
    version_id: str
    size: int
    last_modified: datetime
    storage_class: str
    deleted: bool
    """A delete marker (what an expiry, or a DeleteObject without a version, adds in a versioned bucket)."""
    latest: bool
    """What a read without a version id gets (a delete marker here hides the object from listings)."""


def list_versions(s3: S3Client, bucket: str, prefix: str) -> dict[str, list[Version]]:
    """Every version and delete marker under a prefix, by key: its stored versions oldest first, then its markers.

    S3 lists a key's versions newest first; that order is S3's own, not a comparison of timestamps (which may be
    equal within a second).
    """
    found: dict[str, list[Version]] = {}
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Versions", []):
                found.setdefault(item["Key"], []).append(
                    Version(
                        item["Key"],
                        str(item.get("VersionId", "null")),
                        int(item.get("Size", 0)),
                        item["LastModified"],
                        str(item.get("StorageClass", "STANDARD")),
                        deleted=False,
                        latest=bool(item.get("IsLatest")),
                    )
                )
            for marker in page.get("DeleteMarkers", []):
                found.setdefault(marker["Key"], []).append(
                    Version(
                        marker["Key"],
                        str(marker.get("VersionId", "null")),
                        0,
                        marker["LastModified"],
                        "",
                        deleted=True,
                        latest=bool(marker.get("IsLatest")),
                    )
                )
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot list the versions of s3://{bucket}/{prefix}: {reason(error)}") from None
    for versions in found.values():
        versions[:] = [*[v for v in versions if not v.deleted][::-1], *[v for v in versions if v.deleted][::-1]]
    return found


def first_written(versions: Sequence[Version]) -> Version | None:
    """The oldest stored version: the one the job wrote under a new key (If-None-Match); later ones are not its."""
    return next((version for version in versions if not version.deleted), None)


def visible(versions: Sequence[Version]) -> bool:
    """Whether a read without a version id finds the object (its latest version is not a delete marker)."""
    return any(version.latest and not version.deleted for version in versions)


@dataclass(frozen=True)
class Backup:
    """A complete database backup: its dump and the manifest written after it."""

    schedule: str
    key: str
    size: int
    written: datetime
    storage_class: str
    manifest_version: str
    """The manifest's version the job wrote (its first): what every restore and check reads."""

    def age_hours(self, now: datetime) -> float:
        """Hours since the dump was written."""
        return (now - self.written).total_seconds() / 3600


@dataclass(frozen=True)
class Finding:
    """Something in the vault a person must look at: a backup that is not whole, or not as it was written."""

    schedule: str
    key: str
    """The dump's key (a manifest's finding names the dump it belongs to)."""
    stamp: str
    """The UTC timestamp of its key, to say whether it is newer than a backup."""
    problem: str

    def line(self) -> str:
        """One line for `list`, the restore test's report and Slack."""
        return f"FINDING {self.key}: {self.problem}"


@dataclass(frozen=True)
class Inventory:
    """The backups of some schedules, and everything found beside them that is not a whole backup."""

    backups: list[Backup]
    """Complete backups (a dump, and its manifest visible), oldest first per schedule."""
    findings: list[Finding]
    """A dump without a manifest, a manifest without its dump or hidden by a delete marker, an overwritten object."""


def inventory(s3: S3Client, bucket: str, schedules: Sequence[str]) -> Inventory:
    """The complete backups of each schedule, and a finding for every dump or manifest that is not one.

    A dump whose manifest and dump are both behind delete markers expired on schedule (the lifecycle rule) and is
    neither. A dump read later is the version its manifest names, so an overwrite is a finding, not a lost backup.
    """
    found: list[Backup] = []
    findings: list[Finding] = []
    for schedule in schedules:
        objects = list_versions(s3, bucket, f"{schedule}/")
        stems = {key.removesuffix(DUMP_SUFFIX).removesuffix(MANIFEST_SUFFIX) for key in objects}
        for stem in sorted(stems):
            key = stem + DUMP_SUFFIX
            dump_versions, manifest_versions = objects.get(key, []), objects.get(manifest_key(key), [])
            problems = _problems(dump_versions, manifest_versions)
            findings += [Finding(schedule, key, key_stamp(key), problem) for problem in problems]
            dump, manifest = first_written(dump_versions), first_written(manifest_versions)
            if dump is not None and manifest is not None and visible(dump_versions) and visible(manifest_versions):
                found.append(
                    Backup(schedule, key, dump.size, dump.last_modified, dump.storage_class, manifest.version_id)
                )
    return Inventory(sorted(found, key=lambda b: (b.schedule, key_stamp(b.key), b.written)), findings)


def _problems(dump: Sequence[Version], manifest: Sequence[Version]) -> list[str]:
    """What is wrong with one backup's objects; nothing for a whole backup or one expired on schedule."""
    if not visible(dump) and not visible(manifest):
        return []  # expired by the lifecycle rule (or never there): a delete marker on both
    problems = []
    if not any(not v.deleted for v in manifest):
        problems.append("a dump without a manifest: unfinished, or its manifest was never written")
    elif not visible(manifest):
        problems.append("its manifest is hidden behind a delete marker: `list` and the restore test no longer see it")
    if not any(not v.deleted for v in dump):
        problems.append("a manifest without its dump")
    elif not visible(dump):
        problems.append("its dump is hidden behind a delete marker")
    for what, versions in (("dump", dump), ("manifest", manifest)):
        stored = [v for v in versions if not v.deleted]
        if len(stored) > 1:
            problems.append(
                f"its {what} has {len(stored)} versions: one was written in front of the locked one "
                "(restores read the version the manifest names)"
            )
    return problems


def manifest_of(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    """The manifest the dump job wrote for a dump: the first version of its key, whatever stands in front of it."""
    location = manifest_key(key)
    manifest = first_written(list_versions(s3, bucket, location).get(location, []))
    if manifest is None:
        raise JobError(f"{key} has no manifest in s3://{bucket}: it is not a complete backup (`list` shows them)")
    return get_json(s3, bucket, location, manifest.version_id)


def dump_version(s3: S3Client, bucket: str, key: str, manifest: dict[str, Any]) -> str:
    """The dump's version a manifest names; for a manifest that names none, the first version of the key."""
    named = str(manifest.get("version_id") or "")
    if named:
        return named
    dump = first_written(list_versions(s3, bucket, key).get(key, []))
    if dump is None:
        raise JobError(f"s3://{bucket}/{key} has no stored version")
    return dump.version_id


def thaw(s3: S3Client, bucket: str, key: str, *, days: int = 2, version_id: str | None = None) -> str:
    """Start the RestoreObject of an archived object unless under way: `ready`, `restoring` or `not archived`.

    A Standard-tier restore from DEEP_ARCHIVE takes up to 12 hours; the copy stays readable for `days`.
    """
    version = _version(version_id)
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **version)
        if head.get("StorageClass") not in ARCHIVED_CLASSES:
            return "not archived"
        if 'ongoing-request="false"' in head.get("Restore", ""):
            return "ready"
        if not head.get("Restore"):
            s3.restore_object(
                Bucket=bucket,
                Key=key,
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": "Standard"}},
                **version,
            )
            if 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key=key, **version).get("Restore", ""):
                return "ready"
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot thaw s3://{bucket}/{key}: {reason(error)}") from None
    return "restoring"


def archived_state(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> str | None:
    """None when the object can be read now; else its archive class and whether a restore is under way."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **_version(version_id))
    except (ClientError, BotoCoreError) as error:
        raise JobError(f"cannot read s3://{bucket}/{key}: {reason(error)}") from None
    restoring = head.get("Restore", "")
    if head.get("StorageClass") not in ARCHIVED_CLASSES or 'ongoing-request="false"' in restoring:
        return None
    return f"{head.get('StorageClass')}, {'restore under way' if restoring else 'not restored'}"


@dataclass(frozen=True)
class Downloaded:
    """What a download fetched."""

    metadata: dict[str, str]
    """The object's user metadata."""
    sha256: str
    """Hex SHA-256 of the bytes written, computed as they arrived."""


class _HashingWriter:
    """A file that hashes what is written to it. Not seekable, so s3transfer writes its parallel ranges in order."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._target.write(data)

    def seekable(self) -> bool:
        return False


def _readable_head(
    s3: S3Client, bucket: str, key: str, version: dict[str, Any], *, restore_days: int, poll_seconds: float
) -> dict[str, Any]:
    """The object's HeadObject once it can be read: an archived one is restored (RestoreObject) first, from
    DEEP_ARCHIVE up to 12 hours (Standard tier), the wait the caller's time budget."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **version)
        if head.get("StorageClass") in ARCHIVED_CLASSES and 'ongoing-request="false"' not in head.get("Restore", ""):
            if not head.get("Restore"):
                s3.restore_object(
                    Bucket=bucket,
                    Key=key,
                    RestoreRequest={"Days": restore_days, "GlacierJobParameters": {"Tier": "Standard"}},
                    **version,
                )
            while 'ongoing-request="false"' not in s3.head_object(Bucket=bucket, Key=key, **version).get("Restore", ""):
                time.sleep(poll_seconds)
    except S3_ERRORS as error:
        raise JobError(f"cannot fetch s3://{bucket}/{key}: {reason(error)}") from None
    return dict(head)


@contextmanager
def fetching(
    s3: S3Client,
    bucket: str,
    key: str,
    target: Path,
    *,
    restore_days: int = 1,
    poll_seconds: float = 60,
    version_id: str | None = None,
) -> Iterator[Callable[[], Downloaded]]:
    """Fetch an object (the version named, else the current one) to a file in the background, hashing it on the way
    (one pass); what it yields waits for it.

    The `with` body runs meanwhile; leaving it early (an error, a signal) cancels the transfer and waits for its
    threads. An archived object is restored (RestoreObject) before the transfer starts: from DEEP_ARCHIVE up to 12
    hours (Standard tier), the wait is the caller's time budget.
    """
    version = _version(version_id)
    head = _readable_head(s3, bucket, key, version, restore_days=restore_days, poll_seconds=poll_seconds)
    with target.open("wb") as file, create_transfer_manager(s3, DOWNLOAD) as manager:
        writer = _HashingWriter(file)
        # The version goes to the HeadObject and to every ranged GetObject: all parts are of the one version.
        future = manager.download(bucket, key, writer, extra_args=version)  # type: ignore[arg-type]  # a file
        yield _waiting(future, head, writer, f"s3://{bucket}/{key}")


def _waiting(
    future: TransferFuture, head: Mapping[str, Any], writer: _HashingWriter, where: str
) -> Callable[[], Downloaded]:
    """What waits for a download (`fetching`, `streaming`): its metadata and SHA-256, or JobError."""

    def wait() -> Downloaded:
        try:
            future.result()
        except S3_ERRORS as error:
            raise JobError(f"cannot fetch {where}: {reason(error)}") from None
        return Downloaded(dict(head.get("Metadata", {})), writer.digest.hexdigest())

    return wait


class _Closing(BaseSubscriber):
    """Closes a stream's write end once its transfer is done (finished, failed or cancelled): the reader sees the
    end."""

    def __init__(self, close: Callable[[], None]) -> None:
        super().__init__()
        self._close = close

    def on_done(self, future: object, **kwargs: object) -> None:  # noqa: ARG002 - s3transfer's signature
        self._close()


@contextmanager
def streaming(
    s3: S3Client,
    bucket: str,
    key: str,
    *,
    restore_days: int = 1,
    poll_seconds: float = 60,
    version_id: str | None = None,
) -> Iterator[tuple[int, Callable[[], Downloaded]]]:
    """Fetch an object (the version named, else the current one) in the background into a pipe, in order, hashing
    it on the way; yields the pipe's read end and what waits for the transfer and returns what `fetching`'s does.

    The parallel ranges reach the pipe in order (the writer is not seekable) and memory stays bounded by the ranges
    s3transfer may hold ahead of their turn (`DOWNLOAD`): a reader that falls behind holds the download back. The
    pipe ends (its write end is closed) once the transfer is done, finished or failed; leaving the `with` early
    closes the read end, so a write blocked on it fails and the transfer ends. An archived object is restored first
    (as `fetching`).
    """
    version = _version(version_id)
    head = _readable_head(s3, bucket, key, version, restore_days=restore_days, poll_seconds=poll_seconds)
    read_end, write_end = os.pipe()
    postgres.widen_pipe(read_end)
    sink = os.fdopen(write_end, "wb")

    def close_sink() -> None:
        with contextlib.suppress(OSError):  # the reader gone: what is buffered has nowhere to go
            sink.close()

    try:
        with create_transfer_manager(s3, DOWNLOAD) as manager:
            writer = _HashingWriter(sink)
            # As `fetching`: the version goes to the HeadObject and to every ranged GetObject.
            future = manager.download(
                bucket,
                key,
                writer,  # type: ignore[arg-type]  # a file
                extra_args=version,
                subscribers=[_Closing(close_sink)],
            )
            try:
                yield read_end, _waiting(future, head, writer, f"s3://{bucket}/{key}")
            finally:
                os.close(read_end)  # a write blocked on the pipe fails (EPIPE): the transfer ends
    finally:
        close_sink()


def download(
    s3: S3Client,
    bucket: str,
    key: str,
    target: Path,
    *,
    restore_days: int = 1,
    poll_seconds: float = 60,
    version_id: str | None = None,
) -> Downloaded:
    """Fetch an object (the version named, else the current one) to a file, hashing it on the way; an archived one
    is restored first (see `fetching`)."""
    with fetching(
        s3, bucket, key, target, restore_days=restore_days, poll_seconds=poll_seconds, version_id=version_id
    ) as fetched:
        return fetched()


def _version(version_id: str | None) -> dict[str, Any]:
    """The VersionId argument of a read of that version, or none for the current one (an unversioned object's
    version is `null`, the only one there is)."""
    return {"VersionId": version_id} if version_id and version_id != "null" else {}


def now() -> datetime:
    """The current UTC time (one place, so a job's timestamps agree)."""
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """A timestamp a manifest recorded (ISO 8601, UTC)."""
    return datetime.fromisoformat(text)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes in memory."""
    return hashlib.sha256(data).hexdigest()
