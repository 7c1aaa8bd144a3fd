"""The lifecycle record: a row per registered type, the upstream verdicts it pins, and a provider's read-back."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from infra.diffs import lifecycle_doc
from infra.diffs.changes import diff_plans
from infra.engine.runtime import Plan
from infra.plans.render import plan_json
from policy.lifecycle import (
    LIFECYCLE,
    RECORD,
    forces_replacement,
    holds_data,
    lifecycle,
    needs_row,
    read_back,
    replacement_order,
)
from policy.type_tokens import (
    BUCKET,
    CERTIFICATE,
    DISTRIBUTION,
    EDGE_CONFIG,
    EDGE_CONFIG_ITEM,
    ENVIRONMENT_SECRET,
    ENVIRONMENT_VARIABLE,
    REPOSITORY_ENVIRONMENT,
    REPOSITORY_VARIABLE,
)

STACKS = ("development", "staging", "production")
KEY = bytes(range(32))
UPSTREAM = (
    "vercel/terraform-provider-vercel",
    "integrations/terraform-provider-github",
    "hashicorp/terraform-provider-aws",
    "hashicorp/terraform-provider-random",
    "PagerDuty/terraform-provider-pagerduty",
    "pulumi/",
)


def test_every_registered_type_has_a_row(all_plans: dict[str, Plan]) -> None:
    missing = {
        f"{reg.type} ({reg.urn})"
        for plan in all_plans.values()
        for reg in plan.registrations
        if needs_row(reg.type, reg.custom) and lifecycle(reg.type) is None
    }
    assert not missing, f"no lifecycle row in policy/lifecycle.py for: {sorted(missing)}"


def test_every_row_is_for_a_registered_type(all_plans: dict[str, Plan]) -> None:
    registered = {reg.type for plan in all_plans.values() for reg in plan.registrations}
    stale = sorted(set(LIFECYCLE) - registered)
    assert not stale, f"rows for types no stack registers (remove them or the record drifts): {stale}"


@pytest.mark.parametrize("row", RECORD, ids=lambda row: row.type.rsplit(":", 1)[-1])
def test_every_row_cites_its_upstream_file(row: Any) -> None:
    assert any(repo in row.source for repo in UPSTREAM), f"{row.type}: source {row.source!r} names no upstream"
    assert ".go" in row.source, f"{row.type}: source {row.source!r} names no file"


SDK_PACKAGES = {
    "aws": "pulumi_aws",
    "github": "pulumi_github",
    "vercel": "pulumiverse_vercel",
    "random": "pulumi_random",
    "pagerduty": "pulumi_pagerduty",
}
AUTONAMED = {"aws": "name", "pagerduty": "name"}
"""The input each package auto-names: pulumi-aws provider/autonaming.go (every input `name`, Optional or Required in
the schema), pulumi-pagerduty provider/resources.go (SetAutonaming). The bridge's delete-first rule covers SDKv2
resources only: pulumiverse-vercel auto-names too, but its resources are all plugin-framework (no rule,
pulumi-terraform-bridge#823), so no Vercel row records a name."""
AUTONAMED_TYPES = {BUCKET: "bucket"}
"""pulumi-aws provider/resources.go: aws_s3_bucket's `bucket` (AutoNameTransform)."""


@cache
def _sdk_classes(package: str) -> dict[str, tuple[str, str]]:
    """type token -> (module, class name), from the SDK's own `_utilities.register(resource_modules=...)` table."""
    init = Path(importlib.import_module(SDK_PACKAGES[package]).__file__ or "").read_text(encoding="utf-8")
    match = re.search(r'resource_modules="""(.*?)"""', init, re.S)
    assert match, f"{SDK_PACKAGES[package]}: no resource module table"
    return {token: (e["fqn"], name) for e in json.loads(match.group(1)) for token, name in e["classes"].items()}


def _sdk_inputs(type_: str) -> dict[str, bool]:
    """The resource's inputs in the engine's camelCase, each with whether the SDK lets it be omitted."""
    module_name, class_name = _sdk_classes(type_.split(":", 1)[0])[type_]
    resource = getattr(importlib.import_module(module_name), class_name)
    module = sys.modules[resource.__module__]
    (args_name,) = [name for name in module.__all__ if name.endswith("Args")]
    args = getattr(module, args_name)
    parameters = inspect.signature(args.__init__).parameters
    return {
        getattr(prop.fget, "_pulumi_name", python_name): parameters[python_name].default is not inspect.Parameter.empty
        for python_name, prop in vars(args).items()
        if isinstance(prop, property) and python_name in parameters
    }


@pytest.mark.parametrize("row", RECORD, ids=lambda row: row.type.rsplit(":", 1)[-1])
def test_every_row_names_inputs_of_the_installed_sdk(row: Any) -> None:
    inputs = _sdk_inputs(row.type)
    named = {*row.replace_on, *row.natural_key, *row.computed, *(rule.sent for rule in row.read_back)}
    named |= {row.autonamed} - {""}
    unknown = sorted(name for name in named if re.split(r"[.\[]", name)[0] not in inputs)
    assert not unknown, f"{row.type}: {unknown} are no inputs of the installed SDK (inputs: {sorted(inputs)})"


@pytest.mark.parametrize("row", RECORD, ids=lambda row: row.type.rsplit(":", 1)[-1])
def test_every_row_auto_names_what_the_provider_auto_names(row: Any) -> None:
    inputs = _sdk_inputs(row.type)
    # The auto-named input is optional in the SDK (the provider fills it in); a `name` the SDK requires is one the
    # Pulumi provider maps itself (aws_route53_record's), so it is not auto-named.
    candidate = AUTONAMED.get(row.type.split(":", 1)[0], "")
    expected = AUTONAMED_TYPES.get(row.type) or (candidate if inputs.get(candidate) else "")
    assert row.autonamed == expected, (
        f"{row.type}: the record says auto-named {row.autonamed!r}, the provider auto-names {expected!r}: an explicit "
        "name makes the bridge replace it delete-first"
    )


def test_one_row_per_type() -> None:
    assert len(RECORD) == len(LIFECYCLE), "two rows share a type token"


def test_a_key_trigger_is_an_input_of_the_type() -> None:
    for row in RECORD:
        # A type no input replaces is never replaced, so its name need not be its key (a PagerDuty user is its
        # e-mail): the key only decides whether a create-first replacement collides.
        if row.autonamed and row.replace_on:
            assert row.autonamed in row.natural_key or row.create == "new-id", f"{row.type}: the name is the key"


def test_github_verdicts_read_upstream() -> None:
    # resource_github_actions_environment_variable.go / _variable.go: ForceNew on the names, `repository` through
    # diffRepository, which runs only when `repository` changes (to another repository): the key changes with it.
    variable = LIFECYCLE["github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"]
    assert variable.replace_on == {"environment", "variableName", "repository"}
    assert LIFECYCLE["github:index/actionsVariable:ActionsVariable"].replace_on == {"variableName", "repository"}
    for type_ in (ENVIRONMENT_VARIABLE, ENVIRONMENT_SECRET, REPOSITORY_ENVIRONMENT, REPOSITORY_VARIABLE):
        row = LIFECYCLE[type_]
        assert not row.key_triggers(row.replace_on), f"{type_}: nothing replaces it under the same key"
    assert "repositoryId" in LIFECYCLE["github:index/branchProtection:BranchProtection"].replace_on
    secret = LIFECYCLE["github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"]
    assert secret.delete_first == "provider", "pulumi-github sets DeleteBeforeReplace for environment secrets"


def test_aws_and_vercel_verdicts_read_upstream() -> None:
    validation = LIFECYCLE["aws:acm/certificateValidation:CertificateValidation"]
    assert validation.replace_on == {"certificateArn", "validationRecordFqdns"}
    assert LIFECYCLE["aws:iam/role:Role"].autonamed == "name", "the bridge replaces an explicitly named role first"
    assert LIFECYCLE["aws:s3/bucket:Bucket"].autonamed == "bucket"
    item = LIFECYCLE[EDGE_CONFIG_ITEM]
    assert item.create == "upsert"
    assert {"value", "valueJson"} <= item.replace_on
    assert "teamId" not in item.replace_on, "edge_config_item.team_id has no RequiresReplace"
    env = LIFECYCLE["vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"]
    assert {"sensitive", "customEnvironmentIds"} <= env.replace_on
    assert env.create == "fails"


@pytest.mark.parametrize("row", RECORD, ids=lambda row: row.type.rsplit(":", 1)[-1])
def test_every_row_was_read_in_the_provider_source(row: Any) -> None:
    assert row.checked, f"{row.type}: carried from an earlier record, not re-read upstream"
    assert "not re-read" not in row.source, f"{row.type}: its source says it was not re-read"


def test_verdicts_corrected_by_the_re_read() -> None:
    # acm/certificate.go resourceCertificate: certificate_authority_arn and validation_option are ForceNew too.
    for path in ("certificateAuthorityArn", "validationOptions[0].validationDomain"):
        assert forces_replacement(CERTIFICATE, path), f"{CERTIFICATE}: changing {path} replaces the certificate"
    # cloudfront/distribution.go ResourceDistribution: `staging` is ForceNew, the aliases are updated in place, and
    # CloudFront refuses an alias another distribution serves: a create-first replacement fails on them.
    assert forces_replacement(DISTRIBUTION, "staging"), f"{DISTRIBUTION}: staging replaces the distribution"
    assert not forces_replacement(DISTRIBUTION, "aliases[0]"), f"{DISTRIBUTION}: aliases are updated in place"
    order = replacement_order(DISTRIBUTION, {"aliases": ["status.example.org"], "staging": True}, False)
    assert not order.delete_first, f"{DISTRIBUTION}: {order.text()}"
    assert "fails" in order.gap, f"{DISTRIBUTION}: {order.text()}"


# ------------------------------------------------------------------------------------------------ read-back


def test_read_back_moves_a_json_string_into_value() -> None:
    assert read_back(EDGE_CONFIG_ITEM, {"key": "MODE", "valueJson": "standard"}) == {"key": "MODE", "value": "standard"}
    assert read_back(EDGE_CONFIG_ITEM, {"key": "F", "valueJson": {"rolloutPercent": 5}}) == {
        "key": "F",
        "valueJson": {"rolloutPercent": 5},
    }


def _read_back_document(document: dict[str, Any]) -> dict[str, Any]:
    """A plan document whose inputs are what the providers would read back after applying it."""
    steps = []
    for step in document["steps"]:
        state = dict(step["newState"])
        state["inputs"] = read_back(state["type"], state.get("inputs", {}))
        steps.append({**step, "newState": state})
    return {**document, "steps": steps}


def _second_plan_changes(plan: Plan) -> list[str]:
    document = plan_json(plan, KEY)
    diff = diff_plans(_read_back_document(document), document)
    return [
        f"{change.op} {change.urn}: {', '.join(p.path for p in change.properties)}"
        for change in diff.resources
        if change.op in {"update", "replace"}
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_second_plan_of_an_unchanged_stack_shows_no_change(stack: str, all_plans: dict[str, Plan]) -> None:
    changes = _second_plan_changes(all_plans[stack])
    assert not changes, f"{stack}: the state read back differs from the program: {changes}"


def _item_document(**inputs: Any) -> dict[str, Any]:
    urn = "urn:pulumi:staging::vibelog::vibelog:flags:FeatureFlags$vercel:index/edgeConfigItem:EdgeConfigItem::i"
    state = {"type": EDGE_CONFIG_ITEM, "urn": urn, "custom": True, "inputs": {"key": "SECURITY_MODE", **inputs}}
    return {"stack": "staging", "steps": [{"op": "create", "urn": urn, "newState": state}]}


def test_a_string_in_value_reads_back_unchanged() -> None:
    document = _item_document(edgeConfigId="ecfg_1", value="standard")
    assert not diff_plans(_read_back_document(document), document).resources


def test_a_string_in_value_json_is_replaced_on_the_second_plan() -> None:
    document = _item_document(edgeConfigId="ecfg_1", valueJson="standard")
    (change,) = diff_plans(_read_back_document(document), document).resources
    assert change.op == "replace", f"{change.urn}: a moved string must show as the replacement it causes"


def test_the_lifecycle_doc_is_the_record() -> None:
    assert lifecycle_doc.current() == lifecycle_doc.section(), (
        "docs/lifecycle.md disagrees with policy/lifecycle.py; run: python -m infra.diffs.lifecycle_doc"
    )


def test_the_lifecycle_doc_check_sees_a_changed_row(tmp_path: Path) -> None:
    doc = tmp_path / "lifecycle.md"
    doc.write_text(lifecycle_doc.section().replace("`sensitive`", "`comment`", 1), encoding="utf-8")
    assert lifecycle_doc.current(doc) != lifecycle_doc.section(), "an edited table must not pass"


def test_holding_data_is_one_fact_for_the_diff_and_the_policy(production: Plan) -> None:
    # A bucket holds data where the backup component declares it; the degraded-mode page's bucket holds only what
    # the program uploads again, and an Edge Config store is refilled from the stack config by the same `up`.
    for name in ("backup-db", "backup-uploads", "backup-uploads-backup"):
        bucket = production.one(BUCKET, name)
        assert holds_data(BUCKET, bucket.urn), f"{bucket.urn} holds backups"
        assert bucket.protect, f"{bucket.urn} holds data, so protect-stateful requires protect"
    site = production.one(BUCKET, "dns-degraded-bucket")
    assert not holds_data(BUCKET, site.urn), f"{site.urn} holds only pages the program uploads"
    assert holds_data(BUCKET, site.urn, protect=True), f"{site.urn}: anything protected is treated as data"
    store = production.one(EDGE_CONFIG, "flags-store")
    assert not holds_data(EDGE_CONFIG, store.urn), f"{store.urn}: its items are all declared by the program"
