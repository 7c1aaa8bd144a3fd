"""The failover and lockdown runbooks change the stack file by one line each, comments kept, nothing else touched."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from ops.cli import main
from ops.errors import JobError
from ops.runbook import stackfile
from settings.loader import load_settings
from settings.stackfile import read_stack_config, stack_file


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "Pulumi.production.yaml"
    shutil.copy(stack_file("production"), path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return path


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
    main(["runbook-lockdown", "--stack", "production"])
    operations = yaml.safe_load(production.read_text(encoding="utf-8"))["config"]["vibelog:operations"]
    assert operations["secretRotation"] == 2, "each lockdown is a new generation"
    assert operations["keepPreviousSecrets"] is True
    out = capsys.readouterr().out
    assert "vibelog:secrets.openaiApiKey" in out
    assert "databaseUrl" in out
    steps = [out.index(marker) for marker in ("1. Merge", "2. Redeploy", "3. Then a second pull request")]
    assert steps == sorted(steps), "the next steps, in the documented order"
    assert "operations.keepPreviousSecrets=false" in out, "the second pull request's change is named"


def test_the_second_rotation_step_is_a_stack_switch(production: Path) -> None:
    main(["runbook-lockdown", "--stack", "production"])
    assert main(["runbook-stack-set", "--stack", "production", "operations.keepPreviousSecrets=false"]) == 0
    operations = yaml.safe_load(production.read_text(encoding="utf-8"))["config"]["vibelog:operations"]
    assert operations["keepPreviousSecrets"] is False
    assert operations["secretRotation"] == 1, "the generation stays; only the old token goes"


@pytest.mark.parametrize(
    ("switch", "value", "problem"),
    [("dns.forceFailover", "yes", "takes a bool"), ("dns.zone", "x.io", "not a stack switch")],
)
def test_a_wrong_switch_or_value_is_refused(switch: str, value: object, problem: str) -> None:
    text = stack_file("production").read_text(encoding="utf-8")
    with pytest.raises(JobError, match=problem):
        stackfile.set_switch(text, switch, value)


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
