"""Run `python -m infra` verbs in-process against stack files written to a directory, capturing every stream."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from infra.__main__ import main
from infra.diffs.revision import PlanRun, diff_runs, documents_by_stack, stack_files
from infra.plans.plan_format import FINGERPRINT_KEY_ENV
from settings.stackfile import checked_config, read_stack_config, stack_file
from settings.stacks import PROJECT_DIR, STACKS

FINGERPRINT_KEY = "00" * 32
"""The fixed key both sides of an in-process diff fingerprint secrets with."""


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
            patches.enter_context(
                mock.patch("infra.cli.planned.checked_config", lambda stack: checked_config(stack, stack_dir))
            )
        patches.enter_context(mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin))))
        patches.enter_context(contextlib.redirect_stdout(out))
        patches.enter_context(contextlib.redirect_stderr(err))
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse ends bad usage this way, as it would in a real run
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Run(code, out.getvalue(), err.getvalue())


@functools.cache
def _committed_plans() -> str:
    """The committed stacks' `plan --json` under FINGERPRINT_KEY: the base side of every in-process diff. The
    directory is explicit: this runs inside the diff verb's run_verb, which reads stack files from the head's."""
    with mock.patch.dict(os.environ, {FINGERPRINT_KEY_ENV: FINGERPRINT_KEY}):
        return run_verb(["plan", "--json", "--stack", "all"], PROJECT_DIR).out


@contextlib.contextmanager
def diff_in_process(head_dir: Path, base_dir: Path) -> Iterator[None]:
    """`diff --base <rev>` run in this process: the head side planned from `head_dir`, the base side from the
    committed stack files (copied into `base_dir`), instead of a git worktree and a second process."""

    def diff_revision(_sha: str, stack: str = "all") -> Any:
        with mock.patch.dict(os.environ, {FINGERPRINT_KEY_ENV: FINGERPRINT_KEY}):
            head = run_verb(["plan", "--json", "--stack", stack], head_dir)
        base_doc = json.loads(_committed_plans())
        head_doc = json.loads(head.out) if head.out.strip() else {"stacks": {}}
        base_docs = {name: doc for name, doc in documents_by_stack(base_doc).items() if stack in {"all", name}}
        head_run = PlanRun(documents_by_stack(head_doc), head.err, stack_files(head_dir))
        return diff_runs(PlanRun(base_docs, "", stack_files(base_dir)), head_run, stack)

    with (
        mock.patch("infra.cli.diff.resolve", return_value="0" * 40),
        mock.patch("infra.cli.diff.diff_revision", diff_revision),
    ):
        yield


@contextlib.contextmanager
def fifo_without_writer(path: Path) -> Iterator[Path]:
    """A FIFO at `path` that nothing writes. A reader that opens it blocking is let go by a writer that closes at
    once (it reads an empty file), so code that would wait on it fails its test instead of hanging it."""
    os.mkfifo(path)

    def release() -> None:
        with path.open("wb"):  # blocks until a reader opens it
            pass

    writer = threading.Thread(target=release, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))  # the writer, if still waiting, is let go
        writer.join(timeout=10)
