"""Restores: fetch a dump, prove it is the one that was written, load it, and check what came back."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ops import integrity, interrupt, postgres, vault
from ops.errors import JobError
from settings.stacks import PROJECT_DIR

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

PRODUCTION_STACK_FILE = PROJECT_DIR / "Pulumi.production.yaml"


def production_project_ref(stack_file: Path = PRODUCTION_STACK_FILE) -> str | None:
    """The production Supabase project's ref (`vibelog-production` of https://vibelog-production.supabase.co)."""
    if not stack_file.exists():
        return None
    config = (yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}).get("config", {})
    url = str((config.get("vibelog:supabase") or {}).get("url", ""))
    host = url.removeprefix("https://").split("/", 1)[0]
    return host.split(".", 1)[0] if host.endswith(".supabase.co") else None


def source_identity(manifest: Mapping[str, Any]) -> postgres.Identity | None:
    """The identity of the database a manifest's dump was taken from; None if it records none (an older dump, or a
    dump user that may not read pg_control_system())."""
    source = manifest.get("source")
    if not isinstance(source, dict) or not source.get("system_identifier"):
        return None
    try:
        return postgres.Identity(str(source["system_identifier"]), int(source["database_oid"]), str(source["database"]))
    except (KeyError, TypeError, ValueError):
        return None


def recorded_production(s3: S3Client, bucket: str, manifest: Mapping[str, Any]) -> dict[str, postgres.Identity | None]:
    """What production is, as the vault records it: the source of the chosen dump and of the vault's newest dump.

    The newest one matters when the chosen dump is older than a move of the database (a new Supabase project, a
    database re-created under another oid): production is what is dumped now.
    """
    found = vault.inventory(s3, bucket, vault.DATABASE_SCHEDULES).backups
    newest = max(found, key=lambda backup: (vault.key_stamp(backup.key), backup.written), default=None)
    recorded = {"the database this dump was taken from": source_identity(manifest)}
    if newest is not None and newest.key != manifest.get("key"):
        newest_manifest = vault.get_json(s3, bucket, vault.manifest_key(newest.key), newest.manifest_version)
        recorded[f"the source of the vault's newest dump ({newest.key})"] = source_identity(newest_manifest)
    return recorded


def production_reason(
    target_url: str, recorded: Mapping[str, postgres.Identity | None], production_ref: str | None
) -> str | None:
    """Why the target is, or may be, production; None when its identity says it is not.

    By identity, never by spelling: every host the URL names is connected to and asked what it is, and a database
    of a recorded production server with a recorded oid or name is production. The production Supabase project is
    also recognised by its direct host `db.<ref>.supabase.co` or a pooler user `<user>.<ref>`, in any case. A host
    that cannot be reached or asked fails closed: it may be production.
    """
    attempts = postgres.each_host(target_url)
    ref = (production_ref or "").lower()
    for attempt in attempts:
        host, user = str(attempt.get("host") or "").lower().rstrip("."), str(attempt.get("user") or "").lower()
        if ref and (host == f"db.{ref}.supabase.co" or user.endswith(f".{ref}")):
            return f"production: the target is the production Supabase project ({ref})"
    known = {label: identity for label, identity in recorded.items() if identity is not None}
    if not known:
        return "a target that may be production: no manifest records the identity of production's database"
    for attempt in attempts:
        with postgres.connect(make_conninfo("", **attempt), "the target to read what it is") as conn:
            target = postgres.identity(conn)
        if target.system_identifier is None:
            return (
                "a target that may be production: its user may not read pg_control_system(), "
                "so the server cannot be told apart"
            )
        for label, identity in known.items():
            if target.is_same_database(identity):
                return f"production: the target is {label}, {target.describe()}"
    return None


def refuse_production(
    s3: S3Client,
    *,
    bucket: str,
    manifest: Mapping[str, Any],
    target_url: str,
    production_ref: str | None,
    where: str = "over",
) -> None:
    """JobError unless the target is, by its identity, not production; before anything is written to it."""
    postgres.each_host(target_url)  # a malformed URL is bad input, not a target that may be production
    try:
        why = production_reason(target_url, recorded_production(s3, bucket, manifest), production_ref)
    except JobError as error:
        why = f"a target that may be production: {error}"
    if why is not None:
        raise JobError(f"refusing to restore {where} {why}; add --confirm-production if you mean it")


@dataclass(frozen=True)
class Restored:
    """What a restore did and found."""

    key: str
    """The dump restored."""
    manifest: dict[str, Any]
    """Its manifest, written at dump time."""
    fetch_seconds: float
    """Time to fetch it (and to restore it from an archive class)."""
    restore_seconds: float
    """Time pg_restore took."""
    checks: list[integrity.Check] = field(default_factory=list)
    """Integrity checks of the restored database."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)


@contextmanager
def fetching_verified(
    s3: S3Client, bucket: str, key: str, target: Path
) -> Iterator[Callable[[], tuple[dict[str, Any], float]]]:
    """Download a dump in the background (`vault.fetching`); what it yields waits for it and returns its manifest
    and the seconds since the fetch began, or raises JobError unless its SHA-256, computed as it arrived, matches
    the manifest's (and the object metadata's where an older dump has one: a dump streamed to S3 starts its upload,
    which fixes the metadata, before its checksum is known).

    Both are the versions the dump job wrote (the manifest's first version, the dump's version it names): a version
    written in front of a locked backup is never what a restore reads.
    """
    start = time.monotonic()
    manifest = vault.manifest_of(s3, bucket, key)
    version = vault.dump_version(s3, bucket, key, manifest)
    with vault.fetching(s3, bucket, key, target, version_id=version) as fetched:

        def verified() -> tuple[dict[str, Any], float]:
            result = fetched()
            recorded = [("manifest", manifest.get("sha256"))]
            if "sha256" in result.metadata:
                recorded.append(("object metadata", result.metadata["sha256"]))
            for source, expected in recorded:
                if result.sha256 != expected:
                    raise JobError(
                        f"checksum mismatch for {key}: the {source} says {expected}, the object is {result.sha256}"
                    )
            return manifest, time.monotonic() - start

        yield verified


def fetch_verified(s3: S3Client, bucket: str, key: str, target: Path) -> tuple[dict[str, Any], float]:
    """Download a dump and its manifest, verified (`fetching_verified`)."""
    with fetching_verified(s3, bucket, key, target) as verified:
        return verified()


def cores() -> int:
    """The CPUs this process may run on: the restore test's pg_restore workers."""
    return len(os.sched_getaffinity(0))


# The restore test's scratch server: with wal_level minimal, a parallel pg_restore's COPY into a table it created
# (pg_restore puts a TRUNCATE before it in its transaction for this) and the index builds write no WAL, so the
# server needs about the database's size on disk, not that plus the WAL of every row. It stays durable (fsync on).
SCRATCH_SETTINGS = {"wal_level": "minimal", "max_wal_senders": "0"}


def pg_restore(dump: Path, target_url: str, schemas: Sequence[str] = (), *, jobs: int | None = None) -> float:
    """Load a dump into a database; returns the seconds it took.

    Without `jobs`, in one transaction: all or nothing, as a restore into a real target must be. With `jobs`, in
    that many parallel sessions, which cannot share a transaction: only for a scratch database that is thrown
    away if the load fails half-way (the restore test). Parallel restore reads the dump by offset: a file, never a
    pipe.
    """
    dbname, env = postgres.tool_connection(target_url)
    command = [
        postgres.tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-acl",
        "--single-transaction" if jobs is None else f"--jobs={jobs}",
        "--exit-on-error",
        "--no-password",
        *(f"--schema={schema}" for schema in schemas),
        f"--dbname={dbname}",
        str(dump),
    ]
    start = time.monotonic()
    done = postgres.run(command, env)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise JobError(postgres.failure("pg_restore", done, target_url))
    return elapsed


def check(
    target_url: str, manifest: dict[str, Any], schemas: Sequence[str] = (), app_query: str = integrity.APP_QUERY
) -> list[integrity.Check]:
    """Row counts against the manifest, constraints, and the app's query, on the restored database."""
    expected = {
        name: int(count)
        for name, count in dict(manifest.get("row_counts", {})).items()
        if not schemas or name.split(".", 1)[0] in schemas
    }
    with postgres.connect(target_url, "the restored database") as conn:
        return [
            integrity.compare_counts(expected, integrity.row_counts(conn, schemas)),
            integrity.validate_constraints(conn),
            integrity.app_query(conn, app_query),
        ]


def require_readable(s3: S3Client, bucket: str, key: str) -> None:
    """JobError naming the thaw command unless the dump can be read now (not archived, or its restore is done).

    The runbook's role has no s3:RestoreObject and its job ends long before a DEEP_ARCHIVE retrieval (up to 12 h).
    """
    state = vault.archived_state(
        s3, bucket, key, vault.dump_version(s3, bucket, key, vault.manifest_of(s3, bucket, key))
    )
    if state is not None:
        raise JobError(
            f"{key} is archived ({state}): thaw it with the restore-test role, `python -m ops thaw {key}` "
            "(up to 12 h), and start this runbook again once it says ready"
        )


def restore(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    target_url: str,
    confirm_production: bool = False,
    schemas: Sequence[str] = (),
    production_ref: str | None = None,
    app_query: str = integrity.APP_QUERY,
) -> Restored:
    """The database_corruption runbook's restore: a chosen dump into `target_url`, refusing production unconfirmed."""
    with interrupt.temporary_directory("vibelog-restore-") as workdir:
        path = workdir / "database.dump"
        manifest = vault.manifest_of(s3, bucket, key)
        if not confirm_production:
            refuse_production(
                s3, bucket=bucket, manifest=manifest, target_url=target_url, production_ref=production_ref
            )
        manifest, fetch_seconds = fetch_verified(s3, bucket, key, path)
        restore_seconds = pg_restore(path, target_url, schemas)
    return Restored(key, manifest, fetch_seconds, restore_seconds, check(target_url, manifest, schemas, app_query))


def guard_alongside(s3: S3Client, *, bucket: str, key: str, target_url: str, production_ref: str | None) -> None:
    """The runbook's production guard: JobError if the database a new one would be created beside is production."""
    manifest = vault.manifest_of(s3, bucket, key)
    refuse_production(
        s3, bucket=bucket, manifest=manifest, target_url=target_url, production_ref=production_ref, where="next to"
    )


def restore_alongside(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    target_url: str,
    confirm_production: bool = False,
    production_ref: str | None = None,
    app_query: str = integrity.APP_QUERY,
) -> tuple[Restored, str]:
    """The runbook's restore: a chosen dump into a NEW database on the target's server; the target is left untouched.

    The runbook's role can write nowhere durable (the vault is the writer's), so the database it would replace stays
    as it is, which is the copy of what a restore replaces; a person switches over (docs/runbooks.md). Returns what
    was restored and the new database's name.
    """
    if not confirm_production:
        guard_alongside(s3, bucket=bucket, key=key, target_url=target_url, production_ref=production_ref)
    current = postgres.parse(target_url).get("dbname") or "postgres"
    name = f"{current}_restored_{vault.now():%Y%m%dt%H%M%Sz}"
    with postgres.connect(target_url, "the target") as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as error:
            raise JobError(f"cannot create database {name}: {postgres.last_line(str(error), target_url)}") from None
    restored = restore(
        s3,
        bucket=bucket,
        key=key,
        target_url=make_conninfo(target_url, dbname=name),
        confirm_production=True,  # decided above, for the server; the new database holds nothing yet
        production_ref=production_ref,
        app_query=app_query,
    )
    return restored, name


def newest(s3: S3Client, bucket: str, schedule: str) -> tuple[vault.Backup, list[vault.Finding]]:
    """The newest complete backup of a schedule, and every finding of the schedule; JobError if there is no
    complete backup (naming the findings: a newest dump without a manifest is why, more often than not)."""
    found = vault.inventory(s3, bucket, [schedule])
    if not found.backups:
        lines = "; ".join(finding.line() for finding in found.findings)
        raise JobError(f"no complete {schedule} backup in s3://{bucket}" + (f" ({lines})" if lines else ""))
    return max(found.backups, key=lambda each: (vault.key_stamp(each.key), each.written)), found.findings
