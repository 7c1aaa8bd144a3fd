"""The reference's scaling signals: P2 alarms on the app's metrics whose text is the action to take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import app_metrics
from settings.incident import IncidentSettings, Severity
from settings.scaling import CPU_TYPE_MEMORY_MB, FUNCTION_MEMORY_CAP_MB
from settings.stack import StackSettings

SEVERITY: Severity = "P2"
"""The class the reference's scaling signals are announced as: a capacity to plan, nobody is paged."""


@dataclass(frozen=True)
class ScalingSignal:
    """One trigger of the reference's Scaling Strategy."""

    key: Literal["functions-p95", "database-pool", "storage"]
    """Short name, in resource and alarm names."""
    metric: str
    """The app's metric."""
    statistic: str | None
    """Plain statistic, or None when extended_statistic is used."""
    extended_statistic: str | None
    """Percentile statistic, or None."""
    threshold: float
    """Value above which it fires, in the metric's unit."""
    window_minutes: int
    """The one period the statistic is taken over."""
    treat_missing_data: Literal["notBreaching", "missing"]
    """What no data means: no traffic (notBreaching) or a gauge that stopped reporting (missing: shown as such)."""
    description: str
    """The trigger, the reference's action and its limit, as the on-call engineer reads them."""


@dataclass(frozen=True)
class ScalingSignalsArgs:
    """The scaling alarms of one stack and the topic they notify."""

    project_name: str
    """The Vercel project (the metrics' Stack dimension, the alarms' prefix)."""
    namespace: str
    """CloudWatch namespace of the app's metrics."""
    topic_arn: pulumi.Input[str]
    """The P2 incident topic."""
    signals: Sequence[ScalingSignal]
    """The triggers."""

    @classmethod
    def from_settings(
        cls, settings: StackSettings, incident: IncidentSettings, topic_arn: pulumi.Input[str]
    ) -> ScalingSignalsArgs:
        """The args for the stack these settings describe; `topic_arn` is its P2 topic."""
        scaling, functions = incident.scaling, settings.app.functions
        memory = CPU_TYPE_MEMORY_MB[functions.cpu_type]
        pool, storage = scaling.database_pool, scaling.storage
        return cls(
            project_name=settings.app.project_name,
            namespace=incident.metrics_namespace,
            topic_arn=topic_arn,
            signals=(
                ScalingSignal(
                    "functions-p95",
                    app_metrics.LATENCY,
                    None,
                    "p95",
                    scaling.functions.p95_seconds * 1000,
                    scaling.functions.window_minutes,
                    "notBreaching",
                    f"functions p95 > {scaling.functions.p95_seconds:g} s over {scaling.functions.window_minutes} "
                    f"minutes. Action: increase_function_memory (vibelog:app.functions.cpuType, now "
                    f"{functions.cpu_type} = {memory} MB; limit: {FUNCTION_MEMORY_CAP_MB} MB)",
                ),
                ScalingSignal(
                    "database-pool",
                    app_metrics.CONNECTION_POOL_UTILIZATION,
                    "Average",
                    None,
                    pool.threshold_percent,
                    pool.window_minutes,
                    "notBreaching",
                    f"database connection pool > {pool.threshold_percent:g}% in use over {pool.window_minutes} "
                    "minutes. Action: increase_pool_size (limit: the Supabase plan's connections)",
                ),
                ScalingSignal(
                    "storage",
                    app_metrics.STORAGE_UTILIZATION,
                    "Maximum",
                    None,
                    storage.threshold_percent,
                    storage.window_minutes,
                    "missing",
                    f"storage > {storage.threshold_percent:g}% of the plan in use over {storage.window_minutes} "
                    "minutes. Action: archive_old_files; fallback: upgrade_plan",
                ),
            ),
        )


def scaling_alarm_name(project_name: str, key: str) -> str:
    """Name of a scaling signal's CloudWatch alarm."""
    return f"{project_name}-scaling-{key}"


class ScalingSignals(pulumi.ComponentResource):
    """One CloudWatch alarm per scaling trigger, notifying the P2 topic (the incident routing's channels)."""

    alarm_names: pulumi.Output[list[str]]
    """Names of the scaling alarms."""

    def __init__(self, name: str, args: ScalingSignalsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:incident:ScalingSignals", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{signal.key}",
                name=scaling_alarm_name(args.project_name, signal.key),
                alarm_description=f"Scaling signal ({SEVERITY}): {signal.description}.",
                namespace=args.namespace,
                metric_name=signal.metric,
                dimensions=dict(app_metrics.dimensions(args.project_name)),
                statistic=signal.statistic,
                extended_statistic=signal.extended_statistic,
                # One period as long as the window: the reference's "p95 > 3s" is the p95 of the window's requests,
                # not of every minute in it.
                period=signal.window_minutes * 60,
                evaluation_periods=1,
                comparison_operator="GreaterThanThreshold",
                threshold=signal.threshold,
                treat_missing_data=signal.treat_missing_data,
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                opts=child,
            )
            for signal in args.signals
        ]
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in self.alarms)).apply(list)
        self.register_outputs({"alarm_names": self.alarm_names})
