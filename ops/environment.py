"""The environment each job reads: declared once beside the job, listed by its --help, checked all at once before it
starts, and scrubbed from anything it prints."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ops.errors import BadInputError


@dataclass(frozen=True)
class Variable:
    """One environment variable a job reads."""

    name: str
    """Its name."""
    what: str
    """What it holds, for --help."""
    secret: bool = False
    """A credential or a URL with one: never printed, and removed from every error line."""
    required: bool = True
    """Whether the job refuses to start without it."""
    renamed_by: str | None = None
    """An option whose value names the variable to read instead (`restore --target-url-env`)."""


# What every job may read besides its own: the failure report's channels and the AWS SDK's usual variables.
COMMON = (
    Variable("SLACK_WEBHOOK", "Slack incoming webhook a failure is posted to", secret=True, required=False),
    Variable("GITHUB_STEP_SUMMARY", "the job summary file GitHub Actions sets", required=False),
    Variable("STACK", "the stack the job serves, named in its reports", required=False),
    Variable(
        "OPS_STALL_SECONDS",
        "seconds pg_dump, pg_restore or an S3 transfer may move no data before the job gives up "
        "(default 300, at most 86400)",
        required=False,
    ),
)
# The whole URL, or the user-info of any URL, is a credential wherever it appears.
_CREDENTIAL_URL = re.compile(r"postgres(?:ql)?://\S+|(?<=://)[^/@\s]+(?=@)")


def value(name: str) -> str:
    """A variable the job's environment must set; BadInputError naming it (never its value) if it is missing."""
    found = os.environ.get(name, "")
    if not found:
        raise BadInputError(f"${name} is not set (`python -m ops <job> --help` lists what a job reads)")
    return found


def whole_number(name: str, maximum: int) -> int:
    """A variable holding a whole number from 1 to `maximum` (what the setting it comes from allows); BadInputError
    otherwise, before the job starts (a longer one would fail mid-job, as a date out of range or past Python's 4300
    digits)."""
    text = value(name)
    if not re.fullmatch(r"[0-9]+", text) or len(text) > len(str(maximum)) or not 1 <= int(text) <= maximum:
        raise BadInputError(f"${name} must be a whole number from 1 to {maximum}")
    return int(text)


def require(variables: Iterable[Variable], args: argparse.Namespace) -> None:
    """BadInputError naming every required variable that is missing, in one line, before the job does anything."""
    missing = [
        name for variable in variables if variable.required and not os.environ.get(name := _name(variable, args))
    ]
    if missing:
        names = ", ".join(f"${name}" for name in missing)
        raise BadInputError(f"not set: {names} (the job's GitHub environment declares them; --help lists each)")


def _name(variable: Variable, args: argparse.Namespace) -> str:
    return str(getattr(args, variable.renamed_by, None) or variable.name) if variable.renamed_by else variable.name


def read_by(variables: Iterable[Variable], args: argparse.Namespace) -> list[Variable]:
    """A job's variables under the names it reads them by: a renamed one (`--target-url-env`) under its new name as
    well, so its value is scrubbed from what is printed like the original's."""
    named = []
    for variable in variables:
        named.append(variable)
        if (name := _name(variable, args)) != variable.name:
            named.append(replace(variable, name=name))
    return named


def variable_name(text: str) -> str:
    """An option naming an environment variable (`--target-url-env`)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a variable's name (like RESTORE_TARGET_URL)")
    return text


def scrub(text: str, variables: Iterable[Variable] = ()) -> str:
    """`text` with the value of every secret variable, and every connection string or URL credential, removed."""
    for variable in _with_common(variables):
        secret = os.environ.get(variable.name, "") if variable.secret else ""
        if len(secret) >= 4:  # a shorter value would blank out ordinary words
            text = text.replace(secret, f"${variable.name}")
    return _CREDENTIAL_URL.sub("***", text)


def _with_common(variables: Iterable[Variable]) -> list[Variable]:
    """A job's own variables, then the common ones it does not declare itself."""
    own = list(variables)
    return [*own, *(variable for variable in COMMON if variable.name not in {v.name for v in own})]


def epilog(variables: Sequence[Variable]) -> str:
    """The --help text listing the variables a job reads, secrets marked, and its exit codes."""
    listed = _with_common(variables)
    width = max(len(variable.name) for variable in listed)
    lines = ["environment (secret ones are never printed):"]
    for variable in listed:
        marks = ", ".join(
            mark for mark, applies in (("secret", variable.secret), ("optional", not variable.required)) if applies
        )
        lines.append(f"  {variable.name:<{width}}  {variable.what}{f' ({marks})' if marks else ''}")
    lines += [
        "",
        "exit status: 0 done, 1 failed (one line on stderr, also to Slack and the job summary),",
        "2 bad usage or input (a variable missing or malformed: all missing ones are named), 130 interrupted",
        "(SIGINT or SIGTERM: children stopped, temporary files removed).",
    ]
    return "\n".join(lines)


def add_job(
    verbs: Any, name: str, *, summary: str, run: Callable[[argparse.Namespace], int], variables: Sequence[Variable] = ()
) -> argparse.ArgumentParser:
    """Add one job to `python -m ops`, its --help listing the environment it reads."""
    command: argparse.ArgumentParser = verbs.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=epilog(variables),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(run=run, variables=tuple(variables))
    return command


# Types of the jobs' numeric options: a value a job could not keep (a negative wait, 0 polls, nan) is bad usage, exit 2,
# before the job does anything, not an error half-way through it.
def not_negative(text: str) -> float:
    """An option's finite number of at least 0."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of at least 0")
    return number


def number_between(text: str, low: float, high: float) -> float:
    """An option's finite number from `low` to `high`: what its consumer can keep (time.sleep takes no 1e300, a
    PostgreSQL timeout no more than 2**31-1 ms, and rounds one below 1 ms to 0, which turns it off)."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not low <= number <= high:  # nan too
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from {low:g} to {high:g}")
    return number


def whole(text: str) -> int:
    """An option's whole number of at least 1."""
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)
