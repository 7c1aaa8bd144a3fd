"""The building blocks of every settings model: the base model, documented fields, shared types, cross-field errors."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

AWS_REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"

# Every number is bounded by what its consumer accepts, so none is truncated or rounded on the way: S3 lifecycle
# and retention days are 32-bit integers in the S3 API (aws-sdk-go-v2 service/s3/types: `Days *int32`); Object
# Lock retention is at most 100 years (S3 user guide, "Object Lock": retention periods); GitHub ids travel as the
# engine's JSON numbers, exact only up to 2**53 - 1; a recovery objective past a year means none at all.
S3_DAYS_MAX = 2**31 - 1
OBJECT_LOCK_DAYS_MAX = 36_500
JSON_SAFE_INT_MAX = 2**53 - 1
MINUTES_PER_YEAR = 525_600

# Hosts that only exist on a developer's machine: such a domain gets plain http and no Vercel domain.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")

HOSTNAME_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"

# The constrained values several sections share, declared once.
GithubId = Annotated[int, Field(ge=1, le=JSON_SAFE_INT_MAX)]
AwsRegion = Annotated[str, Field(pattern=AWS_REGION_PATTERN)]
# An IAM user or role by ARN (IAM's own name characters), as a trust policy's `AWS` principal names it.
IamPrincipalArn = Annotated[
    str, Field(pattern=r"^arn:aws:iam::[0-9]{12}:(user|role)/[A-Za-z0-9+=,.@_/-]+$", max_length=2048)
]
Hostname = Annotated[str, Field(pattern=HOSTNAME_PATTERN)]
S3Days = Annotated[int, Field(ge=1, le=S3_DAYS_MAX)]
"""A retention or expiry in days: at least one, and what S3's 32-bit `Days` holds."""
RecoveryMinutes = Annotated[int, Field(ge=1, le=MINUTES_PER_YEAR)]


def setting(description: str, *, example: Any = None, secret: bool = False, **kwargs: Any) -> Any:
    """A documented field; `example` feeds the `pulumi config set` hint of an error, `secret` the offline engine."""
    extra: dict[str, JsonValue] = {"secret": secret}
    if example is not None:
        extra["example"] = example
    return Field(description=description, json_schema_extra=extra, **kwargs)


def secret_setting(description: str, *, placeholder: str, required: bool = True) -> Any:
    """A secret field. `placeholder` is a value of the right form that the offline plan stands in for it."""
    extra: dict[str, JsonValue] = {"secret": True, "placeholder": placeholder}
    if required:
        return Field(description=description, json_schema_extra=extra)
    return Field(default=None, description=description, json_schema_extra=extra)


class ConfigModel(BaseModel):
    """Strict, frozen, camelCase on the config side, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, validate_by_name=False
    )


def config_path(model: type[BaseModel], *steps: str | int) -> str:
    """The config key path of a field, from the models' own aliases: `config_path(DnsSettings, "degraded_region")`.

    Steps are Python field names (an int indexes a list), so renaming a field or its alias renames every message
    that points at it, and a step that names no field fails at once instead of pointing nowhere.
    """
    path = ""
    current: type[BaseModel] | None = model
    for step in steps:
        if isinstance(step, int):
            path += f"[{step}]"
            continue
        if current is None:
            raise KeyError(f"{path} holds no field {step!r}")
        field = current.model_fields[step]
        path += ("." if path else "") + (field.alias or step)
        current = model_of(field.annotation)
    return path


class CrossFieldError(ValueError):
    """Rules that relate several settings, each reported at the config key that has to change.

    A path is relative to the model that raises it (the loader puts the model's own key in front), so a section's
    rules name its keys without knowing where the stack file holds the section.
    """

    def __init__(
        self,
        problems: list[tuple[str, str]],
        missing_secrets: list[str] | None = None,
        removals: list[str] | None = None,
    ) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems
        self.missing_secrets = frozenset(missing_secrets or ())
        """Paths among the problems that are only a required secret not set yet (the offline plan stands in)."""
        self.removals = frozenset(removals or ())
        """Paths among the problems whose fix is removing the value there, not setting another."""


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field's annotation holds (through Optional, unions and Annotated), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = model_of(arg)
        if found is not None:
            return found
    return None
