"""The database dump job: pg_dump of one consistent snapshot, checksummed, uploaded under each schedule's prefix."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, get_args

import psycopg

from ops import integrity, interrupt, postgres, vault
from ops.errors import BadInputError, JobError
from settings.backup import StorageClass

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

# What a dump may be written in: S3's default, or a class the settings let a schedule move to (S3 would refuse
# anything else only once the dump had been read, at its upload).
STORAGE_CLASSES = ("STANDARD", *get_args(StorageClass))


@dataclass(frozen=True)
class Destination:
    """Where one copy of a dump goes: the schedule's prefix and the storage class it is written in."""

    schedule: str
    """daily, weekly, yearly or pre-migration: the key prefix, and so the lifecycle rule that keeps and expires it."""
    storage_class: str = "STANDARD"
    """S3 storage class on arrival (the yearly copy goes straight to its cold class)."""

    @classmethod
    def parse(cls, text: str) -> Destination:
        """`daily`, `pre-migration` or `yearly=DEEP_ARCHIVE`; an unknown schedule or storage class is bad input.

        A key outside the schedules' prefixes would match no lifecycle rule (kept forever) and no role may write it.
        """
        schedule, sep, storage_class = text.partition("=")
        if schedule not in vault.DATABASE_SCHEDULES:
            raise BadInputError(f"--to {schedule!r}: the schedule is one of {', '.join(vault.DATABASE_SCHEDULES)}")
        if sep and storage_class not in STORAGE_CLASSES:
            raise BadInputError(f"--to {text!r}: the storage class is one of {', '.join(STORAGE_CLASSES)}")
        return cls(schedule, storage_class or "STANDARD")


@dataclass(frozen=True)
class DumpResult:
    """What one run wrote."""

    keys: tuple[str, ...]
    """Keys of the dumps written, one per destination."""
    sha256: str
    """Hex SHA-256 of the dump."""
    size: int
    """Bytes of the dump."""
    server_version: str
    """The source server's version."""
    row_counts: dict[str, int]
    """Rows per table in the dumped snapshot."""
    source: postgres.Identity
    """The database dumped, as the manifest records it for the restore's production guard."""


def _snapshot_and_counts(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[str, str, dict[str, int], dict[str, Any]]:
    """Export the transaction's snapshot for pg_dump and read what the manifest records in it, so the manifest
    matches the dump exactly: row counts, the schema inventory, the extensions and the roles the dump names."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    snapshot_row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    version_row = conn.execute("SHOW server_version").fetchone()
    if snapshot_row is None or version_row is None:
        raise JobError("the source database did not export a snapshot")
    counts = integrity.row_counts(conn)
    recorded = {
        "inventory": integrity.inventory(conn),
        "extensions": integrity.extensions(conn),
        "roles": integrity.roles(conn),
        "grant_lines": integrity.grant_lines(conn),
    }
    return str(snapshot_row[0]), str(version_row[0]), counts, recorded


# What the manifest's missing system identifier means, said where the dump reports it.
UNKNOWN_SERVER = (
    "pg_control_system() is not permitted for this user, so the server's identity is not recorded: a restore "
    "needs --confirm-production unless a newer dump records it"
)
# pg_dump waits for a share lock on each table; a migration holding an exclusive one would hold it up unseen.
LOCK_WAIT_TIMEOUT = "60s"


def pg_dump_version() -> str:
    """`pg_dump (PostgreSQL) 15.x` as the binary reports it."""
    # In a process group of its own, as every tool the jobs run: a signal meanwhile stops it with the job.
    done = interrupt.run([postgres.tool("pg_dump"), "--version"])
    if done.returncode != 0:
        raise JobError(postgres.failure("pg_dump --version", done, ""))
    return done.stdout.decode(errors="replace").strip()


class _Hashed:
    """pg_dump's output on its way to S3: hashed and counted as it is read, and refused if it is empty."""

    def __init__(self, output: postgres.Output) -> None:
        self._output = output
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int) -> bytes:
        data = self._output.read(size)
        if not data and not self.size:
            raise JobError("pg_dump wrote nothing")
        self.digest.update(data)
        self.size += len(data)
        return data


def dump(
    s3: S3Client,
    *,
    database_url: str,
    bucket: str,
    destinations: Sequence[Destination],
    compress: int = 6,
    pg_dump: str | None = None,
    part_size: int = vault.PART_SIZE,
) -> DumpResult:
    """Stream pg_dump's output into a new object under each destination, then write each one's manifest.

    No copy of the dump is kept on the runner: its parts go to S3 while pg_dump writes, hashed on the way. S3 fixes
    an object's metadata when its upload starts, so the SHA-256 and size are in the manifest, written after its dump,
    which is how a listing never offers an unfinished backup; S3 checks each part's SHA-256 on arrival. A failed,
    killed or stalled pg_dump, a failed upload or a signal aborts every upload: nothing half-written remains.
    """
    if not destinations:
        raise JobError("no destination schedule given")
    if len({destination.schedule for destination in destinations}) < len(destinations):
        raise BadInputError("a schedule is given twice: one run writes one dump under each schedule")
    started = vault.now()
    run = vault.run_id()
    keys = [vault.dump_key(destination.schedule, started, run) for destination in destinations]
    dbname, env = postgres.tool_connection(database_url)
    for key in keys:
        vault.require_new(s3, bucket, key)
    tool_version = pg_dump_version() if pg_dump is None else "custom"
    conn = postgres.connect(database_url, "the source database")
    # Closed, not committed, at the end: the snapshot only had to stay open while pg_dump imported and read it, so a
    # connection that drops meanwhile says nothing about a dump pg_dump finished, which is kept; and a network that
    # stalled pg_dump would hold a COMMIT up as well.
    try:
        try:
            identity = postgres.identity(conn)
            snapshot, server_version, counts, recorded = _snapshot_and_counts(conn)
        except psycopg.Error as error:
            raise JobError(f"cannot read the source database: {postgres.query_error(error, database_url)}") from None
        command = [
            pg_dump or postgres.tool("pg_dump"),
            "--format=custom",
            f"--compress={compress}",
            f"--snapshot={snapshot}",
            f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}",
            "--no-password",
            f"--dbname={dbname}",
        ]
        targets = {key: destination.storage_class for key, destination in zip(keys, destinations, strict=True)}
        with postgres.streamed(command, env, database_url) as output:
            source = _Hashed(output)

            def write_manifest(target: vault.Target, version: str) -> None:
                vault.put_json(
                    s3,
                    bucket,
                    vault.manifest_key(target.key),
                    {
                        "key": target.key,
                        "version_id": version,
                        "sha256": source.digest.hexdigest(),
                        "size_bytes": source.size,
                        "server_version": server_version,
                        "pg_dump_version": tool_version,
                        "storage_class": target.storage_class,
                        "source": asdict(identity),
                        "started": started.isoformat(),
                        "finished": vault.now().isoformat(),
                        "row_counts": counts,
                        **recorded,
                    },
                )

            vault.upload_each(
                s3,
                bucket,
                [
                    vault.Target(
                        key,
                        {
                            "server-version": server_version,
                            "pg-dump-version": tool_version,
                            "schedule": key.split("/", 1)[0],
                        },
                        storage_class,
                    )
                    for key, storage_class in targets.items()
                ],
                source,
                part_size=part_size,
                written=write_manifest,
            )
    finally:
        conn.close()
    return DumpResult(tuple(keys), source.digest.hexdigest(), source.size, server_version, counts, identity)
