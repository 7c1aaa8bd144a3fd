"""The reference's Scaling Strategy: the Vercel functions' resources, and the signals that say when to scale."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from settings.base import ConfigModel, CrossFieldError, config_path, setting

# CloudWatch evaluates at most one day of data (EvaluationPeriods x Period <= 86,400 s).
SIGNAL_WINDOW_MAX_MINUTES = 1440

CpuType = Literal["standard_legacy", "standard", "performance"]
# The memory each CPU type gives a function: 0.6, 1 and 1.7 vCPU (vercel/terraform-provider-vercel
# vercel/resource_project.go, resource_config.function_default_cpu_type, which the API calls the memory type) with
# 1024, 1769 and 3009 MB (Vercel's function limits: 3009 MB is the largest).
CPU_TYPE_MEMORY_MB: dict[CpuType, int] = {"standard_legacy": 1024, "standard": 1769, "performance": 3009}
FUNCTION_MEMORY_CAP_MB = 1024
"""The reference's limit on increase_function_memory: 1GB max."""
FUNCTION_TIMEOUT_MAX_SECONDS = 900
"""The provider's bound on function_default_timeout (Vercel Enterprise's longest duration)."""
# Vercel's region ids are three letters and a digit (iad1, fra1); the provider checks them against Vercel's list of
# regions when it plans.
VercelRegion = Annotated[str, Field(pattern=r"^[a-z]{3}[0-9]$")]


class FunctionSettings(ConfigModel):
    """The Vercel functions' resources (the project's resourceConfig), updated in place on the project."""

    cpu_type: CpuType = setting(
        "CPU and memory of every function: standard_legacy (0.6 vCPU, 1024 MB), standard (1 vCPU, 1769 MB) or "
        "performance (1.7 vCPU, 3009 MB); the reference caps memory at 1 GB.",
        example="standard_legacy",
        default="standard_legacy",
    )
    timeout_seconds: int = setting(
        "Longest a function may run, in seconds (the provider: 1 to 900; Vercel's plan may allow less).",
        example=60,
        default=60,
        ge=1,
        le=FUNCTION_TIMEOUT_MAX_SECONDS,
    )
    regions: list[VercelRegion] = setting(
        "Vercel regions the functions run in (iad1 is Washington, D.C., beside us-east-1 and Supabase's region).",
        example=["iad1"],
        default_factory=lambda: ["iad1"],
        min_length=1,
    )

    @model_validator(mode="after")
    def _within_the_reference(self) -> FunctionSettings:
        problems = []
        memory = CPU_TYPE_MEMORY_MB[self.cpu_type]
        if memory > FUNCTION_MEMORY_CAP_MB:
            problems.append(
                (
                    config_path(FunctionSettings, "cpu_type"),
                    f"{self.cpu_type} gives {memory} MB, over the reference's {FUNCTION_MEMORY_CAP_MB} MB cap "
                    "(1GB max): standard_legacy",
                )
            )
        if len(set(self.regions)) != len(self.regions):
            problems.append((config_path(FunctionSettings, "regions"), "a region is listed twice"))
        if problems:
            raise CrossFieldError(problems)
        return self


class LatencySignal(ConfigModel):
    """The functions' response time: the 95th percentile of request durations over a window."""

    p95_seconds: float = setting("p95 request duration, in seconds, above which it fires.", example=3, gt=0)
    window_minutes: int = setting(
        "Minutes over which the p95 is taken (one period).", example=15, ge=1, le=SIGNAL_WINDOW_MAX_MINUTES
    )


class UtilisationSignal(ConfigModel):
    """A share of a capacity in use, as the app reports it, over a window."""

    threshold_percent: float = setting("Percent of the capacity above which it fires.", example=80, gt=0, lt=100)
    window_minutes: int = setting(
        "Minutes over which the value is taken (one period).", example=15, ge=1, le=SIGNAL_WINDOW_MAX_MINUTES
    )


class ScalingSignals(ConfigModel):
    """The reference's scaling triggers (Scaling Strategy), as P2 alarms whose text names the action."""

    functions: LatencySignal = setting(
        "response_time_p95 > 3s: increase_function_memory (limit 1GB max).",
        default_factory=lambda: LatencySignal.model_validate({"p95Seconds": 3.0, "windowMinutes": 15}),
    )
    database_pool: UtilisationSignal = setting(
        "connection_pool_utilization > 80%: increase_pool_size (limit: the Supabase plan's).",
        default_factory=lambda: UtilisationSignal.model_validate({"thresholdPercent": 80.0, "windowMinutes": 15}),
    )
    storage: UtilisationSignal = setting(
        "storage_usage > 80%: archive_old_files, else upgrade_plan (the app reports it at least hourly).",
        default_factory=lambda: UtilisationSignal.model_validate({"thresholdPercent": 80.0, "windowMinutes": 60}),
    )
