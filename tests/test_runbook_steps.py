"""The runbooks' steps run end to end through `python -m ops` against stand-ins of Vercel, the webhooks and the app."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ops import dump
from ops.cli import main
from ops.errors import BadInputError, JobError
from ops.runbook import http, steps
from ops.runbook.http import Client
from ops.runbook.messages import TEMPLATES
from ops.runbook.vercel import VercelApi
from settings.stackfile import stack_file
from tests.ops_servers import S3Server, fingerprint
from tests.runbook_servers import TOKEN, World, stand_in
from tests.test_ops_backups import dump_daily, seed

FAST = ["--interval", "0", "--attempts", "5"]


@pytest.fixture
def world() -> World:
    return World(
        deployments={
            "dpl_older": {
                "id": "dpl_older",
                "projectId": "prj_1",
                "readyState": "READY",
                "target": "production",
                "createdAt": 1,
            },
            "dpl_good": {
                "id": "dpl_good",
                "projectId": "prj_1",
                "readyState": "READY",
                "target": "production",
                "createdAt": 2,
            },
            "dpl_bad": {
                "id": "dpl_bad",
                "projectId": "prj_1",
                "readyState": "READY",
                "target": "production",
                "createdAt": 3,
            },
            "dpl_preview": {"id": "dpl_preview", "projectId": "prj_1", "readyState": "READY", "target": None},
            "dpl_other": {"id": "dpl_other", "projectId": "prj_2", "readyState": "READY", "target": "production"},
        },
        items={"MAINTENANCE_MODE": False, "DEGRADED_MODE": False},
    )


@pytest.fixture
def url(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with stand_in(world) as base:
        for name, value in {
            "VERCEL_API_URL": base,
            "VERCEL_TOKEN": TOKEN,
            "VERCEL_ORG_ID": "team_1",
            "VERCEL_PROJECT_ID": "prj_1",
            "EDGE_CONFIG_ID": "ecfg_1",
            "APP_URL": base,
            "STATUS_PAGE_WEBHOOK": f"{base}/hooks/status",
            "SLACK_WEBHOOK": f"{base}/hooks/slack",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield base


@pytest.mark.usefixtures("url")
def test_rollback_verifies_rolls_back_waits_smoke_tests_and_announces(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runbook-rollback", "dpl_good", "--reason", "error rate over 5%", *FAST]) == 0
    assert world.rollbacks == [("dpl_good", "error rate over 5%")], "one rollback request, with the reason"
    assert world.production == "dpl_good", "production serves the target once the runbook reports done"
    (status_path, status), (slack_path, slack) = world.posts
    assert status_path == "/hooks/status"
    assert status["status"] == "investigating"
    assert TEMPLATES["investigating"].format(service="VibeLog") in status["message"]
    assert status["message"].endswith("Rolled back due to: error rate over 5%")
    assert slack_path == "/hooks/slack"
    assert "dpl_good" in slack["text"]
    assert "smoke tests passed" in slack["text"]
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err, "the Vercel token was printed"
    assert "3. production serves dpl_good" in out.out


@pytest.mark.usefixtures("url")
def test_an_automated_rollback_goes_to_the_deployment_before_the_one_serving(world: World) -> None:
    assert main(["runbook-rollback", "previous", "--reason", "error-rate alarm", *FAST]) == 0
    assert world.rollbacks == [("dpl_good", "error-rate alarm")], "the newest production deployment before dpl_bad"


@pytest.mark.usefixtures("url")
def test_a_second_automated_rollback_changes_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbook-rollback", "previous", "--reason", "error-rate alarm", *FAST]) == 0
    assert main(["runbook-rollback", "previous", "--reason", "error-rate alarm", *FAST]) == 0
    assert world.rollbacks == [("dpl_good", "error-rate alarm")], "the second run rolled back once more"
    assert world.production == "dpl_good"
    assert "production already serves dpl_good; no rollback request sent" in capsys.readouterr().out


@pytest.mark.usefixtures("url")
def test_after_a_promotion_previous_is_again_the_deployment_before_the_one_serving(world: World) -> None:
    world.last_alias = {"type": "promote", "fromDeploymentId": "dpl_good", "toDeploymentId": "dpl_bad"}
    assert main(["runbook-rollback", "previous", "--reason", "error-rate alarm", *FAST]) == 0
    assert world.rollbacks == [("dpl_good", "error-rate alarm")]


@pytest.mark.parametrize("deployment", ["", "dpl_x/../v9/projects", "https://vercel.com/x/dpl_1", "PREVIOUS"])
@pytest.mark.usefixtures("url")
def test_a_rollback_target_that_is_no_deployment_id_is_bad_usage_before_any_call(world: World, deployment: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["runbook-rollback", deployment, "--reason", "bug", *FAST])
    assert exited.value.code == 2, f"{deployment!r} is bad usage"
    assert world.rollbacks == [], "nothing was rolled back"


@pytest.mark.parametrize(
    ("deployment", "problem"),
    [
        ("dpl_missing", "does not exist"),
        ("dpl_preview", "only a READY production deployment"),
        ("dpl_other", "belongs to another project"),
    ],
)
@pytest.mark.usefixtures("url")
def test_rollback_refuses_a_target_that_cannot_serve_production(
    world: World, capsys: pytest.CaptureFixture[str], deployment: str, problem: str
) -> None:
    assert main(["runbook-rollback", deployment, "--reason", "bug", *FAST]) == 1
    assert problem in capsys.readouterr().err
    assert world.rollbacks == [], "nothing was rolled back"
    assert world.production == "dpl_bad", "production is untouched"
    # The status page hears nothing; the team's Slack hears the one-line failure, as every failed step reports it.
    assert [path for path, _ in world.posts] == ["/hooks/slack"], "nothing was announced"
    assert problem in world.posts[0][1]["text"], world.posts


@pytest.mark.usefixtures("url")
def test_rollback_gives_up_when_production_never_switches(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.propagation_reads = 1000
    assert main(["runbook-rollback", "dpl_good", "--reason", "bug", *FAST]) == 1
    assert "gave up waiting for production to serve dpl_good after 5 tries" in capsys.readouterr().err


@pytest.mark.usefixtures("url")
def test_rollback_fails_and_says_so_when_the_app_stays_unhealthy(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.healthy = False
    assert main(["runbook-rollback", "dpl_good", "--reason", "bug", *FAST]) == 1
    assert "/api/health to answer 200" in capsys.readouterr().err


def test_smoke_reports_each_failing_check(world: World, url: str) -> None:
    assert steps.smoke(Client(url)).ok
    world.healthy = False
    assert steps.smoke(Client(url)).failures == ("/api/health: 503, status 'unhealthy'",)


def test_a_wrong_token_is_refused_and_never_shown(url: str) -> None:
    api = VercelApi(Client(url, "wrong-token", {"teamId": "team_1"}))
    with pytest.raises(JobError, match="answered 403") as caught:
        api.deployment("dpl_good")
    assert "wrong-token" not in str(caught.value)
    assert "wrong-token" not in repr(api)


SWITCH = ["runbook-switch", "--stack", "production"]


@pytest.fixture
def production_with_fallback_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed production stack file with the AI fallback's key set (encrypted), in the verbs' directory."""
    path = tmp_path / "Pulumi.production.yaml"
    text = stack_file("production").read_text(encoding="utf-8")
    path.write_text(f"{text}  vibelog:secrets:\n    anthropicApiKey:\n      secure: v1:encrypted\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return path


@pytest.mark.usefixtures("url", "production_with_fallback_key")
def test_switches_are_upserted_and_read_back(world: World) -> None:
    assert main([*SWITCH, "DEGRADED_MODE=true", "AI_PROVIDER=anthropic", *FAST]) == 0
    assert world.items["DEGRADED_MODE"] is True
    assert world.items["AI_PROVIDER"] == "anthropic"
    assert world.items["MAINTENANCE_MODE"] is False, "a switch not named is left alone"


@pytest.mark.usefixtures("url")
def test_the_ai_fallback_without_its_key_in_the_app_s_env_is_refused_before_any_call(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Production's stack file sets no vibelog:secrets.anthropicApiKey: the app would call Anthropic without a key.
    code = main([*SWITCH, "DEGRADED_MODE=true", "AI_PROVIDER=anthropic", *FAST])
    err = capsys.readouterr().err
    assert code == 1, f"the fallback without its key was switched on: exit {code}: {err}"
    assert err.startswith("error: Pulumi.production.yaml: refused, nothing was switched: "), err
    assert "vibelog:operations.aiProvider" in err, err
    assert world.items == {"MAINTENANCE_MODE": False, "DEGRADED_MODE": False}, "a switch was set before the refusal"


@pytest.mark.parametrize("switch", ["MAINTENANCE_MODE=yes", "DEBUG_MODE=true", "SECURITY_MODE"])
@pytest.mark.usefixtures("url")
def test_an_unknown_switch_or_value_is_refused_before_any_call(world: World, switch: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*SWITCH, switch])
    assert exited.value.code == 2
    assert world.items == {"MAINTENANCE_MODE": False, "DEGRADED_MODE": False}


@pytest.mark.parametrize(
    "waiting",
    [
        *(["--attempts", "0"], ["--attempts", "-3"]),
        *(["--interval", "-1"], ["--interval", "nan"], ["--interval", "inf"], ["--interval", "1e300"]),
    ],
)
@pytest.mark.usefixtures("url")
def test_a_wait_that_cannot_be_kept_is_refused_before_any_call(world: World, waiting: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*SWITCH, "MAINTENANCE_MODE=true", *waiting])
    assert exited.value.code == 2, f"{waiting} is bad usage (exit 2), got {exited.value.code}"
    assert world.items["MAINTENANCE_MODE"] is False, f"{waiting}: the switch was set before the wait was refused"


@pytest.mark.usefixtures("url")
def test_a_switch_given_twice_is_bad_input_before_any_call(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*SWITCH, "MAINTENANCE_MODE=true", "MAINTENANCE_MODE=false", *FAST])
    err = capsys.readouterr().err
    assert code == 2, f"MAINTENANCE_MODE given twice, with two values, was not refused: exit {code}: {err}"
    assert err == "error: MAINTENANCE_MODE is given twice\n", err
    assert world.items["MAINTENANCE_MODE"] is False, "a switch given twice was set"


@pytest.mark.usefixtures("url")
def test_announce_posts_each_template(world: World) -> None:
    for phase in ("identified", "resolved"):
        assert main(["runbook-announce", phase, "--service", "recording", "--detail", "restored daily dump"]) == 0
    statuses = [body for path, body in world.posts if path == "/hooks/status"]
    assert [s["status"] for s in statuses] == ["identified", "resolved"]
    assert statuses[1]["message"] == TEMPLATES["resolved"].format(service="recording")
    slack = [body["text"] for path, body in world.posts if path == "/hooks/slack"]
    assert "restored daily dump" in slack[0], "the internal detail reaches Slack"
    assert all("restored daily dump" not in s["message"] for s in statuses), "and never the public status page"


def _corruption(world: World, url: str, outcome: steps.RestoreOutcome | JobError) -> list[object]:
    seen: list[object] = []

    def restore() -> steps.RestoreOutcome:
        seen.append(world.items["MAINTENANCE_MODE"])
        if isinstance(outcome, JobError):
            raise outcome
        return outcome

    api = VercelApi(Client(url, TOKEN, {"teamId": "team_1"}))
    steps.database_corruption(api, "ecfg_1", restore, waiting=steps.Waiting(3, 0), log=lambda _: None)
    return seen


def test_database_corruption_restores_under_maintenance_and_lifts_it_after_the_checks(world: World, url: str) -> None:
    seen = _corruption(world, url, steps.RestoreOutcome(True, ["ok row counts"]))
    assert seen == [True], "the restore ran with maintenance mode on"
    assert world.items["MAINTENANCE_MODE"] is False, "maintenance lifted after the checks passed"


def test_database_corruption_keeps_maintenance_on_when_a_check_fails(world: World, url: str) -> None:
    _corruption(world, url, steps.RestoreOutcome(False, ["FAIL row counts"]))
    assert world.items["MAINTENANCE_MODE"] is True, "a database that failed its checks must not serve"


def test_database_corruption_keeps_maintenance_on_when_the_restore_fails(world: World, url: str) -> None:
    with pytest.raises(JobError):
        _corruption(world, url, JobError("checksum mismatch"))
    assert world.items["MAINTENANCE_MODE"] is True


def test_database_corruption_keeps_maintenance_on_until_the_switch_over(world: World, url: str) -> None:
    seen = _corruption(world, url, steps.RestoreOutcome(True, ["ok row counts"], "switch over"))
    assert seen == [True], "the restore ran with maintenance mode on"
    assert world.items["MAINTENANCE_MODE"] is True, "the live database is still the one that failed"


def test_waiting_is_bounded() -> None:
    slept: list[float] = []
    with pytest.raises(JobError, match="after 4 tries 7 s apart"):
        steps.Waiting(4, 7, slept.append).until("never", lambda: False)
    assert slept == [7, 7, 7], "no sleep after the last try"


@contextmanager
def trickling(headers: bool, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """A server on loopback that answers a byte every 0.2 s (within any one read's timeout), in its headers or its
    body, and never finishes; over https with `tls`."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(accepted: socket.socket) -> None:
        with contextlib.suppress(OSError), accepted:
            conn = tls.wrap_socket(accepted, server_side=True) if tls else accepted
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + (b"" if headers else b"Content-Length: 1000\r\n\r\n"))
            while not stop.wait(0.2):
                conn.sendall(b"X-A: b\r\n" if headers else b" ")

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()


def loopback_tls(directory: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server's TLS context for 127.0.0.1 with a self-signed certificate this process's clients trust (through
    $SSL_CERT_FILE, which the default context reads), as a real webhook's https."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, private)
    return context


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("headers", [True, False], ids=["headers", "body"])
def test_a_request_answered_a_byte_at_a_time_ends_at_its_deadline(
    headers: bool, scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "TOTAL_SECONDS", 1.0)
    tls = loopback_tls(tmp_path, monkeypatch) if scheme == "https" else None
    with trickling(headers, tls) as url:
        start = time.monotonic()
        with pytest.raises(JobError, match=r"^POST 127\.0\.0\.1:\d+/hooks: no whole answer within 1 s$"):
            Client(url).request("POST", "/hooks", body={"text": "x"})
        took = time.monotonic() - start
    assert took < 5, f"the request took {took:.1f} s: each byte kept its read's timeout from firing"


def test_a_connection_the_deadline_cannot_watch_is_closed_not_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[socket.socket] = []

    def no_descriptor_left(self: socket.socket) -> socket.socket:
        made.append(self)
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(socket.socket, "dup", no_descriptor_left)
    with redirecting("", []) as url, pytest.raises(JobError, match=r"^GET 127\.0\.0\.1:\d+/ping: URLError$"):
        Client(url).request("GET", "/ping")
    assert made, "the deadline watched no connection"
    assert all(sock.fileno() == -1 for sock in made), "a connection the deadline could not watch is left open"


@contextmanager
def redirecting(to: str, seen: list[str | None]) -> Iterator[str]:
    """A server on loopback that answers every request with a 302 to `to` + its path, recording the Authorization
    header each request carried."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            return

        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            if to:
                self.send_response(302)
                self.send_header("Location", to + self.path)
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_to_plain_http_beyond_loopback_is_not_followed() -> None:
    seen: list[str | None] = []
    with (
        redirecting("http://redirected.invalid", seen) as url,
        pytest.raises(JobError, match=r"^GET 127\.0\.0\.1:\d+/v9/projects answered 302$"),
    ):
        Client(url, TOKEN).request("GET", "/v9/projects")
    assert seen == [f"Bearer {TOKEN}"], seen


def test_a_redirect_to_another_host_does_not_carry_the_token() -> None:
    there: list[str | None] = []
    here: list[str | None] = []
    with redirecting("", there) as other, redirecting(other.replace("127.0.0.1", "localhost"), here) as url:
        assert Client(url, TOKEN).request("GET", "/v9/projects").status == 200
    assert here == [f"Bearer {TOKEN}"], here
    assert there == [None], f"the redirect to another host was sent the token: {there}"


def test_plain_http_is_refused_beyond_loopback() -> None:
    with pytest.raises(JobError, match="only https"):
        Client("http://api.vercel.com")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://hook:s3cr3t-pw@status.example.com/incidents", "it holds a user or password"),
        ("http://hook:s3cr3t-pw@127.0.0.1:9/incidents", "it holds a user or password"),
        ("https://status.example.com:s3cr3t-pw/incidents", "malformed"),
        ("https://[s3cr3t-pw/incidents", "malformed"),
    ],
)
def test_a_url_with_a_password_or_malformed_is_bad_input_that_never_shows_it(url: str, why: str) -> None:
    with pytest.raises(BadInputError) as refused:
        Client(url, variable="STATUS_PAGE_WEBHOOK")
    message = str(refused.value)
    assert message.startswith(f"refusing $STATUS_PAGE_WEBHOOK: {why}"), message
    assert "s3cr3t-pw" not in message, f"the refusal shows the URL's secret: {message}"


@pytest.mark.parametrize(("status", "failed_over"), [(0.0, True), (1.0, False)])
def test_failover_is_verified_with_the_health_checks_state(
    s3_server: S3Server, status: float, failed_over: bool
) -> None:
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=s3_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    check = f"hc-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    waiting = steps.Waiting(3, 0)
    with pytest.raises(JobError, match="gave up"):
        steps.verify_failover(cloudwatch, check, failed_over=failed_over, waiting=waiting, log=lines.append)
    cloudwatch.put_metric_data(
        Namespace="AWS/Route53",
        MetricData=[
            {
                "MetricName": "HealthCheckStatus",
                "Dimensions": [{"Name": "HealthCheckId", "Value": check}],
                "Value": status,
                "Timestamp": datetime.now(UTC) - timedelta(seconds=30),
            }
        ],
    )
    steps.verify_failover(cloudwatch, check, failed_over=failed_over, waiting=waiting, log=lines.append)
    assert lines
    assert ("secondary" if failed_over else "primary") in lines[-1]
    with pytest.raises(JobError, match="gave up"):
        steps.verify_failover(cloudwatch, check, failed_over=not failed_over, waiting=waiting, log=lines.append)


@pytest.mark.usefixtures("url")
def test_the_database_runbook_restores_a_real_supabase_dump_under_maintenance(
    world: World, supabase: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(supabase)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, supabase).keys
    with psycopg.connect(supabase, autocommit=True) as conn:
        conn.execute("DROP VIEW recent_vibelogs")
        conn.execute("DROP TABLE vibelogs")
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    monkeypatch.setenv("RESTORE_TARGET_URL", supabase)

    assert main(["runbook-database-restore", key, "--confirm-production", *FAST]) == 0

    live = conninfo_to_dict(supabase)["dbname"]
    with psycopg.connect(supabase, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.vibelogs')").fetchone() == (None,), (
            "the live database was overwritten: the state the restore replaces is gone"
        )
        names = [
            row[0]
            for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{live}_restored_%"])
        ]
    assert len(names) == 1, f"one new database beside {live}: {names}"
    assert fingerprint(make_conninfo(supabase, dbname=names[0])) == before, "the restored rows differ from the dump"
    assert world.item_log == [("MAINTENANCE_MODE", True)], "maintenance stays on until a person switches over"
    out = capsys.readouterr()
    assert f"maintenance mode stays on until the switch-over: compare `{names[0]}`" in out.out, out.out
    assert "left out: default privileges of role supabase_admin left out" in out.out, out.out
    assert "owners: objects restored as postgres's (--no-owner): " in out.out, "whose objects postgres took over?"
    assert "of supabase_auth_admin" in out.out, "the report does not say whose objects postgres took over"
    assert supabase not in out.out + out.err, "the database URL was printed"
    assert TOKEN not in out.out + out.err


@pytest.mark.usefixtures("url")
def test_the_database_runbook_refuses_an_archived_dump_until_it_is_thawed(
    world: World, database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    result = dump.dump(
        s3,
        database_url=database,
        bucket=bucket,
        destinations=[dump.Destination.parse("yearly=DEEP_ARCHIVE")],
        compress=9,
    )
    (yearly,) = result.keys
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    monkeypatch.setenv("RESTORE_TARGET_URL", database)

    assert main(["runbook-database-restore", yearly, "--confirm-production", *FAST]) == 1
    err = capsys.readouterr().err
    assert f"python -m ops thaw {yearly}" in err, err
    assert "DEEP_ARCHIVE" in err, err
    assert world.item_log == [], "maintenance must not go on for a dump the job cannot read"

    assert main(["thaw", yearly]) == 0
    assert capsys.readouterr().out.strip() == f"{yearly}: ready", "moto completes a restore at once"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP TABLE vibelogs")
    assert main(["runbook-database-restore", yearly, "--confirm-production", *FAST]) == 0, capsys.readouterr()


@pytest.mark.usefixtures("url")
def test_the_database_runbook_refuses_the_live_database_however_it_is_spelled_before_maintenance(
    world: World, database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    s3, bucket = aws_env.client(), aws_env.bucket(locked=True)
    (key,) = dump_daily(s3, bucket, database).keys
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", bucket)
    live = conninfo_to_dict(database)["dbname"]
    spellings = {
        "localhost": database.replace("127.0.0.1", "localhost"),
        "LOCALHOST": database.replace("127.0.0.1", "LOCALHOST"),
        "hostaddr=": make_conninfo(database, host="db.staging.example", hostaddr="127.0.0.1"),
        "a malformed URL": "postgresql://postgres:s3cr3t-password@[::1/db",
    }
    for case, target in spellings.items():
        monkeypatch.setenv("RESTORE_TARGET_URL", target)

        # A malformed URL is bad input; a URL of the production database, a refusal.
        assert main(["runbook-database-restore", key, *FAST]) == (2 if case == "a malformed URL" else 1), case

        err = capsys.readouterr().err
        expected = "not a valid PostgreSQL" if case == "a malformed URL" else "refusing to restore next to production: "
        assert expected in err, f"{case}: {err}"
        assert err.count("\n") == 1, f"{case}: not one line: {err}"
        assert "s3cr3t-password" not in err, f"{case}: the password was printed"
        assert world.item_log == [], f"{case}: maintenance went on for a refused restore"
    with psycopg.connect(database, autocommit=True) as conn:
        created = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{live}_restored_%"]
        ).fetchall()
    assert created == [], f"a refused runbook created {created}"
