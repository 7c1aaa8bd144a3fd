"""This repository's workflow jobs that assume an AWS role, and the role each one gets in a stack's plan.

A job names its role only through a variable (`role-to-assume: ${{ vars.X }}`); the plan declares that variable in
the job's GitHub environment (or on the repository) with the role's ARN as its value, so the variable's dependency
on the role's URN is the wiring, read from the same registrations `pulumi up` would make.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from components.migration_environments import MigrationEnvironmentsArgs
from infra.engine.runtime import Plan, Registration
from policy.type_tokens import ENVIRONMENT_VARIABLE, IAM_ROLE
from settings.github_oidc import oidc_subject
from settings.stack import StackSettings
from settings.stacks import STACKS
from tests.helpers.stacks import settings_of

WORKFLOWS = Path(__file__).resolve().parent.parent.parent / ".github" / "workflows"
CONFIGURE_AWS = "aws-actions/configure-aws-credentials@"
REPOSITORY_VARIABLE = "github:index/actionsVariable:ActionsVariable"
# configure-aws-credentials asks STS for this many seconds when the step names no role-duration-seconds.
DEFAULT_DURATION = 3600
# IAM's own default for a role that sets no max_session_duration.
DEFAULT_MAX_SESSION = 3600
_VARIABLE = re.compile(r"^\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}$")


@functools.cache
def _parsed(path: Path) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    assert isinstance(document, dict), path
    # YAML 1.1 reads the key `on` as the boolean True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def load(path: Path) -> dict[str, Any]:
    """A workflow, parsed once per session: a fresh copy each time."""
    return copy.deepcopy(_parsed(path))


def run_step(script: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """A step's `run:` script as GitHub runs one that names no `shell:` on Linux (`bash -e {0}`), in `cwd` with only
    `env`; its output captured."""
    bash = shutil.which("bash")
    assert bash is not None, "bash is the runner's shell"
    return subprocess.run(  # noqa: S603 - a workflow's own step, in a scratch directory
        [bash, "-e", "-c", script],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def workflow(name: str) -> dict[str, Any]:
    """One of this repository's workflows, by file name."""
    return load(WORKFLOWS / name)


@dataclass(frozen=True)
class AwsJob:
    """One run of a job that assumes an AWS role (one per matrix value its environment names)."""

    workflow: str
    """The workflow's file name."""
    job_id: str
    """The job's key in the workflow."""
    job: Mapping[str, Any]
    """The job, as written."""
    environment: str | None
    """The GitHub environment it runs in (matrix expanded), if any."""
    variable: str
    """The variable its configure-aws-credentials step reads the role's ARN from."""
    duration: int
    """Seconds its credentials last (role-duration-seconds, or the action's default)."""
    repository: Literal["app", "infra"] = "infra"
    """The repository whose run it is: a reusable workflow's (`workflow_call`) jobs run for the app repository that
    calls it, in that repository's environments, with its OIDC subject."""

    @property
    def label(self) -> str:
        """`workflow: job (environment)`, for failure messages."""
        return f"{self.workflow}: job {self.job_id}" + (f" ({self.environment})" if self.environment else "")

    @property
    def timeout_seconds(self) -> int | None:
        """The job's timeout-minutes in seconds, or None when it sets none (GitHub's default is 360 minutes)."""
        minutes = self.job.get("timeout-minutes")
        return None if minutes is None else int(minutes) * 60

    @property
    def runs(self) -> str:
        """Every `run:` script of the job, joined."""
        return "\n".join(str(step.get("run", "")) for step in self.job.get("steps", []))

    def subject(self, settings: StackSettings, main_branch: str) -> str:
        """The `sub` claim of this job's OIDC token: its environment's, else a pull request's, else the branch's."""
        repository = settings.github_repository(self.repository)
        if self.environment is not None:
            return oidc_subject(repository, environment=self.environment)
        if "pull_request" in workflow(self.workflow)["on"]:
            return oidc_subject(repository, pull_request=True)
        return oidc_subject(repository, branch=main_branch)


def _expand(template: str, matrix: Mapping[str, Any]) -> Iterator[str]:
    """Each value a `${{ matrix.key }}` expression in `template` takes (the template itself when it names none)."""
    for key, values in matrix.items():
        if f"${{{{ matrix.{key} }}}}" in template:
            for value in values:
                yield template.replace(f"${{{{ matrix.{key} }}}}", str(value))
            return
    yield template


@functools.cache
def app_environments() -> tuple[str, ...]:
    """The environments the stacks declare in the app repository for the reusable migrate workflow's jobs."""
    names: list[str] = []
    for stack in STACKS:
        settings = settings_of(stack)
        if settings.migrations is not None:
            # The role and bucket only fill variables; the names are what is read here.
            args = MigrationEnvironmentsArgs.from_settings(
                settings, settings.migrations, pre_migration_role_arn="", database_bucket=""
            )
            names += [environment.name for environment in args.environments]
    return tuple(names)


def _called_in(template: str) -> list[str]:
    """The app repository's environments a reusable workflow's `${{ inputs.stack }}-...` environment is, for the
    stacks that declare it (a stack that declares none does not call the workflow there)."""
    pattern = re.escape(template).replace(re.escape("${{ inputs.stack }}"), "(?:" + "|".join(STACKS) + ")")
    return [name for name in app_environments() if re.fullmatch(pattern, name)]


def aws_jobs() -> list[AwsJob]:
    """Every job of every workflow that assumes a role, once per environment it runs in."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        called = "workflow_call" in (workflow(path.name)["on"] or {})
        for job_id, job in workflow(path.name)["jobs"].items():
            steps = [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(CONFIGURE_AWS)]
            for step in steps:
                match = _VARIABLE.match(str(step["with"]["role-to-assume"]))
                assert match is not None, f"{path.name}: job {job_id} names its role other than by a variable"
                duration = int(step["with"].get("role-duration-seconds", DEFAULT_DURATION))
                environment = job.get("environment")
                if environment is None:
                    environments: list[str | None] = [None]
                elif called:
                    environments = list(_called_in(environment))
                else:
                    environments = list(_expand(environment, job.get("strategy", {}).get("matrix", {})))
                repository: Literal["app", "infra"] = "app" if called else "infra"
                found += [AwsJob(path.name, job_id, job, env, match[1], duration, repository) for env in environments]
    return found


def role_of(job: AwsJob, plans: Mapping[str, Plan]) -> tuple[Plan, Registration]:
    """The plan and the role whose ARN the job's variable carries, in whichever stack declares that variable."""
    found = []
    for plan in plans.values():
        for reg in plan.registrations:
            if reg.inputs.get("variableName") != job.variable:
                continue
            if (reg.type == ENVIRONMENT_VARIABLE and reg.inputs["environment"] == job.environment) or (
                reg.type == REPOSITORY_VARIABLE and job.environment is None
            ):
                by_urn = plan.by_urn()
                roles = [by_urn[urn] for urn in reg.property_dependencies.get("value", ())]
                found += [(plan, role) for role in roles if role.type == IAM_ROLE]
    assert len(found) == 1, f"{job.label}: vars.{job.variable} is the ARN of {len(found)} roles, not one"
    return found[0]
