"""Property: whatever the environment, argv and stack files hold, and whenever SIGINT or SIGTERM arrives, every
`python -m ops` job and runbook verb exits 0, 1, 2 or 130, in one line, never with a traceback, never showing a
secret, leaving no child process and no temporary file.

The same approach as tests/test_cli_fuzz.py for `python -m infra`. Environments draw each variable a job declares
as missing, empty, malformed, or plausible (pointing at the suite's real PostgreSQL and moto servers and a webhook
stand-in), with canaries in every secret; runs are in-process. Signals need a real process: a job is started,
signalled at a random moment once its handler is installed, and its process tree and $TMPDIR are inspected.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ops import cli
from ops.environment import COMMON, Variable
from settings.stacks import PROJECT_DIR
from tests.helpers.cli import copy_stacks
from tests.ops_processes import descendants, processes, still_running, wait_for
from tests.ops_servers import CREDENTIALS, REGION, S3Server
from tests.runbook_servers import World, stand_in
from tests.test_cli_fuzz import CANARY, stack_files
from tests.test_ops_backups import dump_daily, seed
from tests.test_ops_errors import job_parsers

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the gate runs the same examples every time; new ones are a local `--hypothesis-seed`
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
PARSERS = job_parsers()
FAST = ["--attempts", "1", "--interval", "0"]
# Argument lists of each verb: a plausible one first, then some a person could mistype.
ARGVS: dict[str, list[list[str]]] = {
    "dump": [["--to", "daily"], ["--to", "weekly", "--to", "yearly=DEEP_ARCHIVE", "--compress", "9"], ["--to", "x"]],
    "uploads": [[], ["--to", "daily"]],
    "list": [[], ["--schedule", "daily", "--schedule", "uploads"], ["--schedule", "hourly"]],
    "restore": [["daily/20261127T020000Z.dump"], ["daily/x.dump", "--target-url-env", "OTHER_URL"], []],
    "thaw": [["yearly/20261129T010000Z.dump"], ["yearly/x.dump", "--days", "-1"]],
    "restore-test": [["--stack", "staging", "--rto-minutes", "240"], ["--rto-minutes", "soon"]],
    "maintain": [["--dry-run"], [], ["--batch-rows", "0"]],
    "restore-uploads": [
        ["--at", "2026-11-27T02:00:00Z", "--to", "s3://restored-uploads/x/"],
        ["--run", "20261127T020000Z", "--to", "s3://Live/", "--confirm-production"],
        ["--at", "yesterday", "--to", "s3://restored-uploads"],
    ],
    "uploads-check": [[], ["--sample", "0"]],
    "runbook-rollback": [["previous", "--reason", "bug", *FAST], ["dpl_x", *FAST]],
    "runbook-switch": [
        ["--stack", "production", "MAINTENANCE_MODE=true", *FAST],
        ["--stack", "production", "MAINTENANCE_MODE=maybe"],
    ],
    "runbook-announce": [["investigating", "--detail", "d"], ["panicking"]],
    "runbook-failover-verify": [["failed-over", *FAST], ["sideways"]],
    "runbook-database-restore": [["daily/20261127T020000Z.dump", *FAST], ["daily/x.dump", "--confirm-production"]],
    "runbook-stack-set": [
        ["--stack", "production", "dns.forceFailover=true"],
        ["--stack", "staging", "operations.keepPreviousSecrets=false"],
        ["--stack", "production", "nothing=1"],
    ],
    "runbook-lockdown": [["--stack", "production"], ["--stack", "development"]],
    "config-backup": [["--stack", "production"], ["--stack", "staging", "--dir", "elsewhere"], ["--stack", "prod"]],
    "config-restore": [
        ["--stack", "production", "--to", "restored"],
        ["--stack", "staging", "--backup", "config/staging/x.json", "--to", ".", "--overwrite"],
        ["--stack", "production", "--backup", "../x", "--to", "restored"],
    ],
}
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)


def test_every_verb_is_fuzzed() -> None:
    assert set(ARGVS) == set(PARSERS), f"verbs the harness does not run: {sorted(set(PARSERS) - set(ARGVS))}"


def plausible(variable: Variable, servers: dict[str, str]) -> str:
    """A value of the right shape, pointing at the suite's servers; secrets carry the canary."""
    name = variable.name
    if name in {"BACKUP_DATABASE_URL", "RESTORE_TARGET_URL", "MAINTENANCE_DATABASE_URL"}:
        return servers["database"].replace("postgres@", f"postgres:{CANARY}@")
    if name in {"SLACK_WEBHOOK", "STATUS_PAGE_WEBHOOK"}:
        return f"{servers['web']}/hooks/{CANARY}"
    if name in {"APP_URL", "VERCEL_API_URL"}:
        return servers["web"]
    if name == "SUPABASE_STORAGE_ENDPOINT":
        return servers["s3"]
    if name.endswith("_REGION"):
        return REGION
    if name == "BACKUP_DATABASE_BUCKET":
        return servers["bucket"]
    if name.endswith("_DAYS"):
        return "90"
    if name.endswith(("_TABLE", "_INDEX")):
        return name.lower()  # a well-formed name the seeded database does not hold: the job's refusal
    if name == "OPS_STALL_SECONDS":
        return "300"
    if name in {"GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"}:
        return "12345" if name == "GITHUB_RUN_ID" else "1"
    if name == "GITHUB_STEP_SUMMARY":
        return servers["summary"]
    return f"{CANARY}-{name.lower()}" if variable.secret else f"{name.lower()}-1"


@st.composite
def runs(draw: st.DrawFn, servers: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    """A verb, its argv and its environment (only what is given is set)."""
    verb = draw(st.sampled_from(sorted(ARGVS)))
    argv = [verb, *draw(st.sampled_from(ARGVS[verb]))]
    variables = [*PARSERS[verb].get_default("variables"), *COMMON]
    # Most examples break a variable or two; the others run the verb for real against the servers.
    broken = draw(st.lists(st.sampled_from([variable.name for variable in variables]), max_size=2, unique=True))
    env: dict[str, str] = {}
    for variable in variables:
        kind = draw(st.sampled_from(["missing", "empty", "malformed"])) if variable.name in broken else "plausible"
        if kind == "plausible":
            env[variable.name] = plausible(variable, servers)
        elif kind == "empty":
            env[variable.name] = ""
        elif kind == "malformed":
            text = draw(TEXT)
            env[variable.name] = f"{CANARY}{text}" if variable.secret else text
    return verb, argv, env


@pytest.fixture
def servers(database: str, aws_env: S3Server, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The suite's servers for the jobs: a seeded database with one daily dump in a bucket, a web stand-in."""
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=False)
    dump_daily(s3, bucket, database)
    world = World()
    with stand_in(world) as web:
        yield {
            "database": database,
            "s3": aws_env.endpoint,
            "bucket": bucket,
            "web": web,
            "summary": str(tmp_path / "summary.md"),
        }


def _no_secret(where: str, text: str, verb: str) -> None:
    assert "Traceback" not in text, f"{verb}: a traceback in {where}:\n{text}"
    assert CANARY not in text, f"{verb} shows a secret in {where}:\n{text}"


@FUZZ
@given(data=st.data())
def test_every_verb_in_any_environment_ends_in_one_clean_line(
    servers: dict[str, str],
    data: st.DataObject,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    verb, argv, env = data.draw(runs(servers))
    stacks = copy_stacks(tmp_path_factory.mktemp("stacks"))
    if verb in {"runbook-stack-set", "runbook-lockdown"}:
        stack, content = data.draw(stack_files())
        (stacks / f"Pulumi.{stack}.yaml").write_bytes(content)
    if verb == "config-backup":  # a checkout: the project file beside the stack files, some of them broken
        (stacks / "Pulumi.yaml").write_bytes((PROJECT_DIR / "Pulumi.yaml").read_bytes())
        stack, content = data.draw(stack_files())
        (stacks / f"Pulumi.{stack}.yaml").write_bytes(content)
    capsys.readouterr()
    declared = {variable.name for variable in [*PARSERS[verb].get_default("variables"), *COMMON]}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(stacks)
        for name in declared | {"OTHER_URL"}:
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL", servers["s3"])  # CloudWatch (failover-verify) too
        try:
            code = cli.main(argv)
        except SystemExit as stop:  # argparse's usage error
            code = int(stop.code or 0)
    out, err = capsys.readouterr()
    summary = Path(servers["summary"])
    reported = summary.read_text(errors="replace") if summary.exists() else ""
    summary.unlink(missing_ok=True)

    event(f"{verb} exit {code}")  # --hypothesis-show-statistics: how the examples ended
    assert code in {0, 1, 2}, f"{argv}: exit {code}\n{err}"
    for where, text in (("stdout", out), ("stderr", err), ("the job summary", reported)):
        _no_secret(where, text, verb)
    if code and "usage:" not in err:
        assert err.count("\n") <= 1, f"{argv}: more than one line on stderr:\n{err}"
    required = [v.name for v in PARSERS[verb].get_default("variables") if v.required]
    renamed = "--target-url-env" in argv  # then the target is read from $OTHER_URL, which is never set
    if all(env.get(name) for name in required) and not renamed:
        assert "not set" not in err, f"{verb} reads a variable it does not declare: {err}"


# The jobs a signal is sent to: each does real work against the suite's servers for a moment.
SIGNALLED = {
    "dump": ["dump", "--to", "daily"],
    "uploads": ["uploads"],
    "list": ["list"],
    "restore-test": ["restore-test", "--stack", "staging"],
    "runbook-announce": ["runbook-announce", "investigating"],
}


def handler_installed(pid: int) -> bool:
    """Whether the process catches SIGTERM (its handler is installed: what follows is the job's own code)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # it ended already: nothing more to wait for
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@settings(FUZZ, max_examples=6)
@given(st.sampled_from(sorted(SIGNALLED)), st.sampled_from([signal.SIGINT, signal.SIGTERM]), st.floats(0, 2.5))
def test_a_signal_at_any_moment_of_a_job_ends_it_cleanly(
    servers: dict[str, str], verb: str, signum: signal.Signals, delay: float
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="ops-fuzz-"))
    scratch.chmod(0o755)  # the postgres account runs the restore test's scratch server when the suite is root
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"SLACK_WEBHOOK", "GITHUB_STEP_SUMMARY"}},
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": servers["s3"],
        "TMPDIR": str(scratch),
        "PYTHONUNBUFFERED": "1",
        "BACKUP_VAULT_REGION": REGION,
        "BACKUP_DATABASE_BUCKET": servers["bucket"],
        "BACKUP_DATABASE_URL": servers["database"],
        "BACKUP_UPLOADS_BUCKET": servers["bucket"],
        "BACKUP_UPLOADS_REGION": REGION,
        "BACKUP_UPLOADS_RETENTION_DAYS": "90",
        "SUPABASE_STORAGE_ENDPOINT": servers["s3"],
        "SUPABASE_STORAGE_REGION": REGION,
        "SUPABASE_STORAGE_ACCESS_KEY_ID": "testing",
        "SUPABASE_STORAGE_SECRET_ACCESS_KEY": "testing",
        "STATUS_PAGE_WEBHOOK": f"{servers['web']}/hooks/status",
        "SLACK_WEBHOOK": f"{servers['web']}/hooks/slack",
    }
    # In a session of its own, as a runner's step: its process group is the job's, not this test's.
    job = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed argv
        [sys.executable, "-m", "ops", *SIGNALLED[verb]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for("the job's signal handler", lambda: handler_installed(job.pid))
        watched = []
        deadline = time.monotonic() + delay
        while job.poll() is None and time.monotonic() < deadline:  # what it starts until the signal, servers too
            watched += descendants(job.pid)
            watched += [p for p in processes().values() if p.name == "postgres" and str(scratch) in p.command]
            time.sleep(0.01)
        if job.poll() is None:
            job.send_signal(signum)
        out, err = job.communicate(timeout=120)
        event(f"{verb} exit {job.returncode}")
        assert job.returncode in {0, 1, 130}, f"{verb}: exit {job.returncode}\n{err}"
        assert "Traceback" not in out + err, f"{verb}:\n{err}"
        if job.returncode == 130:
            assert err == "interrupted\n", f"{verb}: {err}"
        assert still_running(list({p.pid: p for p in watched}.values())) == [], f"{verb}: a child outlived the job"
        assert os.listdir(scratch) == [], f"{verb} left {os.listdir(scratch)} in $TMPDIR"
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
        shutil.rmtree(scratch, ignore_errors=True)
