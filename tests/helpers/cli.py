"""Run `python -m infra` verbs in-process against stack files written to a directory, capturing every stream."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from infra.__main__ import main
from settings.stackfile import read_stack_config, stack_file
from settings.stacks import STACKS


@dataclass(frozen=True)
class Run:
    """What one verb did: its exit status and both output streams."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        """stdout and stderr together, for asserting that something is in neither."""
        return self.out + self.err


def copy_stacks(directory: Path) -> Path:
    """The committed stack files, copied byte for byte into `directory` (to be broken there)."""
    for stack in STACKS:
        (directory / f"Pulumi.{stack}.yaml").write_bytes(stack_file(stack).read_bytes())
    return directory


def run_verb(argv: list[str], stack_dir: Path | None = None, stdin: bytes = b"") -> Run:
    """`python -m infra ARGV` in this process, reading stack files from `stack_dir` when given."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as patches:
        if stack_dir is not None:
            patches.enter_context(
                mock.patch("infra.engine.runtime.read_stack_config", lambda stack: read_stack_config(stack, stack_dir))
            )
        patches.enter_context(mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin))))
        patches.enter_context(contextlib.redirect_stdout(out))
        patches.enter_context(contextlib.redirect_stderr(err))
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse ends bad usage this way, as it would in a real run
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Run(code, out.getvalue(), err.getvalue())
