"""Diffs of two plans of a stack: one flag, a replace-forcing property, secrets, renames, identical plans."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import rpc

from infra.diffs.changes import StackDiff, diff_plans
from infra.diffs.review import diff_json, diff_markdown, diff_text
from infra.engine.runtime import run_program
from infra.plans import plan_format
from infra.plans.plan_format import SECRET_TEXT
from infra.plans.render import plan_json
from policy.type_tokens import BUCKET
from policy.type_tokens import EDGE_CONFIG_ITEM as FLAG
from settings.stackfile import read_stack_config
from settings.stacks import PROJECT_DIR

KEY = bytes(range(32))
STAGING = (PROJECT_DIR / "Pulumi.staging.yaml").read_text(encoding="utf-8")


def staging_plan(text: str = STAGING, key: bytes | None = KEY) -> dict[str, Any]:
    """The staging plan of a (modified) stack file, as `plan --json` writes it."""
    return plan_json(run_program("staging", read_stack_config("staging", text=text)), key)


def rendered(diff: StackDiff) -> str:
    """Every rendering of a diff, for asserting on what a reader could ever see."""
    return diff_text([diff], "t") + diff_markdown([diff], "t") + json.dumps(diff_json([diff], "base"))


def test_the_unknown_sentinel_is_the_engines() -> None:
    assert plan_format.UNKNOWN_TEXT == rpc.UNKNOWN


def test_identical_revisions_report_no_change() -> None:
    diff = diff_plans(staging_plan(), staging_plan())
    assert not diff.changed, diff_text([diff], "identical")
    assert diff.uncompared_secrets == 0, "with fingerprints on both sides every secret is compared"


def test_one_flag_shows_exactly_that_change() -> None:
    diff = diff_plans(
        staging_plan(), staging_plan(STAGING.replace("BATCH_PROCESSING: false", "BATCH_PROCESSING: true"))
    )
    assert [(c.type, c.name) for c in diff.resources] == [(FLAG, "flags-item-batch-processing")], rendered(diff)
    (change,) = diff.resources
    assert [(p.path, p.old, p.new) for p in change.properties] == [("valueJson.rolloutPercent", 0, 100)], change.urn
    # The Vercel provider cannot update an Edge Config item in place: a flipped flag is a new item.
    assert change.op == "replace", change.urn
    assert not change.loud, f"{change.urn}: an item holds no data of its own"
    assert not diff.outputs
    assert not diff.config


def test_a_secret_change_is_reported_without_either_value() -> None:
    def with_key(value: str) -> str:
        return STAGING + f"  vibelog:secrets:\n    openaiApiKey: {value}\n"

    diff = diff_plans(staging_plan(with_key("sk-old-value-1")), staging_plan(with_key("sk-new-value-2")))
    secret_changes = [(c.name, p.path) for c in diff.resources for p in c.properties if p.secret]
    assert secret_changes == [("web-env-openai-api-key", "value")], rendered(diff)
    shown = rendered(diff)
    assert "sk-old-value-1" not in shown
    assert "sk-new-value-2" not in shown
    assert "secret changed" in diff_text([diff], "t")


def test_secrets_unchanged_under_one_key_and_not_compared_without_fingerprints() -> None:
    text = STAGING + "  vibelog:secrets:\n    openaiApiKey: sk-same-value\n"
    assert not diff_plans(staging_plan(text), staging_plan(text)).changed
    old_code = diff_plans(staging_plan(text, key=None), staging_plan(text))
    assert not old_code.changed, "a base predating fingerprints must not look like every secret changed"
    assert old_code.uncompared_secrets > 0


def test_the_fingerprints_are_keyed() -> None:
    text = STAGING + "  vibelog:secrets:\n    openaiApiKey: sk-same-value\n"
    one = staging_plan(text, KEY)["steps"]
    other = staging_plan(text, bytes(32))["steps"]
    prints = [[s["newState"].get("secretFingerprints") for s in steps] for steps in (one, other)]
    assert prints[0] != prints[1], "a fingerprint must depend on the run's key, or guesses could be tested"
    assert "sk-same-value" not in json.dumps(one)


def bucket_program(name: str, logical: str = "backups-db", aliases: list[str] | None = None) -> Callable[[], None]:
    """A protected Object Lock bucket, as a backup component declares it."""

    def program() -> None:
        provider = aws.Provider("aws", region="us-east-1")
        aws.s3.Bucket(
            logical,
            bucket=name,
            object_lock_enabled=True,
            opts=pulumi.ResourceOptions(
                provider=provider,
                protect=True,
                aliases=[pulumi.Alias(name=alias) for alias in aliases or []],
            ),
        )

    return program


def bucket_plan(program: Callable[[], None]) -> dict[str, Any]:
    return plan_json(run_program("staging", read_stack_config("staging"), program), KEY)


def test_a_renamed_bucket_is_a_loud_replacement() -> None:
    diff = diff_plans(bucket_plan(bucket_program("vibelog-backups")), bucket_plan(bucket_program("vibelog-db-backups")))
    (change,) = diff.resources
    assert (change.type, change.op, change.replace_reasons) == (BUCKET, "replace", ["bucket"]), rendered(diff)
    assert change.loud, change.urn
    assert change.protected, change.urn
    assert "[!CAUTION]" in diff_markdown([diff], "t")
    assert "REPLACES a resource that holds data" in diff_text([diff], "t")


def test_a_logical_rename_with_an_alias_is_a_move() -> None:
    before = bucket_plan(bucket_program("vibelog-backups", "backups-db"))
    diff = diff_plans(before, bucket_plan(bucket_program("vibelog-backups", "backup-vault-db", ["backups-db"])))
    (change,) = diff.resources
    assert (change.action, change.name) == ("move", "backup-vault-db"), rendered(diff)
    assert change.old_urn.endswith("::backups-db"), change.old_urn
    assert not change.loud, change.urn


def test_a_logical_rename_without_an_alias_deletes_the_bucket() -> None:
    before = bucket_plan(bucket_program("vibelog-backups", "backups-db"))
    diff = diff_plans(before, bucket_plan(bucket_program("vibelog-backups", "backup-vault-db")))
    assert sorted((c.op, c.name) for c in diff.resources) == [("create", "backup-vault-db"), ("delete", "backups-db")]
    deleted = next(c for c in diff.resources if c.op == "delete")
    assert deleted.loud, deleted.urn
    assert deleted.protected, deleted.urn


def test_markdown_folds_the_details_and_marks_the_comment() -> None:
    diff = diff_plans(staging_plan(), staging_plan(STAGING.replace("securityMode: standard", "securityMode: enhanced")))
    markdown = diff_markdown([diff], "Infrastructure diff")
    assert markdown.startswith("<!-- vibelog-infra-diff -->"), markdown
    assert "<details><summary>Property changes</summary>" in markdown
    assert '-     value: "standard"' in markdown, markdown
    assert '+     value: "enhanced"' in markdown, markdown


def test_a_value_passed_as_secret_on_one_side_only_is_not_shown() -> None:
    diff = diff_plans(
        {"stack": "s", "steps": [_step({"token": "plain-value"})]},
        {"stack": "s", "steps": [_step({"token": SECRET_TEXT})]},
    )
    (change,) = diff.resources
    assert change.properties[0].secret, change.properties
    assert "plain-value" not in rendered(diff)


def _step(inputs: dict[str, object]) -> dict[str, Any]:
    urn = "urn:pulumi:s::vibelog::vercel:index/edgeConfigToken:EdgeConfigToken::t"
    return {
        "urn": urn,
        "newState": {"urn": urn, "type": "vercel:index/edgeConfigToken:EdgeConfigToken", "inputs": inputs},
    }


def test_a_team_the_program_leaves_to_the_provider_changes_nothing() -> None:
    """vercel/resource_edge_config.go: team_id is Optional and Computed (RequiresReplaceIfConfigured,
    UseNonNullStateForUnknown). The program names the team on the provider only, so a team_id the state holds (an
    import reads it) is kept by the plan; a team_id given and changed replaces the store."""
    urn = "urn:pulumi:s::vibelog::vercel:index/edgeConfig:EdgeConfig::flags-store"

    def document(inputs: dict[str, object]) -> dict[str, Any]:
        state = {"urn": urn, "type": "vercel:index/edgeConfig:EdgeConfig", "inputs": inputs}
        return {"stack": "s", "steps": [{"urn": urn, "newState": state}]}

    imported = document({"name": "vibelog-flags", "teamId": "team_a"})
    kept = diff_plans(imported, document({"name": "vibelog-flags"}))
    assert not kept.resources, f"{urn}: {kept.resources}"
    (moved,) = diff_plans(imported, document({"name": "vibelog-flags", "teamId": "team_b"})).resources
    assert (moved.op, moved.replace_reasons) == ("replace", ["teamId"]), f"{urn}: {moved}"
