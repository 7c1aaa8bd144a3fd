"""`check-env` through `main([...])`: verdicts, JSON output, exit codes, and dotenv as Vercel writes it."""

import json
from pathlib import Path

import pytest

from infra.cli.check_env import main
from infra.config.env_files import EnvFileError, parse_dotenv
from tests.helpers.cli import fifo_without_writer

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


def test_a_byte_order_mark_is_read_past_as_dotenv_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # dotenv's line pattern starts `^\s*`, and JavaScript's \s matches U+FEFF: a file saved with a BOM loads.
    dotenv = tmp_path / "bom.env"
    dotenv.write_bytes(b"\xef\xbb\xbf" + VERCEL_PULL.encode())
    as_json = tmp_path / "bom.json"
    as_json.write_bytes(b"\xef\xbb\xbf" + json.dumps(parse_dotenv(VERCEL_PULL)).encode())
    assert main([str(dotenv), str(as_json)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == f"{dotenv}: ok\n{as_json}: ok\n"


def test_a_line_separator_inside_a_value_is_part_of_the_value() -> None:
    # dotenv ends lines at \n, \r\n and \r only; Python's splitlines() also ends one at U+2028, U+0085, \f...
    assert parse_dotenv("A=one\u2028two\x85three\x0cfour\nB='x\u2029y'\r\nC=3\rD=4\n") == {
        "A": "one\u2028two\x85three\x0cfour",
        "B": "x\u2029y",
        "C": "3",
        "D": "4",
    }


def test_an_unterminated_quote_is_reported_where_it_opens() -> None:
    # The next line's opening quote must not be taken for this value's closing one ("text after" on line 3).
    with pytest.raises(EnvFileError) as raised:
        parse_dotenv('NODE_ENV=production\nOPENAI_API_KEY="sk-unterminated\nNEXTAUTH_URL="https://vibelog.app"\n')
    assert str(raised.value) == "line 2: unterminated quoted value of OPENAI_API_KEY"
    # A value that does run over lines, and text after a quote on its own line, keep their meaning.
    assert parse_dotenv('A="one\ntwo" # comment\n') == {"A": "one\ntwo"}
    with pytest.raises(EnvFileError, match=r"^line 1: text after the quoted value of A$"):
        parse_dotenv('A="one" two\n')


def test_standard_input_given_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check-env: - (standard input) given twice; it can be read once;")
    assert captured.err.count("\n") == 1


def test_a_key_given_twice_in_json_is_named_only_if_the_schema_has_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pasted = _write(tmp_path, "pasted.json", f'{{"{SECRET}": "1",\n"{SECRET}": "2"}}')
    assert main([pasted]) == 2
    err = capsys.readouterr().err
    assert err == f"check-env: {pasted}: a key outside the app's env schema is set twice (lines 1, 2)\n"


def test_an_env_file_that_is_a_fifo_is_refused_not_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path, "good.env", VERCEL_PULL)
    with fifo_without_writer(tmp_path / "fifo.env") as fifo:
        assert main([str(fifo), good]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"check-env: {fifo}: cannot read (not a regular file: a FIFO, device or socket)\n"
    assert captured.out == f"{good}: ok\n", "the other files still get their verdict"
