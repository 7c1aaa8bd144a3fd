"""`python -m infra schema`: the stack files' JSON Schema and the settings reference, generated from the models."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from infra.cli.exits import EXIT_NO, EXIT_OK, EXIT_USAGE
from infra.config.schema import (
    REFERENCE_PATH,
    SCHEMA_PATH,
    config_reference,
    document_with_reference,
    stack_file_schema,
)
from infra.engine import interrupt
from settings.stacks import PROJECT_DIR

FIX = "make schema"


def main(argv: list[str]) -> int:
    """Write or check the generated files; exit 1 if `--check` finds them stale."""
    parser = argparse.ArgumentParser(prog="python -m infra schema", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the schema file and docs/configuration.md")
    group.add_argument("--check", action="store_true", help="exit 1 if either is out of date")
    args = parser.parse_args(argv)
    try:
        reference = document_with_reference(REFERENCE_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"error: {REFERENCE_PATH.relative_to(PROJECT_DIR)}: {error}", file=sys.stderr)
        return EXIT_USAGE
    generated: dict[Path, str] = {
        SCHEMA_PATH: json.dumps(stack_file_schema(), indent=2) + "\n",
        REFERENCE_PATH: reference,
    }
    if args.write:
        for path, text in generated.items():
            try:
                path.parent.mkdir(exist_ok=True)
                write_whole(path, text)
            except OSError as error:  # a read-only checkout, a directory in the way
                reason = error.strerror or type(error).__name__
                print(f"error: {path.relative_to(PROJECT_DIR)} cannot be written ({reason})", file=sys.stderr)
                return EXIT_USAGE
        return EXIT_OK
    if args.check:
        stale = [str(p.relative_to(PROJECT_DIR)) for p, text in generated.items() if not _holds(p, text)]
        if stale:
            print(f"out of date: {', '.join(stale)}; run `{FIX}`", file=sys.stderr)
            return EXIT_NO
        return EXIT_OK
    print(config_reference())
    return EXIT_OK


def write_whole(path: Path, text: str) -> None:
    """Replace the file at once: a full disk, a file-size limit or Ctrl-C leaves the old file whole (a generated
    file cut short is a schema no editor can load), and no temporary file beside it."""
    made: list[Path] = []  # registered before the file exists: an interruption may land as soon as it does

    def remove() -> None:
        for each in made:
            each.unlink(missing_ok=True)

    with interrupt.undo_on_interrupt(remove):
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        made.append(temporary := Path(name))
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            temporary.chmod(0o644)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _holds(path: Path, text: str) -> bool:
    try:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    except UnicodeDecodeError:  # a byte that is not UTF-8: not what `--write` writes, so stale
        return False
