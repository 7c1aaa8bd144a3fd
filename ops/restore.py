"""Restores: fetch a dump, prove it is the one that was written, load it, and check what came back."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
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
from ops.errors import BadInputError, JobError
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


def _written(s3: S3Client, bucket: str, key: str, manifest_version: str | None) -> tuple[dict[str, Any], str]:
    """A dump's manifest (its first version: `manifest_version`, else listed) and the dump's version it names."""
    manifest = (
        vault.manifest_of(s3, bucket, key)
        if manifest_version is None
        else vault.get_json(s3, bucket, vault.manifest_key(key), manifest_version)
    )
    return manifest, vault.dump_version(s3, bucket, key, manifest)


def _verify(key: str, manifest: Mapping[str, Any], result: vault.Downloaded) -> None:
    """JobError unless a download's SHA-256 matches the manifest's (and the object metadata's where it has one)."""
    recorded = [("manifest", manifest.get("sha256"))]
    if "sha256" in result.metadata:
        recorded.append(("object metadata", result.metadata["sha256"]))
    for source, expected in recorded:
        if result.sha256 != expected:
            raise JobError(f"checksum mismatch for {key}: the {source} says {expected}, the object is {result.sha256}")


@contextmanager
def fetching_verified(
    s3: S3Client, bucket: str, key: str, target: Path, *, manifest_version: str | None = None
) -> Iterator[Callable[[], tuple[dict[str, Any], float]]]:
    """Download a dump in the background (`vault.fetching`); what it yields waits for it and returns its manifest
    and the seconds since the fetch began, or raises JobError unless its SHA-256, computed as it arrived, matches
    the manifest's (and the object metadata's where an older dump has one: a dump streamed to S3 starts its upload,
    which fixes the metadata, before its checksum is known).

    Both are the versions the dump job wrote (the manifest's first version, the dump's version it names): a version
    written in front of a locked backup is never what a restore reads. `manifest_version` is that first version when
    the caller's inventory has found it already (`vault.Backup.manifest_version`); else the manifest's versions are
    listed.
    """
    start = time.monotonic()
    manifest, version = _written(s3, bucket, key, manifest_version)
    with vault.fetching(s3, bucket, key, target, version_id=version) as fetched:

        def verified() -> tuple[dict[str, Any], float]:
            _verify(key, manifest, fetched())
            return manifest, time.monotonic() - start

        yield verified


def fetch_verified(s3: S3Client, bucket: str, key: str, target: Path) -> tuple[dict[str, Any], float]:
    """Download a dump and its manifest, verified (`fetching_verified`)."""
    with fetching_verified(s3, bucket, key, target) as verified:
        return verified()


# The restore test reads a dump's head (its header and table of contents) into a file of this size, then twice
# that, and so on, until `pg_restore --list` can read it; the rest of the dump streams into pg_restore.
HEAD_STEP = 256 * 1024
CHUNK = 1024 * 1024


class Stream:
    """A dump arriving in order from S3 (`vault.streaming`), hashed as it arrives: read it, then `verified`."""

    def __init__(self, key: str, manifest: dict[str, Any], fd: int, fetched: Callable[[], vault.Downloaded]) -> None:
        self.key, self.manifest = key, manifest
        """The dump, and its manifest as the dump job wrote it."""
        self._fd, self._fetched = fd, fetched

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of the dump, as they arrive; none at its end (or once its transfer has failed: see
        `verified`). The wait is bounded by the S3 client's own stall limit (`vault.client_config`)."""
        return os.read(self._fd, size)

    def verified(self) -> None:
        """Read what is left (hashing it), wait for the transfer and raise JobError unless its SHA-256 matches the
        manifest's (`fetching_verified`)."""
        while self.read(CHUNK):
            pass
        _verify(self.key, self.manifest, self._fetched())


@contextmanager
def streaming_verified(s3: S3Client, bucket: str, key: str, *, manifest_version: str | None = None) -> Iterator[Stream]:
    """Stream a dump from S3 in the background (`vault.streaming`): the version the dump job wrote, as
    `fetching_verified` reads it, its checksum known once it has all been read (`Stream.verified`)."""
    manifest, version = _written(s3, bucket, key, manifest_version)
    with vault.streaming(s3, bucket, key, version_id=version) as (fd, fetched):
        yield Stream(key, manifest, fd, fetched)


def read_head(stream: Stream, path: Path) -> Path:
    """Write the head of a streamed dump (its header and table of contents) to `path`, and no more than twice it.

    pg_dump writes a custom-format archive to a pipe with its table of contents first and no data offsets in it:
    once `pg_restore --list` reads the file, the head is whole. The file grows in steps (HEAD_STEP, doubled each
    time). A dump that ends first is not an archive: its checksum failure is said first, else pg_restore's.
    """
    size, target = 0, HEAD_STEP
    with path.open("wb") as file:
        while True:
            while size < target and (chunk := stream.read(min(CHUNK, target - size))):
                file.write(chunk)
                size += len(chunk)
            file.flush()
            done = postgres.run([postgres.tool("pg_restore"), "--list", str(path)], dict(os.environ))
            if done.returncode == 0:
                return path
            if size < target:
                stream.verified()
                raise JobError(postgres.failure("pg_restore --list", done, ""))
            target *= 2


def cores() -> int:
    """The CPUs this process may run on: the restore test's pg_restore workers."""
    return len(os.sched_getaffinity(0))


# The restore test's scratch server: with wal_level minimal, a COPY into a table created in the same transaction
# (the streamed load runs in one, `load_streamed`) and the index builds write no WAL, so the server needs about the
# database's size on disk, not that plus the WAL of every row (measured: a load of pre-data and data that commits
# each statement wrote WAL of 0.4x the database; in one transaction, none). It stays durable (fsync on). That one
# transaction locks every table, sequence and index it creates until it commits: the lock table holds
# max_locks_per_transaction x max_connections of them (6,400 by default: 6,000 tables with serial keys exhaust it,
# "out of shared memory", in pg_dump's transaction and in this one alike). A source tuned to let pg_dump lock its
# schema must not leave a dump its scratch server cannot load; 1,024 per connection costs about 25 MB.
SCRATCH_SETTINGS = {"wal_level": "minimal", "max_wal_senders": "0", "max_locks_per_transaction": "1024"}


def _restore_command(
    target_url: str,
    schemas: Sequence[str],
    *,
    owners: bool,
    toc: Path | None,
    jobs: int | None,
    sections: Sequence[str],
    clean: bool,
) -> tuple[list[str], dict[str, str]]:
    """pg_restore's arguments but the archive, and its environment (`pg_restore`)."""
    dbname, env = postgres.tool_connection(target_url)
    return [
        postgres.tool("pg_restore"),
        *(("--clean", "--if-exists") if clean else ()),
        *(() if owners else ("--no-owner",)),
        "--single-transaction" if jobs is None else f"--jobs={jobs}",
        "--exit-on-error",
        "--no-password",
        *(f"--section={section}" for section in sections),
        *(f"--schema={schema}" for schema in schemas),
        *(() if toc is None else (f"--use-list={toc}",)),
        f"--dbname={dbname}",
    ], env


def pg_restore(
    dump: Path,
    target_url: str,
    schemas: Sequence[str] = (),
    *,
    owners: bool = False,
    toc: Path | None = None,
    jobs: int | None = None,
    sections: Sequence[str] = (),
    clean: bool = True,
) -> float:
    """Load a dump into a database, its grants and default privileges with it; returns the seconds it took.

    Without `jobs`, in one transaction: all or nothing, as a restore into a real target must be. With `jobs`, in
    that many parallel sessions, which cannot share a transaction: only for a scratch database that is thrown
    away if the load fails half-way (the restore test). Parallel restore reads the dump by offset: a file, never a
    pipe. `owners` keeps the dump's owners (a scratch server prepared with the source's roles); without it the
    restoring user owns everything, as on a Supabase project where `postgres` may not own as `supabase_admin`.
    `toc` is a `pg_restore --use-list` of the entries to restore (leave_out); `sections` those restored (all
    without); `clean` drops each object first.
    """
    command, env = _restore_command(
        target_url, schemas, owners=owners, toc=toc, jobs=jobs, sections=sections, clean=clean
    )
    start = time.monotonic()
    done = postgres.run([*command, str(dump)], env)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise JobError(postgres.failure("pg_restore", done, target_url))
    return elapsed


def _chunks(head: Path, stream: Stream) -> Iterator[bytes]:
    """A streamed dump's bytes: its head from the file `read_head` wrote, then the rest as it arrives."""
    with head.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk
    while chunk := stream.read(CHUNK):
        yield chunk


class _Feed:
    """The write end of a pipe a tool reads as its stdin, fed from chunks without blocking (`load_streamed`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        read_end, self.fd = os.pipe()
        self.stdin = read_end
        """The read end, the tool's stdin: the caller closes it once the tool has it."""
        postgres.widen_pipe(self.fd)
        os.set_blocking(self.fd, False)
        self._chunks, self._pending = chunks, memoryview(b"")

    def write(self) -> bool:
        """Write what the pipe takes now; True once it is all written, or the tool has stopped reading (it ended,
        or failed): the caller closes it then."""
        try:
            while True:
                if not self._pending:
                    self._pending = memoryview(next(self._chunks, b""))
                    if not self._pending:
                        break
                written = os.write(self.fd, self._pending)
                self._pending = self._pending[written:]
                if self._pending:
                    return False
        except BlockingIOError:
            return False
        except BrokenPipeError:  # what is left of the stream is read by `Stream.verified`
            pass
        return True

    def close(self) -> None:
        """Close the write end (the tool reads its end); again is a no-op."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def load_streamed(
    stream: Stream, head: Path, target_url: str, schemas: Sequence[str] = (), *, toc: Path | None = None
) -> None:
    """The restore test's pre-data and data sections, from the dump as it arrives: ONE pg_restore reading its stdin
    (the head `read_head` wrote, then the rest of the stream), in one transaction, the dump's owners kept. Then the
    stream has been read to its end, or pg_restore has stopped reading it: `stream.verified()` says whether it was
    the dump.

    In one transaction, a COPY into a table created in it writes no WAL on the scratch server (wal_level minimal,
    SCRATCH_SETTINGS): the server needs about the data's size, not that plus the WAL of every row. pg_restore that
    fails or stalls (it moves no byte for the stall limit) fails the test; its failure is said after the checksum's
    (the stream read to its end first), so a dump damaged in transit fails on its checksum, as a downloaded one does.
    """
    command, env = _restore_command(
        target_url, schemas, owners=True, toc=toc, jobs=None, sections=("pre-data", "data"), clean=True
    )
    limit = postgres.stall_seconds()
    feed = _Feed(_chunks(head, stream))
    try:
        try:
            process = interrupt.start(command, env=env, stdin=feed.stdin)
        finally:
            os.close(feed.stdin)  # pg_restore has it
        with process:
            try:
                output = _pump(process, feed, limit)
            except BaseException:
                interrupt.stop(process)
                raise
    finally:
        feed.close()
    if process.returncode != 0:
        stream.verified()
        done = subprocess.CompletedProcess(command, process.returncode, b"", bytes(output))
        raise JobError(postgres.failure("pg_restore", done, target_url))


def _pump(process: subprocess.Popen[bytes], feed: _Feed, limit: float) -> bytes:
    """Feed a tool's stdin and read its output until it exits; its stderr's last 64 KiB. JobError once it has read
    and written nothing for `limit` seconds."""
    output = bytearray()
    with selectors.DefaultSelector() as selector:
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                selector.register(pipe.fileno(), selectors.EVENT_READ)
        selector.register(feed.fd, selectors.EVENT_WRITE)
        stall = postgres.Stall(process.pid, "pg_restore", limit)
        while selector.get_map():
            events = selector.select(timeout=postgres.POLL_SECONDS)
            for key, _ in events:
                if key.fd == feed.fd:
                    stall.progressed()
                    if feed.write():
                        selector.unregister(feed.fd)
                        feed.close()  # the tool reads the end of its input
                    continue
                chunk = os.read(key.fd, 65536)
                output += chunk
                del output[:-65536]  # its last lines say why it failed
                if not chunk:
                    selector.unregister(key.fd)
            if not events:
                stall.check()
    process.wait()
    return bytes(output)


@dataclass(frozen=True)
class Preparation:
    """A scratch server made ready for a dump: what the restore leaves out, and why."""

    toc: Path | None
    """The `--use-list` of the entries to restore; None when nothing is left out."""
    left_out: tuple[str, ...] = ()
    """Schemas left out whole (the own schemas of extensions this server does not have)."""
    unavailable: tuple[str, ...] = ()
    """Extensions of the source this server does not have."""
    findings: tuple[str, ...] = ()
    """What was left out, one line each, for the report."""
    foreign_defaults: tuple[str, ...] = ()
    """Roles whose default privileges were left out: the restoring user may not set them (`for_target_user`)."""
    owner: str | None = None
    """The user that owns every restored object (a restore with --no-owner): its own grants are implicit in that."""
    owners: tuple[str, ...] = ()
    """Whose objects in the dump that user takes over, one line, for the report."""
    foreign_schemas: tuple[str, ...] = ()
    """The target's schemas that user does not own, kept as they are: its grants on them are not implicit."""


# pg_dump 15's entry descriptions (pg_dump.c), longest first: `pg_restore --list` prints `<id>; <catalog> <oid>
# <description> <schema> <name> <owner>`, and descriptions have spaces, so this is how its schema is found. An entry
# of a description not here is restored: the rule never leaves out what it cannot read.
DESCRIPTIONS = (
    "ACCESS METHOD|ACL|AGGREGATE|BLOB|BLOBS|CAST|CHECK CONSTRAINT|COLLATION|COMMENT|CONSTRAINT|CONVERSION|"
    "DATABASE|DATABASE PROPERTIES|DEFAULT|DEFAULT ACL|DOMAIN|ENCODING|EVENT TRIGGER|EXTENSION|FK CONSTRAINT|"
    "FOREIGN DATA WRAPPER|FOREIGN SERVER|FOREIGN TABLE|FUNCTION|INDEX|INDEX ATTACH|LARGE OBJECT|"
    "MATERIALIZED VIEW|MATERIALIZED VIEW DATA|OPERATOR|OPERATOR CLASS|OPERATOR FAMILY|POLICY|PROCEDURE|"
    "PROCEDURAL LANGUAGE|PUBLICATION|PUBLICATION TABLE|PUBLICATION TABLES IN SCHEMA|ROW SECURITY|RULE|SCHEMA|"
    "SEARCHPATH|SECURITY LABEL|SEQUENCE|SEQUENCE OWNED BY|SEQUENCE SET|SERVER|SHELL TYPE|STATISTICS|STDSTRINGS|"
    "SUBSCRIPTION|TABLE|TABLE ATTACH|TABLE DATA|TEXT SEARCH CONFIGURATION|TEXT SEARCH DICTIONARY|"
    "TEXT SEARCH PARSER|TEXT SEARCH TEMPLATE|TRANSFORM|TRIGGER|TYPE|USER MAPPING|VIEW"
)
TOC_DESCRIPTIONS = sorted(DESCRIPTIONS.split("|"), key=len, reverse=True)
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (?P<rest>.*)$")


def _toc_entry(line: str) -> tuple[str, str, str] | None:
    """(description, schema or `-`, name) of one `pg_restore --list` line; None for a comment or an unknown one."""
    match = TOC_ENTRY.match(line)
    if match is None:
        return None
    rest = match["rest"]
    for description in TOC_DESCRIPTIONS:
        if rest.startswith(description + " "):
            schema, _, name_and_owner = rest[len(description) + 1 :].partition(" ")
            return description, schema, name_and_owner.rpartition(" ")[0].replace('"', "")
    return None


def _left_out_for(description: str, schema: str, name: str, dropped: set[str], extensions: set[str]) -> str | None:
    """The schema or extension an entry is left out for: an object in a dropped schema, the schema itself or its
    ACL and comment, an unavailable extension or its comment; None to restore it."""
    if schema in dropped:
        return schema
    if schema != "-":
        return None
    what, _, subject = name.partition(" ")  # `SCHEMA graphql` is the name of a schema's ACL or comment
    if description == "SCHEMA" and name in dropped:
        return name
    if description == "EXTENSION" and name in extensions:
        return name
    if what == "SCHEMA" and subject in dropped:
        return subject
    if what == "EXTENSION" and subject in extensions:
        return subject
    return None


def toc_lines(dump: Path) -> list[str]:
    """The dump's table of contents, a line per entry, as `pg_restore --list` prints it (a `--use-list`'s form)."""
    done = postgres.run([postgres.tool("pg_restore"), "--list", str(dump)], dict(os.environ))
    if done.returncode != 0:
        raise JobError(postgres.failure("pg_restore --list", done, ""))
    return done.stdout.decode().splitlines()


def leave_out(dump: Path, manifest: Mapping[str, Any], available: Sequence[str], workdir: Path) -> Preparation:
    """What of a dump a server without some of the source's extensions can restore, as a `--use-list`.

    The rule (docs/backups.md): an extension the server does not have (Supabase's pg_graphql, pgsodium, vault,
    pg_net...) is left out, and so is its schema with everything in it when that schema holds nothing else: no
    other extension the server has, no table of the app's (tables the extension owns are its own). A schema that
    does hold something else is restored whole, so whatever in it needs the missing extension fails the restore
    loudly rather than being skipped. Every entry left out is counted in a finding.
    """
    extensions = list(manifest.get("extensions", []))
    unavailable = [e for e in extensions if e["name"] not in available]
    if not unavailable:
        return Preparation(None)
    owned = {table for e in extensions for table in e.get("tables", [])}
    app_schemas = {name.split(".", 1)[0] for name in manifest.get("row_counts", {}) if name not in owned}
    kept = {e["schema"] for e in extensions if e["name"] in available} | app_schemas | {"public"}
    dropped = {e["schema"] for e in unavailable} - kept
    names = {e["name"] for e in unavailable}
    lines, counts = [], dict.fromkeys(sorted(names | dropped), 0)
    for line in toc_lines(dump):
        entry = _toc_entry(line)
        why = None if entry is None else _left_out_for(*entry, dropped, names)
        if why is not None:
            counts[why] += 1
        lines.append(line if why is None else f";{line}")
    toc = workdir / "restore.list"
    toc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    findings = []
    for extension in unavailable:
        schema = extension["schema"]
        whole = (
            f"schema {schema} left out with it ({counts[schema]} entries)"
            if schema in dropped
            else f"schema {schema} restored: it holds more than this extension"
        )
        findings.append(
            f"extension {extension['name']} {extension['version']} is not available on this server: "
            f"left out ({counts[extension['name']]} entries); {whole}"
        )
    return Preparation(toc, tuple(sorted(dropped)), tuple(sorted(names)), tuple(findings))


# `ALTER DEFAULT PRIVILEGES FOR ROLE r` needs membership of r. On Supabase the dump of `public` carries
# supabase_admin's (supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql), and `postgres`,
# not a superuser, is not a member of supabase_admin: pg_restore would stop at the first one.
MEMBER_OF = (
    "SELECT r, pg_has_role(current_user, r, 'MEMBER') FROM unnest(%s::text[]) r "
    "WHERE r IN (SELECT rolname FROM pg_roles)"
)


# The entries whose owner a `--no-owner` restore replaces with the restoring user.
OWNED = frozenset(
    {"AGGREGATE", "DOMAIN", "FUNCTION", "MATERIALIZED VIEW", "PROCEDURE", "SCHEMA", "SEQUENCE", "TABLE", "TYPE", "VIEW"}
)
# The target's schemas its user does not own (nor has the privileges of their owner): pg_restore --clean would drop
# and re-create them. On Supabase: auth and storage, supabase_admin's (supabase/postgres init-scripts).
FOREIGN_SCHEMAS = (
    "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE NOT pg_has_role(current_user, nspowner, 'USAGE')"
)


def for_target_user(dump: Path, target_url: str, workdir: Path) -> Preparation:
    """What a restore as the target's user (Supabase's `postgres`, not a superuser) leaves out, as a `--use-list`,
    each named in a finding: the dump's default privileges of roles the user is not a member of (it may not set
    them), and the entries that would drop, re-create or comment on a schema of the target the user does not own
    (kept as it is, its objects restored in it). Everything else is restored. The user, who will own what is
    restored (--no-owner), is named, and so are the dump's other owners whose objects it takes over.

    Default privileges say what a role's FUTURE objects get, not what any restored object has; the role's own
    server keeps its own (Supabase sets supabase_admin's itself). A role the target lacks is not left out:
    pg_restore fails on it.
    """
    listing = toc_lines(dump)
    default_roles = {
        line.rsplit(" ", 1)[1] for line in listing if (entry := _toc_entry(line)) and entry[0] == "DEFAULT ACL"
    }
    with postgres.connect(target_url, "the target") as conn:
        try:
            user_row = conn.execute("SELECT current_user").fetchone()
            rows = conn.execute(MEMBER_OF, (sorted(default_roles),)).fetchall()
            held = dict(conn.execute(FOREIGN_SCHEMAS).fetchall())
        except psycopg.Error as error:
            raise JobError(f"cannot read the target's roles: {postgres.query_error(error, target_url)}") from None
    user = str(user_row[0]) if user_row else ""
    foreign = sorted(str(role) for role, member in rows if not member)
    lines, defaults, schemas = [], dict.fromkeys(foreign, 0), dict.fromkeys(held, 0)
    taken: dict[str, int] = {}
    for line in listing:
        entry = _toc_entry(line)
        owner = line.rsplit(" ", 1)[-1]
        skip = entry is not None and entry[0] == "DEFAULT ACL" and owner in defaults
        kept = None if entry is None else _kept_schema(entry, held)
        if skip:
            defaults[owner] += 1
        if kept is not None:
            schemas[kept] += 1
        elif entry is not None and entry[0] in OWNED and owner != user:
            taken[owner] = taken.get(owner, 0) + 1
        lines.append(f";{line}" if skip or kept is not None else line)
    findings = tuple(
        f"default privileges of role {role} left out ({count} entries): {user} is not a member of it, so it may not "
        "set them; they apply to that role's future objects only (docs/backups.md)"
        for role, count in defaults.items()
    ) + tuple(
        f"schema {schema} kept as the target has it ({count} entries left out): it is {held[schema]}'s, which {user} "
        "may not drop or re-create; its objects are restored in it (docs/backups.md)"
        for schema, count in sorted(schemas.items())
        if count
    )
    taken_over: tuple[str, ...] = ()
    if taken:
        whose = ", ".join(f"{count} of {owner}" for owner, count in sorted(taken.items()))
        taken_over = (f"objects restored as {user}'s (--no-owner): {whose} (docs/backups.md)",)
    toc = None
    if findings:
        toc = workdir / "restore.list"
        toc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Preparation(
        toc,
        findings=findings,
        foreign_defaults=tuple(foreign),
        owner=user or None,
        owners=taken_over,
        foreign_schemas=tuple(sorted(held)),
    )


def _kept_schema(entry: tuple[str, str, str], held: Mapping[str, str]) -> str | None:
    """The target's schema an entry would drop, re-create or comment on though its user does not own it."""
    description, schema, name = entry
    if schema != "-":
        return None
    if description == "SCHEMA" and name in held:
        return name
    what, _, subject = name.partition(" ")
    if description == "COMMENT" and what == "SCHEMA" and subject in held:
        return subject
    return None


def prepare_scratch(url: str, dump: Path, manifest: Mapping[str, Any], workdir: Path) -> Preparation:
    """Make a new scratch server ready for a dump the way a Supabase project is: the source's roles (NOLOGIN
    where the source's are, no passwords) and a `--use-list` leaving out the extensions the server does not have."""
    with postgres.connect(url, "the scratch server") as conn:
        try:
            postgres.create_roles(conn, manifest.get("roles", []))
            available = [str(name) for (name,) in conn.execute("SELECT name FROM pg_available_extensions")]
        except psycopg.Error as error:
            raise JobError(f"cannot prepare the scratch server: {postgres.query_error(error, url)}") from None
    return leave_out(dump, manifest, available, workdir)


def check(
    target_url: str,
    manifest: dict[str, Any],
    schemas: Sequence[str] = (),
    app_query: str = integrity.APP_QUERY,
    prepared: Preparation | None = None,
) -> list[integrity.Check]:
    """The restored database against its manifest: row counts, the schema inventory (objects and grants),
    sequences, extensions; then constraints and the app's query. `prepared` says what the restore left out."""
    skipped = prepared or Preparation(None)

    def kept(name: str) -> bool:
        schema = name.split(".", 1)[0]
        return (not schemas or schema in schemas) and schema not in skipped.left_out

    recorded = dict(manifest.get("inventory", {}))
    # The recorded grants a restore cannot show: the default privileges it may not set, and with --no-owner the
    # restoring user's own on what it restored, now implicit in owning it (a manifest without them: a difference).
    # Not a default privilege granting to that user (the restore sets those it may), nor its grant on a schema it
    # does not own (kept as the target has it).
    implicit = {
        schema: [
            line
            for grantee, default_for, line in lines
            if default_for in skipped.foreign_defaults
            or (
                grantee == skipped.owner
                and not default_for
                and not (line.startswith("schema ") and schema in skipped.foreign_schemas)
            )
        ]
        for schema, lines in dict(manifest.get("grant_lines", {})).items()
    }
    with postgres.connect(target_url, "the restored database") as conn:
        restored_counts = integrity.row_counts(conn, schemas)
        checks = [
            integrity.compare_counts(
                {name: int(count) for name, count in dict(manifest.get("row_counts", {})).items() if kept(name)},
                restored_counts,
            )
        ]
        if recorded:
            restored = integrity.inventory(conn, schemas, implicit)
            checks += [
                integrity.compare_objects(
                    {name: kinds for name, kinds in recorded["objects"].items() if kept(name)}, restored["objects"]
                ),
                integrity.compare_sequences(
                    {name: value for name, value in recorded["sequence_values"].items() if kept(name)},
                    restored["sequence_values"],
                ),
                integrity.compare_extensions(
                    [
                        extension
                        for extension in manifest.get("extensions", [])
                        if extension["name"] not in skipped.unavailable and kept(extension["schema"])
                    ],
                    integrity.extensions(conn),
                ),
            ]
        else:
            checks.append(integrity.Check("schema objects", True, "not compared: the manifest records no inventory"))
        return [*checks, integrity.validate_constraints(conn), integrity.app_query(conn, app_query)]


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


def require_schemas(key: str, manifest: Mapping[str, Any], schemas: Sequence[str]) -> None:
    """BadInputError naming each `--schema` the dump holds nothing of: pg_restore restores nothing for a name it does
    not find, and the checks, which compare what is kept, would pass on nothing. What a dump holds is what its
    manifest recorded: the schemas of its tables and, where it has an inventory, of its other objects."""
    recorded = manifest.get("inventory")
    held = {str(name).split(".", 1)[0] for name in manifest.get("row_counts", {})}
    held |= set(recorded.get("objects", {})) if isinstance(recorded, dict) else set()
    unknown = [schema for schema in dict.fromkeys(schemas) if schema not in held]
    if unknown:
        raise BadInputError(
            f"{key} holds no schema {', '.join(map(repr, unknown))} (its schemas: {', '.join(sorted(held)) or 'none'})"
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
        require_schemas(key, manifest, schemas)
        if not confirm_production:
            refuse_production(
                s3, bucket=bucket, manifest=manifest, target_url=target_url, production_ref=production_ref
            )
        manifest, fetch_seconds = fetch_verified(s3, bucket, key, path)
        prepared = for_target_user(path, target_url, workdir)
        restore_seconds = pg_restore(path, target_url, schemas, toc=prepared.toc)
    # Said beside the checks, so the report shows what was not applied and why.
    left_out = [integrity.Check("left out", True, finding) for finding in prepared.findings]
    left_out += [integrity.Check("owners", True, line) for line in prepared.owners]
    checks = check(target_url, manifest, schemas, app_query, prepared=prepared)
    return Restored(key, manifest, fetch_seconds, restore_seconds, [*left_out, *checks])


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
            raise JobError(f"cannot create database {name}: {postgres.query_error(error, target_url)}") from None
    try:
        restored = restore(
            s3,
            bucket=bucket,
            key=key,
            target_url=make_conninfo(target_url, dbname=name),
            confirm_production=True,  # decided above, for the server; the new database holds nothing yet
            production_ref=production_ref,
            app_query=app_query,
        )
    except BaseException as error:
        # A restore that failed or was interrupted is clutter on the live server that each run again would add to:
        # empty when the load failed (it is one transaction), loaded but unchecked when the checks could not run
        # (a lost connection, a cancel). One whose checks ran and failed returned, and is kept.
        with interrupt.deferred():
            dropped = _drop_database(target_url, name)
        if not dropped and isinstance(error, JobError):
            raise JobError(f"{error}; the new database {name} is left on the target's server: drop it") from None
        raise
    return restored, name


def _drop_database(target_url: str, name: str) -> bool:
    """Drop a database the runbook created (its restore's connections ended or not); whether it is gone."""
    try:
        with postgres.connect(target_url, "the target") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except (JobError, psycopg.Error):
        return False
    return True


def previous_manifest(
    s3: S3Client, bucket: str, schedule: str, key: str, found: vault.Inventory | None = None
) -> dict[str, Any] | None:
    """The manifest (the version the dump job wrote) of the schedule's complete backup just before `key`; None if
    there is none. `found` is the schedule's inventory when the caller has listed it already."""
    stamp = vault.key_stamp(key)
    backups = (found or vault.inventory(s3, bucket, [schedule])).backups
    earlier = [b for b in backups if b.schedule == schedule and vault.key_stamp(b.key) < stamp]
    if not earlier:
        return None
    previous = max(earlier, key=lambda each: (vault.key_stamp(each.key), each.written))
    return vault.get_json(s3, bucket, vault.manifest_key(previous.key), previous.manifest_version)


def newest(
    s3: S3Client, bucket: str, schedule: str, found: vault.Inventory | None = None
) -> tuple[vault.Backup, list[vault.Finding]]:
    """The newest complete backup of a schedule, and every finding of the schedule; JobError if there is no
    complete backup (naming the findings: a newest dump without a manifest is why, more often than not). `found` is
    the schedule's inventory when the caller has listed it already."""
    found = found or vault.inventory(s3, bucket, [schedule])
    if not found.backups:
        lines = "; ".join(finding.line() for finding in found.findings)
        raise JobError(f"no complete {schedule} backup in s3://{bucket}" + (f" ({lines})" if lines else ""))
    return max(found.backups, key=lambda each: (vault.key_stamp(each.key), each.written)), found.findings
