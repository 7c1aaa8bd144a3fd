"""The pack's registry: each domain module declares its rules beside their validators, with their config defaults
written once; `policy.pack` collects them into the pack both the engine and the offline plan run."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ResourceValidator = Callable[[ResourceValidationArgs, ReportViolation], None]
StackValidator = Callable[[StackValidationArgs, ReportViolation], None]
ADVISORY: Final = EnforcementLevel.ADVISORY


@dataclass(frozen=True)
class Setting:
    """A key of a rule's pack config: its JSON Schema and its default, read by the validator and declared once."""

    key: str
    default: Any
    schema: Mapping[str, Any]

    def read(self, args: ResourceValidationArgs | StackValidationArgs) -> Any:
        """The configured value, or the default."""
        return args.get_config().get(self.key, self.default)

    def schema_entry(self) -> dict[str, Any]:
        """The key's entry in the rule's config schema, default included."""
        return {**self.schema, "default": self.default}


@dataclass(frozen=True)
class Rule:
    """One rule of the pack: what CrossGuard needs to build its Policy."""

    name: str
    description: str
    kind: Literal["resource", "stack"]
    validate: ResourceValidator | StackValidator
    enforcement_level: EnforcementLevel | None = None
    settings: tuple[Setting, ...] = ()

    def policy(self) -> Policy:
        """A fresh Policy object (CrossGuard's pack owns the ones it is given)."""
        schema = (
            PolicyConfigSchema(properties={s.key: s.schema_entry() for s in self.settings}) if self.settings else None
        )
        kind = ResourceValidationPolicy if self.kind == "resource" else StackValidationPolicy
        return kind(
            name=self.name,
            description=self.description,
            validate=self.validate,  # type: ignore[arg-type]  # the kind matches the validator's signature
            enforcement_level=self.enforcement_level,
            config_schema=schema,
        )


@dataclass
class Rules:
    """The rules of one domain module, in the order they are declared."""

    rules: list[Rule] = field(default_factory=list)

    def resource(
        self,
        name: str,
        description: str,
        *,
        enforcement_level: EnforcementLevel | None = None,
        settings: Iterable[Setting] = (),
    ) -> Callable[[ResourceValidator], ResourceValidator]:
        """Declare the decorated function as a resource rule."""

        def declare(validate: ResourceValidator) -> ResourceValidator:
            self.rules.append(Rule(name, description, "resource", validate, enforcement_level, tuple(settings)))
            return validate

        return declare

    def stack(
        self, name: str, description: str, *, settings: Iterable[Setting] = ()
    ) -> Callable[[StackValidator], StackValidator]:
        """Declare the decorated function as a stack rule."""

        def declare(validate: StackValidator) -> StackValidator:
            self.add_stack(name, description, validate, settings=settings)
            return validate

        return declare

    def add_stack(
        self, name: str, description: str, validate: StackValidator, *, settings: Iterable[Setting] = ()
    ) -> None:
        """Declare a stack rule whose validator is made, not written (one of a family)."""
        self.rules.append(Rule(name, description, "stack", validate, None, tuple(settings)))
