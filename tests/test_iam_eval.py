"""The tests' IAM evaluator refuses condition operators it does not implement and implements those the plans use."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.iam_eval import allowed

ARN = "arn:aws:s3:::vault/objects/a"


def policy(condition: dict[str, Any]) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ARN, "Condition": condition}]}


def test_an_operator_it_does_not_implement_raises_instead_of_passing() -> None:
    implemented = policy({"StringEquals": {"aws:SourceAccount": "1"}})
    assert allowed([implemented], "s3:GetObject", ARN, {"aws:SourceAccount": "1"})
    unknown = policy({"NumericLessThan": {"s3:max-keys": "10"}})
    with pytest.raises(ValueError, match="NumericLessThan"):
        allowed([unknown], "s3:GetObject", ARN, {"s3:max-keys": "5"})
    with pytest.raises(ValueError, match="ForAnyValue:StringEquals"):
        allowed([policy({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})], "s3:GetObject", ARN, {})


def test_bool_compares_the_value() -> None:
    deny_plain = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    }
    assert allowed([deny_plain], "s3:GetObject", ARN, {"aws:SecureTransport": "true"}), "TLS requests must pass"
    assert not allowed([deny_plain], "s3:GetObject", ARN, {"aws:SecureTransport": "false"}), "plain HTTP is denied"


def test_negated_operators_and_if_exists() -> None:
    not_equals = policy({"StringNotEquals": {"aws:SourceAccount": "1"}})
    assert not allowed([not_equals], "s3:GetObject", ARN, {"aws:SourceAccount": "1"})
    assert allowed([not_equals], "s3:GetObject", ARN, {"aws:SourceAccount": "2"})
    if_exists = policy({"StringEqualsIfExists": {"aws:SourceAccount": "1"}})
    assert allowed([if_exists], "s3:GetObject", ARN, {})
    assert not allowed([if_exists], "s3:GetObject", ARN, {"aws:SourceAccount": "2"})


def test_null_holds_when_the_key_is_absent_for_true_and_present_for_false() -> None:
    absent = policy({"Null": {"s3:if-none-match": "true"}})
    assert allowed([absent], "s3:GetObject", ARN, {})
    assert not allowed([absent], "s3:GetObject", ARN, {"s3:if-none-match": "*"})
    present = policy({"Null": {"s3:if-none-match": "false"}})
    assert allowed([present], "s3:GetObject", ARN, {"s3:if-none-match": "*"})
    assert not allowed([present], "s3:GetObject", ARN, {})
