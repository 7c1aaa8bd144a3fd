"""Env files (dotenv as `vercel env pull` writes it, or JSON) read safely and judged by the app's env schema."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from settings.env_schema import ENV_KEYS, MUST_BE_STRING, EnvProblem, validate_app_env
from settings.files import read_regular_file

STDIN = "-"
# An env file is a few kilobytes; a bigger one is refused before it is read whole.
MAX_ENV_FILE_BYTES = 1024 * 1024

_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class EnvFileError(Exception):
    """A file that cannot be read as an env file; the message never quotes its content."""


@dataclass(frozen=True)
class FileVerdict:
    """The schema's verdict on one file."""

    file: str
    """The path as given on the command line."""
    problems: list[EnvProblem] = field(default_factory=list)
    """One per failing key; empty when the file is valid."""
    unreadable: str = ""
    """Why the file could not be checked at all (missing, a directory, not UTF-8, malformed); never its content."""


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse dotenv as `vercel env pull` writes it: KEY="value" with escapes, comments, `export ` prefixes."""
    env: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    # Lines end at \n, \r\n or \r, as dotenv splits them: str.splitlines() would also end one at U+2028, U+0085 or
    # a form feed, which a value may hold. A byte-order mark is whitespace before the first key to dotenv (JS \s).
    lines = re.sub(r"\r\n?", "\n", text.removeprefix("\ufeff")).split("\n")
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
        if key in first_seen:
            # dotenv loaders disagree on which one wins; a second value is a mistake either way.
            raise EnvFileError(f"line {number}: {key} is set again (first on line {first_seen[key]})")
        first_seen[key] = number
        if raw.startswith(('"', "'")):
            quote = raw[0]
            body = raw[1:]
            # dotenv lets a quoted value run over several lines until its closing quote.
            while _closing_quote(body, quote) is None and number < len(lines):
                body += "\n" + lines[number]
                number += 1
            end = _closing_quote(body, quote)
            rest = body[end + 1 :].strip() if end is not None else ""
            # A quote that closes a value on a later line but is followed by text there is another line's opening
            # quote: the value was never closed where it began.
            if end is None or (rest and not rest.startswith("#") and number > first_line):
                raise EnvFileError(f"line {first_line}: unterminated quoted value of {key}")
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


def read_env_text(name: str) -> str:
    """The text of an env file (`-` is standard input), bounded in size and required to be UTF-8."""
    try:
        if name == STDIN:
            if sys.stdin is None:  # started with standard input closed (`<&-`)
                raise EnvFileError("cannot read (standard input is closed)")
            data = sys.stdin.buffer.read(MAX_ENV_FILE_BYTES + 1)
        else:
            data = read_regular_file(Path(name), MAX_ENV_FILE_BYTES + 1)
    except FileNotFoundError:
        raise EnvFileError("no such file") from None
    except IsADirectoryError:
        raise EnvFileError("is a directory") from None
    except OSError as error:
        raise EnvFileError(f"cannot read ({error.strerror or type(error).__name__})") from None
    if len(data) > MAX_ENV_FILE_BYTES:
        raise EnvFileError(f"larger than {MAX_ENV_FILE_BYTES // 1024} KiB; an env file is a few KiB")
    try:
        return data.decode("utf-8-sig")  # a leading byte-order mark dropped, as dotenv reads past it
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise EnvFileError(f"cannot read: not UTF-8 (an invalid byte on line {line})") from None


def load_env_file(path: Path) -> tuple[dict[str, str], list[EnvProblem]]:
    """Read a dotenv or JSON env file; JSON values that are not strings come back as problems."""
    text = read_env_text(str(path))
    if path.suffix != ".json" and not text.lstrip().startswith(("{", "[")):
        return parse_dotenv(text), []
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates(text))
    except json.JSONDecodeError as error:
        # The decoder's own message gives only a position, never the offending text.
        raise EnvFileError(f"malformed JSON: {error.msg} at line {error.lineno}") from None
    except RecursionError:
        raise EnvFileError("malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise EnvFileError("JSON must be an object of string values")
    env = {key: value for key, value in data.items() if isinstance(value, str)}
    # process.env only ever holds strings; zod would report a non-string as the wrong type.
    problems = [
        EnvProblem(key, f"{key} {MUST_BE_STRING}") for key in ENV_KEYS if key in data and not isinstance(data[key], str)
    ]
    return env, problems


def _refuse_duplicates(text: str) -> Any:
    """A JSON object hook refusing a key given twice (JSON parsers keep either one), naming its lines (and the key
    when the schema has it)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                lines = [
                    text[: m.start()].count("\n") + 1 for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)
                ]
                where = f" (lines {', '.join(map(str, lines))})" if len(lines) > 1 else ""
                # A JSON key can be any text, a secret pasted in the wrong place too: only the schema's keys are named.
                named = key if key in ENV_KEYS else "a key outside the app's env schema"
                raise EnvFileError(f"{named} is set twice{where}")
            seen.add(key)
        return dict(pairs)

    return hook


def check_file(path: Path) -> FileVerdict:
    """Validate one env file against the schema."""
    env, type_problems = load_env_file(path)
    wrong_type = {problem.key for problem in type_problems}
    problems = type_problems + [p for p in validate_app_env(env) if p.key not in wrong_type]
    problems.sort(key=lambda problem: ENV_KEYS.index(problem.key))
    return FileVerdict(str(path), problems)


def check_files(names: list[str]) -> list[FileVerdict]:
    """A verdict for every file, even after one that cannot be read."""
    verdicts = []
    for name in names:
        try:
            verdicts.append(check_file(Path(name)))
        except EnvFileError as error:
            verdicts.append(FileVerdict(name, unreadable=str(error)))
    return verdicts
