"""Load and validate a stack's config once, before any resource exists; report every problem at once."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from settings.app import Environment
from settings.app_env import GENERATED_SECRETS, app_env
from settings.base import ConfigModel, CrossFieldError, model_of
from settings.config_keys import PROJECT_NAMESPACE, SECRETS_KEY, closest, provider_secret_keys, unknown_key_problem
from settings.env_schema import validate_app_env
from settings.stack import StackSettings
from settings.stack import key as stack_key


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a stack's config."""

    path: str
    """Config key path, as `pulumi config set --path` takes it."""
    expected: str
    """What the key should hold; never the value it holds."""
    fix: str
    """The command that fixes it."""
    missing_secret: bool = False
    """True when the problem is only that a required secret is not set."""


class ConfigError(pulumi.RunError):
    """A stack's config is invalid. A RunError, so Pulumi prints the message without a traceback."""

    def __init__(self, stack: str, problems: list[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = problems
        lines = [f"stack '{stack}' has {len(problems)} configuration problem(s); nothing was registered:"]
        for problem in problems:
            lines.append(f"  - {problem.path}: {problem.expected}")
            lines.append(f"    fix: {problem.fix}")
        super().__init__("\n".join(lines))


def running_config() -> tuple[dict[str, Any], set[str]]:
    """The config the engine handed this program (as the Python language host sets it) and its secret keys."""
    from pulumi.runtime import config as runtime_config  # noqa: PLC0415 - only the running program needs it

    values: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return values, {key for key in values if pulumi.runtime.is_config_secret(key)}


def load_settings(
    stack: str | None = None,
    config: Mapping[str, Any] | None = None,
    secret_keys: Iterable[str] | None = None,
) -> StackSettings:
    """Validate the stack's config; raise ConfigError listing every problem, or return the settings."""
    stack = stack or pulumi.get_stack()
    if config is None:
        config, secret_keys = running_config()
    secret_keys = set(secret_keys or ())

    problems: list[ConfigProblem] = []
    data: dict[str, Any] = {}
    fields = StackSettings.model_fields
    known_keys = {field.alias for field in fields.values()}
    for key, raw in config.items():
        if key.split(":", 1)[0] != PROJECT_NAMESPACE and key not in known_keys:
            # Provider and engine settings (aws:*, pulumi:*) this program does not model; a typo among them (or
            # in a namespace) would silently drop what it meant to set, so it is named.
            unknown = unknown_key_problem(key, sorted(str(known) for known in known_keys))
            if unknown is not None:
                expected, candidate = unknown
                fix = f"pulumi config rm --stack {stack} {shlex.quote(key)}"
                if candidate is not None:
                    fix += f", then set {candidate} instead"
                problems.append(ConfigProblem(key, expected, fix))
            continue
        data[key] = _parse(key, raw)
    # An absent secrets object would be one error; naming each missing secret tells the user what to set.
    data.setdefault(SECRETS_KEY, {})
    if config.get(SECRETS_KEY) and SECRETS_KEY not in secret_keys:
        problems.append(
            ConfigProblem(
                SECRETS_KEY,
                "holds secrets but is stored in plaintext; every value under it must be set with --secret",
                f"pulumi config rm --stack {stack} {SECRETS_KEY}, then set each value with "
                f"pulumi config set --stack {stack} --secret --path '{SECRETS_KEY}.<name>' (it prompts for the value)",
            )
        )

    # A stack named after an environment is that environment: Pulumi.production.yaml saying `staging` would
    # give production staging's NODE_ENV. Other stack names (a personal dev stack) map through the key itself.
    environment_key = stack_key("environment")
    declared = data.get(environment_key)
    if stack in get_args(Environment) and declared in get_args(Environment) and declared != stack:
        problems.append(
            ConfigProblem(
                environment_key,
                f"stack '{stack}' must declare environment '{stack}' (it declares '{declared}')",
                f"pulumi config set --stack {stack} {environment_key} {stack}",
            )
        )

    try:
        settings = StackSettings.model_validate(data, by_alias=True)
    except ValidationError as error:
        # The input is read only to match an enum member, never at a secret path.
        for detail in error.errors():
            problems.extend(_problems(stack, detail))
        raise ConfigError(stack, _unique(problems)) from None
    by_key = {var.key: var for var in app_env(settings)}
    # A generated secret's value exists only after `pulumi up`; what the schema can judge now is its length (the
    # generator uses letters and digits only, so every character is one code point and one UTF-16 unit).
    generated = {name: "x" * length for name, length in GENERATED_SECRETS.items()}
    for env_problem in validate_app_env(generated | {key: var.value for key, var in by_key.items()}):
        source = by_key[env_problem.key].source if env_problem.key in by_key else f"(env {env_problem.key})"
        secret = source.startswith(SECRETS_KEY)
        problems.append(
            ConfigProblem(
                source,
                f"the app's env schema rejects {env_problem.key}: {env_problem.message}",
                _set_command(stack, source, _example(source, stack), secret=secret),
            )
        )
    if problems:
        raise ConfigError(stack, _unique(problems))
    return settings


def _parse(key: str, raw: Any) -> Any:
    """Config arrives as strings; keys whose model is an object carry JSON, as `pulumi config set --path` writes it."""
    if not isinstance(raw, str):
        return raw
    field = next((f for f in StackSettings.model_fields.values() if f.alias == key), None)
    if field is not None and _is_text(field.annotation):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # pydantic then reports that an object was expected


RETIRED: dict[str, str] = {
    f"{SECRETS_KEY}.nextauthSecret": "is no longer read: the program generates NEXTAUTH_SECRET (random.RandomPassword) "
    "and rotates it with vibelog:operations.secretRotation; remove the stale value so nobody rotates it by hand",
    f"{SECRETS_KEY}.pagerdutyIntegrationUrl": "is no longer read: P0 reaches the CloudWatch integration "
    "vibelog:incident.pagerduty declares, whose URL is its output; a hand-copied one goes stale the day the "
    "integration is replaced",
    "vibelog:incident.pagerduty.targets": "is no longer read: the escalation policy pages the on-call schedule "
    "vibelog:incident.pagerduty.onCall declares, then its techLead (an existing schedule is adopted with "
    "`python -m infra adopt`)",
}
"""Keys earlier versions read, refused with why they went (a stale secret left in the stack file misleads)."""


def _problems(stack: str, detail: ErrorDetails) -> list[ConfigProblem]:
    loc = [part for part in detail["loc"] if not _is_union_tag(part)]
    path = _path(loc)
    secret = bool(loc) and loc[0] == SECRETS_KEY
    kind = detail["type"]
    if kind == "extra_forbidden":
        fix = f"pulumi config rm --stack {stack} --path {shlex.quote(path)}"
        if path in RETIRED:
            return [ConfigProblem(path, RETIRED[path], fix)]
        hint = closest(str(loc[-1]), _sibling_names(loc[:-1])) if loc else None
        secret_home = f"{SECRETS_KEY}.{loc[-1]}" if len(loc) > 1 and not secret else None
        if hint is None and secret_home is not None and field_at(secret_home) is not None:
            # A secret set (with --secret, as it should be) at a path nothing reads: the program would say it lacks it.
            return [
                ConfigProblem(
                    path,
                    f"is not a setting this program knows; the secret of this name is {secret_home}",
                    f"{fix}, then {_set_command(stack, secret_home, None, secret=True)}",
                )
            ]
        return [
            ConfigProblem(
                path, "is not a setting this program knows" + (f" (did you mean {hint}?)" if hint else ""), fix
            )
        ]
    if kind == "value_error":
        error = (detail.get("ctx") or {}).get("error")
        if isinstance(error, CrossFieldError):
            return [
                ConfigProblem(
                    source,
                    message,
                    f"pulumi config rm --stack {stack} --path {shlex.quote(source)}"
                    if relative in error.removals
                    else _set_command(stack, source, _example(source, stack), secret=source.startswith(SECRETS_KEY)),
                    missing_secret=relative in error.missing_secrets,
                )
                for relative, message in error.problems
                for source in [_join(loc, relative)]
            ]
        message = str(error) if error is not None else detail["msg"]
    elif kind == "missing":
        message = "a secret is required" if secret else "a value is required"
    elif kind == "literal_error" and not secret and not is_secret_path(path):
        # The member the value meant ("governance" is GOVERNANCE) before the example: COMPLIANCE, a lock nobody
        # lifts, is no fix for it.
        choices = {str(choice).lower(): str(choice) for choice in _literal_choices(path)}
        given = detail.get("input")
        meant = closest(given.lower(), choices) if isinstance(given, str) and choices else None
        example = choices[meant] if meant is not None else _example(path, stack)
        return [ConfigProblem(path, detail["msg"], _set_command(stack, path, example, secret=False))]
    elif kind == "string_pattern_mismatch":
        # pydantic's message is the raw regex; the field's own description says what it wants in words.
        field = field_at(path)
        wanted = (field.description or "") if field is not None else ""
        message = f"is not of the accepted form: {wanted}".rstrip(": ") if wanted else "is not of the accepted form"
    else:
        message = detail["msg"]
    return [
        ConfigProblem(
            path,
            message,
            _set_command(
                stack, path, _example(path, stack), secret=secret, replace=kind != "missing", text=kind == "string_type"
            ),
            missing_secret=secret and kind == "missing",
        )
    ]


def _literal_choices(path: str) -> tuple[Any, ...]:
    """The values a Literal field (optionally None) at a config key path allows; () for any other field."""
    field = field_at(path)
    annotation = _without_none(field.annotation) if field is not None else None
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _without_none(annotation: Any) -> Any:
    """An Optional field's annotation without its None (`X | None` is X); any other as it is."""
    if get_origin(annotation) in (Union, UnionType):
        return next((arg for arg in get_args(annotation) if arg is not type(None)), None)
    return annotation


def _join(loc: list[int | str], relative: str) -> str:
    """The full config key path of a path a model's rule gave relative to that model (at `loc`)."""
    if not loc:
        return relative
    return _path(loc) + (relative if relative.startswith("[") else f".{relative}")


def _unique(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen: dict[tuple[str, str], ConfigProblem] = {}
    for problem in problems:
        seen.setdefault((problem.path, problem.expected), problem)
    return list(seen.values())


def _is_union_tag(part: int | str) -> bool:
    """pydantic names the union member it tried ("bool", "Rollout", "list[str]"); a config path has no such step."""
    if not isinstance(part, str):
        return False
    return part in {"bool", "int", "float", "str"} or "[" in part or part in _model_names(ConfigModel)


def _model_names(base: type[BaseModel]) -> set[str]:
    names = {base.__name__}
    for sub in base.__subclasses__():
        names |= _model_names(sub)
    return names


def _path(loc: list[int | str]) -> str:
    if not loc:
        return "(stack config)"
    path = str(loc[0])
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _set_command(
    stack: str,
    path: str,
    example: Any,
    *,
    secret: bool,
    replace: bool = False,
    leaf: bool = False,
    text: bool = False,
) -> str:
    nested = "." in path.split(":", 1)[-1] or "[" in path
    flags = " --secret" if secret else ""
    flags += " --path" if nested else ""
    command = f"pulumi config set --stack {stack}{flags} {shlex.quote(path)}"
    if secret:
        # Without a value argument the CLI prompts for it, which keeps a secret out of the shell's history.
        return command
    shaped = (example is None or not isinstance(example, (list, dict))) and not leaf
    if shaped:
        shape = _shape(path, stack)
        if example is None:
            example = shape
        elif isinstance(shape, list):
            example = [example]  # an item's example, on a list field (aws:allowedAccountIds)
    if (nested or shaped) and isinstance(example, (list, dict)) and example and not leaf:
        # With --path the CLI stores a JSON text as a string ("[...]" is not a list): each item is set at its own
        # path, after removing the value of the wrong type that would be in the way.
        leaves = [_set_command(stack, at, value, secret=False, leaf=True) for at, value in _leaves(path, example)]
        if replace:
            leaves.insert(0, f"pulumi config rm --stack {stack}{' --path' if nested else ''} {shlex.quote(path)}")
        return ", then ".join(leaves)
    if nested and (text or (isinstance(example, str) and re.fullmatch(r"-?[0-9]+|true|false", example))):
        # With --path, the CLI would store 120 or true as a number or a boolean.
        command = f"pulumi config set --stack {stack}{flags} --type string {shlex.quote(path)}"
    if example is None:
        return f"{command} <value>"
    return f"{command} {shlex.quote(example if isinstance(example, str) else json.dumps(example))}"


def _shape(path: str, stack: str) -> Any:
    """A value of the field's shape when it has no example: a list of one item, an object of its required keys."""
    field = field_at(path)
    if field is None:
        return None
    annotation = _without_none(field.annotation)
    if get_origin(annotation) is list:
        return [None]
    model = model_of(annotation)
    if model is None:
        return None
    shape: dict[str, Any] = {}
    for name, sub in model.model_fields.items():
        if not sub.is_required():
            continue
        step = f"{path}.{sub.alias or name}"
        choices = _literal_choices(step)
        example = "<" + "|".join(map(str, choices)) + ">" if choices else _example(step, stack)
        shape[str(sub.alias or name)] = _shape(step, stack) if example is None else example
    return shape


def _leaves(path: str, value: Any) -> list[tuple[str, Any]]:
    """Every scalar in a list or object with its config key path."""
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(f"{path}.{key}", item)]
    if isinstance(value, list) and value:
        return [leaf for index, item in enumerate(value) for leaf in _leaves(f"{path}[{index}]", item)]
    return [(path, value)]


def _example(path: str, stack: str) -> Any:
    """The documented example of the field at a config key path, when it is right for this stack.

    Examples are written for one environment ("staging.vibelog.io"); suggesting one to another stack would set
    staging's value on production, so such an example is left out (the hint then says `<value>`).
    """
    environments: tuple[str, ...] = get_args(Environment)
    if path == stack_key("environment") and stack in environments:
        return stack
    example = field_extra(path).get("example")
    text = json.dumps(example)
    if any(name in text for name in environments if name != stack):
        return None
    return example


def _sibling_names(loc: list[int | str]) -> list[str]:
    """The keys a config object at `loc` may hold (the stack's top-level keys at the root)."""
    if not loc:
        return [str(field.alias) for field in StackSettings.model_fields.values()]
    field = field_at(_path(loc))
    model = model_of(field.annotation) if field is not None else None
    if model is None:
        return []
    return [str(sub.alias or name) for name, sub in model.model_fields.items()]


def is_secret_path(path: str) -> bool:
    """Whether a config key path is, or sits under, a secret: the secrets object, a field the models mark
    secret, or a provider credential. Its value is never shown, whatever else is wrong with it."""
    key = path.split(".", 1)[0].split("[", 1)[0]
    if key == SECRETS_KEY or key in provider_secret_keys():
        return True
    parts = re.split(r"[.\[]", path)
    prefixes = [".".join(parts[: index + 1]) for index in range(len(parts))]
    return any(field_extra(prefix).get("secret") for prefix in prefixes)


def field_extra(path: str) -> dict[str, Any]:
    """The metadata (secret, example, placeholder) of the field at a config key path; {} if none is known."""
    field = field_at(path)
    extra = field.json_schema_extra if field is not None else None
    return extra if isinstance(extra, dict) else {}


def field_at(path: str) -> FieldInfo | None:
    """The model field a config key path (`vibelog:app.targets[0]`) names, if any."""
    key, _, rest = path.partition(".")
    field = next((f for f in StackSettings.model_fields.values() if f.alias == key.split("[")[0]), None)
    for step in [s for s in rest.replace("[", ".").replace("]", "").split(".") if s and not s.isdigit()]:
        model = model_of(field.annotation) if field is not None else None
        if model is None:
            return None
        field = _field_by_alias(model, step)
    return field


def _field_by_alias(model: type[BaseModel], alias: str) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if alias in {field.alias, name}:
            return field
    return None


def _is_text(annotation: Any) -> bool:
    """Whether a top-level key holds plain text, which must not be JSON-decoded ("123" stays a string)."""
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    if origin in (Union, UnionType):
        return all(_is_text(arg) for arg in get_args(annotation) if arg is not type(None))
    return False
