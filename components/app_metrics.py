"""The request metrics the app publishes to CloudWatch: names, units and dimension, in one place."""

from __future__ import annotations

from collections.abc import Mapping

# The app runs on Vercel, so no AWS service sees its requests: it publishes one data point per request
# (PutMetricData with Values/Counts, flushed once per invocation) into the stack's namespace
# (docs/incident-response.md).
SERVER_ERROR = "ServerError"
"""1 for a request answered with a 5xx, else 0: its Average over a period is the error rate."""
LATENCY = "Latency"
"""The request's duration in milliseconds: its p95 extended statistic drives the staged rollback."""
SLOW_REQUEST = "SlowRequest"
"""1 for a request slower than the failover p95 threshold, else 0. Route 53 can watch only alarms on Average,
Minimum, Maximum, Sum or SampleCount (no extended statistics, AWS Route 53 API Reference, AlarmIdentifier): p95 over
T holds exactly when more than 5% of requests take longer than T, so Average(SlowRequest) > 0.05 is that trigger."""
P95_SHARE = 0.05
"""Share of requests above the 95th percentile."""
CONNECTION_POOL_UTILIZATION = "ConnectionPoolUtilization"
"""Percent (0-100) of the database connection pool's connections in use, one data point per invocation that used the
pool (Unit Percent): its Average over a window is the pool's utilisation."""
STORAGE_UTILIZATION = "StorageUtilization"
"""Percent (0-100) of the Supabase plan's file storage in use, at least once an hour (Unit Percent)."""
STACK_DIMENSION = "Stack"
"""Dimension naming the stack (its Vercel project) the data point comes from."""


def dimensions(project_name: str) -> Mapping[str, str]:
    """The dimensions every data point of one stack's app carries."""
    return {STACK_DIMENSION: project_name}
