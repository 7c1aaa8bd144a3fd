"""The diff says, for each replacement, whether it runs delete-first or create-first, why, and what the gap means."""

from __future__ import annotations

import json
from typing import Any

from infra.diffs.changes import ResourceChange, diff_plans
from infra.diffs.review import diff_json, diff_markdown, diff_text
from infra.engine.runtime import Plan
from infra.plans.render import plan_json
from policy.type_tokens import BUCKET_OBJECT
from policy.type_tokens import EDGE_CONFIG_ITEM as FLAG
from policy.type_tokens import SNS_SUBSCRIPTION as SUBSCRIPTION
from tests.test_changes import STAGING, staging_plan


def _document(type_: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    urn = f"urn:pulumi:staging::vibelog::{type_}::r"
    state = {"type": type_, "urn": urn, "custom": True, "inputs": inputs, **options}
    return {"stack": "staging", "steps": [{"op": "create", "urn": urn, "newState": state}]}


def _replacement(type_: str, old: dict[str, Any], new: dict[str, Any], **options: Any) -> ResourceChange:
    (change,) = diff_plans(_document(type_, old, **options), _document(type_, new, **options)).resources
    assert change.op == "replace", f"{change.urn}: expected a replacement"
    assert change.order is not None, f"{change.urn}: a replacement states its order"
    return change


def test_a_flipped_flag_is_replaced_delete_first_by_its_option() -> None:
    diff = diff_plans(
        staging_plan(), staging_plan(STAGING.replace("BATCH_PROCESSING: false", "BATCH_PROCESSING: true"))
    )
    (change,) = diff.resources
    assert change.type == FLAG, change.urn
    assert change.order is not None, change.urn
    assert (change.order.delete_first, change.order.why) == (True, "option"), change.urn
    line = "delete-first (its deleteBeforeReplace option): the flag is absent for a moment: the app reads its default"
    assert line in diff_text([diff], "t"), diff_text([diff], "t")
    assert line in diff_markdown([diff], "t")
    shown = diff_json([diff], "base")["stacks"]["staging"]["resources"][0]["replaceOrder"]
    assert shown == {
        "deleteFirst": True,
        "why": "option",
        "gap": "the flag is absent for a moment: the app reads its default",
    }


def test_without_the_option_an_item_is_create_first_and_loses_the_value() -> None:
    change = _replacement(FLAG, {"key": "K", "valueJson": 1}, {"key": "K", "valueJson": 2})
    assert change.order is not None, change.urn
    assert not change.order.delete_first, change.urn
    assert change.order.why == "default", change.order
    assert "value is lost" in change.order.gap, change.order


def test_the_provider_replaces_an_environment_secret_delete_first() -> None:
    type_ = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
    change = _replacement(type_, {"environment": "a", "secretName": "S"}, {"environment": "b", "secretName": "S"})
    assert change.order is not None
    assert (change.order.delete_first, change.order.why) == (True, "provider")


def test_the_bridge_replaces_an_explicitly_named_bucket_delete_first() -> None:
    old = {"bucket": "vibelog-backups", "objectLockEnabled": False}
    change = _replacement("aws:s3/bucket:Bucket", old, {**old, "objectLockEnabled": True})
    assert change.order is not None
    assert (change.order.delete_first, change.order.why) == (True, "bridge")
    assert "the bridge forces it" in change.order.text()


def test_a_key_without_a_natural_name_is_replaced_create_first_and_coexists() -> None:
    change = _replacement("aws:kms/key:Key", {"keyUsage": "ENCRYPT_DECRYPT"}, {"keyUsage": "SIGN_VERIFY"})
    assert change.order is not None
    assert not change.order.delete_first
    assert "coexist" in change.order.gap, change.order


def test_a_cascaded_replacement_states_its_order_too() -> None:
    store = "urn:pulumi:staging::vibelog::vercel:index/edgeConfig:EdgeConfig::s"
    item = "urn:pulumi:staging::vibelog::vercel:index/edgeConfigItem:EdgeConfigItem::i"

    def document(team: str) -> dict[str, Any]:
        steps = [
            {
                "urn": store,
                "newState": {"type": "vercel:index/edgeConfig:EdgeConfig", "urn": store, "inputs": {"teamId": team}},
            },
            {
                "urn": item,
                "newState": {
                    "type": FLAG,
                    "urn": item,
                    "inputs": {"edgeConfigId": "ecfg", "key": "K", "valueJson": 1},
                    "propertyDependencies": {"edgeConfigId": [store]},
                    "deleteBeforeReplace": True,
                },
            },
        ]
        return {"stack": "staging", "steps": steps}

    diff = diff_plans(document("team_a"), document("team_b"))
    cascaded = next(c for c in diff.resources if c.urn == item)
    shown = json.dumps(diff_json([diff], "b"))
    assert cascaded.op == "replace", shown
    assert cascaded.order is not None, shown
    assert cascaded.order.delete_first, shown


def test_a_new_sns_topic_replaces_the_subscription() -> None:
    # pulumi-aws names topic_arn `topic`: a subscription moved to another topic is a new subscription, which an email
    # endpoint must confirm again; the record once named `topicArn` and the diff showed it as an update.
    old = {"topic": "arn:aws:sns:us-east-1:1:a", "protocol": "email", "endpoint": "ops@vibelog.io"}
    change = _replacement(SUBSCRIPTION, old, {**old, "topic": "arn:aws:sns:us-east-1:1:b"})
    assert change.replace_reasons == ["topic"], change.urn


def test_the_degraded_page_keeps_its_object_across_the_type_change(production: Plan) -> None:
    # The page was a BucketObject (aws_s3_bucket_object, deprecated); as a BucketObjectv2 its alias from the old
    # type makes the change a move of the same object, not a delete of one page and the create of another.
    document = plan_json(production, b"k" * 32)
    page = production.one(BUCKET_OBJECT, "dns-degraded-page")
    old_urn = page.urn.replace(BUCKET_OBJECT, "aws:s3/bucketObject:BucketObject")
    steps = []
    for step in document["steps"]:
        if step["urn"] == page.urn:
            state = {**step["newState"], "type": "aws:s3/bucketObject:BucketObject", "urn": old_urn, "aliases": []}
            steps.append({**step, "urn": old_urn, "newState": state})
        else:
            steps.append(step)
    changes = diff_plans({**document, "steps": steps}, document).resources
    assert [(c.action, c.urn) for c in changes] == [("move", page.urn)], [(c.action, c.urn) for c in changes]
