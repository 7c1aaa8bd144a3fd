"""Bad stack files and config fail alone, by name and line, with hints right for the stack and no secret shown."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import jsonschema
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from infra.config.schema import stack_file_schema
from infra.engine.runtime import Plan
from infra.plans.render import plan_text
from settings.config_keys import provider_keys, provider_secret_keys
from settings.loader import ConfigError, load_settings
from settings.stack import StackSettings
from settings.stackfile import MAX_STACK_FILE_BYTES, TOP_LEVEL_KEYS, StackFileError, read_stack_config, stack_file
from settings.stacks import STACKS
from tests.helpers.cli import copy_stacks, fifo_without_writer, run_verb
from tests.helpers.stacks import committed_document, only_problem, problems_of, stack_config

CANARY = "canary-sk-9f2c1e7d"


def _append(path: Path, text: str) -> None:
    path.write_bytes(path.read_bytes() + text.encode())


def test_a_second_block_of_one_key_is_refused_by_name_and_line(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    production = directory / "Pulumi.production.yaml"
    first = next(n for n, line in enumerate(production.read_text().splitlines(), 1) if line == "  vibelog:dns:")
    _append(production, "  vibelog:dns:\n    zone: vibelog.io\n")
    second = len(production.read_text().splitlines()) - 1
    run = run_verb(["plan", "--stack", "production"], directory)
    assert run.code == 2, run.both
    assert f"key 'vibelog:dns' appears twice in one mapping (lines {first} and {second})" in run.err


def test_a_stack_named_production_declaring_staging_is_refused() -> None:
    problem = only_problem("production", lambda c: c.update({"vibelog:environment": "staging"}))
    assert problem.path == "vibelog:environment"
    assert "must declare environment 'production'" in problem.expected
    assert problem.fix == "pulumi config set --stack production vibelog:environment production"
    # Named even when the wrong environment breaks other rules too (staging has one reviewer team, fine there).
    problems = problems_of("staging", lambda c: c.update({"vibelog:environment": "production"}))
    assert "vibelog:environment" in [p.path for p in problems]


def test_a_top_level_typo_is_named_instead_of_every_key_reported_missing(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    staging = directory / "Pulumi.staging.yaml"
    staging.write_text(staging.read_text().replace("\nconfig:\n", "\nconfg:\n"))
    run = run_verb(["plan", "--stack", "staging"], directory)
    assert run.code == 2
    assert run.err == (
        "error: Pulumi.staging.yaml: unknown top-level key 'confg' (did you mean config?) "
        f"(expected {', '.join(TOP_LEVEL_KEYS)})\n"
    )


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("vibelg:domain", "vibelog:domain"),
        ("aws:regoin", "aws:region"),
        ("aws:alowedAccountIds", "aws:allowedAccountIds"),
        ("github:ownr", "github:owner"),
        ("vercel:teams", "vercel:team"),
    ],
)
def test_unknown_namespaces_and_provider_keys_say_what_was_meant(key: str, meant: str) -> None:
    problem = only_problem("staging", lambda c: c.update({key: "x"}))
    assert problem.path == key
    assert problem.fix == f"pulumi config rm --stack staging {key}, then set {meant} instead"


def test_keys_the_providers_read_are_accepted() -> None:
    assert {"aws:region", "aws:profile", "github:owner", "vercel:team"} <= (
        provider_keys("aws") | provider_keys("github") | provider_keys("vercel")
    )
    stack_config("staging", lambda c: c.update({"aws:profile": "vibelog", "pulumi:tags": {"team": "web"}}))
    config = stack_config("staging", lambda c: c.update({"aws:profile": "vibelog"}))
    load_settings("staging", config.values, config.secret_keys)


def test_the_providers_credentials_are_secrets() -> None:
    assert {"aws:secretKey", "aws:accessKey", "aws:token", "github:token", "vercel:apiToken"} <= provider_secret_keys()


def test_an_unknown_project_key_says_what_was_meant() -> None:
    problem = only_problem("staging", lambda c: c["vibelog:monitoring"].update({"levle": "full"}))
    assert problem.path == "vibelog:monitoring.levle"
    assert "(did you mean level?)" in problem.expected


def _int_fields(model: type[BaseModel], path: str = "") -> list[tuple[str, FieldInfo, Any]]:
    found = []
    for name, field in model.model_fields.items():
        where = f"{path}.{field.alias or name}"
        for annotation in [field.annotation, *_members(field.annotation)]:
            if annotation is int:
                found.append((where, field, annotation))
            elif get_origin(annotation) is not None and get_args(annotation)[:1] == (int,):
                found.append((where, field, annotation))  # Annotated[int, Field(...)]
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found += _int_fields(annotation, where)
    return found


def _members(annotation: Any) -> list[Any]:
    """The types inside a list or union; an Annotated int is kept whole (its bound is in its metadata)."""
    members = []
    for arg in get_args(annotation):
        members += [arg] if get_origin(arg) is Annotated else [arg, *_members(arg)]
    return members


def _upper_bound(field: FieldInfo, annotation: Any) -> int | None:
    """The `le` on an int field itself, or on the Annotated int type it uses (`GithubId`)."""
    constraints = list(field.metadata) if annotation is int else []
    for extra in get_args(annotation)[1:]:
        constraints += getattr(extra, "metadata", [extra])
    bounds: list[int] = [c.le for c in constraints if isinstance(getattr(c, "le", None), int)]
    return min(bounds) if bounds else None


def test_every_integer_setting_has_an_upper_bound() -> None:
    fields = _int_fields(StackSettings)
    assert {path for path, _, _ in fields} >= {".vibelog:ci.reviewers.teams", ".vibelog:backup.objectLock.days"}
    for path, field, annotation in fields:
        bound = _upper_bound(field, annotation)
        assert bound is not None, f"{path}: an int without an upper bound passes 1e20 and loses precision on the wire"
        assert bound <= 2**53 - 1, f"{path}: {bound} is beyond what the engine's JSON numbers hold exactly"


def test_a_number_beyond_what_the_provider_takes_is_refused() -> None:
    problem = only_problem("production", lambda c: c["vibelog:backup"]["daily"].update({"retentionDays": 10**20}))
    assert problem.path == "vibelog:backup.daily.retentionDays"
    assert "less than or equal to 2147483647" in problem.expected
    problem = only_problem("production", lambda c: c["vibelog:ci"]["reviewers"].update({"teams": [2**60, 9876544]}))
    assert problem.path == "vibelog:ci.reviewers.teams[0]"


def test_debug_mode_rolled_out_to_nobody_is_off_in_production() -> None:
    stack_config("production", lambda c: c["vibelog:featureFlags"].update({"DEBUG_MODE": {"rolloutPercent": 0}}))
    config = stack_config(
        "production", lambda c: c["vibelog:featureFlags"].update({"DEBUG_MODE": {"rolloutPercent": 0}})
    )
    load_settings("production", config.values, config.secret_keys)
    problem = only_problem(
        "production", lambda c: c["vibelog:featureFlags"].update({"DEBUG_MODE": {"rolloutPercent": 1}})
    )
    assert problem.path == "vibelog:featureFlags.DEBUG_MODE"


def test_hints_never_suggest_another_environments_values() -> None:
    for stack in ("production", "development"):
        problems = problems_of(stack, lambda c: c.pop("vibelog:domain"))
        fixes = " ".join(p.fix for p in problems)
        assert "staging" not in fixes, fixes
        assert f"pulumi config set --stack {stack} vibelog:domain <value>" in fixes
    problems = problems_of("production", lambda c: c.pop("vibelog:environment"))
    assert [p.fix for p in problems if p.path == "vibelog:environment"] == [
        "pulumi config set --stack production vibelog:environment production"
    ]


def test_a_malformed_domain_is_described_in_words_not_as_a_regex() -> None:
    problem = only_problem("production", lambda c: c.update({"vibelog:domain": "Vibelog..io"}))
    assert problem.path == "vibelog:domain"
    assert "^" not in problem.expected, problem.expected
    assert "[a-z" not in problem.expected, problem.expected
    assert "domain the app is served on" in problem.expected


def test_missing_secret_hints_keep_the_value_off_the_command_line(production: Plan) -> None:
    config = stack_config("production")
    values = {key: value for key, value in config.values.items() if key != "vibelog:secrets"}
    with pytest.raises(ConfigError) as raised:
        load_settings("production", values, set())
    fixes = [p.fix for p in raised.value.problems if p.missing_secret]
    assert "pulumi config set --stack production --secret --path vibelog:secrets.openaiApiKey" in fixes
    assert all("<value>" not in fix for fix in fixes), fixes
    lacking = [line for line in plan_text(production).splitlines() if "--secret" in line]
    assert lacking, "the plan lists the secrets production lacks"
    assert all(line.endswith("'") for line in lacking), lacking


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"config:\n  vibelog:domain: caf\xe9.io\n", "is not UTF-8 text (an invalid byte on line 2)"),
        (
            b"config:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + b"".join(
                f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n".encode() for i in range(8)
            ),
            "expands (through YAML aliases) to more than 100000 values",
        ),
        (
            b"config:\n  x: '" + b"a" * MAX_STACK_FILE_BYTES + b"'\n",
            "is larger than 1024 KiB; a stack file is a few KiB",
        ),
    ],
    ids=["not-utf8", "alias-bomb", "huge"],
)
def test_an_unreadable_stack_file_fails_alone(tmp_path: Path, content: bytes, reason: str) -> None:
    directory = copy_stacks(tmp_path)
    (directory / "Pulumi.staging.yaml").write_bytes(content)
    run = run_verb(["plan", "--stack", "all"], directory)
    assert run.code == 2
    assert run.err == f"error: Pulumi.staging.yaml {reason}\n"
    assert "Previewing stack development" in run.out
    assert "Previewing stack production" in run.out


def test_a_yaml_date_binary_or_set_is_named_by_path_and_the_other_stacks_are_planned(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    staging = directory / "Pulumi.staging.yaml"
    variables = '      SMOKE_TEST_TIMEOUT_SECONDS: "120"\n'
    assert variables in staging.read_text(), "the committed staging file sets a CI variable"
    staging.write_text(
        staging.read_text().replace(
            variables,
            variables + "      LAUNCH_DATE: 2026-01-15\n      BLOB: !!binary c2VjcmV0\n      TAGS: !!set {a, b}\n",
        )
    )
    run = run_verb(["plan", "--stack", "all"], directory)
    assert run.code == 1, run.both
    assert "Traceback" not in run.both
    assert "c2VjcmV0" not in run.both, "the value is never shown"
    for path, expected in (
        ("LAUNCH_DATE", "is a YAML date or timestamp; expected a string"),
        ("BLOB", "is a YAML !!binary value; expected a string"),
        ("TAGS", "is a YAML !!set; expected a list"),
    ):
        assert f"  - vibelog:ci.variables.{path}: {expected}\n" in run.err, f"{path}:\n{run.err}"
    assert "stack 'staging' has 3 configuration problem(s)" in run.err
    assert 'fix: in Pulumi.staging.yaml, quote it ("2026-01-15", not 2026-01-15)' in run.err
    assert "Previewing stack development" in run.out, "the stacks after it are still planned"
    assert "Previewing stack production" in run.out


def test_a_stack_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    (directory / "Pulumi.staging.yaml").unlink()
    with fifo_without_writer(directory / "Pulumi.staging.yaml"):
        run = run_verb(["plan", "--stack", "all"], directory)
    assert run.code == 2, run.both
    assert run.err == "error: Pulumi.staging.yaml cannot be read (not a regular file: a FIFO, device or socket)\n"
    assert "Previewing stack development" in run.out
    assert "Previewing stack production" in run.out


def test_a_yaml_syntax_error_names_the_line_but_never_echoes_it(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    _append(directory / "Pulumi.production.yaml", f"  aws:secretKey: {{{CANARY}: [\n")
    run = run_verb(["plan", "--stack", "production"], directory)
    assert run.code == 2
    assert CANARY not in run.both
    assert "Pulumi.production.yaml is not valid YAML" in run.err
    assert "at line" in run.err


def test_a_key_without_its_namespace_is_the_projects_and_may_not_repeat_it() -> None:
    text = stack_file("staging").read_text().replace("  vibelog:domain:", "  domain:")
    assert read_stack_config("staging", text=text).values["vibelog:domain"] == "staging.vibelog.io"
    with pytest.raises(StackFileError, match="'vibelog:domain' is given twice"):
        read_stack_config("staging", text=text.replace("\nconfig:\n", "\nconfig:\n  vibelog:domain: x.vibelog.io\n"))


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stack_files_pass_their_own_schema(stack: str) -> None:
    validator = jsonschema.Draft202012Validator(stack_file_schema())
    document = committed_document(stack)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, f"Pulumi.{stack}.yaml fails schema/stack-config.schema.json: {errors}"


def test_the_schema_refuses_a_top_level_typo_and_a_plaintext_secret() -> None:
    validator = jsonschema.Draft202012Validator(stack_file_schema())
    document = committed_document("staging")
    assert validator.is_valid(document)
    assert not validator.is_valid({"confg": document["config"]})
    plaintext = {**document["config"], "vibelog:secrets": {"openaiApiKey": CANARY}}
    assert not validator.is_valid({"config": plaintext})
    encrypted = {**document["config"], "vibelog:secrets": {"openaiApiKey": {"secure": "v1:abc"}}}
    assert validator.is_valid({"config": encrypted})
