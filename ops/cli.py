"""`python -m ops <job>`: argparse, the environment the workflows set, and one call per job."""

from __future__ import annotations

import argparse
import io
import os
import select
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import InvalidRegionError
from pydantic import ValidationError

from ops import (
    config_backup,
    dump,
    environment,
    integrity,
    interrupt,
    maintain,
    metrics,
    postgres,
    report,
    restore,
    uploads,
    vault,
)
from ops.environment import Variable
from ops.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OUTPUT_GONE, BadInputError, JobError
from ops.runbook import cli as runbook_cli
from settings.backup import RestoreDropBound
from settings.base import S3_DAYS_MAX
from settings.stacks import STACKS

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


# What each job reads (shown by its --help, all checked before it starts; ops/environment.py).
VAULT = (
    Variable("BACKUP_VAULT_REGION", "the backup vault's AWS region"),
    Variable("BACKUP_DATABASE_BUCKET", "the vault's database bucket"),
)
DUMP_ENV = (
    *VAULT,
    Variable("BACKUP_DATABASE_URL", "the database to dump (a direct or session URL)", secret=True),
    postgres.PG_BIN,
    *vault.RUN_ENV,
)
UPLOADS_ENV = (
    Variable("SUPABASE_STORAGE_ENDPOINT", "Supabase Storage's S3 endpoint"),
    Variable("SUPABASE_STORAGE_REGION", "the region Supabase Storage signs for"),
    Variable("SUPABASE_STORAGE_ACCESS_KEY_ID", "Supabase Storage S3 access key id", secret=True),
    Variable("SUPABASE_STORAGE_SECRET_ACCESS_KEY", "Supabase Storage S3 secret key", secret=True),
    Variable("BACKUP_UPLOADS_BUCKET", "the uploads bucket the objects are copied into"),
    Variable("BACKUP_UPLOADS_REGION", "that bucket's region"),
    Variable("BACKUP_UPLOADS_RETENTION_DAYS", "days the upload backups are kept (whole number)"),
    *vault.RUN_ENV,
)
LIST_ENV = (
    *VAULT,
    Variable("BACKUP_UPLOADS_BACKUP_BUCKET", "the upload backups bucket, to list its manifests", required=False),
)
RESTORE_ENV = (
    *VAULT,
    Variable(
        "RESTORE_TARGET_URL",
        "the database restored into (or the variable --target-url-env names)",
        secret=True,
        renamed_by="target_url_env",
    ),
    postgres.PG_BIN,
)
RESTORE_TEST_ENV = (*VAULT, postgres.PG_BIN)
# The restore test's drop bound when no flag sets it: the setting's default, which the workflow passes on.
DROP_BOUND = RestoreDropBound()
UPLOADS_RESTORE_ENV = (
    Variable("BACKUP_VAULT_REGION", "the backup vault's AWS region"),
    Variable("BACKUP_UPLOADS_BACKUP_BUCKET", "the upload backups bucket restored from"),
    Variable("BACKUP_UPLOADS_BUCKET", "the live uploads bucket: refused as a target unless confirmed"),
    Variable("BACKUP_UPLOADS_REGION", "the region of the bucket restored into"),
)
# Every variable any job reads, for scrubbing an unexpected error whatever the job.
ALL_ENV = (*DUMP_ENV, *UPLOADS_ENV, *LIST_ENV, *RESTORE_ENV, *UPLOADS_RESTORE_ENV)
env = environment.value


vault_client = vault.client


def storage_client() -> S3Client:
    """Supabase Storage's S3-compatible API, with the project's S3 access keys (path-style, as Supabase wants)."""
    with vault.region("SUPABASE_STORAGE_REGION") as region:
        try:
            return boto3.client(
                "s3",
                endpoint_url=env("SUPABASE_STORAGE_ENDPOINT"),
                region_name=region,
                aws_access_key_id=env("SUPABASE_STORAGE_ACCESS_KEY_ID"),
                aws_secret_access_key=env("SUPABASE_STORAGE_SECRET_ACCESS_KEY"),
                config=vault.client_config().merge(Config(s3={"addressing_style": "path"})),
            )
        except InvalidRegionError:  # a ValueError too: `vault.region` names it
            raise
        except ValueError:  # botocore's "Invalid endpoint: <the URL>": the URL may hold a key, and is not shown
            raise BadInputError(
                "$SUPABASE_STORAGE_ENDPOINT is not a URL (https://<project ref>.supabase.co/storage/v1/s3)"
            ) from None


def run_dump(args: argparse.Namespace) -> int:
    destinations = [dump.Destination.parse(text) for text in args.to]
    result = dump.dump(
        vault_client(),
        database_url=env("BACKUP_DATABASE_URL"),
        bucket=env("BACKUP_DATABASE_BUCKET"),
        destinations=destinations,
        compress=args.compress,
    )
    lines = [
        f"dumped {len(result.row_counts)} tables ({result.size} bytes, sha256 {result.sha256}, "
        f"PostgreSQL {result.server_version})",
        *(f"wrote s3://{os.environ['BACKUP_DATABASE_BUCKET']}/{key}" for key in result.keys),
        f"source: {result.source.describe()}"
        + ("" if result.source.system_identifier else f" ({dump.UNKNOWN_SERVER})"),
    ]
    print("\n".join(lines))
    report.summary("\n".join(["## Database dump", "", *(f"- {line}" for line in lines)]))
    metrics.dump_written(destinations)
    return 0


def run_uploads(_: argparse.Namespace) -> int:
    result = uploads.sync(
        storage_client(),
        vault_client("BACKUP_UPLOADS_REGION"),
        bucket=env("BACKUP_UPLOADS_BUCKET"),
        retention_days=environment.whole_number("BACKUP_UPLOADS_RETENTION_DAYS", S3_DAYS_MAX),
    )
    line = (
        f"copied {result.copied} new or changed object(s) and refreshed {result.refreshed} "
        f"({result.copied_bytes} bytes); {result.unchanged} unchanged; manifest {result.manifest_key}"
    )
    print(line)
    report.summary(f"## Upload backup\n\n- {line}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    uploads_bucket = os.environ.get("BACKUP_UPLOADS_BACKUP_BUCKET")
    if "uploads" in (args.schedule or ()) and not uploads_bucket:  # asked for: an empty table would say there are none
        raise BadInputError("--schedule uploads lists $BACKUP_UPLOADS_BACKUP_BUCKET, which is not set")
    s3 = vault_client()
    moment = vault.now()
    schedules = [s for s in dict.fromkeys(args.schedule or vault.DATABASE_SCHEDULES) if s in vault.DATABASE_SCHEDULES]
    found = vault.inventory(s3, env("BACKUP_DATABASE_BUCKET"), schedules)
    width = max(len(name) for name in (*vault.DATABASE_SCHEDULES, "uploads"))  # the column fits `pre-migration`
    print(f"{'schedule':{width}}  {'age':>9}  {'size':>12}  {'class':12}  key")
    for backup in found.backups:
        print(
            f"{backup.schedule:{width}}  {backup.age_hours(moment):8.1f}h  {backup.size:12d}  "
            f"{backup.storage_class:12}  {backup.key}"
        )
    if uploads_bucket and (not args.schedule or "uploads" in args.schedule):
        for item in vault.list_objects(s3, uploads_bucket, uploads.MANIFESTS_PREFIX):
            age = (moment - item.last_modified).total_seconds() / 3600
            print(f"{'uploads':{width}}  {age:8.1f}h  {item.size:12d}  {item.storage_class:12}  {item.key}")
    # A backup that is not whole is said, and fails the listing: nobody reads a table for what is missing from it.
    for finding in found.findings:
        print(finding.line())
    return 1 if found.findings else 0


def run_restore(args: argparse.Namespace) -> int:
    restored = restore.restore(
        vault_client(),
        bucket=env("BACKUP_DATABASE_BUCKET"),
        key=args.key,
        target_url=env(args.target_url_env),
        confirm_production=args.confirm_production,
        schemas=args.schema,
        production_ref=restore.production_project_ref(),
    )
    print(f"restored {restored.key} in {restored.restore_seconds:.1f} s (fetched in {restored.fetch_seconds:.1f} s)")
    for check in restored.checks:
        print(f"{'ok' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if restored.ok else 1


def run_thaw(args: argparse.Namespace) -> int:
    s3, bucket = vault_client(), env("BACKUP_DATABASE_BUCKET")
    version = vault.dump_version(s3, bucket, args.key, vault.manifest_of(s3, bucket, args.key))
    state = vault.thaw(s3, bucket, args.key, days=args.days, version_id=version)
    print(f"{args.key}: {state}")
    return 0


def run_restore_uploads(args: argparse.Namespace) -> int:
    into, moment = uploads.Location.parse(args.to), point_in_time(args.at) if args.at else None
    source, bucket = vault_client(), env("BACKUP_UPLOADS_BACKUP_BUCKET")
    uploads.refuse_live(
        into, live_bucket=env("BACKUP_UPLOADS_BUCKET"), backup_bucket=bucket, confirm_production=args.confirm_production
    )
    if moment is None:
        run, moment = uploads.run_moment(source, bucket, args.run_name)
        print(f"run {run}: restoring the uploads as they were when it ended, {moment.isoformat()}")
    restored = uploads.restore(
        source, vault_client("BACKUP_UPLOADS_REGION"), bucket=bucket, moment=moment, into=into, only=args.only
    )
    line = f"restored {restored.objects} object(s), {restored.size} bytes, as of {moment.isoformat()} into {into}"
    print(line)
    report.summary(f"## Uploads restore\n\n- {line}")
    return 0


def point_in_time(text: str) -> datetime:
    """`--at`: an ISO 8601 time with its zone (2026-11-27T02:00:00Z); BadInputError otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadInputError(f"--at must be an ISO 8601 time with its zone (2026-11-27T02:00:00Z), not {text!r}")
    return moment


def sample_size(text: str) -> int:
    """`--sample`: a whole number from 1 to 1000."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, not {text!r}")
    return int(text)


def run_uploads_check(args: argparse.Namespace) -> int:
    source, bucket = vault_client(), env("BACKUP_UPLOADS_BACKUP_BUCKET")
    scratch = uploads.Location(env("BACKUP_UPLOADS_BUCKET"), uploads.CHECK_PREFIX)
    uploads.refuse_live(scratch, live_bucket=scratch.bucket, backup_bucket=bucket, confirm_production=False)
    checked = uploads.check(
        source,
        vault_client("BACKUP_UPLOADS_REGION"),
        bucket=bucket,
        scratch=scratch,
        count=args.sample,
        moment=vault.now(),
    )
    passed = all(each.ok for each in checked)
    lines = [
        f"Uploads restore check {'PASSED' if passed else 'FAILED'} for {os.environ.get('STACK', 'unknown')}: "
        f"{len(checked)} object(s) restored into {scratch} and compared",
        *(f"{'ok' if each.ok else 'FAIL'} {each.key}: {each.detail}" for each in checked),
    ]
    print("\n".join(lines))
    report.summary("\n".join([f"## {lines[0]}", "", *(f"- {line}" for line in lines[1:]), ""]))
    report.slack("\n".join(lines))
    return 0 if passed else 1


def run_restore_test(args: argparse.Namespace) -> int:
    s3 = vault_client()
    bucket = env("BACKUP_DATABASE_BUCKET")
    try:
        bound = RestoreDropBound.model_validate({"percent": args.max_drop_percent, "minRows": args.min_drop_rows})
    except ValidationError as error:
        raise BadInputError(f"the drop bound: {error.errors()[0]['msg']}") from None
    result = restore_test(s3, bucket, stack=args.stack, rto_minutes=args.rto_minutes, schemas=args.schema, bound=bound)
    text = "\n".join(result.lines())
    print(text)
    report.summary(result.markdown())
    report.slack(text)
    metrics.restore_tested(result)
    return 0 if result.passed else 1


def restore_test(
    s3: S3Client,
    bucket: str,
    *,
    stack: str,
    rto_minutes: int,
    schemas: Sequence[str] = (),
    schedule: str = "daily",
    durable: bool = True,
    bound: RestoreDropBound = DROP_BOUND,
) -> report.RestoreReport:
    """The weekly restore test: the newest dump of `schedule`, verified, restored into a scratch server prepared
    like the source (its roles; its extensions, or a finding for each it cannot have), checked against its
    manifest, and compared with the dump before it."""
    start = time.monotonic()
    key, age, checks, failure = "", 0.0, [], ""
    findings: list[vault.Finding] = []
    left_out: tuple[str, ...] = ()
    steps: list[tuple[str, float]] = []

    def took(step: str) -> None:
        steps.append((step, time.monotonic() - start - sum(seconds for _, seconds in steps)))

    try:
        # One listing of the schedule's versions: the newest backup, the manifest version to read, the previous one.
        found = vault.inventory(s3, bucket, [schedule])
        backup, findings = restore.newest(s3, bucket, schedule, found)
        key = backup.key
        took("listing")
        # The scratch server's initdb runs while the dump's manifest and head arrive. The dump streams from S3 into
        # the scratch server: only its head (header and table of contents) is written to disk, and its data loads as
        # it arrives (docs/backups.md).
        with (
            postgres.starting_cluster(durable=durable, settings=restore.SCRATCH_SETTINGS) as scratch,
            interrupt.temporary_directory("vibelog-restore-test-") as workdir,
            restore.streaming_verified(s3, bucket, key, manifest_version=backup.manifest_version) as stream,
        ):
            manifest = stream.manifest
            restore.require_schemas(key, manifest, schemas)
            age = report.hours_between(vault.parse_time(str(manifest["started"])), vault.now())
            head = restore.read_head(stream, workdir / "head.dump")
            took("head")
            cluster = scratch.ready()
            prepared = restore.prepare_scratch(cluster.url, head, manifest, workdir)
            left_out = prepared.findings
            took("scratch server")
            restore.load_streamed(stream, head, cluster.url, schemas, toc=prepared.toc)
            stream.verified()
            took("pre-data and data")
            # Indexes, constraints, triggers: no data, so the head suffices; in parallel, on every core (the
            # scratch database is thrown away if the load fails half-way).
            restore.pg_restore(
                head,
                cluster.url,
                schemas,
                owners=True,
                toc=prepared.toc,
                jobs=restore.cores(),
                sections=("post-data",),
                clean=False,
            )
            took("post-data")
            checks = restore.check(cluster.url, manifest, schemas, prepared=prepared)
            took("checks")
        previous = restore.previous_manifest(s3, bucket, schedule, key, found)
        checks.append(integrity.compare_previous(previous, manifest, bound))
        took("stop and comparison")
    except JobError as error:
        failure = str(error)
    except Exception as error:  # a full disk or an S3 outage fails the test, reported as one
        if interrupt.interruption() is not None:  # the interruption, under another library's name: `main` says so
            raise
        failure = unexpected(error)
    if failure:
        took("until the failure")
    minutes = (time.monotonic() - start) / 60
    # A finding on the dump restored or a newer one fails the test: the newest backup is not what it should be (a
    # dump without a manifest, a manifest behind a delete marker, a version in front of the locked one). An older
    # finding is reported and does not fail it: a newer whole backup stands in front of it.
    stamp = vault.key_stamp(key)
    blocking = tuple(finding.line() for finding in findings if finding.stamp >= stamp)
    warnings = tuple(finding.line() for finding in findings if finding.stamp < stamp)
    passed = not failure and not blocking and bool(checks) and all(check.ok for check in checks)
    return report.RestoreReport(
        stack,
        key,
        passed,
        age,
        minutes,
        rto_minutes,
        tuple(checks),
        failure,
        findings=blocking,
        warnings=warnings,
        left_out=left_out,
        steps=tuple(steps),
    )


def stack_name(text: str) -> str:
    """`--stack`: one of the project's stacks."""
    if text not in STACKS:
        raise argparse.ArgumentTypeError(f"{text!r} (or $STACK): expected {', '.join(STACKS[:-1])} or {STACKS[-1]}")
    return text


def _rows(text: str) -> int:
    """A whole number of rows, for argparse."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of rows")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    verbs = top.add_subparsers(dest="verb", required=True)
    dumping = environment.add_job(
        verbs, "dump", summary="pg_dump the database into the vault", run=run_dump, variables=DUMP_ENV
    )
    dumping.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="SCHEDULE[=CLASS]",
        help="daily, weekly, pre-migration, or yearly=DEEP_ARCHIVE; repeat to write one dump under several schedules",
    )
    dumping.add_argument("--compress", type=int, default=6, choices=range(10), help="pg_dump compression 0-9")
    environment.add_job(
        verbs,
        "uploads",
        summary="copy new and changed Supabase Storage objects",
        run=run_uploads,
        variables=UPLOADS_ENV,
    )
    listing = environment.add_job(
        verbs,
        "list",
        summary="list the complete backups of each schedule with their age, and every finding (exit 1 if any)",
        run=run_list,
        variables=LIST_ENV,
    )
    listing.add_argument("--schedule", action="append", choices=[*vault.DATABASE_SCHEDULES, "uploads"])
    restoring = environment.add_job(
        verbs,
        "restore",
        summary="restore a chosen dump into the database at $RESTORE_TARGET_URL",
        run=run_restore,
        variables=RESTORE_ENV,
    )
    restoring.add_argument("key", help="the dump's key, as `list` shows it (daily/20261127T020000Z-123-1.dump)")
    restoring.add_argument(
        "--target-url-env",
        type=environment.variable_name,
        default="RESTORE_TARGET_URL",
        help="name of the variable holding the target URL (a URL in argv would show in ps and shell history)",
    )
    restoring.add_argument(
        "--confirm-production", action="store_true", help="required to restore over the production database"
    )
    restoring.add_argument("--schema", action="append", default=[], help="restore only this schema (repeatable)")
    thawing = environment.add_job(
        verbs,
        "thaw",
        summary="start the retrieval of an archived dump (yearly/), so a restore can read it; says when ready",
        run=run_thaw,
        variables=VAULT,
    )
    thawing.add_argument("key", help="the dump's key, as `list` shows it (yearly/20261129T010000Z.dump)")
    thawing.add_argument("--days", type=environment.whole, default=2, help="days the retrieved copy stays readable")
    testing = environment.add_job(
        verbs,
        "restore-test",
        summary="restore the newest daily dump into a scratch server and check it",
        run=run_restore_test,
        variables=RESTORE_TEST_ENV,
    )
    testing.add_argument(
        "--stack",
        type=stack_name,
        default=os.environ.get("STACK", ""),  # a string default goes through `type` too: $STACK is checked as well
        help="the stack tested, named in its report and metrics (default $STACK)",
    )
    testing.add_argument(
        "--rto-minutes", type=environment.whole, default=240, help="the objective the restore time is reported against"
    )
    testing.add_argument("--schema", action="append", default=[], help="restore and check only this schema")
    testing.add_argument(
        "--max-drop-percent",
        type=int,
        choices=range(101),
        metavar="0-100",
        default=DROP_BOUND.percent,
        help="fail when a table's rows or a schema's objects of one kind fell by more than this against the "
        "previous dump (vibelog:backup.restoreTestMaxDrop)",
    )
    testing.add_argument(
        "--min-drop-rows",
        type=_rows,
        metavar="ROWS",
        default=DROP_BOUND.min_rows,
        help="a table losing fewer rows than this is never flagged",
    )
    restoring_uploads = environment.add_job(
        verbs,
        "restore-uploads",
        summary="restore the user uploads as a run left them, or at a point in time, into a bucket/prefix",
        run=run_restore_uploads,
        variables=UPLOADS_RESTORE_ENV,
    )
    when = restoring_uploads.add_mutually_exclusive_group(required=True)
    when.add_argument(  # not `dest="run"`: that is the job's function (environment.add_job)
        "--run",
        dest="run_name",
        metavar="RUN",
        help="a run's manifest key or timestamp, as `list --schedule uploads` shows it",
    )
    when.add_argument("--at", help="a point in time, ISO 8601 with its zone (2026-11-27T02:00:00Z)")
    restoring_uploads.add_argument("--to", required=True, help="s3://BUCKET[/PREFIX] the objects are restored under")
    restoring_uploads.add_argument(
        "--only", default="", metavar="BUCKET/PREFIX", help="restore only the objects under this Storage bucket/prefix"
    )
    restoring_uploads.add_argument(
        "--confirm-production", action="store_true", help="required to restore into the live uploads bucket"
    )
    checking_uploads = environment.add_job(
        verbs,
        "uploads-check",
        summary=f"restore a sample of the upload backups into {uploads.CHECK_PREFIX} of the uploads bucket and "
        "compare their checksums",
        run=run_uploads_check,
        variables=UPLOADS_RESTORE_ENV,
    )
    checking_uploads.add_argument(
        "--sample", type=sample_size, default=20, metavar="N", help="objects restored, 1-1000 (and the largest)"
    )
    maintain.register(verbs)
    config_backup.register(verbs)
    runbook_cli.register(verbs)
    return top


def unexpected(error: Exception, variables: Sequence[Variable] = ()) -> str:
    """One line for an error no job anticipated (a full disk, an S3 outage, a dropped connection), scrubbed."""
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return environment.scrub(f"{type(error).__name__}{f': {first}' if first else ''}", [*ALL_ENV, *variables])


def main(argv: Sequence[str] | None = None) -> int:
    """Run one job: exit 0 done, 1 failed, 2 bad usage or input, 130 interrupted (SIGINT or SIGTERM), 141 its output's
    reader gone; every failure is one line on stderr, posted to Slack (when configured) and kept in the job summary,
    never a traceback."""
    # A path that is not UTF-8 (argv holds its bytes as surrogates) is printed escaped, as stderr prints it, not a
    # UnicodeEncodeError once the job has done its work.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    args = parser().parse_args(argv)
    try:
        environment.require(args.variables, args)
        postgres.stall_seconds()  # a malformed limit is bad input before the job starts, not halfway through it
        code: int = args.run(args)
        flush_output()
    except interrupt.Interrupted as interruption:
        return _interrupted(args.verb, interruption.signal_name)
    except Exception as error:
        if (signal_name := interrupt.interruption()) is not None:  # the interruption, under another library's name
            return _interrupted(args.verb, signal_name)
        if isinstance(error, BrokenPipeError) and output_gone():
            return EXIT_OUTPUT_GONE  # whoever read the output stopped reading (`list | head`): nothing failed
        if isinstance(error, JobError):
            # A job's own message is written to be safe; scrubbing it again costs nothing and catches a slip.
            reason = environment.scrub(str(error), [*ALL_ENV, *environment.read_by(args.variables, args)])
            print(f"error: {reason}", file=sys.stderr)
            _report(args.verb, f"failed: {reason}")
            return EXIT_BAD_INPUT if isinstance(error, BadInputError) else EXIT_FAILED
        # The one place an unanticipated error becomes one line.
        reason = unexpected(error, environment.read_by(args.variables, args))
        print(f"error: {reason}", file=sys.stderr)
        _report(args.verb, f"failed: {reason}")
        return EXIT_FAILED
    return code


def flush_output() -> None:
    """Write out what the job printed, so that an output that cannot take it ends the job as any failure does (one
    line, exit 1, reported) rather than at the interpreter's exit, as a traceback; a reader gone stays the
    BrokenPipeError `main` knows. A closed stdout (`>&-`, None) has nothing to flush."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:  # a full disk, a quota, a device that fails
        raise JobError(f"the job's output cannot be written ({error.strerror or type(error).__name__})") from None


def output_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more: its reader closed it (`list | head`), as opposed to a
    connection of the job's own breaking."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
    except (OSError, ValueError):  # not a file (a test's capture)
        return False
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _interrupted(verb: str, signal_name: str) -> int:
    _report(verb, f"interrupted ({signal_name})")
    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def _report(verb: str, outcome: str) -> None:
    """The job summary and Slack line of a job that did not finish: nobody watches a scheduled one run."""
    with interrupt.deferred():
        report.summary(f"## {verb} {outcome}")
        report.slack(f"{os.environ.get('STACK', 'unknown stack')}: {verb} {outcome}")
