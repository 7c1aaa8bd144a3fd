"""The jobs' own metrics in CloudWatch (settings/backup_metrics.py): a dump written, a restore test's verdict.

The stack's dashboard shows them. Publishing is a by-product: it never fails a job, and a failed publish is one
warning line on stderr (the job's outcome is in its exit code, summary and Slack).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ops import vault
from ops.dump import Destination
from ops.report import RestoreReport
from settings import backup_metrics as contract

Datum = tuple[str, float, str, Mapping[str, str]]
"""Metric name, value, CloudWatch unit, and dimensions besides the stack."""


def dump_written(destinations: Sequence[Destination]) -> None:
    """One DumpWritten per schedule the dump job wrote a copy under."""
    publish(
        [
            (contract.DUMP_WRITTEN, 1, "Count", {contract.SCHEDULE_DIMENSION: destination.schedule})
            for destination in destinations
        ]
    )


def restore_tested(result: RestoreReport) -> None:
    """The restore test's verdict, and the age and restore time of the dump it tested (when it found one)."""
    data: list[Datum] = [(contract.RESTORE_TEST_PASSED, 1 if result.passed else 0, "Count", {})]
    if result.key:
        data += [
            (contract.BACKUP_AGE_HOURS, round(result.dump_age_hours, 3), "None", {}),
            (contract.RESTORE_MINUTES, round(result.restore_minutes, 3), "None", {}),
        ]
    publish(data, stack=result.stack)


def publish(data: Sequence[Datum], *, stack: str | None = None) -> bool:
    """One PutMetricData into the jobs' namespace, in the vault's region ($BACKUP_VAULT_REGION), each data point
    with the stack's dimension ($STACK unless given); False, after a warning line, if it could not be published."""
    stack = stack or os.environ.get("STACK", "")
    region = os.environ.get("BACKUP_VAULT_REGION", "")
    if not stack or not region:
        return _warn("$STACK and $BACKUP_VAULT_REGION must both be set")
    metric_data: list[Any] = [
        {
            "MetricName": name,
            "Value": float(value),
            "Unit": unit,
            "Dimensions": [
                {"Name": key, "Value": text} for key, text in {contract.STACK_DIMENSION: stack, **dimensions}.items()
            ],
        }
        for name, value, unit, dimensions in data
    ]
    try:
        # The vault's timeouts and retries: a CloudWatch that does not answer costs the job seconds, not its run.
        client: Any = boto3.client("cloudwatch", region_name=region, config=vault.client_config())
        client.put_metric_data(Namespace=contract.NAMESPACE, MetricData=metric_data)
    except (BotoCoreError, ClientError) as error:
        return _warn(f"{type(error).__name__}: {error}")
    return True


def _warn(reason: str) -> bool:
    print(f"warning: the job's metrics were not published to CloudWatch ({reason})", file=sys.stderr)
    return False
