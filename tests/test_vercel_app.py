"""VercelApp: one project per stack, its domains, and env vars that are secret and sensitive where they must be."""

from __future__ import annotations

import json
from typing import Any

from pulumi.runtime import rpc

from components.vercel_app import VercelApp, VercelAppArgs
from infra.diffs.changes import diff_plans
from infra.diffs.review import diff_text
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Registration, Secret, run_program
from infra.plans.render import plan_json
from policy.type_tokens import ENV_VAR
from policy.type_tokens import PROJECT_DOMAIN as DOMAIN
from policy.type_tokens import VERCEL_PROJECT as PROJECT
from settings.app_env import app_env
from settings.env_schema import SECRET_ENV_KEYS, validate_app_env
from settings.loader import load_settings
from tests.helpers.stacks import plan_of, reveal, settings_of, stack_config

UNKNOWN_SENTINEL = rpc.UNKNOWN


def app_plan(stack: str, edit: Any = None) -> Plan:
    def program() -> None:
        VercelApp("web", VercelAppArgs.from_settings(load_settings()))

    return plan_of(stack, edit, program=program)


def app_up(stack: str) -> Plan:
    """The app as a mock `up` records it: the generated NEXTAUTH_SECRET is known (and secret), as after Create."""

    def program() -> None:
        VercelApp("web", VercelAppArgs.from_settings(load_settings()))

    return run_program(stack, stack_config(stack), program=program, mocks=VibelogMocks(preview=False))


def env_vars(plan: Plan) -> dict[tuple[str, str], Registration]:
    """Env var registrations keyed by (key, each target)."""
    return {(reg.inputs["key"], target): reg for reg in plan.by_type(ENV_VAR) for target in reg.inputs["targets"]}


def test_the_project_is_nextjs_and_protected() -> None:
    project = app_plan("production").one(PROJECT, "web-project")
    assert project.inputs["name"] == "vibelog", project.urn
    assert project.inputs["framework"] == "nextjs", project.urn
    assert project.protect, f"{project.urn} holds the app's identity and must be protected"
    assert "environments" not in project.inputs, "inline env vars would fight the env var resources"


def test_no_project_is_linked_to_git_so_only_the_pipeline_deploys(all_plans: dict[str, Plan]) -> None:
    # A linked project deploys every push; a push to its production branch would skip the pipeline's approval.
    for plan in all_plans.values():
        project = plan.one(PROJECT, "web-project")
        assert "gitRepository" not in project.inputs, f"{project.urn} would deploy every push to the app repository"


def test_previews_are_off_where_no_env_var_reaches_the_preview_target(all_plans: dict[str, Plan]) -> None:
    for stack, disabled in (("development", True), ("staging", False), ("production", True)):
        project = all_plans[stack].one(PROJECT, "web-project")
        targets = {target for reg in all_plans[stack].by_type(ENV_VAR) for target in reg.inputs["targets"]}
        assert ("preview" not in targets) is disabled, f"{stack}: env targets {sorted(targets)}"
        assert project.inputs["previewDeploymentsDisabled"] is disabled, project.urn


def test_env_vars_and_domains_are_replaced_delete_first(all_plans: dict[str, Plan]) -> None:
    # A create-first replacement would POST the same key (ENV_CONFLICT) or domain while the old one holds it.
    for plan in all_plans.values():
        for reg in plan.by_type(ENV_VAR) + plan.by_type(DOMAIN):
            assert reg.delete_before_replace, f"{reg.urn} must be replaced delete-first"


def test_public_values_are_in_clear_in_the_plan_json_and_secrets_never(all_plans: dict[str, Plan]) -> None:
    for stack, plan in all_plans.items():
        document = plan_json(plan)
        public = document["outputs"]["app_public_env"]
        env = app_env(settings_of(stack))
        assert set(public) == {var.key for var in env if not var.secret}, f"{stack}: {sorted(public)}"
        for (key, _), reg in env_vars(plan).items():
            # The provider marks `value` secret on every env var: the resource itself never shows it.
            [step] = [s for s in document["steps"] if s["urn"] == reg.urn]
            assert step["newState"]["inputs"]["value"] in ("[secret]", UNKNOWN_SENTINEL), reg.urn
            if key in public:
                assert public[key] == reveal(reg.inputs["value"]), f"{stack}: {key} is not shown as {reg.urn} sets it"
        text = json.dumps(document)
        for var in env:
            if var.secret:
                assert var.value not in text, f"{stack}: {var.key} appears in clear in the plan JSON"


def test_a_changed_url_shows_in_the_diff() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:supabase"]["url"] = "https://vibelog-moved.supabase.co"

    diff = diff_plans(plan_json(plan_of("production")), plan_json(plan_of("production", edit)))
    text = diff_text([diff], "diff")
    assert '"https://vibelog-production.supabase.co" → "https://vibelog-moved.supabase.co"' in text, text


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
    found = env_vars(app_up("staging"))
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
    plan = app_up("production")
    targets = {target for reg in plan.by_type(ENV_VAR) for target in reg.inputs["targets"]}
    assert targets == {"production"}, "production previews must not receive production secrets"
    env = {key: reveal(reg.inputs["value"]) for (key, _), reg in env_vars(plan).items()}
    assert validate_app_env(env) == []
    assert env["NODE_ENV"] == "production"
