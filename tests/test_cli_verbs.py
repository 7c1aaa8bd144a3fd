"""Every verb: one exit-code convention, no secret in any output (a canary in every secret slot), the same bytes
twice, Ctrl-C as one line."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml

from infra.engine.runtime import Plan, canonical_order
from settings.config_keys import SECRETS_KEY, provider_secret_keys
from settings.secrets import SecretSettings
from settings.stacks import STACKS
from tests.helpers.cli import Run, copy_stacks, diff_in_process, run_verb
from tests.helpers.stacks import committed_document

CANARY = "canary-sk-4b8e0a1f"
SECRET_NAMES = tuple(str(field.alias or name) for name, field in SecretSettings.model_fields.items())


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--stack", "prod"],
        ["plan", "--json", "--stack", "prod"],
        ["graph", "--stack", "prod"],
        ["compare", "staging", "prod"],
        ["diff", "--base", "HEAD", "--stack", "prod"],
        ["check-env"],
        ["no-such-verb"],
        [],
    ],
)
def test_an_unknown_stack_or_bad_usage_is_exit_2_in_every_verb(argv: list[str]) -> None:
    run = run_verb(argv)
    assert run.code == 2, f"{argv}: {run.both}"
    assert run.out == "", "nothing on stdout a pipeline could take for an answer"


def test_a_misconfigured_stack_is_exit_1_in_every_verb_that_plans_it(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    staging = directory / "Pulumi.staging.yaml"
    staging.write_text(staging.read_text().replace("vibelog:environment: staging", "vibelog:environment: stagin"))
    for argv in (["plan", "--stack", "staging"], ["graph", "--stack", "staging"], ["compare", "staging", "production"]):
        run = run_verb(argv, directory)
        assert run.code == 1, f"{argv}: {run.both}"
        assert "  - vibelog:environment: Input should be 'development', 'staging' or 'production'" in run.err
    # --json prints only the stacks it planned: nothing at all for the broken one alone (an empty document reads as
    # a stack without changes), and every other stack beside it.
    alone = run_verb(["plan", "--json", "--stack", "staging"], directory)
    assert (alone.code, alone.out) == (1, ""), f"plan --json --stack staging: {alone.both}"
    every = run_verb(["plan", "--json", "--stack", "all"], directory)
    assert every.code == 1, every.both
    assert sorted(json.loads(every.out)["stacks"]) == sorted(set(STACKS) - {"staging"}), every.out


def test_compare_reports_every_broken_stack_before_planning_either(tmp_path: Path) -> None:
    directory = copy_stacks(tmp_path)
    staging, production = directory / "Pulumi.staging.yaml", directory / "Pulumi.production.yaml"
    staging.write_text(staging.read_text().replace("vibelog:environment: staging", "vibelog:environment: stagin"))
    production.write_bytes(b"config:\n  vibelog:domain: caf\xe9.io\n")
    with mock.patch("infra.cli.planned.plan_stack", side_effect=AssertionError("planned")) as plan_stack:
        run = run_verb(["compare", "staging", "production"], directory)
    assert plan_stack.call_count == 0, "a stack was planned although both are broken"
    assert run.code == 2, "an unreadable stack file outranks an invalid config"
    assert "stack 'staging' has 1 configuration problem(s)" in run.err, run.err
    assert "Pulumi.production.yaml is not UTF-8 text" in run.err, run.err
    assert run.out == ""


def _with_canaries(directory: Path) -> Path:
    """Stack files holding a canary in every secret slot: each app secret encrypted (the ciphertext is not shown
    either), each provider credential in plaintext; different per stack and per slot."""
    directory.mkdir(exist_ok=True)
    for stack in STACKS:
        document = committed_document(stack)
        config = document["config"]
        config.setdefault(SECRETS_KEY, {}).update(
            {name: {"secure": f"{CANARY}-{stack}-{name}"} for name in SECRET_NAMES}
        )
        config.update(
            {key: f"{CANARY}-{stack}-{key}" for key in sorted(provider_secret_keys()) if key != "github:appAuth"}
        )
        config["github:appAuth"] = {"id": "1", "installationId": "2", "pemFile": f"{CANARY}-{stack}-pem"}
        (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return directory


def _twice(argv: list[str], directory: Path) -> Run:
    """Run a verb twice: it must print the same bytes both times."""
    first, second = run_verb(argv, directory), run_verb(argv, directory)
    assert (second.code, second.out, second.err) == (first.code, first.out, first.err), f"{argv} differs run to run"
    return first


@pytest.mark.parametrize("output", [[], ["--markdown"], ["--json"]], ids=["text", "markdown", "json"])
def test_compare_and_diff_never_print_a_secret_in_any_format(tmp_path: Path, output: list[str]) -> None:
    head = _with_canaries(tmp_path / "head")
    argv = ["compare", "staging", "production", *output]
    run = _twice(argv, head) if output == ["--json"] else run_verb(argv, head)
    assert run.code == 0, run.err
    assert CANARY not in run.both
    shown = run.out if output != ["--json"] else json.dumps(json.loads(run.out)["config"])
    assert "aws:secretKey" not in shown, "set in both stacks: secrets are never comparable across stacks"
    (tmp_path / "base").mkdir()
    # Every stack in text; the stack with the most secrets in the other formats (the same renderer per stack).
    stacks = ["--stack", "all" if not output else "production"]
    with diff_in_process(head, copy_stacks(tmp_path / "base")):
        diff = run_verb(["diff", "--base", "HEAD", *stacks, *output], head)
    assert diff.code == 1, f"secrets set where the committed stacks have none:\n{diff.both}"
    assert "vibelog:secrets.pagerdutyToken" in diff.out, "the changed encrypted value is named"
    assert CANARY not in diff.both


def test_plan_and_graph_never_print_a_secret_and_print_the_same_bytes_twice(tmp_path: Path) -> None:
    directory = _with_canaries(tmp_path)
    for argv in (["plan", "--stack", "all"], ["plan", "--json"]):
        run = _twice(argv, directory)
        assert run.code == 1, f"{argv}: plaintext provider credentials are mandatory violations\n{run.both}"
        assert "aws:secretKey" in run.out, f"{argv}: the violation names the key"
        assert CANARY not in run.both, argv
    graph = _twice(["graph", "--stack", "production"], directory)
    assert graph.code == 0, graph.err
    assert CANARY not in graph.both


def test_the_canonical_order_does_not_depend_on_the_registration_order(production: Plan) -> None:
    shuffled = list(production.registrations)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a fixed shuffle, nothing secret
    ordered = canonical_order(shuffled)
    assert [r.urn for r in ordered] == [r.urn for r in canonical_order(production.registrations)]
    seen: set[str] = set()
    for reg in ordered:
        before = {reg.parent, reg.provider, *reg.dependencies} & {r.urn for r in ordered}
        assert before <= seen, f"{reg.urn} comes before {before - seen}"
        assert list(reg.dependencies) == sorted(reg.dependencies), reg.urn
        seen.add(reg.urn)


def test_check_env_reads_stdin_and_has_help() -> None:
    run = run_verb(["check-env", "-"], stdin=b"NODE_ENV=production\n")
    assert run.code == 1
    assert run.out.startswith("-: invalid\n")
    helped = run_verb(["check-env", "--help"])
    assert helped.code == 0
    assert "- reads standard input" in helped.out


def test_check_env_gives_every_file_a_verdict_even_after_a_missing_one(tmp_path: Path) -> None:
    good = tmp_path / "good.env"
    good.write_text("NODE_ENV=production\n")
    run = run_verb(["check-env", str(tmp_path / "missing.env"), str(tmp_path), str(good), "--json"])
    assert run.code == 2
    verdicts = {entry["file"]: entry for entry in json.loads(run.out)}
    assert verdicts[str(tmp_path / "missing.env")]["unreadable"] == "no such file"
    assert verdicts[str(tmp_path)]["unreadable"] == "is a directory"
    assert verdicts[str(good)]["errors"], "the file after the missing one is still checked"
    assert verdicts[str(good)]["valid"] is False


def test_ctrl_c_exits_130_with_one_line_and_no_traceback() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra", "plan", "--stack", "all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    process.stdout.readline()  # the first stack's plan is printed: the others are still being planned
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err.decode()
    assert err == b"interrupted\n"
    assert b"Previewing stack production" not in out, "the interrupt was not swallowed"


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["raised by a print", "raised by the last flush"])
def test_an_output_on_a_full_disk_is_one_line_and_exit_2(unbuffered: str) -> None:
    # `schema` prints more than a buffer holds; `check-env`'s verdict fits in one, so only the exit's flush fails, as
    # `--help`'s does (argparse drops a write that fails at once).
    for argv in (["schema"], ["check-env", "-"], *([["plan", "--help"]] if not unbuffered else [])):
        with Path("/dev/full").open("w") as full:  # every write is ENOSPC
            done = subprocess.run(  # noqa: S603 - this interpreter, a fixed argv
                [sys.executable, "-m", "infra", *argv],
                check=False,
                input="NODE_ENV=production\n",
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": unbuffered},
                timeout=120,
            )
        assert (done.returncode, done.stderr) == (
            2,
            "error: the output cannot be written: No space left on device\n",
        ), f"{argv}: exit {done.returncode}\n{done.stderr}"


def test_a_file_name_that_is_not_utf8_is_printed_escaped_under_a_strict_locale(tmp_path: Path) -> None:
    env_file = Path(os.fsdecode(bytes(tmp_path) + b"/app-\xff.env"))
    env_file.write_text("NODE_ENV=production\n", encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed argv
        [sys.executable, "-m", "infra", "check-env", str(env_file)],
        check=False,
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},  # stdout as a UTF-8 locale (en_US.UTF-8) makes it: strict
        timeout=120,
    )
    assert done.returncode == 1, done.stderr.decode(errors="replace")
    assert done.stdout.startswith(os.fsencode(tmp_path) + b"/app-\\udcff.env: invalid\n"), done.stdout[:200]


def test_check_env_of_a_closed_standard_input_is_unreadable_in_one_line() -> None:
    done = subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" <&-', "sh", sys.executable, "-m", "infra", "check-env", "-"],  # `... - <&-`
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (2, "check-env: -: cannot read (standard input is closed)\n"), (
        f"exit {done.returncode}\n{done.stderr}"
    )
