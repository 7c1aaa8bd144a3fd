"""VercelApp: one project per stack, its domains, and env vars that are secret and sensitive where they must be."""

from __future__ import annotations

from typing import Any

from components.vercel_app import VercelApp, VercelAppArgs
from infra.engine import Plan, Registration, Secret
from settings.env_schema import SECRET_ENV_KEYS, validate_app_env
from settings.loader import load_settings
from tests.conftest import plan_of, reveal

PROJECT = "vercel:index/project:Project"
DOMAIN = "vercel:index/projectDomain:ProjectDomain"
ENV_VAR = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"


def app_plan(stack: str, edit: Any = None) -> Plan:
    def program() -> None:
        VercelApp("web", VercelAppArgs.from_settings(load_settings()))

    return plan_of(stack, edit, program=program)


def env_vars(plan: Plan) -> dict[tuple[str, str], Registration]:
    """Env var registrations keyed by (key, each target)."""
    return {(reg.inputs["key"], target): reg for reg in plan.by_type(ENV_VAR) for target in reg.inputs["targets"]}


def test_the_project_is_nextjs_linked_to_the_app_repository_and_protected() -> None:
    project = app_plan("production").one(PROJECT, "web-project")
    assert project.inputs["name"] == "vibelog", project.urn
    assert project.inputs["framework"] == "nextjs", project.urn
    assert project.inputs["gitRepository"] == {"type": "github", "repo": "vibelog/vibelog", "productionBranch": "main"}
    assert project.protect, f"{project.urn} holds the app's identity and must be protected"
    assert "environments" not in project.inputs, "inline env vars would fight the env var resources"


def test_every_child_is_parented_and_prefixed() -> None:
    plan = app_plan("production")
    component = plan.one("vibelog:vercel:VercelApp", "web")
    for reg in plan.registrations:
        if reg.custom and not reg.type.startswith("pulumi:providers:"):
            assert reg.parent == component.urn, f"{reg.urn} is not a child of {component.urn}"
            assert reg.name.startswith("web-"), f"{reg.urn} is not prefixed with the component's name"


def test_every_env_var_belongs_to_the_project() -> None:
    plan = app_plan("staging")
    project = plan.one(PROJECT, "web-project")
    for reg in plan.by_type(ENV_VAR):
        assert reg.property_dependencies["projectId"] == (project.urn,), f"{reg.urn} is not wired to the project"


def test_production_domains_are_the_apex_and_a_308_www_redirect_to_it() -> None:
    plan = app_plan("production")
    apex = plan.one(DOMAIN, "web-domain-vibelog-io")
    www = plan.one(DOMAIN, "web-domain-www-vibelog-io")
    assert apex.inputs["domain"] == "vibelog.io", apex.urn
    assert "redirect" not in apex.inputs, apex.urn
    assert (www.inputs["domain"], www.inputs["redirect"], www.inputs["redirectStatusCode"]) == (
        "www.vibelog.io",
        "vibelog.io",
        308,
    ), www.urn
    assert apex.urn in www.dependencies, f"{www.urn} must wait for the domain it redirects to"


def test_staging_serves_its_own_domain_and_development_none() -> None:
    assert [r.inputs["domain"] for r in app_plan("staging").by_type(DOMAIN)] == ["staging.vibelog.io"]
    assert app_plan("development").by_type(DOMAIN) == []


def test_urls_come_from_the_domain() -> None:
    for stack, url in (("production", "https://vibelog.io"), ("development", "http://localhost:3000")):
        found = env_vars(app_plan(stack))
        target = "development" if stack == "development" else "production"
        for key in ("NEXT_PUBLIC_APP_URL", "NEXTAUTH_URL"):
            assert reveal(found[(key, target)].inputs["value"]) == url, f"{stack} {key}"


def test_secrets_are_pulumi_secrets_and_sensitive_on_production_and_preview() -> None:
    found = env_vars(app_plan("staging"))
    for key in SECRET_ENV_KEYS & {key for key, _ in found}:
        for target in ("production", "preview"):
            reg = found[(key, target)]
            assert isinstance(reg.inputs["value"], Secret), f"{reg.urn} carries {key} in plaintext"
            assert reg.inputs["sensitive"] is True, f"{reg.urn} must be sensitive on {target}"


def test_development_secrets_stay_secret_but_not_sensitive_because_vercel_refuses_that() -> None:
    found = env_vars(app_plan("development"))
    reg = found[("OPENAI_API_KEY", "development")]
    assert isinstance(reg.inputs["value"], Secret), reg.urn
    assert reg.inputs["sensitive"] is False, f"{reg.urn}: Vercel refuses sensitive values on the development target"


def test_a_secret_on_mixed_targets_is_split_so_it_is_sensitive_wherever_allowed() -> None:
    plan = app_plan("staging", lambda c: c["vibelog:app"].__setitem__("targets", ["production", "development"]))
    regs = [r for r in plan.by_type(ENV_VAR) if r.inputs["key"] == "DATABASE_URL"]
    by_targets = {tuple(r.inputs["targets"]): r.inputs["sensitive"] for r in regs}
    assert by_targets == {("production",): True, ("development",): False}


def test_each_target_gets_an_env_the_app_schema_accepts() -> None:
    plan = app_plan("production")
    targets = {target for reg in plan.by_type(ENV_VAR) for target in reg.inputs["targets"]}
    assert targets == {"production"}, "production previews must not receive production secrets"
    env = {key: reveal(reg.inputs["value"]) for (key, _), reg in env_vars(plan).items()}
    assert validate_app_env(env) == []
    assert env["NODE_ENV"] == "production"
