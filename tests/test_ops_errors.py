"""How `python -m ops` jobs end when something goes wrong: one line, the documented exit code, Slack and the job
summary told, children stopped and temporary files removed, against the real PostgreSQL and S3 servers."""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import yaml
from botocore.exceptions import EndpointConnectionError

from ops import cli, dump, environment, postgres, restore, vault
from ops.environment import COMMON
from ops.errors import JobError
from settings.stacks import PROJECT_DIR
from tests.helpers.proxy import StallingProxy
from tests.ops_processes import StalledDump, descendants, processes, still_running, wait_for
from tests.ops_servers import CREDENTIALS, REGION, S3Server
from tests.runbook_servers import World, stand_in
from tests.test_ops_backups import dump_daily, leftovers, seed, through

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def job_parsers() -> dict[str, argparse.ArgumentParser]:
    """Each job's own argument parser, by verb."""
    (verbs,) = [a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(verbs.choices)


VERBS = sorted(job_parsers())


@pytest.mark.parametrize("verb", VERBS)
def test_a_jobs_help_lists_the_environment_it_reads_with_its_secrets_marked(verb: str) -> None:
    command = job_parsers()[verb]
    text = command.format_help()
    variables = command.get_default("variables")
    for variable in variables:
        line = next((line for line in text.splitlines() if line.strip().startswith(variable.name + " ")), "")
        assert line, f"{verb} --help does not list ${variable.name}:\n{text}"
        assert ("secret" in line) == variable.secret, f"{verb} --help marks ${variable.name} wrongly: {line}"
    assert "exit status: 0 done, 1 failed" in text, f"{verb} --help does not give the exit codes"
    assert "130 interrupted" in text


def test_no_option_takes_the_name_of_what_a_job_is_run_with() -> None:
    taken = {"run", "variables"}  # environment.add_job's defaults: an option of that name would replace them
    clashes = {
        verb: action.option_strings
        for verb, command in job_parsers().items()
        for action in command._actions
        if action.dest in taken
    }
    assert not clashes, f"options whose value would replace the job or its variables: {clashes}"


SECRET_NAMES = {"BACKUP_DATABASE_URL", "RESTORE_TARGET_URL", "VERCEL_TOKEN", "SUPABASE_STORAGE_SECRET_ACCESS_KEY"}


def test_the_credentials_are_the_variables_marked_secret() -> None:
    marked = {v.name for command in job_parsers().values() for v in command.get_default("variables") if v.secret}
    assert marked >= SECRET_NAMES, f"not marked secret: {sorted(SECRET_NAMES - marked)}"


ARGV = {
    "dump": ["dump", "--to", "daily"],
    "uploads": ["uploads"],
    "list": ["list"],
    "restore": ["restore", "daily/20261127T020000Z.dump"],
    "thaw": ["thaw", "yearly/20261129T010000Z.dump"],
    "restore-test": ["restore-test", "--stack", "staging"],
    "restore-uploads": ["restore-uploads", "--at", "2026-11-27T02:00:00Z", "--to", "s3://restored-uploads/"],
    "uploads-check": ["uploads-check"],
    "runbook-rollback": ["runbook-rollback", "previous", "--reason", "bug"],
    "runbook-switch": ["runbook-switch", "--stack", "production", "MAINTENANCE_MODE=true"],
    "runbook-announce": ["runbook-announce", "investigating"],
    "runbook-failover-verify": ["runbook-failover-verify", "failed-over"],
    "runbook-database-restore": ["runbook-database-restore", "daily/20261127T020000Z.dump"],
}


@pytest.mark.parametrize("verb", sorted(ARGV))
def test_every_missing_variable_is_named_in_one_line_and_is_bad_input(
    verb: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    required = [v.name for v in job_parsers()[verb].get_default("variables") if v.required]
    assert required, f"{verb} declares no variable"
    for name in {*required, "SLACK_WEBHOOK", "GITHUB_STEP_SUMMARY"}:
        monkeypatch.delenv(name, raising=False)

    code = cli.main(ARGV[verb])

    err = capsys.readouterr().err
    assert code == 2, f"{verb}: a missing variable is bad input (exit 2), got {code}: {err}"
    assert err.count("\n") == 1, f"{verb}: one line:\n{err}"
    named = re.findall(r"\$([A-Z0-9_]+)", err)
    assert named == required, f"{verb}: every missing variable, each once: {err}"


@pytest.mark.parametrize("limit", ["abc", "0", "-5", "nan", "inf", "1e12", "86401"])
def test_a_malformed_stall_limit_is_bad_input_before_the_job_starts(
    limit: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPS_STALL_SECONDS", limit)
    monkeypatch.setenv("RESTORE_TARGET_URL", "postgresql://u:p@db.invalid/x")
    for name in ("BACKUP_VAULT_REGION", "BACKUP_DATABASE_BUCKET"):
        monkeypatch.setenv(name, "x")

    code = cli.main(["restore", "daily/20261127T020000Z.dump"])

    err = capsys.readouterr().err
    assert code == 2, f"OPS_STALL_SECONDS={limit}: bad input (exit 2), got {code}: {err}"
    assert err == "error: $OPS_STALL_SECONDS must be a number of seconds above 0 and at most 86400\n", err


def test_pg_restores_failure_is_its_error_line_not_the_statement_after_it(database: str, s3_server: S3Server) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    (key,) = dump_daily(s3, bucket, database).keys
    # `--clean` drops the dump's tables first; a view the dump does not know depends on one, so the drop fails.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE VIEW recent_users AS SELECT id FROM users")

    with pytest.raises(JobError) as failed:
        restore.restore(s3, bucket=bucket, key=key, target_url=database, confirm_production=True)

    message = str(failed.value)
    assert message.startswith("pg_restore failed (exit 1): pg_restore: error: could not execute query: "), message
    assert "cannot drop table public.users because other objects depend on it" in message, message
    assert "Command was" not in message, message


def dump_in_thread(s3: S3Client, bucket: str, url: str) -> tuple[threading.Thread, list[Any]]:
    """Run the dump job in a thread; the list receives its result or its exception."""
    outcome: list[Any] = []

    def job() -> None:
        try:
            outcome.append(dump_daily(s3, bucket, url))
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    return thread, outcome


def test_a_pg_dump_killed_by_a_signal_says_so_and_uploads_nothing(database: str, s3_server: S3Server) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    with StalledDump(database) as stall:
        thread, outcome = dump_in_thread(s3, bucket, database)
        stall.hold()
        (pg_dump,) = [process for process in descendants(os.getpid()) if process.name == "pg_dump"]
        os.kill(pg_dump.pid, signal.SIGKILL)
        thread.join(timeout=60)

    assert outcome, "the dump did not end"
    assert isinstance(outcome[0], JobError), outcome
    assert str(outcome[0]) == "pg_dump was killed by SIGKILL"
    assert leftovers(s3, bucket) == ([], []), "a killed pg_dump's dump was uploaded"


def test_a_good_dump_is_kept_when_only_its_snapshots_commit_fails(database: str, s3_server: S3Server) -> None:
    seed(database)
    s3, bucket = s3_server.client(), s3_server.bucket(locked=True)
    with StalledDump(database) as stall:
        thread, outcome = dump_in_thread(s3, bucket, database)
        stall.hold()
        # pg_dump has imported the snapshot; the connection that exported it now drops, so its COMMIT fails.
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [stall.exporter])
        thread.join(timeout=60)

    assert outcome, "the dump did not end"
    assert isinstance(outcome[0], dump.DumpResult), f"the good dump was thrown away: {outcome[0]}"
    (key,) = outcome[0].keys
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))
    assert manifest["row_counts"] == {"public.users": 200, "public.vibelogs": 3000}, manifest
    kept = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert vault.sha256_bytes(kept) == manifest["sha256"] == outcome[0].sha256, f"{key}: not the dump pg_dump wrote"


class S3Outage:
    """An S3 client whose endpoint becomes unreachable after the first part of an upload, abort included."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def upload_part(self, **kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:
            raise EndpointConnectionError(endpoint_url="https://s3.us-west-2.amazonaws.com")
        return self._s3.upload_part(**kwargs)

    def abort_multipart_upload(self, **_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://s3.us-west-2.amazonaws.com")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_an_upload_that_could_not_be_aborted_says_so_and_what_it_left(s3_server: S3Server) -> None:
    s3, bucket = s3_server.client(), s3_server.bucket(locked=False)
    part = 5 * 1024 * 1024
    source = Path(tempfile.gettempdir()) / f"upload-{os.getpid()}"
    source.write_bytes(os.urandom(part + 1))
    try:
        with source.open("rb") as data, pytest.raises(JobError) as failed:
            vault.upload(S3Outage(s3), bucket, "daily/x.dump", data, metadata={}, part_size=part)  # type: ignore[arg-type]
    finally:
        source.unlink()

    message = str(failed.value)
    assert "was aborted" not in message, f"claims an abort that failed: {message}"
    assert "could not be aborted (Could not connect to the endpoint URL" in message, message
    assert "its 1 uploaded part(s) stay until the bucket's abort-incomplete-uploads lifecycle rule" in message
    assert leftovers(s3, bucket) == ([], ["daily/x.dump"]), "the message says what was left: one unfinished upload"


def test_a_failed_restore_test_claims_no_recovery_point_or_time(aws_env: S3Server) -> None:
    s3, bucket = aws_env.client(), aws_env.bucket(locked=False)

    result = cli.restore_test(s3, bucket, stack="staging", rto_minutes=240, durable=False)

    text = "\n".join(result.lines())
    assert not result.passed
    assert "RTO achieved" not in text, text
    assert "RPO achieved" not in text, text
    assert f"failure: no complete daily backup in s3://{bucket}" in text, text


@pytest.fixture
def slack() -> Iterator[tuple[World, str]]:
    """A Slack webhook stand-in: what it was sent, and its URL."""
    world = World()
    with stand_in(world) as base:
        yield world, f"{base}/hooks/slack"


@pytest.fixture
def scratch() -> Iterator[Path]:
    """The job's $TMPDIR, empty; the postgres account (a scratch server's owner when run as root) may enter it."""
    path = Path(tempfile.mkdtemp(prefix="ops-job-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def job_env(scratch: Path, s3_server: S3Server, webhook: str, summary: Path, **values: str) -> dict[str, str]:
    """The environment of a job started as its workflow starts it, its temporary files in `scratch`."""
    inherited = {k: v for k, v in os.environ.items() if k not in {"SLACK_WEBHOOK", "GITHUB_STEP_SUMMARY"}}
    return {
        **inherited,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": s3_server.endpoint,
        "BACKUP_VAULT_REGION": REGION,
        "TMPDIR": str(scratch),
        "SLACK_WEBHOOK": webhook,
        "GITHUB_STEP_SUMMARY": str(summary),
        "STACK": "staging",
        "PYTHONUNBUFFERED": "1",
        **values,
    }


def start(argv: list[str], env: dict[str, str], preexec: Callable[[], None] | None = None) -> subprocess.Popen[str]:
    """The job in a session of its own, as a runner's step: a process group `still_running` can look into that is
    the job's, not this test's."""
    return subprocess.Popen(  # noqa: S603 - this interpreter, the job's fixed argv
        [sys.executable, "-m", "ops", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,  # noqa: PLW1509 - one setrlimit before exec
        start_new_session=True,
    )


def told(world: World, tmp_path: Path) -> tuple[list[str], str]:
    """What Slack was sent and what the job summary holds."""
    summary = tmp_path / "summary.md"
    return [body["text"] for path, body in world.posts if path == "/hooks/slack"], (
        summary.read_text() if summary.exists() else ""
    )


def test_sigterm_during_pg_dump_stops_it_removes_the_dump_and_reports(
    database: str, s3_server: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    seed(database)
    world, webhook = slack
    bucket = s3_server.bucket(locked=True)
    env = job_env(
        scratch,
        s3_server,
        webhook,
        tmp_path / "summary.md",
        BACKUP_DATABASE_URL=database,
        BACKUP_DATABASE_BUCKET=bucket,
    )
    with StalledDump(database) as stall:
        job = start(["dump", "--to", "daily"], env)
        stall.hold()
        watched = descendants(job.pid)
        assert [process.name for process in watched] == ["pg_dump"], watched
        job.send_signal(signal.SIGTERM)
        out, err = job.communicate(timeout=60)

    assert (job.returncode, err) == (130, "interrupted\n"), f"exit {job.returncode}: {err}"
    assert still_running(watched) == [], "pg_dump (or its process group) outlived the job"
    assert os.listdir(scratch) == [], "the dump's temporary directory is left"
    assert leftovers(s3_server.client(), bucket) == ([], []), "an interrupted dump left an object"
    posts, summary = told(world, tmp_path)
    assert posts == ["staging: dump interrupted (SIGTERM)"], posts
    assert "## dump interrupted (SIGTERM)" in summary, summary
    assert out == ""


def grow(url: str, megabytes: int) -> None:
    """Add about `megabytes` of posts to a seeded database (a dump as large, with --compress 0)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO vibelogs SELECT n, 1, 'x', repeat(md5(n::text), 8), now() "
            "FROM generate_series(100000, 100000 + %s) n",
            [megabytes * 1024 * 1024 // 300],
        )


def test_the_dump_streams_to_s3_and_writes_no_copy_of_itself_on_the_runner(
    database: str, s3_server: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    seed(database)
    grow(database, 24)
    _, webhook = slack
    bucket = s3_server.bucket(locked=True)
    env = job_env(
        scratch,
        s3_server,
        webhook,
        tmp_path / "summary.md",
        BACKUP_DATABASE_URL=database,
        BACKUP_DATABASE_BUCKET=bucket,
    )

    def small_files() -> None:
        # No file of the job or its children may grow past 64 KiB: a local copy of the dump cannot be written.
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    job = start(["dump", "--to", "daily", "--compress", "0"], env, small_files)
    out, err = job.communicate(timeout=120)

    assert job.returncode == 0, f"exit {job.returncode}: {err}"
    s3 = s3_server.client()
    (key,) = [item for item in leftovers(s3, bucket)[0] if item.endswith(".dump")]
    manifest = vault.get_json(s3, bucket, vault.manifest_key(key))
    assert manifest["size_bytes"] > vault.PART_SIZE, f"{key}: {manifest['size_bytes']} bytes, not multipart"
    kept = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert vault.sha256_bytes(kept) == manifest["sha256"], f"{key}: the streamed bytes differ from the manifest's"
    assert f"wrote s3://{bucket}/{key}" in out, out


def test_sigterm_while_the_dump_streams_aborts_its_multipart_upload_and_leaves_nothing(
    pg_cluster: postgres.Cluster,
    *,
    database: str,
    s3_server: S3Server,
    slack: tuple[World, str],
    scratch: Path,
    tmp_path: Path,
) -> None:
    seed(database)
    grow(database, 30)
    world, webhook = slack
    bucket = s3_server.bucket(locked=True)
    s3 = s3_server.client()
    # pg_dump's connection (the second) stops after 20 MiB: one 16 MiB part is in S3, the dump not finished.
    with StallingProxy(pg_cluster.port, budget=20 * 1024 * 1024, stall_from=2, lifetime=120) as proxy:
        url = through(database, pg_cluster.port, proxy)
        env = job_env(
            scratch, s3_server, webhook, tmp_path / "summary.md", BACKUP_DATABASE_URL=url, BACKUP_DATABASE_BUCKET=bucket
        )
        job = start(["dump", "--to", "daily", "--compress", "0"], env)

        def a_part_sent() -> bool:
            uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            return proxy.stalled == 1 and any(
                s3.list_parts(Bucket=bucket, Key=item["Key"], UploadId=item["UploadId"]).get("Parts")
                for item in uploads
            )

        wait_for("a part uploaded while pg_dump streams", a_part_sent)
        watched = descendants(job.pid)
        assert [process.name for process in watched] == ["pg_dump"], watched
        job.send_signal(signal.SIGTERM)
        out, err = job.communicate(timeout=60)

    assert (job.returncode, err) == (130, "interrupted\n"), f"exit {job.returncode}: {err}"
    assert still_running(watched) == [], "pg_dump (or its process group) outlived the job"
    assert os.listdir(scratch) == [], "the job left a temporary file"
    assert leftovers(s3, bucket) == ([], []), "the interrupted dump left an object or an unfinished upload"
    posts, _ = told(world, tmp_path)
    assert posts == ["staging: dump interrupted (SIGTERM)"], posts
    assert out == ""


def test_ctrl_c_during_the_restore_test_stops_its_scratch_server_removes_it_and_reports(
    database: str, aws_env: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    seed(database)
    world, webhook = slack
    s3, bucket = aws_env.client(), aws_env.bucket(locked=False)
    dump_daily(s3, bucket, database)
    env = job_env(scratch, aws_env, webhook, tmp_path / "summary.md", BACKUP_DATABASE_BUCKET=bucket)
    job = start(["restore-test", "--stack", "staging"], env)

    def scratch_server() -> list[Any]:
        return [p for p in processes().values() if p.name == "postgres" and str(scratch) in p.command]

    (postmaster,) = wait_for("the scratch server", scratch_server)
    watched = [postmaster, *descendants(postmaster.pid), *descendants(job.pid)]
    job.send_signal(signal.SIGINT)
    out, err = job.communicate(timeout=60)

    assert (job.returncode, err) == (130, "interrupted\n"), f"exit {job.returncode}: {err}\n{out}"
    assert still_running(watched) == [], "the scratch server or a child outlived the job"
    assert os.listdir(scratch) == [], "the scratch server's data directory or the dump is left"
    posts, summary = told(world, tmp_path)
    assert posts == ["staging: restore-test interrupted (SIGINT)"], posts
    assert "## restore-test interrupted (SIGINT)" in summary, summary


def test_a_scratch_server_left_while_its_initdb_runs_stops_it_and_removes_its_directory() -> None:
    # The restore test starts initdb as the dump starts to arrive: a dump that cannot be read ends the test with
    # initdb still running.
    with postgres.starting_cluster(durable=False) as starting:
        root = starting.data_dir.parent

        def initdb() -> list[Any]:
            # initdb forks the processes it runs: a child caught between fork and exec still has its name and
            # command line. The one whose parent is no initdb is initdb itself.
            found = [p for p in processes().values() if p.name == "initdb" and str(root) in p.command]
            return [p for p in found if p.ppid not in {other.pid for other in found}]

        (running,) = wait_for("initdb", initdb)
        watched = [running, *descendants(running.pid)]

    assert still_running(watched) == [], f"initdb outlived the scratch server it was creating in {root}"
    assert not root.exists(), f"the scratch server's directory {root} is left"


def test_a_temporary_file_that_cannot_be_written_fails_the_restore_test_with_its_report(
    database: str, aws_env: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    seed(database)
    world, webhook = slack
    s3, bucket = aws_env.client(), aws_env.bucket(locked=False)
    dump_daily(s3, bucket, database)
    env = job_env(scratch, aws_env, webhook, tmp_path / "summary.md", BACKUP_DATABASE_BUCKET=bucket)

    def small_files() -> None:
        # A file may not grow past 64 KiB: writing the fetched dump fails as on a full disk (EFBIG, not ENOSPC,
        # through the same write).
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    job = start(["restore-test", "--stack", "staging"], env, small_files)
    out, err = job.communicate(timeout=120)

    assert job.returncode == 1, f"exit {job.returncode}: {err}"
    assert "Traceback" not in out + err, err
    assert "Restore test FAILED for staging" in out, out
    # The dump downloads while the scratch server is created: whichever write is refused first fails the test.
    assert re.search(r"failure: (OSError: \[Errno 27\] File too large|.* initdb failed)", out), out
    assert os.listdir(scratch) == [], "the partial dump is left"
    posts, summary = told(world, tmp_path)
    assert len(posts) == 1, posts
    assert posts[0].startswith("Restore test FAILED for staging"), posts
    assert "## Restore test FAILED for staging" in summary, summary


InProcess = Callable[..., tuple[int, str, str]]


@pytest.fixture
def in_process(
    slack: tuple[World, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> InProcess:
    """`run(argv, webhook=...)`: `python -m ops ARGV` in this process, its exit code, stdout and stderr; Slack is the
    stand-in (or the webhook given) and the job summary is `told`'s."""

    def run(argv: list[str], webhook: str = slack[1]) -> tuple[int, str, str]:
        monkeypatch.setenv("SLACK_WEBHOOK", webhook)
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
        monkeypatch.setenv("STACK", "staging")
        code = cli.main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def supabase_storage(monkeypatch: pytest.MonkeyPatch, aws_env: S3Server, endpoint: str) -> None:
    """The uploads job's variables: Supabase Storage at `endpoint`, the uploads bucket in the stand-in S3."""
    for name, value in {
        "SUPABASE_STORAGE_ENDPOINT": endpoint,
        "SUPABASE_STORAGE_REGION": REGION,
        "SUPABASE_STORAGE_ACCESS_KEY_ID": "storage-key-id",
        "SUPABASE_STORAGE_SECRET_ACCESS_KEY": "storage-secret-key",
        "BACKUP_UPLOADS_BUCKET": aws_env.bucket(locked=False),
        "BACKUP_UPLOADS_REGION": REGION,
        "BACKUP_UPLOADS_RETENTION_DAYS": "90",
    }.items():
        monkeypatch.setenv(name, value)


def test_an_error_no_job_anticipated_is_one_line_told_to_slack_and_the_summary(
    aws_env: S3Server, slack: tuple[World, str], in_process: InProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _ = slack
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=False))

    def unanticipated(*_: object) -> None:
        raise LookupError("nothing the job expected")

    monkeypatch.setattr(vault, "inventory", unanticipated)
    code, out, err = in_process(["list"])

    expected = "LookupError: nothing the job expected"
    assert (code, out, err) == (1, "", f"error: {expected}\n"), err
    posts, summary = told(world, tmp_path)
    assert posts == [f"staging: list failed: {expected}"], posts
    assert summary == f"## list failed: {expected}\n", summary


@pytest.mark.parametrize(
    ("argv", "variable", "value", "expected"),
    [
        (["list"], "BACKUP_VAULT_REGION", "us west 2", "$BACKUP_VAULT_REGION: 'us west 2' is not an AWS region name"),
        (
            ["uploads"],
            "SUPABASE_STORAGE_ENDPOINT",
            "storage-key:s3cr3t@not a url",
            "$SUPABASE_STORAGE_ENDPOINT is not a URL (https://<project ref>.supabase.co/storage/v1/s3)",
        ),
        (["uploads"], "SUPABASE_STORAGE_REGION", "eu_central!", "$SUPABASE_STORAGE_REGION: 'eu_central!' is not an"),
    ],
)
def test_a_malformed_region_or_endpoint_is_bad_input_naming_its_variable(
    *,
    argv: list[str],
    variable: str,
    value: str,
    expected: str,
    aws_env: S3Server,
    in_process: InProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=False))
    supabase_storage(monkeypatch, aws_env, aws_env.endpoint)
    monkeypatch.setenv(variable, value)

    code, out, err = in_process(argv)

    assert (code, out) == (2, ""), f"${variable} {value!r}: exit {code}, {err}"
    assert err.startswith(f"error: {expected}"), f"${variable} {value!r}: {err}"
    assert "s3cr3t" not in err, f"${variable}'s value was shown: {err}"


def test_a_pg_bin_without_the_tools_is_bad_input_before_the_database_is_read(
    aws_env: S3Server, in_process: InProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=False))
    monkeypatch.setenv("BACKUP_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{postgres.free_port()}/vibelog")
    monkeypatch.setenv("PG_BIN", str(tmp_path))

    code, out, err = in_process(["dump", "--to", "daily"])

    assert (code, out, err) == (2, "", f"error: $PG_BIN: pg_dump is not in {tmp_path}\n"), f"exit {code}: {err}"


def listing(env: dict[str, str], stdout: Any) -> subprocess.CompletedProcess[str]:
    """`python -m ops list` in its own process, writing to `stdout`; its stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", "ops", "list"],
        check=False,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["raised in the job", "raised by the last flush"])
def test_a_reader_that_leaves_early_is_not_a_failure(
    unbuffered: str, aws_env: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    world, webhook = slack
    env = job_env(
        scratch,
        aws_env,
        webhook,
        tmp_path / "summary.md",
        BACKUP_DATABASE_BUCKET=aws_env.bucket(locked=False),
        PYTHONUNBUFFERED=unbuffered,
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # `python -m ops list | head -0`: the reader is gone before the first line
    try:
        done = listing(env, write_end)
    finally:
        os.close(write_end)

    assert (done.returncode, done.stderr) == (141, ""), f"exit {done.returncode}: {done.stderr}"
    assert told(world, tmp_path) == ([], ""), "a listing its reader cut short was reported as a failure"


def test_an_output_on_a_full_disk_fails_the_job_in_one_line_and_is_reported(
    aws_env: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    # Buffered, as a runner's redirected step is: the write that fails is the flush after the job.
    world, webhook = slack
    env = job_env(
        scratch,
        aws_env,
        webhook,
        tmp_path / "summary.md",
        BACKUP_DATABASE_BUCKET=aws_env.bucket(locked=False),
        PYTHONUNBUFFERED="",
    )
    with Path("/dev/full").open("w") as full:  # every write is ENOSPC
        done = listing(env, full)

    assert done.returncode == 1, f"exit {done.returncode}: {done.stderr}"
    assert done.stderr == "error: the job's output cannot be written (No space left on device)\n", done.stderr
    posts, summary = told(world, tmp_path)
    assert posts == ["staging: list failed: the job's output cannot be written (No space left on device)"], posts
    assert "## list failed: " in summary, summary


def test_help_on_a_full_disk_is_one_line_not_the_interpreters_exception() -> None:
    with Path("/dev/full").open("w") as full:  # every write is ENOSPC
        done = subprocess.run(
            [sys.executable, "-m", "ops", "list", "--help"],
            check=False,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": ""},
            timeout=60,
        )
    assert (done.returncode, done.stderr) == (
        1,
        "error: the job's output cannot be written (No space left on device)\n",
    )


def test_a_job_started_with_stdout_closed_runs_without_a_traceback(
    aws_env: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    world, webhook = slack
    env = job_env(
        scratch, aws_env, webhook, tmp_path / "summary.md", BACKUP_DATABASE_BUCKET=aws_env.bucket(locked=False)
    )
    done = subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "ops", "list"],  # `python -m ops list >&-`
        check=False,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )

    assert (done.returncode, done.stderr) == (0, ""), f"exit {done.returncode}: {done.stderr}"
    assert told(world, tmp_path) == ([], ""), "a listing with nowhere to print was reported as a failure"


def test_the_variable_a_target_url_is_read_from_is_scrubbed_under_its_new_name_and_must_be_a_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli.parser().parse_args(["restore", "daily/20261127T020000Z-1-1.dump", "--target-url-env", "DRILL_URL"])
    monkeypatch.setenv("DRILL_URL", "host=db.example password=drill-s3cr3t dbname=vibelog")  # not a URL: no pattern
    line = f"could not reach {os.environ['DRILL_URL']}"

    scrubbed = environment.scrub(line, environment.read_by(args.variables, args))

    assert "drill-s3cr3t" not in scrubbed, f"$DRILL_URL's value was left in: {scrubbed}"
    assert scrubbed == "could not reach $DRILL_URL", scrubbed
    with pytest.raises(SystemExit) as usage:
        cli.parser().parse_args(["restore", "daily/20261127T020000Z-1-1.dump", "--target-url-env", ""])
    assert usage.value.code == 2, "an empty --target-url-env was accepted"
    assert "'' is not a variable's name" in capsys.readouterr().err


def test_a_url_with_credentials_in_an_error_is_never_shown(
    aws_env: S3Server, slack: tuple[World, str], in_process: InProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _ = slack
    closed = f"http://storage-key:s3cr3t-in-the-url@127.0.0.1:{postgres.free_port()}"  # nothing listens there
    supabase_storage(monkeypatch, aws_env, closed)

    code, out, err = in_process(["uploads"])

    posts, summary = told(world, tmp_path)
    assert (code, out) == (1, ""), err
    assert err.startswith("error: cannot list the Supabase Storage buckets: Could not connect"), err
    assert err.count("\n") == 1, err
    for where, text in (("stderr", err), ("Slack", "\n".join(posts)), ("the summary", summary)):
        assert "s3cr3t-in-the-url" not in text, f"{where} shows the URL's password: {text}"
    assert len(posts) == 1, posts


@pytest.mark.parametrize(
    "webhook",
    [
        "https://hook:s3cr3t-pw@hooks.slack.example/T/B",
        "https://[s3cr3t-pw/T/B",
        "https://x:s3cr3t-pw/T",
        "garbled",  # a server answering with what is not HTTP (the fixture's URL)
    ],
)
def test_a_slack_webhook_that_cannot_be_used_leaves_the_jobs_own_error_line(
    webhook: str, in_process: InProcess, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if webhook == "garbled":
        webhook = request.getfixturevalue("garbled")
    for name in ("BACKUP_VAULT_REGION", "BACKUP_DATABASE_BUCKET"):
        monkeypatch.delenv(name, raising=False)

    code, out, err = in_process(["list"], webhook)

    missing = "error: not set: $BACKUP_VAULT_REGION, $BACKUP_DATABASE_BUCKET"
    assert (code, out) == (2, ""), f"SLACK_WEBHOOK={webhook}: exit {code}, not the missing variables' 2: {err}"
    assert err.startswith(missing), f"SLACK_WEBHOOK={webhook}: not the job's own error: {err}"
    assert err.count("\n") == 1, f"SLACK_WEBHOOK={webhook}: not one line: {err}"
    assert "s3cr3t-pw" not in err, f"SLACK_WEBHOOK={webhook}: its secret shown: {err}"


@pytest.fixture
def garbled() -> Iterator[str]:
    """A loopback server that answers every request with a line that is not HTTP: its URL."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = server.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"not HTTP at all\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks/slack"
    finally:
        server.close()


def test_a_runbook_webhook_with_a_password_is_bad_input_never_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", "https://hook:s3cr3t-pw@status.example.com/incidents")
    monkeypatch.setenv("SLACK_WEBHOOK", "http://127.0.0.1:9/hooks/slack")  # nothing listens: the report is skipped
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    code = cli.main(["runbook-announce", "investigating"])

    err = capsys.readouterr().err
    expected = "error: refusing $STATUS_PAGE_WEBHOOK: it holds a user or password (for status.example.com; send a "
    assert code == 2, f"a webhook with a password is bad input (exit 2), got {code}: {err}"
    assert err.startswith(expected), err
    assert err.count("\n") == 1, f"not one line: {err}"
    assert "s3cr3t-pw" not in err, f"the webhook's password is shown: {err}"


def test_an_error_quoting_text_that_is_not_utf8_is_one_line_in_the_summary_too(
    s3_server: S3Server, slack: tuple[World, str], scratch: Path, tmp_path: Path
) -> None:
    world, webhook = slack
    # A byte the environment held that is not UTF-8, on a runner whose locale is C.UTF-8.
    env = job_env(scratch, s3_server, webhook, tmp_path / "summary.md", BACKUP_DATABASE_BUCKET=os.fsdecode(b"v\xff"))
    job = start(["list"], {**env, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    out, err = job.communicate(timeout=60)

    expected = "cannot list the versions of s3://v\\udcff/daily/"
    assert (job.returncode, out) == (1, ""), err
    assert err.startswith(f"error: {expected}"), err
    assert err.count("\n") == 1, f"not one line: {err}"
    posts, summary = told(world, tmp_path)
    assert summary.startswith(f"## list failed: {expected}"), f"the job summary lost the failure: {summary!r}"
    assert len(posts) == 1, posts


def ops_steps() -> list[tuple[str, str, set[str]]]:
    """(workflow and step, verb, the variables its environment sets) of every step running `python -m ops`."""
    found = []
    for path in sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job in workflow.get("jobs", {}).values():
            for step in job.get("steps", []):
                given = {*workflow.get("env", {}), *job.get("env", {}), *step.get("env", {})}
                # A command line, not a message that mentions one (`as python -m ops list shows it`).
                for verb in re.findall(r"^\s*python -m ops ([a-z-]+)", str(step.get("run", "")), re.MULTILINE):
                    found.append((f"{path.name}: {step.get('name', step.get('run'))}", verb, given))
    return found


def test_every_workflow_step_gives_its_job_every_variable_the_job_requires() -> None:
    steps = ops_steps()
    assert {verb for _, verb, _ in steps} >= {"dump", "uploads", "restore-test", "runbook-rollback"}, steps
    parsers = job_parsers()
    for where, verb, given in steps:
        required = {v.name for v in parsers[verb].get_default("variables") if v.required}
        assert required <= given, f"{where} runs `{verb}` without {sorted(required - given)}"


@pytest.mark.parametrize("days", ["ninety", "0", "-1", "²", "9 0", "2147483648", "9" * 5000])
def test_a_malformed_number_of_days_is_bad_input_in_one_line(
    days: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [v.name for v in job_parsers()["uploads"].get_default("variables")]:
        monkeypatch.setenv(name, "https://storage.example.com" if name.endswith("ENDPOINT") else REGION)
    monkeypatch.setenv("BACKUP_UPLOADS_RETENTION_DAYS", days)
    monkeypatch.delenv("SLACK_WEBHOOK", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    assert cli.main(["uploads"]) == 2, f"{days!r} is bad input"
    assert (
        capsys.readouterr().err == "error: $BACKUP_UPLOADS_RETENTION_DAYS must be a whole number from 1 to 2147483647\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["thaw", "yearly/20261129T010000Z.dump", "--days", "0"],
        ["thaw", "yearly/20261129T010000Z.dump", "--days", "-1"],
        ["restore-test", "--rto-minutes", "0"],
        ["restore-test", "--rto-minutes", "-240"],
    ],
)
def test_a_number_of_days_or_minutes_below_1_is_bad_usage_before_the_job_starts(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2, f"{argv}: bad usage (exit 2), got {exited.value.code}: {err}"
    assert "is not a whole number of at least 1" in err, f"{argv}: {err}"


@pytest.mark.parametrize(("argv", "stack"), [(["--stack", "prod"], "staging"), ([], "prod"), ([], None)])
def test_the_restore_test_of_a_stack_that_does_not_exist_is_bad_usage(
    argv: list[str], stack: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its report and its metrics carry the name: the real stack's dashboard would show no restore test.
    if stack is None:
        monkeypatch.delenv("STACK", raising=False)
    else:
        monkeypatch.setenv("STACK", stack)
    with pytest.raises(SystemExit) as exited:
        cli.main(["restore-test", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2, f"restore-test {argv} with STACK={stack}: exit {exited.value.code}: {err}"
    assert "argument --stack: " in err, err
    assert "expected development, staging or production" in err, err


def variables_read() -> dict[str, str]:
    """Every environment variable ops/ reads by name (`env("X")`, `os.environ.get("X")`, ...), with where."""
    readers = {"env", "value", "whole_number", "vault_client", "get"}
    found: dict[str, str] = {}
    for path in sorted((PROJECT_DIR / "ops").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                environ = not isinstance(node.func, ast.Attribute) or "environ" in ast.unparse(node.func.value)
                if function in readers and (function != "get" or environ):
                    name = node.args[0].value
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                name = ast.literal_eval(node.slice)
            if isinstance(name, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", name):
                found.setdefault(name, f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")  # type: ignore[attr-defined]
    return found


def test_every_variable_ops_reads_is_declared_by_a_job_and_shown_by_its_help() -> None:
    read = variables_read()
    assert {"BACKUP_DATABASE_URL", "VERCEL_TOKEN", "GITHUB_STEP_SUMMARY", "VERCEL_API_URL"} <= set(read), read
    declared = {v.name for command in job_parsers().values() for v in command.get_default("variables")}
    declared |= {v.name for v in COMMON}
    undeclared = {name: where for name, where in read.items() if name not in declared}
    assert not undeclared, f"read but in no job's --help: {undeclared}"
