"""`check-env FILE... [--json]`: validate env files (dotenv or JSON) against the app's env schema."""

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from settings.env_schema import ENV_KEYS, MUST_BE_STRING, EnvProblem, validate_app_env

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
USAGE = "usage: check-env FILE... [--json]"

_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class EnvFileError(Exception):
    """A file that cannot be read as an env file; the message never quotes its content."""


@dataclass(frozen=True)
class FileVerdict:
    """The schema's verdict on one file."""

    file: str
    """The path as given on the command line."""
    problems: list[EnvProblem]
    """One per failing key; empty when the file is valid."""


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse dotenv as `vercel env pull` writes it: KEY="value" with escapes, comments, `export ` prefixes."""
    env: dict[str, str] = {}
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ASSIGNMENT.fullmatch(line)
        if match is None:
            raise EnvFileError(f"line {number} is not KEY=value")
        key, raw = match.groups()
        first_line = number
        if raw.startswith(('"', "'")):
            quote = raw[0]
            body = raw[1:]
            # dotenv lets a quoted value run over several lines until its closing quote.
            while _closing_quote(body, quote) is None and number < len(lines):
                body += "\n" + lines[number]
                number += 1
            end = _closing_quote(body, quote)
            if end is None:
                raise EnvFileError(f"line {first_line}: unterminated quoted value of {key}")
            rest = body[end + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise EnvFileError(f"line {number}: text after the quoted value of {key}")
            env[key] = _unescape(body[:end]) if quote == '"' else body[:end]
        else:
            env[key] = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    return env


def _closing_quote(body: str, quote: str) -> int | None:
    escaped = False
    for index, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\" and quote == '"':
            escaped = True
        elif char == quote:
            return index
    return None


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body, flags=re.DOTALL)


def load_env_file(path: Path) -> tuple[dict[str, str], list[EnvProblem]]:
    """Read a dotenv or JSON env file; JSON values that are not strings come back as problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EnvFileError(f"cannot read: {type(error).__name__}") from None
    if path.suffix != ".json" and not text.lstrip().startswith(("{", "[")):
        return parse_dotenv(text), []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        # The decoder's own message gives only a position, never the offending text.
        raise EnvFileError(f"malformed JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(data, dict):
        raise EnvFileError("JSON must be an object of string values")
    env = {key: value for key, value in data.items() if isinstance(value, str)}
    # process.env only ever holds strings; zod would report a non-string as the wrong type.
    problems = [
        EnvProblem(key, f"{key} {MUST_BE_STRING}") for key in ENV_KEYS if key in data and not isinstance(data[key], str)
    ]
    return env, problems


def check_file(path: Path) -> FileVerdict:
    """Validate one env file against the schema."""
    env, type_problems = load_env_file(path)
    wrong_type = {problem.key for problem in type_problems}
    problems = type_problems + [p for p in validate_app_env(env) if p.key not in wrong_type]
    problems.sort(key=lambda problem: ENV_KEYS.index(problem.key))
    return FileVerdict(str(path), problems)


def main(argv: list[str]) -> int:
    """Run `check-env`; 0 when every file is valid, 1 when any is invalid, 2 on bad arguments or files."""
    as_json = "--json" in argv
    files = [arg for arg in argv if arg != "--json"]
    unknown = [arg for arg in files if arg.startswith("-")]
    if unknown or not files:
        reason = f"unknown option {unknown[0]}" if unknown else "no files given"
        print(f"check-env: {reason}; {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    verdicts: list[FileVerdict] = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            print(f"check-env: {name}: no such file", file=sys.stderr)
            return EXIT_USAGE
        try:
            verdicts.append(check_file(path))
        except EnvFileError as error:
            print(f"check-env: {name}: {error}", file=sys.stderr)
            return EXIT_USAGE
    if as_json:
        report = [
            {
                "file": verdict.file,
                "valid": not verdict.problems,
                "errors": [{"key": p.key, "message": p.message} for p in verdict.problems],
            }
            for verdict in verdicts
        ]
        print(json.dumps(report, indent=2))
    else:
        for verdict in verdicts:
            print(f"{verdict.file}: {'invalid' if verdict.problems else 'ok'}")
            for problem in verdict.problems:
                print(f"  {problem.message}")
    return EXIT_INVALID if any(verdict.problems for verdict in verdicts) else EXIT_OK
