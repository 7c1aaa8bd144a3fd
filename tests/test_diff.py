"""`python -m infra diff --base REV` end to end, on a throwaway git repository holding a copy of this project."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.diffs import revision
from infra.diffs.revision import remove_half_made_record, scratch_parent
from settings.stacks import PROJECT_DIR

GIT_IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    command = ["git", *GIT_IDENTITY, *args]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-commit repository with this project's files as they are in the working tree."""
    root = tmp_path_factory.mktemp("repo")
    listed = git(PROJECT_DIR, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = PROJECT_DIR / name
        if source.is_file() and not name.startswith("tests/zod/"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "--quiet")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "base")
    return root


def run_diff(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "infra", "diff", "--base", "HEAD", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_working_tree_change_against_head(repo: Path) -> None:
    # The smallest stack: what is under test is the verb end to end, not the size of the plans.
    stack_file = repo / "Pulumi.development.yaml"
    original = stack_file.read_text(encoding="utf-8")
    try:
        unchanged = run_diff(repo, "--stack", "development", "--json")
        assert unchanged.returncode == 0, unchanged.stderr + unchanged.stdout
        assert json.loads(unchanged.stdout)["changed"] is False

        stack_file.write_text(original.replace("TEAM_FEATURES: true", "TEAM_FEATURES: false"), encoding="utf-8")
        changed = run_diff(repo, "--stack", "development", "--json")
        assert changed.returncode == 1, changed.stderr
        development = json.loads(changed.stdout)["stacks"]["development"]
        assert [(r["name"], r["action"]) for r in development["resources"]] == [("flags-item-team-features", "replace")]
        assert development["uncomparedSecrets"] == 0, "both plans ran this code, so every secret was compared"
        assert git(repo, "status", "--porcelain") == " M Pulumi.development.yaml\n", "the checkout is untouched"
        assert "worktree" not in git(repo, "worktree", "list").split("\n", 1)[-1], "the base worktree is removed"
    finally:
        stack_file.write_text(original, encoding="utf-8")


def test_an_unknown_revision_is_an_error(repo: Path) -> None:
    done = run_diff(repo, "--base", "no-such-branch")
    assert done.returncode == 2, done.stdout
    assert "not a commit" in done.stderr


def test_an_unreadable_stack_file_fails_that_stack_alone(repo: Path) -> None:
    stack_file = repo / "Pulumi.staging.yaml"
    original = stack_file.read_bytes()
    try:
        stack_file.write_bytes(b"config:\n  vibelog:domain: caf\xe9.io\n")
        done = run_diff(repo, "--json")
        assert done.returncode == 2, done.stderr
        stacks = json.loads(done.stdout)["stacks"]
        assert "not UTF-8" in stacks["staging"]["error"]
        assert "Traceback" not in stacks["staging"]["error"] + done.stderr
        assert not stacks["production"].get("error")
        assert stacks["production"]["changed"] is False
    finally:
        stack_file.write_bytes(original)


def test_a_base_revision_whose_plan_fails_is_an_error_not_a_stack_created(repo: Path) -> None:
    # The base's stack file is read in its worktree, which is gone by the time the plans are compared.
    stack_file = repo / "Pulumi.development.yaml"
    original = stack_file.read_text(encoding="utf-8")
    git(repo, "checkout", "--quiet", "-b", "broken-base")
    try:
        stack_file.write_text(original.replace("vibelog:environment: development", "vibelog:environment: dev"))
        git(repo, "commit", "--quiet", "-am", "a base whose development plan fails")
    finally:
        git(repo, "checkout", "--quiet", "-")
    try:
        done = run_diff(repo, "--base", "broken-base", "--stack", "development", "--json")
        assert done.returncode == 2, done.stdout + done.stderr
        development = json.loads(done.stdout)["stacks"]["development"]
        assert development["error"].startswith("the base revision's plan failed"), development
        assert "vibelog:environment" in development["error"], "the base's own error is shown"
    finally:
        git(repo, "branch", "--quiet", "-D", "broken-base")


# SIGTERM is what a cancelled CI run sends after its SIGINT: the same exit, the same cleanup.
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_during_a_diff_leaves_no_worktree(repo: Path, signum: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra", "diff", "--base", "HEAD"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worktrees: list[str] = []
    while process.poll() is None and len(worktrees) < 2:  # wait for the base revision's worktree to exist
        listed = subprocess.run(
            ["git", "worktree", "list", "--porcelain"],  # noqa: S607
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
        worktrees = [line for line in listed.stdout.splitlines() if line.startswith("worktree ")]
        time.sleep(0.02)  # polling git back to back would take a core from the diff it waits for
    assert len(worktrees) == 2, "the diff ended before its worktree was seen"
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (130, "interrupted\n"), f"{signum.name}: {err}"
    assert out == ""
    listed = subprocess.run(
        ["git", "worktree", "list", "--porcelain"],  # noqa: S607 - git from PATH
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    left = [line for line in listed.stdout.splitlines() if line.startswith("worktree ")]
    assert left == worktrees[:1], "the base revision's worktree is removed"
    base = Path(worktrees[1].removeprefix("worktree "))
    assert not base.parent.exists(), f"{base.parent} is left behind"


def test_a_worktree_add_cut_short_is_cleaned_up_where_git_itself_cannot(tmp_path: Path) -> None:
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - git with fixed arguments
            ["git", *args],  # noqa: S607 - git from PATH
            cwd=tmp_path / "repo",
            capture_output=True,
            text=True,
            check=False,
        )

    (tmp_path / "repo").mkdir()
    git("init", "--quiet")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "--allow-empty", "-m", "c")
    worktree = tmp_path / "tmp" / "base"
    assert git("worktree", "add", "--detach", "--quiet", str(worktree)).returncode == 0
    # What a `worktree add` killed mid-write leaves: its record still locked, with an empty commondir.
    record = tmp_path / "repo" / ".git" / "worktrees" / "base"
    (record / "commondir").write_text("", encoding="utf-8")
    (record / "locked").write_text("initializing", encoding="utf-8")
    shutil.rmtree(worktree)
    git("worktree", "prune")
    assert record.exists(), "git's own prune keeps a locked record (the case this covers)"

    remove_half_made_record(tmp_path / "repo" / ".git", worktree)

    assert not record.exists(), f"{record} is left behind"
    listed = git("worktree", "list", "--porcelain")
    assert listed.returncode == 0, listed.stderr


def test_the_base_revision_is_checked_out_in_memory_unless_tmpdir_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revision, "MEMORY", tmp_path)
    mounts = tmp_path / "mounts"
    monkeypatch.setattr(revision, "MOUNTS", mounts)
    monkeypatch.setattr(revision, "MEMORY_TO_SPARE", 0)  # the machine's own free space is not under test
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    tmpfs = f"tmpfs {tmp_path} tmpfs rw,nosuid,nodev 0 0\n"
    mounts.write_text(tmpfs, encoding="utf-8")
    assert scratch_parent() == str(tmp_path), "a writable tmpfs with room was not used for the checkout"
    monkeypatch.setenv("TMPDIR", "")
    assert scratch_parent() == str(tmp_path), "an empty TMPDIR (which tempfile ignores) counted as a choice"
    for name in ("TMPDIR", "TEMP", "TMP"):
        with monkeypatch.context() as chosen:
            chosen.setenv(name, str(tmp_path / "elsewhere"))
            assert scratch_parent() is None, f"{name} was overridden"
    mounts.write_text(f"/dev/vda {tmp_path} ext4 rw 0 0\n", encoding="utf-8")
    assert scratch_parent() is None, "a directory on disk was taken for a tmpfs"
    mounts.write_text(tmpfs + f"/dev/vdb {tmp_path} ext4 rw 0 0\n", encoding="utf-8")
    assert scratch_parent() is None, "a disk mounted over the tmpfs was taken for it"
    mounts.write_text(tmpfs, encoding="utf-8")
    with monkeypatch.context() as full:
        full.setattr(revision, "MEMORY_TO_SPARE", 1 << 62)
        assert scratch_parent() is None, "a tmpfs without room to spare was used"
    mounts.unlink()
    assert scratch_parent() is None, "an unreadable mount table was taken for a tmpfs"
