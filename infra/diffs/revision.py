"""Plan a git revision (in a temporary worktree, with its own code) beside the working tree, and diff them."""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.diffs.changes import StackDiff, diff_plans
from infra.engine import interrupt
from infra.plans.plan_format import FINGERPRINT_KEY_ENV
from settings.stacks import PROJECT_DIR

MEMORY = Path("/dev/shm")  # noqa: S108 - a parent for mkdtemp, which makes private directories
MOUNTS = Path("/proc/mounts")
MEMORY_TO_SPARE = 256 * 1024 * 1024
"""Free space /dev/shm must have to be used (Docker gives containers 64 MB by default): a checkout is ~2 MB, the
tests' PostgreSQL clusters ~40 MB each."""


def scratch_parent() -> str | None:
    """Where the base revision is checked out: in memory when the machine has a tmpfs at /dev/shm with room to
    spare and no TMPDIR, TEMP or TMP names another place, else tempfile's default (None). On a 2-core VM the
    checkout took 20 ms there and up to 0.4 s on its virtual disk, as writeback allowed: most of what `diff` adds
    to its two plans."""
    if any(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")) or not os.access(MEMORY, os.W_OK):
        return None  # tempfile's own order of preference; an empty value names nothing, as tempfile reads it
    try:
        mounts = MOUNTS.read_text(encoding="utf-8").splitlines()
        free = shutil.disk_usage(MEMORY).free
    except OSError:
        return None
    on_memory = [fields[2] for fields in map(str.split, mounts) if len(fields) > 2 and fields[1] == str(MEMORY)]
    if not on_memory or on_memory[-1] != "tmpfs" or free < MEMORY_TO_SPARE:  # the last mount there is the one seen
        return None
    return str(MEMORY)


class DiffError(Exception):
    """The diff could not be made (bad revision, a plan that does not run): exit 2."""


@dataclass(frozen=True)
class PlanRun:
    """The `plan --json` documents of one checkout, by stack, what it printed on stderr, and its stack files."""

    documents: Mapping[str, Mapping[str, Any]]
    stderr: str
    stack_files: frozenset[str]
    """The stacks the checkout has a file for, listed before the base's worktree is removed: a stack with a file
    and no document is a stack whose plan failed."""


def resolve(revision: str) -> str:
    """The commit a revision names; DiffError if it names none."""
    done = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False)
    if done.returncode != 0:
        raise DiffError(f"'{revision}' is not a commit in this repository")
    return done.stdout.strip()


def diff_revision(sha: str, stack: str = "all") -> list[StackDiff]:
    """Plan the commit (in a temporary worktree, with its own code) and the working tree, and diff each stack.

    Both plans run as subprocesses of this interpreter at once, sharing a fingerprint key made for this run
    only, so secret values are compared without being revealed and the key is useless afterwards.
    """
    key = secrets.token_bytes(32)
    top = Path(_git("rev-parse", "--show-toplevel").stdout.strip())
    common = (top / _git("rev-parse", "--git-common-dir").stdout.strip()).resolve()
    with tempfile.TemporaryDirectory(prefix="infra-diff-", dir=scratch_parent()) as tmp:
        worktree = Path(tmp) / "base"

        def remove_worktree() -> None:
            # Twice --force: a worktree whose `add` was cut short is still locked ("initializing").
            done = _git("worktree", "remove", "--force", "--force", str(worktree), check=False)
            if done.returncode != 0:  # a checkout cut short, before git knew it as a worktree: unlock, prune
                _git("worktree", "unlock", str(worktree), check=False)
                shutil.rmtree(worktree, ignore_errors=True)
                remove_half_made_record(common, worktree)
                _git("worktree", "prune", check=False)

        # Ctrl-C ends the process without running `finally`; the worktree and its directory go all the same.
        with (
            interrupt.undo_on_interrupt(functools.partial(shutil.rmtree, tmp, ignore_errors=True)),
            interrupt.undo_on_interrupt(remove_worktree),
        ):
            try:
                _git("worktree", "add", "--detach", "--quiet", str(worktree), sha)
                base_dir = worktree / PROJECT_DIR.relative_to(top)
                with (
                    interrupt.child(_start_plan(base_dir, stack, key)) as base_proc,
                    interrupt.child(_start_plan(PROJECT_DIR, stack, key)) as head_proc,
                ):
                    base = _finish_plan(base_proc, base_dir, "the base revision")
                    head = _finish_plan(head_proc, PROJECT_DIR, "the working tree")
            finally:
                remove_worktree()
        return diff_runs(base, head, stack)


def diff_runs(base: PlanRun, head: PlanRun, stack: str = "all") -> list[StackDiff]:
    """Per stack, the diff of the two runs; a stack whose plan failed carries the error instead."""
    names = list(head.documents) if stack == "all" else [stack]
    names += [name for name in base.documents if name not in names and stack == "all"]
    if stack == "all":
        names += [name for name in sorted(head.stack_files) if name not in names]
    diffs = []
    for name in names:
        old = base.documents.get(name)
        new = head.documents.get(name)
        if new is None and name in head.stack_files:
            diffs.append(StackDiff(name, error=f"the working tree's plan failed:\n{_errors_of(head.stderr, name)}"))
        elif old is None and name in base.stack_files:
            diffs.append(StackDiff(name, error=f"the base revision's plan failed:\n{_errors_of(base.stderr, name)}"))
        else:
            diffs.append(diff_plans(old, new, name))  # a stack file added or removed: all created or deleted
    return diffs


def _errors_of(stderr: str, stack: str) -> str:
    """The `error:` blocks of a plan's stderr that are about one stack (all of it if none names it)."""
    blocks = re.split(r"(?m)^(?=error: )", stderr.strip())
    mine = [b.strip() for b in blocks if f"'{stack}'" in b or f"Pulumi.{stack}.yaml" in b]
    return "\n".join(mine) if mine else stderr.strip()


def stack_files(directory: Path) -> frozenset[str]:
    """The stacks a directory has a `Pulumi.<stack>.yaml` for."""
    return frozenset(path.name.split(".")[1] for path in directory.glob("Pulumi.*.yaml"))


def _start_plan(directory: Path, stack: str, key: bytes) -> subprocess.Popen[str]:
    env = {**os.environ, FINGERPRINT_KEY_ENV: key.hex()}
    stacks = stack if stack == "all" or (directory / f"Pulumi.{stack}.yaml").is_file() else None
    command = [sys.executable, "-m", "infra", "plan", "--json", "--stack", stacks or "all"]
    return subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        command,
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches the diff alone, which kills the plan's whole group
    )


def _finish_plan(process: subprocess.Popen[str], directory: Path, what: str) -> PlanRun:
    stdout, stderr = process.communicate()
    # 1 and 2 are also how plan says that one stack failed while it printed the others: those stacks then carry
    # their own error in the diff. Anything else (no JSON at all) fails the whole diff.
    if process.returncode not in {0, 1, 2}:
        raise DiffError(f"`python -m infra plan --json` failed in {what}:\n{stderr.strip()}")
    try:
        document = json.loads(stdout) if stdout.strip() else {"stacks": {}}
    except json.JSONDecodeError:
        raise DiffError(f"`python -m infra plan --json` in {what} did not print JSON:\n{stderr.strip()}") from None
    return PlanRun(documents_by_stack(document), stderr, stack_files(directory))


def documents_by_stack(document: Mapping[str, Any]) -> dict[str, Any]:
    """The stack documents of a `plan --json` output: `{"stacks": {...}}` for several, one stack's document alone."""
    return dict(document["stacks"]) if "stacks" in document else {document["stack"]: document}


def remove_half_made_record(common: Path, worktree: Path) -> None:
    """Remove, by hand, the repository's record of `worktree` if git cannot.

    A `git worktree add` killed while writing leaves `.git/worktrees/<name>` still locked ("initializing") with an
    empty `commondir`: `unlock` and `remove` then stop with "failed to read .../commondir", and `prune` keeps a
    locked record, so every later `git worktree` command in the repository fails. Only the record whose `gitdir`
    names this worktree is touched.
    """
    ours = os.path.realpath(worktree / ".git")
    for record in sorted((common / "worktrees").glob("*")):
        try:
            named = (record / "gitdir").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if os.path.realpath(named) == ours:
            shutil.rmtree(record, ignore_errors=True)


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(  # noqa: S603 - git with fixed arguments
        ["git", *args],  # noqa: S607 - git from PATH, like a developer runs it
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # on Ctrl-C its whole group is killed, git's own helper processes included
    )
    # Killed on Ctrl-C before the cleanup runs, so a half-done `worktree add` cannot race its removal.
    with interrupt.child(process):
        stdout, stderr = process.communicate()
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check and done.returncode != 0:
        raise DiffError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done
