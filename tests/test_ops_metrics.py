"""The jobs' metrics (ops/metrics.py), against moto's CloudWatch: what the dump and the restore test publish, and a
failed publish that never fails a job."""

from __future__ import annotations

import datetime
import socket
from typing import Any

import boto3
import pytest

from ops import cli, metrics
from ops.integrity import Check
from ops.report import RestoreReport
from settings import backup_metrics as contract
from tests.ops_servers import REGION, S3Server
from tests.test_ops_backups import seed


def published(server: S3Server) -> dict[str, list[dict[str, str]]]:
    """Each metric of the jobs' namespace on the server, with its dimensions."""
    client: Any = boto3.client("cloudwatch", region_name=REGION, endpoint_url=server.endpoint)
    found: dict[str, list[dict[str, str]]] = {}
    for metric in client.list_metrics(Namespace=contract.NAMESPACE)["Metrics"]:
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        found.setdefault(metric["MetricName"], []).append(dimensions)
    return found


def statistic(server: S3Server, name: str, dimensions: dict[str, str]) -> float:
    """The Maximum of a metric's data points of the last hour."""
    client: Any = boto3.client("cloudwatch", region_name=REGION, endpoint_url=server.endpoint)
    now = datetime.datetime.now(datetime.UTC)
    answer = client.get_metric_statistics(
        Namespace=contract.NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        StartTime=now - datetime.timedelta(hours=1),
        EndTime=now + datetime.timedelta(minutes=5),
        Period=3600,
        Statistics=["Maximum"],
    )
    values: list[float] = [point["Maximum"] for point in answer["Datapoints"]]
    assert values, f"no data point of {name} {dimensions}"
    return max(values)


def fresh_stack(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A stack name of this test alone: moto's server keeps every metric for the session."""
    stack = f"test-{request.node.name[-40:]}"
    monkeypatch.setenv("STACK", stack)
    return stack


def test_the_dump_job_reports_each_schedule_it_wrote(
    database: str,
    aws_env: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = fresh_stack(monkeypatch, request)
    seed(database)
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=True))
    monkeypatch.setenv("BACKUP_DATABASE_URL", database)

    assert cli.main(["dump", "--to", "weekly", "--to", "yearly=GLACIER"]) == 0

    mine = [d for d in published(aws_env).get(contract.DUMP_WRITTEN, []) if d[contract.STACK_DIMENSION] == stack]
    assert sorted(d[contract.SCHEDULE_DIMENSION] for d in mine) == ["weekly", "yearly"], mine
    assert statistic(aws_env, contract.DUMP_WRITTEN, {"Stack": stack, "Schedule": "weekly"}) == 1
    assert "warning" not in capsys.readouterr().err


def test_the_restore_test_reports_its_verdict_the_backups_age_and_the_restore_time(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    stack = fresh_stack(monkeypatch, request)
    passed = RestoreReport(stack, "daily/x.dump", True, 25.5, 3.25, 240, (Check("row counts", True, "ok"),))
    metrics.restore_tested(passed)
    dimensions = {contract.STACK_DIMENSION: stack}
    assert statistic(aws_env, contract.RESTORE_TEST_PASSED, dimensions) == 1
    assert statistic(aws_env, contract.BACKUP_AGE_HOURS, dimensions) == 25.5
    assert statistic(aws_env, contract.RESTORE_MINUTES, dimensions) == 3.25


def test_a_restore_test_that_found_no_dump_reports_only_its_failure(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    stack = fresh_stack(monkeypatch, request)
    metrics.restore_tested(RestoreReport(stack, "", False, 0.0, 0.1, 240, (), "no daily dump in the vault"))
    mine = {name for name, found in published(aws_env).items() for d in found if d[contract.STACK_DIMENSION] == stack}
    assert mine == {contract.RESTORE_TEST_PASSED}, "an age of 0 h would read as a fresh backup"
    assert statistic(aws_env, contract.RESTORE_TEST_PASSED, {contract.STACK_DIMENSION: stack}) == 0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_failed_publish_is_a_warning_line_and_the_dump_still_succeeds(
    database: str, aws_env: S3Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    monkeypatch.setenv("BACKUP_DATABASE_BUCKET", aws_env.bucket(locked=True))
    monkeypatch.setenv("BACKUP_DATABASE_URL", database)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", f"http://127.0.0.1:{closed_port()}")

    assert cli.main(["dump", "--to", "daily"]) == 0, "a metric that cannot be published fails no backup"

    err = capsys.readouterr().err
    assert err.startswith("warning: the job's metrics were not published to CloudWatch (EndpointConnectionError"), err
    assert err.count("\n") == 1, f"one line: {err!r}"
    assert database not in err


def test_without_the_jobs_environment_nothing_is_sent_and_it_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STACK", raising=False)
    monkeypatch.setenv("BACKUP_VAULT_REGION", REGION)
    assert not metrics.publish([(contract.DUMP_WRITTEN, 1, "Count", {})])
    assert capsys.readouterr().err == (
        "warning: the job's metrics were not published to CloudWatch ($STACK and $BACKUP_VAULT_REGION must both be "
        "set)\n"
    )
