"""This repository's own workflows: linted by zizmor, and checked for pins, least permissions and fork safety."""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.engine.runtime import Plan
from policy.type_tokens import ENVIRONMENT_SECRET as ENV_SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as ENV_VARIABLE
from settings.ci import INFRA_MAIN_BRANCH
from tests.helpers.stacks import settings_of

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
# The release commits the project pins (verified in each action's repository at the tag).
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "actions/github-script": ("ed597411d8f924073f98dfc5c65a23a2325f34cd", "v8.0.0"),
    "marocchino/sticky-pull-request-comment": ("5770ad5eb8f42dd2c4f34da00c94c5381e49af88", "v3.0.5"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
}
# pulumi/actions inputs, read from action.yml at the pinned v7.0.0 commit: a misspelt input is silently ignored.
PULUMI_ACTION_INPUTS = frozenset(
    {
        "command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr",
        "comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url", "secrets-provider", "parallel",
        "message", "config-map", "expect-no-changes", "diff", "replace", "exclude", "exclude-dependents", "target",
        "target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove", "edit-pr-comment",
        "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress", "always-include-summary",
        "continue-on-error", "log-verbosity", "log-flow", "debug",
    }
)  # fmt: skip
ROOT = WORKFLOWS.parent.parent
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<tag>\S+))?\s*$")
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    """A workflow, parsed (once per session): a fresh copy each time."""
    return copy.deepcopy(_parsed(path))


@functools.cache
def _parsed(path: Path) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    assert isinstance(document, dict), path
    # YAML 1.1 reads the key `on` as the boolean True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job.get("steps", [])
    assert isinstance(steps, list)
    return steps


def test_the_workflows_exist() -> None:
    assert {path.name for path in FILES} == {
        "pull-request.yml",
        "deploy.yml",
        "drift.yml",
        "backup-database.yml",
        "backup-uploads.yml",
        "restore-test.yml",
        "maintenance.yml",
        "runbook-rollback.yml",
        "runbook-failover.yml",
        "runbook-database-restore.yml",
        "runbook-security-lockdown.yml",
        "runbook-switch.yml",
    }


def test_zizmor_finds_nothing() -> None:
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor is not None, "zizmor is pinned in requirements-dev.txt; install the dev requirements"
    result = subprocess.run(  # noqa: S603 - a fixed command on the repository's own files
        [zizmor, "--offline", "--persona", "pedantic", "--no-progress", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing() -> None:
    # actionlint 1.7.7 compiled to wasm, pinned by tests/actionlint's lockfile (`make test` installs it); it checks
    # expressions, contexts, needs/outputs and inputs. Its shellcheck pass needs a native shellcheck, absent there.
    cli = ROOT / "tests" / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
    node = shutil.which("node")
    assert node is not None, "node runs the pinned actionlint (as it runs the pinned zod)"
    assert cli.is_file(), "run `make test` (npm ci --prefix tests/actionlint) to install the pinned actionlint"
    result = subprocess.run(  # noqa: S603 - a fixed command on the repository's own files
        [node, str(cli), str(WORKFLOWS / "*.yml")], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The CLI exits 0 when its glob matches nothing: make sure it read every workflow.
    assert f"Checking {len(FILES)} workflow file(s)" in result.stdout, result.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_action_is_pinned_to_its_release_commit(path: Path) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert lines, f"{path.name} uses no action"
    for line in lines:
        match = USES.match(line)
        assert match is not None, f"{path.name}: unreadable uses line {line!r}"
        action, ref, tag = match["action"], match["ref"], match["tag"]
        assert action in PINS, f"{path.name}: {action} is not among the pinned actions"
        assert (ref, tag) == PINS[action], f"{path.name}: {action}@{ref} # {tag} is not {PINS[action]}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_least_permissions_per_job(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{path.name}: job {name} must declare its permissions"
        assert "write-all" not in str(permissions), f"{path.name}: job {name}"
        uses = {step.get("uses", "").split("@")[0] for step in steps_of(job)}
        wants_oidc = "aws-actions/configure-aws-credentials" in uses
        assert (permissions.get("id-token") == "write") == wants_oidc, f"{path.name}: job {name} id-token"
        comments = "marocchino/sticky-pull-request-comment" in uses
        assert (permissions.get("pull-requests") == "write") == comments, f"{path.name}: job {name} pull-requests"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_checkout_never_persists_the_token(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        for step in steps_of(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: job {name}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_no_trigger_hands_secrets_to_a_fork(path: Path) -> None:
    workflow = load(path)
    triggers = workflow["on"]
    assert "pull_request_target" not in triggers, path.name
    assert "workflow_run" not in triggers, path.name
    if "pull_request" not in triggers:
        return
    for name, job in workflow["jobs"].items():
        text = yaml.safe_dump(job)
        if "secrets." in text or "id-token" in str(job.get("permissions")):
            assert SAME_REPOSITORY in str(job.get("if", "")), f"{path.name}: job {name} must skip forks"


def test_merge_deploys_staging_before_production_behind_its_environment() -> None:
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    assert load(WORKFLOWS / "deploy.yml")["on"] == {"push": {"branches": ["main"]}}
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert jobs["production"]["needs"] == "staging"
    for name, job in jobs.items():
        pulumi = next(step for step in steps_of(job) if step.get("uses", "").startswith("pulumi/actions@"))
        assert pulumi["with"]["command"] == "up", name
        assert pulumi["with"]["stack-name"] == name, name


def test_drift_detection_fails_on_any_change_of_every_stack() -> None:
    workflow = load(WORKFLOWS / "drift.yml")
    assert "schedule" in workflow["on"]
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == ["development", "staging", "production"]
    pulumi = next(step for step in steps_of(job) if step.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["refresh"] is True
    assert pulumi["with"]["expect-no-changes"] is True


def test_pull_requests_run_the_gate_the_plan_and_a_preview_of_every_stack() -> None:
    jobs = load(WORKFLOWS / "pull-request.yml")["jobs"]
    assert [step.get("run") for step in steps_of(jobs["gate"])][-1] == "make test"
    plan_runs = " ".join(str(step.get("run", "")) for step in steps_of(jobs["plan"]))
    assert "python -m infra plan --stack all" in plan_runs
    assert "$GITHUB_STEP_SUMMARY" in plan_runs
    sticky = next(s for s in steps_of(jobs["plan"]) if s.get("uses", "").startswith("marocchino/"))
    assert sticky["with"]["header"], "without a header every push adds a comment"
    assert jobs["preview"]["strategy"]["matrix"]["stack"] == ["development", "staging", "production"]


def pulumi_steps() -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow, job, step) of every pulumi/actions step."""
    return [
        (path.name, name, step)
        for path in FILES
        for name, job in load(path)["jobs"].items()
        for step in steps_of(job)
        if step.get("uses", "").startswith("pulumi/actions@")
    ]


def pulumi_step_problems(step: dict[str, Any]) -> list[str]:
    """Why a pulumi/actions preview or up step would not run pinned, with the policy pack."""
    problems = []
    if step["uses"] != f"pulumi/actions@{PINS['pulumi/actions'][0]}":
        problems.append(f"{step['uses']} is not the pinned release commit")
    inputs = step.get("with", {})
    if unknown := set(inputs) - PULUMI_ACTION_INPUTS:
        problems.append(f"unknown inputs {sorted(unknown)} (the action ignores them)")
    if "policyPacks" not in inputs:
        problems.append("the policy pack is not run (policyPacks)")
    # The action hands the path to `pulumi --policy-pack`, run in work-dir (default: the checkout's root).
    elif not (ROOT / inputs.get("work-dir", ".") / inputs["policyPacks"] / "PulumiPolicy.yaml").is_file():
        problems.append(f"policyPacks {inputs['policyPacks']!r} is not the pack's directory")
    return problems


def test_every_preview_and_up_runs_the_policy_pack() -> None:
    steps = pulumi_steps()
    assert {(workflow, job, step["with"]["command"]) for workflow, job, step in steps} == {
        ("deploy.yml", "staging", "up"),
        ("deploy.yml", "production", "up"),
        ("drift.yml", "drift", "preview"),
        ("pull-request.yml", "preview", "preview"),
    }
    for workflow, job, step in steps:
        assert pulumi_step_problems(step) == [], f"{workflow}: job {job}"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda step: step["with"].pop("policyPacks"), "the policy pack is not run"),
        (lambda step: step["with"].__setitem__("policy-packs", step["with"].pop("policyPacks")), "unknown inputs"),
        (lambda step: step["with"].__setitem__("policyPacks", "policies"), "is not the pack's directory"),
        (lambda step: step.__setitem__("uses", "pulumi/actions@v7"), "not the pinned release commit"),
    ],
)
def test_a_step_without_the_pinned_action_or_the_pack_is_caught(change: Any, problem: str) -> None:
    (_, _, step) = next(entry for entry in pulumi_steps() if entry[:2] == ("deploy.yml", "production"))
    change(step)
    found = pulumi_step_problems(step)
    assert any(problem in text for text in found), found


def check_names(job: dict[str, Any], job_id: str) -> list[str]:
    """The names GitHub gives a job's check runs: its name, once per matrix value when it names one."""
    name = str(job.get("name", job_id))
    matrix = job.get("strategy", {}).get("matrix", {})
    for key, values in matrix.items():
        if f"${{{{ matrix.{key} }}}}" in name:
            return [name.replace(f"${{{{ matrix.{key} }}}}", str(value)) for value in values]
    return [name]


def test_this_repositorys_main_requires_every_gate_job(production: Plan) -> None:
    workflow = load(WORKFLOWS / "pull-request.yml")
    gate = [check for job_id, job in workflow["jobs"].items() for check in check_names(job, job_id)]
    protection = production.one("github:index/branchProtection:BranchProtection", "ci-infra-branch-protection")
    assert protection.inputs["pattern"] == INFRA_MAIN_BRANCH, protection.urn
    assert protection.inputs["requiredStatusChecks"] == [{"strict": True, "contexts": gate}], protection.urn


def test_deploys_and_pull_requests_target_the_protected_main() -> None:
    assert load(WORKFLOWS / "deploy.yml")["on"]["push"]["branches"] == [INFRA_MAIN_BRANCH]
    assert load(WORKFLOWS / "pull-request.yml")["on"]["pull_request"]["branches"] == [INFRA_MAIN_BRANCH]


# Each backup workflow, its job, the environment suffix it runs in, and the settings schedules its crons carry.
BACKUP_WORKFLOWS = {
    "backup-database.yml": ("dump", "backup", ("daily", "weekly")),
    "backup-uploads.yml": ("sync", "backup", ("uploads",)),
    "restore-test.yml": ("restore-test", "restore-test", ("restoreTest",)),
}


@pytest.mark.parametrize("name", sorted(BACKUP_WORKFLOWS))
def test_backup_schedules_are_the_stacks_settings_and_run_in_their_declared_environments(
    name: str, all_plans: dict[str, Plan]
) -> None:
    job_name, suffix, classes = BACKUP_WORKFLOWS[name]
    workflow = load(WORKFLOWS / name)
    job = workflow["jobs"][job_name]
    crons = {entry["cron"] for entry in workflow["on"]["schedule"]}
    stacks = [stack for stack in ("development", "staging", "production") if settings_of(stack).backup is not None]
    assert job["strategy"]["matrix"]["stack"] == stacks, f"{name}: every stack with a vault, and only those"
    assert job["environment"] == f"${{{{ matrix.stack }}}}-{suffix}", name
    for stack in stacks:
        backup = settings_of(stack).backup
        assert backup is not None, stack
        wanted = {
            backup.restore_test_schedule if key == "restoreTest" else backup.classes()[key].schedule for key in classes
        }
        assert crons == wanted, f"{name}: crons {crons} are not {stack}'s vibelog:backup schedules {wanted}"
        environment = backup.writer_environment if suffix == "backup" else backup.reader_environment
        assert environment == f"{stack}-{suffix}", f"{stack}: the role trusts {environment}"
        # Every vars.X and secrets.X the job reads is declared by the stack in that environment.
        text = yaml.safe_dump(job)
        declared = {
            reg.inputs.get("variableName") or reg.inputs.get("secretName")
            for reg in all_plans[stack].registrations
            if reg.type in (ENV_VARIABLE, ENV_SECRET) and reg.inputs["environment"] == environment
        }
        read = set(re.findall(r"(?:vars|secrets)\.([A-Z0-9_]+)", text))
        assert read <= declared, f"{name}: {sorted(read - declared)} are not declared in {stack}'s {environment}"


# Long jobs that hold AWS credentials, and how the role they assume is named in the plan.
LONG_AWS_JOBS = {
    "backup-database.yml": ("dump", "-backup-writer"),
    "restore-test.yml": ("restore-test", "-backup-restore-test"),
    "runbook-database-restore.yml": ("restore", "-production-runbooks"),
}


@pytest.mark.parametrize("name", sorted(LONG_AWS_JOBS))
def test_long_jobs_hold_credentials_as_long_as_their_timeout(name: str, production: Plan) -> None:
    job_name, role_suffix = LONG_AWS_JOBS[name]
    job = load(WORKFLOWS / name)["jobs"][job_name]
    timeout = job["timeout-minutes"] * 60
    configure = [s for s in steps_of(job) if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
    assert configure, f"{name}: {job_name} assumes no AWS role"
    for step in configure:
        duration = step["with"].get("role-duration-seconds", 3600)
        assert duration >= timeout, f"{name}: {job_name} runs {timeout} s but its credentials last {duration} s"
        roles = [
            r for r in production.by_type("aws:iam/role:Role") if str(r.inputs.get("name", "")).endswith(role_suffix)
        ]
        assert roles, f"no role named *{role_suffix} in production"
        for role in roles:
            allowed = role.inputs.get("maxSessionDuration", 3600)
            assert allowed >= duration, f"{role.urn}: maxSessionDuration {allowed} < the {duration} s {name} asks for"


def test_the_weekly_dump_is_chosen_by_the_weekly_schedule_and_runs_in_the_stacks_group() -> None:
    workflow = load(WORKFLOWS / "backup-database.yml")
    job = workflow["jobs"]["dump"]
    script = next(s["run"] for s in steps_of(job) if "ops dump" in s.get("run", ""))
    literals = set(re.findall(r'"\$\{CRON\}" = "([^"]+)"', script))
    for stack in job["strategy"]["matrix"]["stack"]:
        backup = settings_of(stack).backup
        assert backup is not None, f"{stack} runs backups"
        classes = backup.classes()
        daily, weekly = classes["daily"].schedule, classes["weekly"].schedule
        assert daily != weekly, f"{stack}: vibelog:backup daily and weekly share the cron {daily}: one would be lost"
        assert literals == {weekly}, f"backup-database.yml picks the weekly dump on {literals}, not {stack}'s {weekly}"
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]["kind"]
    assert "weekly" in inputs["options"], "a manual run must be able to make a weekly dump"
    assert '"${KIND}" = "weekly"' in script, "the manual run's kind must choose the weekly dump"
    # Daily and weekly runs of a stack share one group, so a Sunday's two dumps never overlap.
    assert "concurrency" not in workflow, "a workflow-level group would serialise stacks, or split by schedule"
    assert job["concurrency"] == {"group": "backup-database-${{ matrix.stack }}", "cancel-in-progress": False}


def test_every_policy_pack_run_has_the_virtualenv_the_pack_declares() -> None:
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    venv = f"policy/{pack['runtime']['options']['virtualenv']}"
    checked = 0
    for path in FILES:
        for key, job in load(path).get("jobs", {}).items():
            created = False
            for step in steps_of(job):
                run = str(step.get("run", ""))
                if f"python -m venv {venv}" in run and f"{venv}/bin/python -m pip install" in run:
                    created = "-r policy/requirements.txt -c constraints.txt" in run
                if str(step.get("uses", "")).startswith("pulumi/actions") and step.get("with", {}).get("policyPacks"):
                    checked += 1
                    assert created, f"{path.name}: job {key} runs the policy pack before {venv} is created, pinned"
    assert checked, "no pulumi/actions step with policyPacks found: the check is vacuous"
