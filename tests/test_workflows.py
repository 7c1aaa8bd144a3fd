"""This repository's own workflows: linted by zizmor, and checked for pins, least permissions and fork safety."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws_iam import oidc_provider_arn
from infra.engine.runtime import Plan, Registration
from ops.vault import DATABASE_SCHEDULES
from policy.type_tokens import ENVIRONMENT_SECRET as ENV_SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as ENV_VARIABLE
from settings.ci import INFRA_MAIN_BRANCH
from settings.github_oidc import GITHUB_OIDC_HOST, STS_AUDIENCE, oidc_subject
from settings.migrations import BACKUP_SUFFIX, MIGRATE_SUFFIX, ROLLBACK_SUFFIX
from tests.helpers.iam_eval import may_assume
from tests.helpers.jobs import CONFIGURE_AWS, DEFAULT_MAX_SESSION, WORKFLOWS, AwsJob, aws_jobs, load, role_of, run_step
from tests.helpers.stacks import settings_of

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
# The Pulumi SDK the program runs with; the CLI of every pulumi/actions step is the same release.
[PULUMI_PIN] = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE)
FILES = sorted(WORKFLOWS.glob("*.yml"))


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
        "migrate.yml",
        "config-backup.yml",
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
def test_every_job_has_its_own_timeout(path: Path) -> None:
    # Without one a hung job holds its runner, its concurrency group and any required check for GitHub's 360 minutes.
    for name, job in load(path)["jobs"].items():
        minutes = job.get("timeout-minutes")
        assert isinstance(minutes, int), f"{path.name}: job {name} sets no timeout-minutes"
        assert 0 < minutes <= 360, f"{path.name}: job {name} timeout-minutes {minutes} is not 1-360"


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


def run_plan_job(tmp_path: Path, plan_exit: int) -> tuple[dict[str, int | None], Path]:
    """The offline plan job's steps that run `.venv/bin/python`, in order, as GitHub runs them (`bash -e`; after a
    failed step only those whose `if:` says always() or !cancelled()), against a stand-in `.venv/bin/python` whose
    `infra plan` prints a violation and exits `plan_exit` and whose `infra diff` reports a change (exit 1).
    Returns each step's exit status (None: skipped) and the directory the job ran in."""
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        '#!/bin/sh\ncase "$3" in\n'
        f'  plan) echo "stack production: 1 mandatory violation: no-admin-bypass"; exit {plan_exit} ;;\n'
        '  diff) echo "### Infrastructure diff: 1 change"; exit 1 ;;\nesac\nexit 2\n',
        encoding="utf-8",
    )
    python.chmod(0o755)
    summary = tmp_path / "summary.md"
    summary.touch()
    job = load(WORKFLOWS / "pull-request.yml")["jobs"]["plan"]
    codes: dict[str, int | None] = {}
    failed = False
    for step in steps_of(job):
        if ".venv/bin/python" not in str(step.get("run", "")):
            continue
        condition = str(step.get("if", ""))
        if failed and "always()" not in condition and "!cancelled()" not in condition:
            codes[step["name"]] = None
            continue
        env = {"PATH": os.environ["PATH"], "GITHUB_STEP_SUMMARY": str(summary), "BASE_REF": "main"}
        done = run_step(step["run"], tmp_path, env)
        codes[step["name"]] = done.returncode
        failed = failed or done.returncode != 0
    return codes, tmp_path


@pytest.mark.parametrize("plan_exit", [0, 1])
def test_the_plan_comment_shows_this_pushs_plan_even_when_it_fails(plan_exit: int, tmp_path: Path) -> None:
    # The sticky comment is replaced only when comment.md exists: were it not written after a failed plan (a mandatory
    # violation, exit 1), the pull request would keep showing the previous push's plan, without the violation.
    codes, where = run_plan_job(tmp_path, plan_exit)
    assert list(codes.values()) == [plan_exit, 0], f"each step's exit status: {codes}"
    comment = (where / "comment.md").read_text(encoding="utf-8")
    assert "Infrastructure diff" in comment, comment
    assert "mandatory violation: no-admin-bypass" in comment, "the comment shows this push's plan"
    # The plan's code block is closed before the comment's </details>, which it would otherwise swallow.
    assert comment.rstrip().endswith("```\n</details>"), comment


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
    if str(inputs.get("pulumi-version")) != PULUMI_PIN:
        problems.append(f"the Pulumi CLI is not pinned to {PULUMI_PIN}, the SDK requirements.txt pins (pulumi-version)")
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
        (lambda step: step["with"].pop("pulumi-version"), "the Pulumi CLI is not pinned"),
        (lambda step: step["with"].__setitem__("pulumi-version", "^3"), "the Pulumi CLI is not pinned"),
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
    protection = production.one(
        "github:index/branchProtection:BranchProtection", "ci-infra-branch-protection-vibelog-infra"
    )
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
    "config-backup.yml": ("config-backup", "config-backup", ("config",)),
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
        environment = {
            "backup": backup.writer_environment,
            "restore-test": backup.reader_environment,
            "config-backup": settings_of(stack).config_backup_environment,
        }[suffix]
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


def credential_problems(job: AwsJob, role: Registration) -> list[str]:
    """Why a job could lose its AWS credentials before GitHub stops it, or ask for more than its role grants."""
    problems = []
    timeout = job.timeout_seconds
    if timeout is None:
        problems.append("sets no timeout-minutes (GitHub's default is 360 minutes)")
    elif job.duration < timeout:
        problems.append(f"runs up to {timeout} s but its credentials last {job.duration} s")
    allowed = role.inputs.get("maxSessionDuration", DEFAULT_MAX_SESSION)
    if allowed < job.duration:
        problems.append(f"asks for {job.duration} s but {role.urn} allows {allowed} s (maxSessionDuration)")
    return problems


@pytest.mark.parametrize("job", aws_jobs(), ids=lambda job: job.label)
def test_every_job_holds_credentials_as_long_as_it_may_run(job: AwsJob, all_plans: dict[str, Plan]) -> None:
    _, role = role_of(job, all_plans)
    assert credential_problems(job, role) == [], job.label


def test_the_credentials_check_covers_every_workflow_that_assumes_a_role() -> None:
    assuming = {path.name for path in FILES if CONFIGURE_AWS in path.read_text(encoding="utf-8")}
    assert {job.workflow for job in aws_jobs()} == assuming


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda job, _role: job.job.pop("timeout-minutes"), "sets no timeout-minutes"),
        (lambda job, _role: job.job.__setitem__("timeout-minutes", 121), "but its credentials last 7200 s"),
        (lambda _job, role: role.inputs.__setitem__("maxSessionDuration", 3600), "allows 3600 s"),
    ],
)
def test_a_job_outliving_its_credentials_is_caught(change: Any, problem: str, production: Plan) -> None:
    [job] = [job for job in aws_jobs() if (job.workflow, job.job_id) == ("deploy.yml", "production")]
    _, role = role_of(job, {"production": production})
    job, role = copy.deepcopy(job), copy.deepcopy(role)
    assert credential_problems(job, role) == [], "the compliant case"
    change(job, role)
    found = credential_problems(job, role)
    assert any(problem in text for text in found), found


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


def job_environments() -> dict[str, set[str]]:
    """Each GitHub environment of this repository that a job runs in, and every vars.X/secrets.X its jobs read."""
    read: dict[str, set[str]] = {}
    for path in FILES:
        for job in load(path)["jobs"].values():
            environment = job.get("environment")
            if environment is None:
                continue
            names = set(re.findall(r"(?:vars|secrets)\.([A-Z0-9_]+)", yaml.safe_dump(job)))
            matrix = job.get("strategy", {}).get("matrix", {})
            values = matrix.get("stack", [None]) if "matrix.stack" in environment else [None]
            for stack in values:
                name = environment.replace("${{ matrix.stack }}", stack) if stack else environment
                read.setdefault(name, set()).update(names)
    return read


def test_every_environment_declares_what_its_jobs_read_and_nothing_else(all_plans: dict[str, Plan]) -> None:
    infra = settings_of("production").github_repository("infra").name
    read = job_environments()
    declared: dict[str, set[str]] = {}
    for plan in all_plans.values():
        for reg in plan.registrations:
            if reg.type in (ENV_VARIABLE, ENV_SECRET) and reg.inputs["repository"] == infra:
                name = reg.inputs.get("variableName") or reg.inputs.get("secretName")
                declared.setdefault(reg.inputs["environment"], set()).add(str(name))
    for environment, names in sorted(declared.items()):
        used = read.get(environment, set())
        assert names - used == set(), f"{environment} declares {sorted(names - used)}, which no job reads"
        # What the repository sets once by hand (docs/ci-cd.md, "Set by hand once") is read but not declared.
        by_hand = {"PULUMI_ACCESS_TOKEN", "INFRA_GITHUB_TOKEN", "VERCEL_API_TOKEN"}
        assert used - names - by_hand == set(), (
            f"{environment}'s jobs read {sorted(used - names - by_hand)}, undeclared"
        )


@pytest.mark.parametrize("job", aws_jobs(), ids=lambda job: job.label)
def test_every_job_s_token_is_admitted_by_its_role_and_no_other_context_is(
    job: AwsJob, all_plans: dict[str, Plan]
) -> None:
    plan, role = role_of(job, all_plans)
    settings = settings_of(plan.stack)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    provider = {"Federated": oidc_provider_arn(settings.aws_account_id)}
    repository = settings.github_repository(job.repository)

    def token(subject: str, audience: str = STS_AUDIENCE) -> dict[str, str]:
        return {f"{GITHUB_OIDC_HOST}:sub": subject, f"{GITHUB_OIDC_HOST}:aud": audience}

    subject = job.subject(settings, INFRA_MAIN_BRANCH)
    assert may_assume(trust, provider, "sts:AssumeRoleWithWebIdentity", token(subject)), f"{role.urn} refuses {subject}"
    assert not may_assume(trust, provider, "sts:AssumeRoleWithWebIdentity", token(subject, "other")), role.urn
    strangers = [
        oidc_subject(repository, branch="feature"),
        oidc_subject(repository, environment="development"),
        subject.replace(repository.full_name, f"{repository.owner}/fork"),
    ]
    if job.environment is not None:
        strangers.append(oidc_subject(repository, pull_request=True))
    for stranger in strangers:
        assert not may_assume(trust, provider, "sts:AssumeRoleWithWebIdentity", token(stranger)), (
            f"{role.urn} admits {stranger}"
        )


STACKS = ("development", "staging", "production")
MIGRATE = WORKFLOWS / "migrate.yml"


def migrate_condition(job: dict[str, Any], results: dict[str, str], outputs: dict[str, str]) -> bool:
    """A job's `if:` of migrate.yml, evaluated for given needs results and the check job's outputs.

    Only the forms the workflow uses: !cancelled(), needs.<job>.result, needs.check.outputs.<name>, ==, !=, &&, ||.
    """
    text = str(job["if"]).removeprefix("${{").removesuffix("}}")
    text = re.sub(r"needs\.(\w+)\.result", lambda m: repr(results[m[1]]), text)
    text = re.sub(r"needs\.check\.outputs\.(\w+)", lambda m: repr(outputs[m[1]]), text)
    text = text.replace("!cancelled()", "True").replace("&&", " and ").replace("||", " or ").replace("!=", " != ")
    assert re.fullmatch(r"[\s()'a-zA-Z=!_-]*", text), f"unexpected expression {text!r}"
    return bool(eval(text, {"__builtins__": {}}, {}))  # noqa: S307 - only literals and operators remain


def test_migrate_is_called_with_its_inputs_and_passes_no_secret() -> None:
    workflow = load(MIGRATE)
    assert set(workflow["on"]) == {"workflow_call"}, "only the app repository's workflows call it"
    call = workflow["on"]["workflow_call"]
    inputs = call["inputs"]
    assert {name: (spec["type"], spec.get("required", False)) for name, spec in inputs.items()} == {
        "stack": ("string", True),
        "direction": ("string", False),
        "command": ("string", True),
        "app-ref": ("string", True),
        "infra-ref": ("string", True),
    }
    assert inputs["direction"]["default"] == "apply", "a call that says nothing applies, never rolls back"
    # Each job reads its environment's secrets, only once that environment lets it run.
    assert "secrets" not in call, "migrate.yml takes no secret from its caller"
    # An input reaches a shell only through env (zizmor's template-injection), never spliced into a script.
    for name, job in workflow["jobs"].items():
        for step in steps_of(job):
            assert "inputs." not in str(step.get("run", "")), f"migrate.yml: job {name} splices an input into a run"


# A token permission's levels, lowest first: a called workflow's job may hold at most what its calling job grants.
LEVELS = ("none", "read", "write")


def documented_migrate_caller() -> dict[str, Any]:
    """The calling job docs/ci-cd.md gives the app repository: the one YAML block that uses migrate.yml."""
    text = (ROOT / "docs" / "ci-cd.md").read_text(encoding="utf-8")
    blocks = [block for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if "/migrate.yml@" in block]
    assert len(blocks) == 1, f"docs/ci-cd.md shows {len(blocks)} calls of migrate.yml, not one"
    [caller] = yaml.safe_load(blocks[0])["jobs"].values()
    assert isinstance(caller, dict)
    return caller


def ungranted(caller: dict[str, Any], called: dict[str, Any]) -> list[str]:
    """Each permission a job of the called workflow asks for beyond what the calling job grants. A scope the caller
    does not name is judged as none: its default is the app repository's setting, which never includes id-token."""
    granted = caller.get("permissions") or {}
    assert isinstance(granted, dict), "the caller grants scopes one by one, not read-all or write-all"
    problems = []
    for name, job in called["jobs"].items():
        for scope, level in (job.get("permissions") or {}).items():
            if LEVELS.index(level) > LEVELS.index(granted.get(scope, "none")):
                problems.append(f"job {name} asks for {scope}: {level}, the caller grants {granted.get(scope, 'none')}")
    return problems


def test_the_documented_call_of_migrate_grants_what_its_jobs_ask_for() -> None:
    # GitHub checks the whole call before any job runs: "The nested job 'dump' is requesting 'id-token: write', but
    # is only allowed 'id-token: none'" refuses every migration, staging's too, whose dump would be skipped.
    caller = documented_migrate_caller()
    assert ungranted(caller, load(MIGRATE)) == [], "docs/ci-cd.md's call of migrate.yml"
    without = copy.deepcopy(caller)
    del without["permissions"]["id-token"]
    assert ungranted(without, load(MIGRATE)) == ["job dump asks for id-token: write, the caller grants none"]


def test_migrate_runs_check_dump_approval_migrate_record_in_order() -> None:
    jobs = load(MIGRATE)["jobs"]
    assert list(jobs) == ["check", "dump", "migrate", "record"]
    assert jobs["dump"]["needs"] == "check"
    assert jobs["migrate"]["needs"] == ["check", "dump"]
    assert jobs["record"]["needs"] == ["check", "dump", "migrate"]
    assert jobs["dump"]["environment"] == f"${{{{ inputs.stack }}}}{BACKUP_SUFFIX}"
    # The approval is the environment the migrate job waits in: the one check chose for the direction.
    assert jobs["migrate"]["environment"] == "${{ needs.check.outputs.environment }}"
    for name in ("check", "record"):
        assert "environment" not in jobs[name], f"migrate.yml job {name}: no approval there, so no secrets"
    script = next(step["run"] for step in steps_of(jobs["check"]) if step.get("id") == "request")
    chosen = dict(re.findall(r"(\w+)\) environment=\"\$\{STACK\}([\w-]+)\"", script))
    assert chosen == {"apply": MIGRATE_SUFFIX, "rollback": ROLLBACK_SUFFIX}, chosen
    dump_run = " ".join(str(step.get("run", "")) for step in steps_of(jobs["dump"]))
    assert "python -m ops dump --to pre-migration" in dump_run
    assert "pre-migration" in DATABASE_SCHEDULES, "ops dump must accept the schedule the workflow writes"
    runs = [str(step.get("run", "")) for step in steps_of(jobs["migrate"])]
    assert any('"${MIGRATION_COMMAND}"' in run for run in runs), "the migrate job runs the caller's command"


@pytest.mark.parametrize(
    ("backup", "dump", "runs"),
    [
        ("true", "success", True),
        ("true", "failure", False),
        ("true", "cancelled", False),
        ("true", "skipped", False),  # a stack that takes a dump never migrates without one
        ("false", "skipped", True),
        ("false", "failure", False),
    ],
)
def test_the_migration_runs_only_after_the_dump_its_stack_takes(backup: str, dump: str, runs: bool) -> None:
    jobs = load(MIGRATE)["jobs"]
    assert migrate_condition(jobs["dump"], {}, {"backup": backup}) == (backup == "true")
    results = {"check": "success", "dump": dump}
    assert migrate_condition(jobs["migrate"], results, {"backup": backup}) is runs, (backup, dump)
    assert migrate_condition(jobs["migrate"], {**results, "check": "failure"}, {"backup": backup}) is False
    # The record is written whatever the migration did, once the request was understood.
    assert migrate_condition(jobs["record"], {**results, "migrate": "failure"}, {"backup": backup}) is True


def test_migrate_knows_the_stacks_their_settings_declare() -> None:
    check = load(MIGRATE)["jobs"]["check"]
    migrating = [stack for stack in STACKS if settings_of(stack).migrations is not None]
    backed_up = [
        stack
        for stack in migrating
        if (migrations := settings_of(stack).migrations) is not None and migrations.pre_migration_backup
    ]
    assert check["env"]["MIGRATING_STACKS"].split() == migrating, "the stacks with vibelog:migrations"
    assert check["env"]["PRE_MIGRATION_BACKUP_STACKS"].split() == backed_up, "vibelog:migrations.preMigrationBackup"
    assert "production" in backed_up, "the reference: production takes a pre-migration backup"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_variable_and_secret_migrate_reads_is_declared_in_its_environment(
    stack: str, all_plans: dict[str, Plan]
) -> None:
    jobs = load(MIGRATE)["jobs"]
    declared: dict[str, set[str]] = {}
    for reg in all_plans[stack].registrations:
        if reg.type in (ENV_VARIABLE, ENV_SECRET):
            name = str(reg.inputs.get("variableName") or reg.inputs.get("secretName"))
            declared.setdefault(reg.inputs["environment"], set()).add(name)
    migrations = settings_of(stack).migrations
    assert migrations is not None, stack
    wanted = {"migrate": [f"{stack}{MIGRATE_SUFFIX}", f"{stack}{ROLLBACK_SUFFIX}"]}
    if migrations.pre_migration_backup:
        wanted["dump"] = [f"{stack}{BACKUP_SUFFIX}"]
    for job_name, environments in wanted.items():
        read = set(re.findall(r"(?:vars|secrets)\.([A-Z0-9_]+)", yaml.safe_dump(jobs[job_name])))
        for environment in environments:
            missing = read - declared.get(environment, set())
            assert not missing, f"migrate.yml job {job_name}: {sorted(missing)} are not declared in {environment}"


def test_the_config_backup_runs_once_per_stack_at_a_time_and_names_its_stack() -> None:
    workflow = load(WORKFLOWS / "config-backup.yml")
    assert "workflow_dispatch" in workflow["on"], "an operator can take a configuration backup before a change"
    job = workflow["jobs"]["config-backup"]
    assert job["concurrency"] == {"group": "config-backup-${{ matrix.stack }}", "cancel-in-progress": False}
    runs = [str(step.get("run", "")) for step in steps_of(job)]
    assert 'python -m ops config-backup --stack "${STACK}"' in runs, runs
    assert "python -m pip install --quiet -r requirements.txt -c constraints.txt" in runs, runs
