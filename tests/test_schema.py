"""The generated stack-file JSON Schema and settings reference (docs/configuration.md) match the settings models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.cli import schema as schema_verb
from infra.config import schema
from settings.base import model_of
from settings.stack import StackSettings
from settings.stacks import PROJECT_DIR, STACKS


def test_the_settings_reference_is_current() -> None:
    committed = schema.REFERENCE_PATH.read_text(encoding="utf-8")
    assert committed == schema.document_with_reference(committed), (
        f"docs/configuration.md is stale against the settings models; run `{schema_verb.FIX}` and commit the result"
    )


def test_the_generated_files_are_up_to_date() -> None:
    assert schema_verb.main(["--check"]) == 0, f"run `{schema_verb.FIX}` and commit the result"


def test_the_check_sees_an_edited_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "configuration.md"
    committed = schema.REFERENCE_PATH.read_text(encoding="utf-8")
    edited.write_text(committed.replace("| `30` |", "| `31` |", 1), encoding="utf-8")
    monkeypatch.setattr(schema_verb, "REFERENCE_PATH", edited)
    monkeypatch.setattr(schema_verb, "PROJECT_DIR", tmp_path)
    assert schema_verb.main(["--check"]) == 1, "a hand-edited default must not pass the check"
    assert f"run `{schema_verb.FIX}`" in capsys.readouterr().err, "the check must name the command that fixes it"


def test_a_generated_file_that_is_not_utf8_is_out_of_date_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "stack-config.schema.json"
    damaged.write_bytes(schema.SCHEMA_PATH.read_bytes() + b"\xff")
    monkeypatch.setattr(schema_verb, "SCHEMA_PATH", damaged)
    monkeypatch.setattr(schema_verb, "PROJECT_DIR", tmp_path)
    assert schema_verb.main(["--check"]) == 1, f"{damaged} (a byte that is not UTF-8 added) passed the check"
    err = capsys.readouterr().err
    assert err == f"out of date: stack-config.schema.json; run `{schema_verb.FIX}`\n", err


def test_a_generated_file_that_cannot_be_written_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "stack-config.schema.json"
    taken.mkdir()  # a directory where the file goes
    monkeypatch.setattr(schema_verb, "SCHEMA_PATH", taken)
    monkeypatch.setattr(schema_verb, "REFERENCE_PATH", tmp_path / "configuration.md")
    monkeypatch.setattr(schema_verb, "PROJECT_DIR", tmp_path)
    (tmp_path / "configuration.md").write_bytes(schema.REFERENCE_PATH.read_bytes())
    assert schema_verb.main(["--write"]) == 2, f"writing over the directory {taken} did not fail as bad input"
    err = capsys.readouterr().err
    assert err == "error: stack-config.schema.json cannot be written (Is a directory)\n", err


# `schema --write` with its files in DIR and a file-size limit below the schema's size: a full disk, as writes see it.
LIMITED_WRITE = """
import resource, sys
from pathlib import Path
from infra.cli import schema
directory = Path(sys.argv[1])
schema.SCHEMA_PATH, schema.REFERENCE_PATH, schema.PROJECT_DIR = directory / "s.json", directory / "c.md", directory
resource.setrlimit(resource.RLIMIT_FSIZE, (16384, resource.RLIM_INFINITY))
sys.exit(schema.main(["--write"]))
"""


def test_a_generated_file_the_disk_cannot_hold_is_left_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "c.md").write_bytes(schema.REFERENCE_PATH.read_bytes())
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", LIMITED_WRITE, str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (2, "error: s.json cannot be written (File too large)\n"), done.stderr
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == "{}\n", "the schema was left cut short"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.md", "s.json"], "a temporary file was left"


def test_the_reference_is_byte_stable() -> None:
    assert schema.config_reference() == schema.config_reference(), "two renders of the same models must be equal"


def test_secret_fields_accept_only_encrypted_values_in_a_stack_file() -> None:
    document = schema.stack_file_schema()
    secrets = document["$defs"]["SecretSettings"]["properties"]
    assert secrets["openaiApiKey"]["anyOf"] == [schema.SECURE], "a plaintext secret must not validate"


@pytest.mark.parametrize(
    "row",
    [
        "| `vibelog:featureFlags.DEBUG_MODE` | bool or object | required |  | no |",
        "| `vibelog:featureFlags.DEBUG_MODE.rolloutPercent` | int | required | ≥ 0, ≤ 100 | no |",
        '| `vibelog:operations.securityMode` | `standard` or `enhanced` | `"standard"` |  | no |',
        "| `vibelog:secrets.openaiApiKey` | str | required |  | yes |",
        "| `vibelog:ci.waitTimer` | int | `0` | ≥ 0, ≤ 43200 | no |",
        "| `vibelog:ci.reviewers.users` | list of int | `[]` | each ≥ 1, each ≤ 9007199254740991 | no |",
        "| `vibelog:dns.delegations[].nameServers` | list of str | required | at least 2 items, at most 13 items, each",
        "| `aws:region` | str | unset | matches `^[a-z]{2}(-[a-z]+)+-[0-9]$` | no |",
    ],
)
def test_the_reference_gives_type_default_constraints_and_secrecy(row: str) -> None:
    assert row in schema.config_reference(), f"the reference lacks or misstates: {row}"


def _key_paths(node: object, path: str, maps: set[str]) -> list[str]:
    """The reference's key paths a stack file's config value sets (`[]` for a list's items; a map's keys are free)."""
    if isinstance(node, dict) and "secure" not in node and path not in maps:
        return [path, *(p for key, value in node.items() for p in _key_paths(value, f"{path}.{key}", maps))]
    if isinstance(node, list):
        items = [item for item in node if isinstance(item, dict)]
        return [
            path,
            *(p for item in items for key, value in item.items() for p in _key_paths(value, f"{path}[].{key}", maps)),
        ]
    return [path]


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_a_stack_file_sets_is_in_the_reference(stack: str) -> None:
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    rows = [line.split(" | ") for line in schema.config_reference().splitlines() if line.startswith("| `")]
    documented = {row[0].strip("| `") for row in rows}
    maps = {row[0].strip("| `") for row in rows if row[1].startswith("map of")}
    aliases = {str(field.alias): field for field in StackSettings.model_fields.values()}
    documented |= {alias for alias, field in aliases.items() if model_of(field.annotation)}  # the section headings
    modelled = {key: value for key, value in config.items() if key in aliases}
    missing = [p for key, value in modelled.items() for p in _key_paths(value, key, maps) if p not in documented]
    assert not missing, f"Pulumi.{stack}.yaml sets keys the reference does not list: {missing}"


def test_a_reference_page_without_its_markers_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "configuration.md"
    page.write_text("# Configuration\n", encoding="utf-8")
    monkeypatch.setattr(schema_verb, "REFERENCE_PATH", page)
    monkeypatch.setattr(schema_verb, "PROJECT_DIR", tmp_path)
    assert schema_verb.main(["--write"]) == 2, "a page the generator cannot place its reference in is bad input"
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"expected one line, got: {err!r}"
    assert "lacks the markers" in err, f"the line must say what is wrong, got: {err!r}"
    assert page.read_text(encoding="utf-8") == "# Configuration\n", "a failed --write must change nothing"
