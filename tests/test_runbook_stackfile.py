"""The runbooks that change a stack file: one line each, comments kept, only what the settings models accept, the
file replaced whole or not at all, and a second run that changes nothing."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from components.feature_flags import token_generations
from ops.cli import main
from ops.errors import JobError
from ops.runbook import stackfile, steps
from settings.loader import load_settings
from settings.operations import OperationsSettings
from settings.stackfile import load_yaml, read_stack_config, stack_file


def copy_of(stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed stack file, copied into a directory the verbs run in (their working directory)."""
    path = tmp_path / f"Pulumi.{stack}.yaml"
    shutil.copy(stack_file(stack), path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return path


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return copy_of("production", tmp_path, monkeypatch)


def operations_of(path: Path, stack: str = "production") -> OperationsSettings:
    """The operations settings the program would read from the file."""
    config = read_stack_config(stack, path.parent)
    return load_settings(stack, config.values, config.secret_keys).operations


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), "lines were added or removed"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_failover_flips_one_line_and_keeps_its_comment(production: Path) -> None:
    before = production.read_text(encoding="utf-8")
    assert main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"]) == 0
    after = production.read_text(encoding="utf-8")
    [(old, new)] = changed_lines(before, after)
    assert old.replace("false", "true", 1) == new, "only the value changed; the line's comment stays"
    config = yaml.safe_load(after)["config"]
    assert config["vibelog:dns"]["forceFailover"] is True
    without = {k: v for k, v in config.items() if k != "vibelog:dns"}
    assert without == {k: v for k, v in yaml.safe_load(before)["config"].items() if k != "vibelog:dns"}


def test_fail_back_restores_the_original_file(production: Path) -> None:
    before = production.read_text(encoding="utf-8")
    main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"])
    main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=false"])
    assert production.read_text(encoding="utf-8") == before


def test_a_second_stack_set_changes_nothing_and_says_so(production: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"]) == 0
    once = production.read_bytes()
    capsys.readouterr()
    assert main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"]) == 0
    assert production.read_bytes() == once, "a second run rewrote the file"
    assert capsys.readouterr().out == "Pulumi.production.yaml: vibelog:dns.forceFailover is already true; unchanged\n"


# Values the settings models refuse, each in a stack whose committed file is otherwise valid; what the one line says.
REFUSED = [
    ("production", "operations.securityMode=lockdown", "vibelog:operations.securityMode: Input should be 'standard'"),
    ("production", "operations.secretRotation=12345678901234567890", "vibelog:operations.secretRotation: Input should"),
    ("production", "operations.secretRotation=-1", "vibelog:operations.secretRotation: Input should be greater"),
    ("production", "dns.forceFailover=yes", "vibelog:dns.forceFailover: Input should be a valid boolean"),
    ("production", "operations.aiProvider=openai: anthropic", "vibelog:operations.aiProvider: Input should be"),
    ("production", "operations.maintenanceMode=1", "vibelog:operations.maintenanceMode: Input should be a valid bool"),
    # A rule across fields: staging has no secondary to fail over to.
    ("staging", "dns.forceFailover=true", "vibelog:dns.forceFailover: forceFailover needs failover: true"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[change for _, change, _ in REFUSED])
def test_stack_set_refuses_what_the_program_refuses_and_leaves_the_file_as_it_was(
    case: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, change, problem = case
    path = copy_of(stack, tmp_path, monkeypatch)
    before = path.read_bytes()
    assert main(["runbook-stack-set", "--stack", stack, change]) == 1, f"{stack}: {change} was accepted"
    assert path.read_bytes() == before, f"{stack}: {change} changed the file"
    assert sorted(os.listdir(tmp_path)) == [path.name], "a temporary file was left behind"
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"{change}: not one line: {err}"
    assert err.startswith(f"error: {path.name}: refused, the file is unchanged: "), err
    assert problem in err, err


def test_a_switch_given_twice_is_bad_input_naming_it_and_the_file_is_unchanged(
    production: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = production.read_bytes()
    change = ["operations.aiProvider=anthropic", "operations.aiProvider=openai"]
    assert main(["runbook-stack-set", "--stack", "production", *change]) == 2, "two values for one switch"
    assert capsys.readouterr().err == "error: operations.aiProvider is given twice\n"
    assert production.read_bytes() == before, "a switch given twice changed the file"


def test_stack_set_does_not_enter_a_lockdown_without_its_rotation(
    production: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = production.read_bytes()
    with pytest.raises(SystemExit) as exit_:
        main(["runbook-stack-set", "--stack", "production", "operations.securityMode=enhanced"])
    assert exit_.value.code == 2
    assert "a lockdown starts with `runbook-lockdown`" in capsys.readouterr().err
    assert production.read_bytes() == before


def test_a_value_yaml_would_read_otherwise_is_written_quoted() -> None:
    text = stack_file("production").read_text(encoding="utf-8")
    for value in ("openai: anthropic", "true", "yes", "null", "a # b", "[x]", "it's", 'say "hi"', "line\nbreak"):
        edited = stackfile.set_switch(text, "operations.aiProvider", value)
        [line] = [line for line in edited.splitlines() if line not in text.splitlines()]
        held = load_yaml(edited, "edited")["config"]["vibelog:operations"]["aiProvider"]
        assert held == value, f"{value!r} was written as {line!r}, which reads back as {held!r}"


BROKEN = {
    "yaml-error": ("config:\n  vibelog:dns: [unclosed\n", "is not valid YAML"),
    "duplicate-key": ("config:\n  vibelog:dns:\n    forceFailover: false\n    forceFailover: true\n", "appears twice"),
    "not-a-mapping": ("- config\n", "is not a mapping"),
}
VERBS = {
    "stack-set": ["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"],
    "lockdown": ["runbook-lockdown", "--stack", "production"],
}


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("broken", BROKEN)
def test_a_broken_stack_file_is_one_line_and_left_alone(
    production: Path, capsys: pytest.CaptureFixture[str], broken: str, verb: str
) -> None:
    text, problem = BROKEN[broken]
    production.write_text(text, encoding="utf-8")
    assert main(VERBS[verb]) == 1, f"{verb} on a stack file with a {broken}"
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"{verb}, {broken}: not one line: {err}"
    assert problem in err, f"{verb}, {broken}: {err}"
    assert production.read_text(encoding="utf-8") == text


def test_a_failed_write_leaves_the_file_whole_and_no_temporary_file(
    production: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = production.read_bytes()

    def full_disk(_: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"]) == 1
    assert "cannot be written (No space left on device); it is unchanged" in capsys.readouterr().err
    assert production.read_bytes() == before
    assert sorted(os.listdir(production.parent)) == [production.name], "the temporary file was left behind"


def test_crlf_line_endings_and_the_file_mode_are_kept(production: Path) -> None:
    production.write_bytes(production.read_bytes().replace(b"\n", b"\r\n"))
    production.chmod(0o640)
    before = production.read_bytes()
    assert main(["runbook-stack-set", "--stack", "production", "dns.forceFailover=true"]) == 0
    after = production.read_bytes()
    assert after == before.replace(b"    forceFailover: false #", b"    forceFailover: true #")
    assert production.stat().st_mode & 0o777 == 0o640


def test_lockdown_sets_enhanced_mode_bumps_the_rotation_and_lists_the_manual_keys(
    production: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = yaml.safe_load(production.read_text(encoding="utf-8"))["config"]
    assert main(["runbook-lockdown", "--stack", "production"]) == 0
    after = yaml.safe_load(production.read_text(encoding="utf-8"))["config"]
    operations = after["vibelog:operations"]
    assert operations["securityMode"] == "enhanced"
    assert operations["secretRotation"] == 1
    # Step 1 of the documented rotation: the old token must outlive the `up` until the app is redeployed.
    assert operations["keepPreviousSecrets"] is True, "one up without keepPreviousSecrets revokes the serving token"
    untouched = {k: v for k, v in after.items() if k != "vibelog:operations"}
    assert untouched == {k: v for k, v in before.items() if k != "vibelog:operations"}, "only the operations changed"
    out = capsys.readouterr().out
    assert "vibelog:secrets.openaiApiKey" in out
    assert "databaseUrl" in out
    steps = [out.index(marker) for marker in ("1. Merge", "2. Redeploy", "3. Then a second pull request")]
    assert steps == sorted(steps), "the next steps, in the documented order"
    assert "operations.keepPreviousSecrets=false" in out, "the second pull request's change is named"


def test_a_second_lockdown_changes_nothing_and_keeps_the_serving_token(
    production: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serving = token_generations(0, keep_previous=False)  # the token the running deployments were built with
    assert main(["runbook-lockdown", "--stack", "production"]) == 0
    once = production.read_bytes()
    capsys.readouterr()
    assert main(["runbook-lockdown", "--stack", "production"]) == 0
    assert production.read_bytes() == once, "a second lockdown rewrote the stack file"
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"not one line: {out}"
    assert "already in lockdown" in out, out
    assert "nothing changed" in out, out
    operations = operations_of(production)
    declared = token_generations(operations.secret_rotation, operations.keep_previous_secrets)
    assert set(serving) <= set(declared), f"generations {declared}: the serving token {serving} would be revoked"


def test_a_new_rotation_in_a_lockdown_waits_for_the_first_to_finish(
    production: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runbook-lockdown", "--stack", "production"]) == 0
    during = production.read_bytes()
    assert main(["runbook-lockdown", "--stack", "production", "--rotate-again"]) == 1
    assert "no new rotation: rotation 1 is not finished" in capsys.readouterr().err
    assert production.read_bytes() == during, "a refused rotation changed the file"
    # Step 3 done (the app was redeployed with generation 1): now a second rotation keeps generation 1 alive.
    assert main(["runbook-stack-set", "--stack", "production", "operations.keepPreviousSecrets=false"]) == 0
    assert main(["runbook-lockdown", "--stack", "production", "--rotate-again"]) == 0
    operations = operations_of(production)
    assert (operations.security_mode, operations.secret_rotation, operations.keep_previous_secrets) == (
        "enhanced",
        2,
        True,
    )
    assert token_generations(operations.secret_rotation, operations.keep_previous_secrets) == (1, 2)


def test_a_lockdown_over_an_unfinished_rotation_starts_none(
    production: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runbook-lockdown", "--stack", "production"]) == 0
    assert main(["runbook-stack-set", "--stack", "production", "operations.securityMode=standard"]) == 0
    capsys.readouterr()
    assert main(["runbook-lockdown", "--stack", "production"]) == 0
    operations = operations_of(production)
    assert (operations.security_mode, operations.secret_rotation, operations.keep_previous_secrets) == (
        "enhanced",
        1,
        True,
    ), "a second generation would revoke generation 0, which the app may still serve with"
    assert "no rotation started: rotation 1 is not finished" in capsys.readouterr().out


def test_the_second_rotation_step_is_a_stack_switch(production: Path) -> None:
    main(["runbook-lockdown", "--stack", "production"])
    assert main(["runbook-stack-set", "--stack", "production", "operations.keepPreviousSecrets=false"]) == 0
    operations = yaml.safe_load(production.read_text(encoding="utf-8"))["config"]["vibelog:operations"]
    assert operations["keepPreviousSecrets"] is False
    assert operations["secretRotation"] == 1, "the generation stays; only the old token goes"


def test_a_switch_that_is_not_a_stack_switch_is_refused() -> None:
    text = stack_file("production").read_text(encoding="utf-8")
    with pytest.raises(JobError, match="not a stack switch"):
        stackfile.set_switch(text, "dns.zone", "x.io")


# A value for each switch other than the committed one, and the settings attribute the program reads it from.
SWITCH_VALUES = {
    "dns.forceFailover": True,
    "operations.securityMode": "enhanced",
    "operations.maintenanceMode": True,
    "operations.degradedMode": True,
    "operations.aiProvider": "anthropic",
    "operations.secretRotation": 7,
    "operations.keepPreviousSecrets": True,
}


@pytest.mark.parametrize("switch", sorted(stackfile.STACK_SWITCHES))
def test_every_switch_a_runbook_writes_is_a_setting_the_program_reads(switch: str) -> None:
    assert set(SWITCH_VALUES) == set(stackfile.STACK_SWITCHES), "a switch without a value to try"
    text = stackfile.set_switch(stack_file("production").read_text(encoding="utf-8"), switch, SWITCH_VALUES[switch])
    if switch == "operations.aiProvider":  # the settings refuse the fallback provider without its key
        document = yaml.safe_load(text)
        document["config"].setdefault("vibelog:secrets", {})["anthropicApiKey"] = {"secure": "v1:encrypted"}
        text = yaml.safe_dump(document)
    config = read_stack_config("production", text=text)
    settings = load_settings("production", config.values, config.secret_keys)
    section, key = switch.split(".")
    read_back = getattr(getattr(settings, section), re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower())
    assert read_back == SWITCH_VALUES[switch], f"{switch}: the runbook writes a key the settings do not read"


def test_every_edge_config_switch_is_checked_as_the_stack_setting_that_declares_it() -> None:
    assert set(stackfile.EDGE_SWITCHES) == set(steps.SWITCHES), "an Edge Config switch flipped without its setting"
    for item, switch in stackfile.EDGE_SWITCHES.items():
        assert switch in stackfile.STACK_SWITCHES, f"{item}: {switch} is not a stack switch"
        declared = re.sub(r"(?<!^)(?=[A-Z])", "_", switch.split(".")[1]).upper()
        assert item == declared, f"{item} is checked as {switch}, which declares the item {declared}"
