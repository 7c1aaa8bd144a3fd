"""The runbook workflows: each acting job waits in the declared, reviewed environment, one runbook at a time, with
typed inputs, the approval window enforced, and only the variables and secrets that environment holds."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.engine.runtime import Plan
from ops import vault
from ops.runbook.contract import MANUAL_TRIGGERS, ROLLBACK_ACTIONS, ROLLBACK_EVENT_TYPE, SEVERITIES
from policy.type_tokens import ENVIRONMENT_SECRET as SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as VARIABLE
from policy.type_tokens import REPOSITORY_ENVIRONMENT as ENVIRONMENT
from tests.helpers.jobs import WORKFLOWS, load, run_step
from tests.helpers.stacks import settings_of
from tests.test_workflows import steps_of

RUNBOOKS = sorted(WORKFLOWS.glob("runbook-*.yml"))
# The reference: manual failover execution < 15 minutes; database corruption 2-4 hours (the database RTO).
LONGEST_MINUTES = {"runbook-database-restore.yml": 240, "runbook-failover.yml": 30}
OWN_GROUP = "runbook-${{ github.workflow }}"
# The request job's query of the unfinished runs: every file RUNBOOKS globs, and only those.
BUSY_CHECK = 'select(.path | startswith(".github/workflows/runbook-"))'
REFERENCED = re.compile(r"\$\{\{\s*(vars|secrets)\.([A-Z0-9_]+)\s*\}\}")


def input_problems(workflow: dict[str, Any]) -> list[str]:
    """Inputs without a type, choices without options, optional inputs."""
    problems = []
    dispatch = workflow["on"].get("workflow_dispatch") or {}
    for key, spec in (dispatch.get("inputs") or {}).items():
        if spec.get("type") not in ("string", "choice", "boolean"):
            problems.append(f"input {key} has no type")
        if spec.get("type") == "choice" and not spec.get("options"):
            problems.append(f"input {key} is a choice without options")
        if not spec.get("required"):
            problems.append(f"input {key} is optional")
    return problems


def runbook_problems(workflow: dict[str, Any], environment: str, name: str = "") -> list[str]:
    """Why a runbook workflow could act without its approvers, twice at once, or on unchecked input."""
    problems = []
    concurrency = workflow.get("concurrency") or {}
    # Per workflow: GitHub keeps one pending run per group and cancels it when another queues, so a shared group would
    # silently drop a waiting failover or restore behind another runbook.
    if concurrency.get("group") != OWN_GROUP or concurrency.get("cancel-in-progress") is not False:
        problems.append(f"concurrency must be group {OWN_GROUP} without cancel-in-progress")
    problems += input_problems(workflow)
    jobs = workflow["jobs"]
    request = jobs.get("request")
    if request is None or request.get("environment") or request.get("permissions") != {"actions": "read"}:
        problems.append("a request job without environment, reading only the Actions runs, records the request")
    elif "secrets." in str(request):
        problems.append("the request job reads a secret before any approval")
    elif not any(BUSY_CHECK in str(step.get("run", "")) for step in steps_of(request)):
        problems.append("the request job does not refuse while another runbook run is unfinished")
    for key, job in jobs.items():
        if key == "request":
            continue
        if job.get("environment") != environment:
            problems.append(f"job {key} does not wait in {environment}")
        if job.get("needs") != "request":
            problems.append(f"job {key} does not follow the request")
        first = steps_of(job)[0] if steps_of(job) else {}
        if "APPROVAL_MINUTES" not in str(first.get("env")) or "requested-at" not in str(first.get("env")):
            problems.append(f"job {key} does not refuse a late approval first")
        if not 0 < int(job.get("timeout-minutes", 0)) <= LONGEST_MINUTES.get(name, 15):
            problems.append(f"job {key} has no timeout within the reference's execution time")
    return problems


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda path: path.name)
def test_every_runbook_waits_for_the_decision_makers_one_at_a_time(path: Path) -> None:
    environment = settings_of("production").runbook_environment
    assert runbook_problems(load(path), environment, path.name) == [], path.name


def test_the_runbooks_cover_the_reference_scenarios() -> None:
    assert {path.name for path in RUNBOOKS} == {
        "runbook-rollback.yml",
        "runbook-failover.yml",
        "runbook-database-restore.yml",
        "runbook-security-lockdown.yml",
        "runbook-switch.yml",
    }


def _drop_environment(workflow: dict[str, Any]) -> None:
    del workflow["jobs"]["rollback"]["environment"]


def _cancel_in_progress(workflow: dict[str, Any]) -> None:
    workflow["concurrency"]["cancel-in-progress"] = True


def _shared_group(workflow: dict[str, Any]) -> None:
    workflow["concurrency"]["group"] = "runbook-production"


def _no_busy_check(workflow: dict[str, Any]) -> None:
    workflow["jobs"]["request"]["steps"].pop()


def _untyped_input(workflow: dict[str, Any]) -> None:
    del workflow["on"]["workflow_dispatch"]["inputs"]["detail"]["type"]


def _no_window(workflow: dict[str, Any]) -> None:
    workflow["jobs"]["rollback"]["steps"].pop(0)


def _secret_before_approval(workflow: dict[str, Any]) -> None:
    workflow["jobs"]["request"]["steps"][0]["env"]["TOKEN"] = "${{ secrets.VERCEL_TOKEN }}"


def _no_timeout(workflow: dict[str, Any]) -> None:
    workflow["jobs"]["rollback"]["timeout-minutes"] = 360


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_drop_environment, "does not wait in production-runbooks"),
        (_cancel_in_progress, "without cancel-in-progress"),
        (_shared_group, "concurrency must be group runbook-${{ github.workflow }}"),
        (_no_busy_check, "does not refuse while another runbook run is unfinished"),
        (_untyped_input, "input detail has no type"),
        (_no_window, "does not refuse a late approval"),
        (_secret_before_approval, "reads a secret before any approval"),
        (_no_timeout, "no timeout within"),
    ],
)
def test_a_runbook_missing_one_safeguard_is_caught(change: Callable[[dict[str, Any]], None], problem: str) -> None:
    workflow = copy.deepcopy(load(WORKFLOWS / "runbook-rollback.yml"))
    change(workflow)
    problems = runbook_problems(workflow, "production-runbooks", "runbook-rollback.yml")
    assert any(problem in found for found in problems), problems


def test_every_variable_and_secret_a_runbook_reads_is_declared_in_its_environment(production: Plan) -> None:
    held = {
        ("vars", reg.inputs["variableName"]) if reg.type == VARIABLE else ("secrets", reg.inputs["secretName"])
        for reg in production.by_type(VARIABLE) + production.by_type(SECRET)
        if reg.inputs.get("environment") == "production-runbooks"
    }
    [environment] = [r for r in production.by_type(ENVIRONMENT) if r.inputs["environment"] == "production-runbooks"]
    assert environment.inputs["reviewers"], f"{environment.urn} has no reviewers"
    for path in RUNBOOKS:
        used = set(REFERENCED.findall(path.read_text(encoding="utf-8")))
        missing = sorted(f"{kind}.{name}" for kind, name in used - held)
        assert missing == [], f"{path.name} reads what production-runbooks does not hold: {missing}"


def test_the_alarms_start_the_rollback_and_its_payload_is_checked_before_approval() -> None:
    workflow = load(WORKFLOWS / "runbook-rollback.yml")
    assert workflow["on"]["repository_dispatch"] == {"types": [ROLLBACK_EVENT_TYPE]}
    check = workflow["jobs"]["request"]["steps"][0]
    assert "(" + "|".join(ROLLBACK_ACTIONS) + ")" in check["run"], "the payload's action is validated"
    assert f"^P[{''.join(s[1] for s in SEVERITIES)}]$" in check["run"], "the payload's severity is validated"
    assert check["env"]["ACTION"] == "${{ github.event.client_payload.action }}"
    reasons = workflow["on"]["workflow_dispatch"]["inputs"]["reason"]
    assert reasons["type"] == "choice"
    assert tuple(reasons["options"]) == MANUAL_TRIGGERS, "the reference's manual triggers"


def test_failover_and_lockdown_change_production_only_through_a_pull_request() -> None:
    for name in ("runbook-failover.yml", "runbook-security-lockdown.yml"):
        workflow = load(WORKFLOWS / name)
        text = str(workflow)
        assert "pulumi/actions" not in text, f"{name}: `pulumi up` runs only from deploy.yml, after the merge"
        runs = " ".join(str(step.get("run", "")) for job in workflow["jobs"].values() for step in steps_of(job))
        assert "gh pr create --base main" in runs, name
        for job in workflow["jobs"].values():
            assert job["permissions"].get("contents") in (None, "read"), f"{name}: GITHUB_TOKEN never pushes"


@pytest.mark.parametrize("name", ["runbook-failover.yml", "runbook-security-lockdown.yml"])
def test_a_run_that_changes_nothing_opens_no_pull_request_and_announces_none(name: str, tmp_path: Path) -> None:
    # The verbs leave the stack file as it is when it already holds the change (a second run); the pull request
    # step then runs, as GitHub runs it, in a checkout without changes: it must end quietly, with no URL.
    [job] = [job for key, job in load(WORKFLOWS / name)["jobs"].items() if key != "request"]
    [pr] = [step for step in steps_of(job) if step.get("id") == "pr"]
    git = shutil.which("git")
    assert git is not None, "git is on the runner"
    quiet = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "PATH": os.environ["PATH"]}
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        (tmp_path / "Pulumi.production.yaml").touch()
        subprocess.run([git, *command], cwd=tmp_path, env=quiet, check=True)  # noqa: S603 - fixed git commands
    output = tmp_path.parent / f"{tmp_path.name}-output"
    output.touch()
    env = {**quiet, **dict.fromkeys(pr.get("env", {}), "x"), "GITHUB_OUTPUT": str(output), "GH_TOKEN": ""}
    done = run_step(pr["run"], tmp_path, env)
    assert done.returncode == 0, f"{name}: the pull request step fails when nothing changed: {done.stderr}"
    assert output.read_text(encoding="utf-8") == "", f"{name}: a pull request URL without a pull request"
    announcing = [step for step in steps_of(job) if "steps.pr.outputs.url" in str(step.get("env"))]
    assert announcing, f"{name}: no step announces the pull request"
    for step in announcing:
        assert "steps.pr.outputs.url != ''" in str(step.get("if")), f"{name}: {step['name']} announces no pull request"


def request_check_exit(name: str, tmp_path: Path, env: dict[str, str]) -> int:
    """Exit status of a runbook's first request step (input validation), run as GitHub runs it."""
    [step] = [step for step in steps_of(load(WORKFLOWS / name)["jobs"]["request"]) if step.get("id") == "check"]
    output = tmp_path / "output"
    output.touch()
    return run_step(step["run"], tmp_path, {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **env}).returncode


@pytest.mark.parametrize("schedule", vault.DATABASE_SCHEDULES)
@pytest.mark.parametrize("run", ["9876543210-1", "0a1b2c3d"])
def test_the_database_restore_takes_every_key_a_dump_job_writes(schedule: str, run: str, tmp_path: Path) -> None:
    # A scheduled dump names its run (`-<run id>-<attempt>`), a dump by hand a random suffix, and the migrate
    # workflow's dump lives under pre-migration/: the runbook restores each of them.
    key = vault.dump_key(schedule, datetime(2026, 11, 27, 2, 0, tzinfo=UTC), run)
    env = {"KEY": key, "CONFIRM": "restore production", "REASON": "data_corruption_detected"}
    status = request_check_exit("runbook-database-restore.yml", tmp_path, env)
    assert status == 0, f"runbook-database-restore.yml refuses {key}, a key `python -m ops list` shows"


@pytest.mark.parametrize(
    "key", ["uploads/20261127T020000Z.dump", "daily/20261127T020000Z.dump.json", "daily/../x.dump", "daily/x.dump"]
)
def test_the_database_restore_refuses_a_key_no_dump_job_writes(key: str, tmp_path: Path) -> None:
    env = {"KEY": key, "CONFIRM": "restore production", "REASON": "data_corruption_detected"}
    assert request_check_exit("runbook-database-restore.yml", tmp_path, env) == 1, key
