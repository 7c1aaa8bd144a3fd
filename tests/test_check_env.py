"""`check-env` through `main([...])`: verdicts, JSON output, exit codes, and dotenv as Vercel writes it."""

import json
from pathlib import Path

import pytest

from infra.cli.check_env import main
from infra.config.env_files import EnvFileError, parse_dotenv

SECRET = "n3xtauth-secret-value-0123456789abcdef"
VERCEL_PULL = f"""# Created by Vercel CLI
NODE_ENV="production"
NEXT_PUBLIC_APP_URL="https://vibelog.app"
DATABASE_URL="postgresql://postgres:pw@db.ref.supabase.co:6543/postgres"
DIRECT_URL="postgresql://postgres:pw@db.ref.supabase.co:5432/postgres"
NEXTAUTH_SECRET="{SECRET}"
NEXTAUTH_URL="https://vibelog.app"
OPENAI_API_KEY="sk-proj-abc"
SUPABASE_URL="https://ref.supabase.co"
SUPABASE_ANON_KEY="anon"
SUPABASE_SERVICE_ROLE_KEY="service"
VERCEL_GIT_COMMIT_MESSAGE="Fix \\"quotes\\"\\nand lines"
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_vercel_pull_file_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _write(tmp_path, ".env.production", VERCEL_PULL)
    assert main([env_file]) == 0
    assert capsys.readouterr().out == f"{env_file}: ok\n"


def test_an_invalid_file_names_the_key_and_not_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = "tooshort-secret-value"
    env_file = _write(tmp_path, ".env", VERCEL_PULL.replace(SECRET, short))
    assert main([env_file]) == 1
    out = capsys.readouterr().out
    assert out == f"{env_file}: invalid\n  NEXTAUTH_SECRET must be at least 32 characters\n"
    assert short not in out


def test_json_output_for_several_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.env", VERCEL_PULL)
    env = parse_dotenv(VERCEL_PULL)
    env["NODE_ENV"] = "Production"
    del env["SUPABASE_URL"]
    bad = _write(tmp_path, "bad.json", json.dumps(env))
    assert main(["--json", good, bad]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"file": good, "valid": True, "errors": []},
        {
            "file": bad,
            "valid": False,
            "errors": [
                {"key": "NODE_ENV", "message": "NODE_ENV must be one of development, staging, production"},
                {"key": "SUPABASE_URL", "message": "SUPABASE_URL is required"},
            ],
        },
    ]


def test_json_values_that_are_not_strings_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env: dict[str, object] = dict(parse_dotenv(VERCEL_PULL))
    env["SENTRY_DSN"] = None
    env["EXTRA_NUMBER"] = 3  # zod strips unknown keys whatever their type
    env_file = _write(tmp_path, "env.json", json.dumps(env))
    assert main([env_file, "--json"]) == 1
    [verdict] = json.loads(capsys.readouterr().out)
    assert verdict["errors"] == [{"key": "SENTRY_DSN", "message": "SENTRY_DSN must be a string"}]


def test_an_empty_optional_url_from_vercel_pull_is_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _write(tmp_path, ".env", VERCEL_PULL + 'SENTRY_DSN=""\n')
    assert main([env_file]) == 1
    assert "SENTRY_DSN must be a URL" in capsys.readouterr().out


def test_dotenv_syntax() -> None:
    text = """
# comment
export NODE_ENV=staging
   PLAIN = value with spaces   # trailing comment
SINGLE='no \\n escapes'
DOUBLE="a\\nb\\t\\"c\\" \\\\ \\x"  # comment
EMPTY=
HASH="a # not a comment"
MULTI="first
second"
"""
    assert parse_dotenv(text) == {
        "NODE_ENV": "staging",
        "PLAIN": "value with spaces",
        "SINGLE": "no \\n escapes",
        "DOUBLE": 'a\nb\t"c" \\ \\x',
        "EMPTY": "",
        "HASH": "a # not a comment",
        "MULTI": "first\nsecond",
    }


@pytest.mark.parametrize("text", ["NOT AN ASSIGNMENT\n", "1KEY=x\n", 'KEY="unterminated\n', 'KEY="value" trailing\n'])
def test_malformed_dotenv_is_an_error(text: str) -> None:
    with pytest.raises(EnvFileError, match="line 1"):
        parse_dotenv(text)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ([], "no files given"),
        (["--json"], "no files given"),
        (["--yaml", "x"], "unknown option --yaml"),
        (["{missing}"], "no such file"),
        (["{bad_json}"], "malformed JSON"),
        (["{array_json}"], "JSON must be an object"),
        (["{bad_dotenv}"], "is not KEY=value"),
        (["{not_utf8}"], "cannot read"),
        (["{dir}"], "is a directory"),
        (["{dup_dotenv}"], "line 3: NODE_ENV is set again (first on line 1)"),
        (["{dup_json}"], "NODE_ENV is set twice (lines 1, 3)"),
        (["{huge}"], "larger than 1024 KiB"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    paths = {
        "missing": str(tmp_path / "missing.env"),
        "bad_json": _write(tmp_path, "bad.json", '{"NODE_ENV": "production",'),
        "array_json": _write(tmp_path, "array.json", '["NODE_ENV"]'),
        "bad_dotenv": _write(tmp_path, "bad.env", "NODE_ENV production\n"),
        "not_utf8": str(tmp_path / "latin1.env"),
        "dir": str(tmp_path),
        "dup_dotenv": _write(tmp_path, "dup.env", "NODE_ENV=production\nX=1\nNODE_ENV=development\n"),
        "dup_json": _write(tmp_path, "dup.json", '{"NODE_ENV": "production",\n"X": "1",\n"NODE_ENV": "staging"}'),
        "huge": _write(tmp_path, "huge.env", "X=" + "a" * (1024 * 1024)),
    }
    (tmp_path / "latin1.env").write_bytes(b"NEXTAUTH_SECRET=\xe9\n")
    assert main([arg.format(**paths) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert error in captured.err
    assert "production" not in captured.err


def test_an_invalid_file_fails_the_run_even_after_a_valid_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path, "good.env", VERCEL_PULL)
    bad = _write(tmp_path, "bad.env", VERCEL_PULL.replace('"sk-proj-abc"', '"pk-abc"'))
    assert main([good, bad]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{good}: ok",
        f"{bad}: invalid",
        "  OPENAI_API_KEY must start with 'sk-'",
    ]
