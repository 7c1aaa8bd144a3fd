"""`python -m ops <job>`: argparse, the environment the workflows set, and one call per job."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from ops import dump, metrics, postgres, report, restore, uploads, vault
from ops.errors import JobError
from ops.runbook import cli as runbook_cli

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def env(name: str) -> str:
    """A variable the workflow's environment must set; JobError naming it (never its value) if it is missing."""
    value = os.environ.get(name, "")
    if not value:
        raise JobError(f"${name} is not set (the GitHub environment declares it; see docs/backups.md)")
    return value


def vault_client(region_variable: str = "BACKUP_VAULT_REGION") -> S3Client:
    """S3 in the vault's region with the job's own credentials (the role assumed through OIDC).

    AWS_ENDPOINT_URL_S3, which boto3 reads itself, points it at a stand-in S3 in tests.
    """
    return boto3.client("s3", region_name=env(region_variable), config=vault.client_config())


def storage_client() -> S3Client:
    """Supabase Storage's S3-compatible API, with the project's S3 access keys (path-style, as Supabase wants)."""
    return boto3.client(
        "s3",
        endpoint_url=env("SUPABASE_STORAGE_ENDPOINT"),
        region_name=env("SUPABASE_STORAGE_REGION"),
        aws_access_key_id=env("SUPABASE_STORAGE_ACCESS_KEY_ID"),
        aws_secret_access_key=env("SUPABASE_STORAGE_SECRET_ACCESS_KEY"),
        config=vault.client_config().merge(Config(s3={"addressing_style": "path"})),
    )


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
        retention_days=int(env("BACKUP_UPLOADS_RETENTION_DAYS")),
    )
    line = (
        f"copied {result.copied} new or changed object(s) and refreshed {result.refreshed} "
        f"({result.copied_bytes} bytes); {result.unchanged} unchanged; manifest {result.manifest_key}"
    )
    print(line)
    report.summary(f"## Upload backup\n\n- {line}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    s3 = vault_client()
    moment = vault.now()
    print(f"{'schedule':8}  {'age':>9}  {'size':>12}  {'class':12}  key")
    for backup in vault.backups(s3, env("BACKUP_DATABASE_BUCKET"), args.schedule or vault.DATABASE_SCHEDULES):
        print(
            f"{backup.schedule:8}  {backup.age_hours(moment):8.1f}h  {backup.size:12d}  "
            f"{backup.storage_class:12}  {backup.key}"
        )
    uploads_bucket = os.environ.get("BACKUP_UPLOADS_BACKUP_BUCKET")
    if uploads_bucket and (not args.schedule or "uploads" in args.schedule):
        for item in vault.list_objects(s3, uploads_bucket, uploads.MANIFESTS_PREFIX):
            age = (moment - item.last_modified).total_seconds() / 3600
            print(f"{'uploads':8}  {age:8.1f}h  {item.size:12d}  {item.storage_class:12}  {item.key}")
    return 0


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
    state = vault.thaw(vault_client(), env("BACKUP_DATABASE_BUCKET"), args.key, days=args.days)
    print(f"{args.key}: {state}")
    return 0


def run_restore_test(args: argparse.Namespace) -> int:
    s3 = vault_client()
    bucket = env("BACKUP_DATABASE_BUCKET")
    result = restore_test(s3, bucket, stack=args.stack, rto_minutes=args.rto_minutes, schemas=args.schema)
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
) -> report.RestoreReport:
    """The weekly restore test: the newest dump of `schedule`, verified, restored into a scratch server, checked."""
    start = time.monotonic()
    key, age, checks, failure = "", 0.0, [], ""
    try:
        backup = restore.newest(s3, bucket, schedule)
        key = backup.key
        with tempfile.TemporaryDirectory(prefix="vibelog-restore-test-") as workdir:
            path = Path(workdir) / "database.dump"
            manifest, _ = restore.fetch_verified(s3, bucket, key, path)
            age = report.hours_between(vault.parse_time(str(manifest["started"])), vault.now())
            with postgres.scratch_cluster(durable=durable) as cluster:
                restore.pg_restore(path, cluster.url, schemas)
                checks = restore.check(cluster.url, manifest, schemas)
    except JobError as error:
        failure = str(error)
    minutes = (time.monotonic() - start) / 60
    passed = not failure and bool(checks) and all(check.ok for check in checks)
    return report.RestoreReport(stack, key, passed, age, minutes, rto_minutes, tuple(checks), failure)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    verbs = top.add_subparsers(dest="verb", required=True)
    dumping = verbs.add_parser("dump", help="pg_dump the database into the vault (BACKUP_DATABASE_URL)")
    dumping.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="SCHEDULE[=CLASS]",
        help="daily, weekly, or yearly=DEEP_ARCHIVE; repeat to write one dump under several schedules",
    )
    dumping.add_argument("--compress", type=int, default=6, choices=range(10), help="pg_dump compression 0-9")
    dumping.set_defaults(run=run_dump)
    verbs.add_parser("uploads", help="copy new and changed Supabase Storage objects").set_defaults(run=run_uploads)
    listing = verbs.add_parser("list", help="list the complete backups of each schedule with their age")
    listing.add_argument("--schedule", action="append", choices=[*vault.DATABASE_SCHEDULES, "uploads"])
    listing.set_defaults(run=run_list)
    restoring = verbs.add_parser("restore", help="restore a chosen dump into the database at $RESTORE_TARGET_URL")
    restoring.add_argument("key", help="the dump's key, as `list` shows it (daily/20261127T020000Z.dump)")
    restoring.add_argument(
        "--target-url-env",
        default="RESTORE_TARGET_URL",
        help="name of the variable holding the target URL (a URL in argv would show in ps and shell history)",
    )
    restoring.add_argument(
        "--confirm-production", action="store_true", help="required to restore over the production database"
    )
    restoring.add_argument("--schema", action="append", default=[], help="restore only this schema (repeatable)")
    restoring.set_defaults(run=run_restore)
    thawing = verbs.add_parser(
        "thaw", help="start the retrieval of an archived dump (yearly/), so a restore can read it; says when ready"
    )
    thawing.add_argument("key", help="the dump's key, as `list` shows it (yearly/20261129T010000Z.dump)")
    thawing.add_argument("--days", type=int, default=2, help="days the retrieved copy stays readable")
    thawing.set_defaults(run=run_thaw)
    testing = verbs.add_parser("restore-test", help="restore the newest daily dump into a scratch server and check it")
    testing.add_argument("--stack", default=os.environ.get("STACK", "unknown"))
    testing.add_argument(
        "--rto-minutes", type=int, default=240, help="the objective the restore time is reported against"
    )
    testing.add_argument("--schema", action="append", default=[], help="restore and check only this schema")
    testing.set_defaults(run=run_restore_test)
    runbook_cli.register(verbs)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one job; exit 0 done, 1 failed (one line on stderr, and to Slack when configured), 2 bad usage."""
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except JobError as error:
        print(f"error: {error}", file=sys.stderr)
        report.summary(f"## {args.verb} failed\n\n{error}")
        report.slack(f"{args.verb} failed for {os.environ.get('STACK', 'unknown stack')}: {error}")
        return 1
    return code
