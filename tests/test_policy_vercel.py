"""The Vercel rules: env schema per project and target, sensitive secrets, secrets in state, DEBUG_MODE."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.engine.runtime import Registration, Secret
from policy.type_tokens import EDGE_CONFIG_ITEM, ENV_VAR, ENV_VARS_BULK, VERCEL_PROJECT
from policy.unknowns import UNKNOWN
from tests.helpers.policy import found, reg, run_rule, swap, urn, with_inputs

APP = ("vibelog:vercel:VercelApp",)
PROJECT = reg(VERCEL_PROJECT, "web-project", {"name": "vibelog", "framework": "nextjs"}, parents=APP, protect=True)
VALUES = {
    "NODE_ENV": "production",
    "NEXT_PUBLIC_APP_URL": "https://vibelog.io",
    "NEXTAUTH_URL": "https://vibelog.io",
    "SUPABASE_URL": "https://vibelog-production.supabase.co",
    "DATABASE_URL": "postgresql://u:p@db.example.invalid:6543/postgres",
    "DIRECT_URL": "postgresql://u:p@db.example.invalid:5432/postgres",
    "NEXTAUTH_SECRET": "x" * 32,
    "OPENAI_API_KEY": "sk-test",
    "SUPABASE_ANON_KEY": "anon",
    "SUPABASE_SERVICE_ROLE_KEY": "service",
}
SECRET = {"DATABASE_URL", "DIRECT_URL", "NEXTAUTH_SECRET", "OPENAI_API_KEY", "SUPABASE_SERVICE_ROLE_KEY"}


def env_var(key: str, value: object, targets: list[str], sensitive: bool, suffix: str = "") -> Registration:
    """A variable as VercelApp declares it: value secret in state (the SDK lists it in additional_secret_outputs)."""
    return reg(
        ENV_VAR,
        f"web-env-{key.lower().replace('_', '-')}{suffix}",
        {"key": key, "value": Secret(value), "targets": targets, "sensitive": sensitive, "projectId": UNKNOWN},
        parents=APP,
        deps={"projectId": PROJECT},
        additional_secret_outputs=("value", "valueWo"),
    )


def compliant(targets: tuple[str, ...] = ("production",)) -> list[Registration]:
    regs = [PROJECT]
    for key, value in VALUES.items():
        regs.append(env_var(key, value, list(targets), key in SECRET))
    regs.append(env_var("EDGE_CONFIG", UNKNOWN, list(targets), True))
    return regs


def one(regs: list[Registration], key: str) -> Registration:
    return next(r for r in regs if r.inputs.get("key") == key)


def urn_in(stack: str) -> str:
    """The URN of a DATABASE_URL variable of VercelApp in another stack."""
    return urn(ENV_VAR, "web-env-database-url", APP, stack)


# ---------------------------------------------------------------------------- env-schema


def test_env_schema_compliant() -> None:
    assert run_rule("env-schema", compliant()) == []


def test_env_schema_invalid_value_is_reported_at_the_variable() -> None:
    regs = compliant()
    bad = with_inputs(one(regs, "OPENAI_API_KEY"), value=Secret("not-an-openai-key"))
    violations = run_rule("env-schema", swap(regs, bad))
    assert found(violations) == [("env-schema", bad.urn)], violations
    assert "OPENAI_API_KEY must start with" in violations[0].message
    assert "not-an-openai-key" not in violations[0].message  # never the value


def test_env_schema_missing_key_is_reported_at_the_project_per_target() -> None:
    regs = compliant(("production", "preview"))
    missing = [r for r in regs if r.inputs.get("key") != "NEXTAUTH_SECRET"]
    violations = run_rule("env-schema", missing)
    assert found(violations) == [("env-schema", PROJECT.urn)] * 2, violations
    assert {v.message.split(":")[0] for v in violations} == {
        "project web-project, target preview",
        "project web-project, target production",
    }


def test_env_schema_missing_on_one_target_only() -> None:
    regs = compliant(("production", "preview"))
    narrowed = with_inputs(one(regs, "NODE_ENV"), targets=["production"])
    violations = run_rule("env-schema", swap(regs, narrowed))
    assert found(violations) == [("env-schema", PROJECT.urn)]
    assert "target preview: NODE_ENV is required" in violations[0].message


def test_env_schema_unknown_value_is_skipped() -> None:
    regs = compliant()
    unknown = with_inputs(one(regs, "SUPABASE_URL"), value=UNKNOWN)
    assert run_rule("env-schema", swap(regs, unknown)) == []


# ---------------------------------------------------------------------------- secret-env-sensitive


def test_secret_env_sensitive_compliant_including_the_development_split() -> None:
    regs = compliant(("production", "preview"))
    dev = [env_var(key, VALUES[key], ["development"], False, "-dev") for key in sorted(SECRET)]
    assert run_rule("secret-env-sensitive", regs + dev) == []


@pytest.mark.parametrize("key", ["OPENAI_API_KEY", "EDGE_CONFIG"])
def test_secret_env_not_sensitive(key: str) -> None:
    regs = compliant()
    bad = with_inputs(one(regs, key), sensitive=False)
    violations = run_rule("secret-env-sensitive", swap(regs, bad))
    assert found(violations) == [("secret-env-sensitive", bad.urn)]
    assert "fix: set sensitive=True" in violations[0].message


def test_secret_env_sensitive_on_development() -> None:
    bad = env_var("DATABASE_URL", VALUES["DATABASE_URL"], ["development"], True)
    violations = run_rule("secret-env-sensitive", [PROJECT, bad])
    assert found(violations) == [("secret-env-sensitive", bad.urn)]
    assert "sensitive=False" in violations[0].message


def test_secret_env_development_mixed_with_other_targets() -> None:
    bad = env_var("DATABASE_URL", VALUES["DATABASE_URL"], ["production", "development"], False)
    violations = run_rule("secret-env-sensitive", [PROJECT, bad])
    assert found(violations) == [("secret-env-sensitive", bad.urn)]
    assert "split it" in violations[0].message


# ---------------------------------------------------------------------------- secret-inputs-encrypted


def test_secret_inputs_compliant() -> None:
    assert run_rule("secret-inputs-encrypted", compliant()) == []


def test_secret_input_not_secret_in_state() -> None:
    regs = compliant()
    bad = one(regs, "OPENAI_API_KEY")
    bad = replace(bad, additional_secret_outputs=())
    violations = run_rule("secret-inputs-encrypted", swap(regs, bad))
    assert found(violations) == [("secret-inputs-encrypted", bad.urn)]
    assert "additional_secret_outputs=['value']" in violations[0].message


def test_bulk_env_vars_need_their_own_secret_marking() -> None:
    bulk = reg(ENV_VARS_BULK, "web-env", {"projectId": UNKNOWN, "variables": [{"key": "X", "value": "y"}]})
    assert found(run_rule("secret-inputs-encrypted", [bulk])) == [("secret-inputs-encrypted", bulk.urn)]
    marked = replace(bulk, additional_secret_outputs=("variables",))
    assert run_rule("secret-inputs-encrypted", [marked]) == []


# ---------------------------------------------------------------------------- debug-mode-off-in-production

FLAGS = ("vibelog:flags:FeatureFlags",)


def debug_item(value: object, stack: str = "production") -> Registration:
    inputs = {"key": "DEBUG_MODE", "valueJson": value, "edgeConfigId": UNKNOWN}
    return reg(EDGE_CONFIG_ITEM, "flags-item-debug-mode", inputs, parents=FLAGS, stack=stack)


def test_debug_mode_off_compliant() -> None:
    assert run_rule("debug-mode-off-in-production", [debug_item({"rolloutPercent": 0})]) == []


@pytest.mark.parametrize("value", [{"rolloutPercent": 100}, {"rolloutPercent": 5}, True])
def test_debug_mode_on_in_production(value: object) -> None:
    item = debug_item(value)
    violations = run_rule("debug-mode-off-in-production", [item])
    assert found(violations) == [("debug-mode-off-in-production", item.urn)]
    assert (
        "pulumi config set --stack production --path 'vibelog:featureFlags.DEBUG_MODE' false" in violations[0].message
    )


def test_debug_mode_on_outside_production_is_fine_and_configurable() -> None:
    item = debug_item({"rolloutPercent": 100}, stack="development")
    assert run_rule("debug-mode-off-in-production", [item]) == []
    config = {"debug-mode-off-in-production": {"productionStacks": ["development"]}}
    assert found(run_rule("debug-mode-off-in-production", [item], config)) == [
        ("debug-mode-off-in-production", item.urn)
    ]


def test_debug_mode_unknown_is_skipped() -> None:
    assert run_rule("debug-mode-off-in-production", [debug_item(UNKNOWN)]) == []


# ---------------------------------------------------------------------------- production-env-not-on-previews


def test_production_env_on_production_only_compliant() -> None:
    assert run_rule("production-env-not-on-previews", compliant()) == []


@pytest.mark.parametrize("key", ["DATABASE_URL", "NEXT_PUBLIC_APP_URL"])
def test_production_env_on_previews(key: str) -> None:
    regs = compliant()
    bad = with_inputs(one(regs, key), targets=["production", "preview"])
    violations = run_rule("production-env-not-on-previews", swap(regs, bad))
    assert found(violations) == [("production-env-not-on-previews", bad.urn)]
    assert "remove preview from vibelog:app.targets in Pulumi.production.yaml" in violations[0].message


def test_previews_of_other_stacks_get_their_own_env() -> None:
    staging = replace(env_var("DATABASE_URL", "x", ["production", "preview"], True), urn=urn_in("staging"))
    assert run_rule("production-env-not-on-previews", [staging]) == []


# ---------------------------------------------------------------------------- vercel-deploys-through-pipeline


def test_project_without_git_link_compliant() -> None:
    assert run_rule("vercel-deploys-through-pipeline", [PROJECT]) == []


def test_project_linked_to_git_deploys_every_push() -> None:
    git = {"type": "github", "repo": "vibelog/vibelog", "productionBranch": "main"}
    linked = with_inputs(PROJECT, gitRepository=git)
    violations = run_rule("vercel-deploys-through-pipeline", [linked])
    assert found(violations) == [("vercel-deploys-through-pipeline", linked.urn)]
    assert "'vibelog/vibelog'" in violations[0].message
    assert "a push to main" in violations[0].message
    assert "fix: remove git_repository" in violations[0].message


# ---------------------------------------------------------------------------- edge-config-strings-in-value


def item(key: str, **value: object) -> Registration:
    inputs = {"key": key, "edgeConfigId": UNKNOWN, **value}
    return reg(EDGE_CONFIG_ITEM, f"flags-item-{key.lower().replace('_', '-')}", inputs, parents=FLAGS)


def items_compliant() -> list[Registration]:
    return [
        item("NEW_EDITOR", valueJson={"rolloutPercent": 0}),
        item("MAINTENANCE_MODE", valueJson=False),
        item("SECURITY_MODE", value="standard"),
    ]


def test_edge_config_strings_in_value_compliant() -> None:
    assert run_rule("edge-config-strings-in-value", items_compliant()) == []


def test_edge_config_string_in_value_json_is_replaced_every_up() -> None:
    regs = items_compliant()
    bad = with_inputs(one(regs, "SECURITY_MODE"), value=None, valueJson="standard")
    violations = run_rule("edge-config-strings-in-value", swap(regs, bad))
    assert found(violations) == [("edge-config-strings-in-value", bad.urn)]
    assert "fix: pass the string as value=" in violations[0].message


# ---------------------------------------------------------------------------- protect-stateful (Vercel project)


def test_unprotected_project() -> None:
    bare = replace(PROJECT, protect=False)
    assert run_rule("protect-stateful", [PROJECT]) == []
    assert found(run_rule("protect-stateful", [bare])) == [("protect-stateful", bare.urn)]
