"""replace-delete-first: a replacement that would collide on its natural key runs delete-first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.engine.policies import check_plan, mandatory
from infra.engine.runtime import Plan, Registration
from policy.type_tokens import BUCKET
from policy.type_tokens import EDGE_CONFIG_ITEM as ITEM
from policy.type_tokens import ENVIRONMENT_SECRET as ENV_SECRET
from policy.type_tokens import ENVIRONMENT_VARIABLE as ENV_VARIABLE
from policy.type_tokens import IAM_ROLE as ROLE
from tests.helpers.policy import found, reg, run_rule, with_inputs

RULE = "replace-delete-first"


def flag() -> Registration:
    """A compliant Edge Config item: replaced delete-first by its own option."""
    inputs = {"edgeConfigId": "ecfg_1", "key": "NEW_EDITOR", "valueJson": {"rolloutPercent": 0}}
    return reg(ITEM, "flags-item-new-editor", inputs, delete_before_replace=True)


def variable() -> Registration:
    """A compliant environment variable (the program replaces it delete-first)."""
    inputs = {"repository": "vibelog", "environment": "production", "variableName": "APP_URL", "value": "x"}
    return reg(ENV_VARIABLE, "ci-var-app-url", inputs, delete_before_replace=True)


def test_compliant_delete_first_items_and_variables() -> None:
    assert run_rule(RULE, [flag(), variable()]) == []


def test_item_without_delete_first_is_a_violation() -> None:
    item = replace(flag(), delete_before_replace=False, delete_before_replace_defined=True)
    violations = run_rule(RULE, [item])
    assert found(violations) == [(RULE, item.urn)]
    assert "valueJson" in violations[0].message
    assert "delete_before_replace=True" in violations[0].message
    assert violations[0].level == "mandatory"


def test_item_with_a_string_value_is_judged_the_same() -> None:
    item = with_inputs(replace(flag(), delete_before_replace=False), valueJson=None, value="standard")
    assert found(run_rule(RULE, [item])) == [(RULE, item.urn)]


def test_a_variable_is_never_replaced_under_its_key() -> None:
    # diffRepository (terraform-provider-github util_diff.go) runs only when `repository` changes, and then the key
    # changes with it: no input replaces a variable under the same key, so create-first cannot collide.
    plain = replace(variable(), delete_before_replace=False)
    assert run_rule(RULE, [plain]) == [], f"{plain.urn}: only a key change replaces it"


def test_protected_resources_are_judged_too() -> None:
    bad = replace(flag(), delete_before_replace=False, protect=True)
    assert found(run_rule(RULE, [bad])) == [(RULE, bad.urn)]


def test_the_provider_replaces_environment_secrets_delete_first() -> None:
    secret = reg(ENV_SECRET, "ci-secret-t", {"repository": "vibelog", "environment": "production", "secretName": "T"})
    assert run_rule(RULE, [secret]) == [], "pulumi-github's DeleteBeforeReplace covers it without the option"


def test_the_bridge_replaces_explicitly_named_roles_and_buckets_delete_first() -> None:
    role = reg(ROLE, "ci-deploy", {"name": "vibelog-production-deploy", "assumeRolePolicy": "{}", "path": "/ci/"})
    bucket = reg(BUCKET, "backup-db", {"bucket": "vibelog-db-backups", "objectLockEnabled": True})
    assert run_rule(RULE, [role, bucket]) == []


def test_an_auto_named_bucket_cannot_collide() -> None:
    bucket = reg(BUCKET, "backup-db", {"objectLockEnabled": True})
    assert run_rule(RULE, [bucket]) == [], "each replacement gets a fresh auto-name"


def test_an_unset_option_reaches_the_rule_as_none() -> None:
    # As the analyzer passes it: deleteBeforeReplaceDefined false -> opts.delete_before_replace is None.
    bad = replace(flag(), delete_before_replace=False, delete_before_replace_defined=False)
    assert found(run_rule(RULE, [bad])) == [(RULE, bad.urn)]


@pytest.mark.parametrize("stack", ["development", "staging", "production"])
def test_every_stack_replaces_delete_first_where_it_must(stack: str, all_plans: dict[str, Plan]) -> None:
    violations = [v for v in mandatory(check_plan(all_plans[stack])) if v.policy == RULE]
    assert not violations, "\n".join(f"{v.urn}: {v.message}" for v in violations)


def test_the_program_sets_the_option_the_rule_reads(all_plans: dict[str, Plan]) -> None:
    items = all_plans["production"].by_type(ITEM)
    assert items, "production declares feature flags"
    without = [r.urn for r in items if not (r.delete_before_replace and r.delete_before_replace_defined)]
    assert not without, f"items without delete_before_replace=True: {without}"
