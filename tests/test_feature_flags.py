"""FeatureFlags: an Edge Config store per stack, one item per flag or switch, read by the app at request time."""

from __future__ import annotations

from typing import Any

from components.feature_flags import FeatureFlags, FeatureFlagsArgs
from components.vercel_app import VercelApp, VercelAppArgs
from infra.engine.mocks import VibelogMocks
from infra.engine.runtime import Plan, Secret, run_program
from policy.type_tokens import EDGE_CONFIG as STORE
from policy.type_tokens import EDGE_CONFIG_ITEM as ITEM
from policy.type_tokens import EDGE_CONFIG_TOKEN as TOKEN
from policy.type_tokens import ENV_VAR
from settings.loader import load_settings
from settings.operations import FLAG_NAMES
from tests.helpers.stacks import plan_of, stack_config


def flags_plan(stack: str, edit: Any = None) -> Plan:
    def program() -> None:
        FeatureFlags("flags", FeatureFlagsArgs.from_settings(load_settings()))

    return plan_of(stack, edit, program=program)


def items(plan: Plan) -> dict[str, Any]:
    """Each item's value, from whichever argument holds it."""
    return {reg.inputs["key"]: reg.inputs.get("value", reg.inputs.get("valueJson")) for reg in plan.by_type(ITEM)}


def test_each_flag_is_an_item_of_the_stacks_own_store() -> None:
    plan = flags_plan("staging")
    store = plan.one(STORE, "flags-store")
    assert store.inputs["name"] == "vibelog-staging-flags", store.urn
    for reg in plan.by_type(ITEM):
        assert reg.property_dependencies["edgeConfigId"] == (store.urn,), f"{reg.urn} is not in {store.urn}"


def test_the_store_running_deployments_read_is_protected() -> None:
    """Every running deployment reads the store by id, and an adopted one holds keys nothing declares: a rename in
    code or a destroy must stop at it, not delete it."""
    for stack in ("development", "staging", "production"):
        store = flags_plan(stack).one(STORE, "flags-store")
        assert store.protect, f"{stack}: {store.urn} is not protected"


def test_the_reference_flags_per_stack() -> None:
    assert items(flags_plan("staging")) == {
        "NEW_EDITOR": {"rolloutPercent": 100},
        "BATCH_PROCESSING": {"rolloutPercent": 0},
        "TEAM_FEATURES": {"rolloutPercent": 0},
        "DEBUG_MODE": {"rolloutPercent": 0},
        "MAINTENANCE_MODE": False,
        "SECURITY_MODE": "standard",
        "AI_PROVIDER": "openai",
        "DEGRADED_MODE": False,
    }
    development = items(flags_plan("development"))
    assert {k: development.get(k) for k in FLAG_NAMES} == {key: {"rolloutPercent": 100} for key in FLAG_NAMES}


def test_a_gradual_rollout_is_the_configured_percentage() -> None:
    plan = flags_plan(
        "production", lambda c: c["vibelog:featureFlags"].__setitem__("NEW_EDITOR", {"rolloutPercent": 25})
    )
    assert items(plan)["NEW_EDITOR"] == {"rolloutPercent": 25}


def test_runbook_switches_flip_with_config() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:operations"] = {"maintenanceMode": True, "securityMode": "enhanced"}

    found = items(flags_plan("production", edit))
    assert (found["MAINTENANCE_MODE"], found["SECURITY_MODE"]) == (True, "enhanced")


def test_strings_are_stored_in_value_and_everything_else_in_value_json(all_plans: dict[str, Plan]) -> None:
    # The provider reads a JSON string back into `value` (parseRawToState): a string in value_json would be
    # replaced, so deleted, on every `up`.
    for plan in all_plans.values():
        for reg in plan.by_type(ITEM):
            holders = [name for name in ("value", "valueJson") if name in reg.inputs]
            assert len(holders) == 1, f"{reg.urn} sets {holders}; exactly one of value and value_json"
            value = reg.inputs[holders[0]]
            assert (holders[0] == "value") == isinstance(value, str), f"{reg.urn}: {value!r} is in {holders[0]}"
        security = plan.one(ITEM, "flags-item-security-mode")
        assert security.inputs["value"] == "standard", security.urn


def test_an_enhanced_security_mode_is_still_a_string_in_value() -> None:
    plan = flags_plan("production", lambda c: c["vibelog:operations"].__setitem__("securityMode", "enhanced"))
    security = plan.one(ITEM, "flags-item-security-mode")
    assert (security.inputs.get("value"), "valueJson" in security.inputs) == ("enhanced", False), security.urn


def test_items_are_replaced_delete_first(all_plans: dict[str, Plan]) -> None:
    # Create is an upsert of the key and Delete removes it: replaced create-first, a flipped flag would vanish.
    for plan in all_plans.values():
        for reg in plan.by_type(ITEM):
            assert reg.delete_before_replace, f"{reg.urn} must be replaced delete-first"


def test_the_app_reads_the_store_through_a_sensitive_secret_edge_config_var(production: Plan) -> None:
    token = production.one(TOKEN, "flags-read-token")
    [edge] = [r for r in production.by_type(ENV_VAR) if r.inputs["key"] == "EDGE_CONFIG"]
    assert edge.property_dependencies["value"] == (token.urn,), f"{edge.urn} is not fed by {token.urn}"
    assert edge.inputs["sensitive"] is True, edge.urn
    assert not isinstance(edge.inputs["value"], str), f"{edge.urn} holds a plaintext connection string"


def test_the_connection_string_is_secret_once_known() -> None:
    def program() -> None:
        settings = load_settings()
        flags = FeatureFlags("flags", FeatureFlagsArgs.from_settings(settings))
        VercelApp("web", VercelAppArgs.from_settings(settings, {"EDGE_CONFIG": flags.connection_string}))

    plan = run_program("production", stack_config("production"), program=program, mocks=VibelogMocks(preview=False))
    [edge] = [r for r in plan.by_type(ENV_VAR) if r.inputs["key"] == "EDGE_CONFIG"]
    assert isinstance(edge.inputs["value"], Secret), f"{edge.urn} carries the connection string in plaintext"
