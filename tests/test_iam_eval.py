"""The tests' IAM evaluator decides as IAM documents it: each rule from a compliant case changed in one thing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.iam_eval import allowed, decision, may_assume

ARN = "arn:aws:s3:::vault/objects/a"
OTHER = "arn:aws:s3:::public/page"
PROVIDER = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(condition: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ARN, **fields}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def test_an_operator_it_does_not_implement_raises_instead_of_passing() -> None:
    implemented = policy(allow({"StringEquals": {"aws:SourceAccount": "1"}}))
    assert allowed([implemented], "s3:GetObject", ARN, {"aws:SourceAccount": "1"})
    unknown = policy(allow({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}))
    with pytest.raises(ValueError, match="DateLessThan"):
        allowed([unknown], "s3:GetObject", ARN, {"aws:CurrentTime": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValueError, match="Sometimes:StringEquals"):
        allowed([policy(allow({"Sometimes:StringEquals": {"aws:TagKeys": "a"}}))], "s3:GetObject", ARN, {})


def test_an_explicit_deny_wins_over_any_allow() -> None:
    both = [policy(allow()), policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})]
    assert allowed([policy(allow())], "s3:GetObject", ARN), "the compliant case"
    assert decision(both, "s3:GetObject", ARN) == "ExplicitDeny"
    assert decision([policy(allow())], "s3:PutObject", ARN) == "ImplicitDeny", "nothing allows it"


def test_actions_match_case_insensitively_with_wildcards_and_not_action() -> None:
    assert allowed([policy(allow(Action="S3:get*"))], "s3:GetObject", ARN)
    assert not allowed([policy(allow(Action="s3:Get?"))], "s3:GetObject", ARN), "? is one character"
    everything_but_deletes = policy({"Effect": "Allow", "NotAction": ["s3:Delete*"], "Resource": ARN})
    assert allowed([everything_but_deletes], "s3:GetObject", ARN)
    assert not allowed([everything_but_deletes], "s3:DeleteObject", ARN)
    deny_but_reads = policy(allow(Action="s3:*"), {"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"})
    assert allowed([deny_but_reads], "s3:GetObject", ARN)
    assert not allowed([deny_but_reads], "s3:PutObject", ARN)


def test_resources_match_case_sensitively_and_not_resource() -> None:
    assert not allowed([policy(allow(Resource="arn:aws:s3:::Vault/*"))], "s3:GetObject", ARN)
    assert not allowed([policy(allow(Resource="arn:aws:s3:::vault/[o]*"))], "s3:GetObject", ARN), "no classes"
    deny_all_but_page = policy(allow(Resource="*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": OTHER})
    assert allowed([deny_all_but_page], "s3:GetObject", OTHER)
    assert not allowed([deny_all_but_page], "s3:GetObject", ARN)


def test_condition_keys_are_case_insensitive_and_values_are_not() -> None:
    tagged = policy(allow({"StringEquals": {"aws:ResourceTag/environment": "production"}}))
    assert allowed([tagged], "s3:GetObject", ARN, {"AWS:resourcetag/Environment": "production"})
    assert not allowed([tagged], "s3:GetObject", ARN, {"aws:ResourceTag/environment": "Production"})
    ignoring = policy(allow({"StringEqualsIgnoreCase": {"aws:ResourceTag/environment": "production"}}))
    assert allowed([ignoring], "s3:GetObject", ARN, {"aws:ResourceTag/environment": "Production"})


def test_string_like_and_arn_like() -> None:
    like = policy(allow({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"}}))
    assert allowed([like], "s3:GetObject", ARN, {"token.actions.githubusercontent.com:sub": "repo:o/r:pull_request"})
    assert not allowed([like], "s3:GetObject", ARN, {"token.actions.githubusercontent.com:sub": "repo:o/x:ref"})
    arn_like = policy(allow({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:111122223333:rule/*"}}))
    assert allowed([arn_like], "s3:GetObject", ARN, {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/a"})
    # A `*` in one part of an ARN never reaches into the next: the account is its own part.
    spans = policy(allow({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:rule/*"}}))
    assert not allowed([spans], "s3:GetObject", ARN, {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/a"})


def test_bool_compares_the_value() -> None:
    deny_plain = policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )
    assert allowed([deny_plain], "s3:GetObject", ARN, {"aws:SecureTransport": "true"}), "TLS requests must pass"
    assert not allowed([deny_plain], "s3:GetObject", ARN, {"aws:SecureTransport": "false"}), "plain HTTP is denied"
    mfa = policy(allow({"Bool": {"aws:MultiFactorAuthPresent": True}}))
    assert allowed([mfa], "s3:GetObject", ARN, {"aws:MultiFactorAuthPresent": "true"})
    assert not allowed([mfa], "s3:GetObject", ARN, {}), "an absent key is not true"


def test_null_tests_presence() -> None:
    untagged = policy(allow({"Null": {"aws:RequestTag/environment": "true"}}))
    assert allowed([untagged], "s3:GetObject", ARN, {})
    assert not allowed([untagged], "s3:GetObject", ARN, {"aws:RequestTag/environment": "staging"})
    tagged = policy(allow({"Null": {"aws:RequestTag/environment": "false"}}))
    assert allowed([tagged], "s3:GetObject", ARN, {"aws:RequestTag/environment": "staging"})


def test_negated_operators_and_if_exists() -> None:
    not_equals = policy(allow({"StringNotEquals": {"aws:SourceAccount": "1"}}))
    assert not allowed([not_equals], "s3:GetObject", ARN, {"aws:SourceAccount": "1"})
    assert allowed([not_equals], "s3:GetObject", ARN, {"aws:SourceAccount": "2"})
    assert allowed([not_equals], "s3:GetObject", ARN, {}), "an absent key matches none of the values"
    if_exists = policy(allow({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}))
    assert allowed([if_exists], "s3:GetObject", ARN, {})
    assert not allowed([if_exists], "s3:GetObject", ARN, {"aws:SourceAccount": "2"})


def test_set_operators_over_multi_valued_keys() -> None:
    any_value = policy(allow({"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "owner"]}}))
    assert allowed([any_value], "s3:GetObject", ARN, {"aws:TagKeys": ["cost", "owner"]})
    assert not allowed([any_value], "s3:GetObject", ARN, {"aws:TagKeys": ["cost"]})
    assert not allowed([any_value], "s3:GetObject", ARN, {}), "ForAnyValue of nothing is false"
    all_values = policy(allow({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "owner"]}}))
    assert allowed([all_values], "s3:GetObject", ARN, {"aws:TagKeys": ["owner"]})
    assert not allowed([all_values], "s3:GetObject", ARN, {"aws:TagKeys": ["owner", "cost"]})
    assert allowed([all_values], "s3:GetObject", ARN, {}), "ForAllValues of nothing is (vacuously) true"
    with pytest.raises(ValueError, match="several values"):
        allowed(
            [policy(allow({"StringEquals": {"aws:TagKeys": "owner"}}))],
            "s3:GetObject",
            ARN,
            {"aws:TagKeys": ["a", "b"]},
        )


def test_a_permissions_boundary_is_an_intersection_and_its_deny_wins() -> None:
    identity = [policy(allow(Action="s3:*", Resource="*"))]
    boundary = [policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"})]
    assert allowed(identity, "s3:GetObject", ARN, boundary=boundary)
    assert not allowed(identity, "s3:PutObject", ARN, boundary=boundary), "the identity allows, the boundary not"
    assert not allowed([policy(allow(Action="s3:GetObject", Resource=OTHER))], "s3:GetObject", ARN, boundary=boundary)
    fenced = [
        policy(
            {"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": ARN}
        )
    ]
    assert decision(identity, "s3:GetObject", ARN, boundary=fenced) == "ExplicitDeny"


def github_trust(subject: str | list[str]) -> dict[str, Any]:
    host = "token.actions.githubusercontent.com"
    return policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com", f"{host}:sub": subject}},
        }
    )


def token(subject: str, audience: str = "sts.amazonaws.com") -> dict[str, str]:
    return {"token.actions.githubusercontent.com:sub": subject, "token.actions.githubusercontent.com:aud": audience}


def test_a_trust_admits_its_provider_subject_and_audience_only() -> None:
    trust = github_trust(["repo:o/r:environment:production"])
    federated = {"Federated": PROVIDER}
    assert may_assume(trust, federated, "sts:AssumeRoleWithWebIdentity", token("repo:o/r:environment:production"))
    assert not may_assume(trust, federated, "sts:AssumeRoleWithWebIdentity", token("repo:o/r:pull_request"))
    assert not may_assume(
        trust, federated, "sts:AssumeRoleWithWebIdentity", token("repo:o/r:environment:production", "other")
    ), "the audience is pinned too"
    other = {"Federated": PROVIDER.replace("111122223333", "444455556666")}
    assert not may_assume(trust, other, "sts:AssumeRoleWithWebIdentity", token("repo:o/r:environment:production"))
    assert not may_assume(trust, federated, "sts:AssumeRole", token("repo:o/r:environment:production"))


def test_a_trust_of_named_principals_with_mfa() -> None:
    user = "arn:aws:iam::111122223333:user/alice"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": [user]},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
    assert may_assume(trust, {"AWS": user}, "sts:AssumeRole", {"aws:MultiFactorAuthPresent": "true"})
    assert not may_assume(trust, {"AWS": user}, "sts:AssumeRole", {}), "without MFA"
    assert not may_assume(
        trust, {"AWS": user.replace("alice", "bob")}, "sts:AssumeRole", {"aws:MultiFactorAuthPresent": "true"}
    )
    assert not may_assume(
        trust, {"Service": "s3.amazonaws.com"}, "sts:AssumeRole", {"aws:MultiFactorAuthPresent": "true"}
    )


def test_null_holds_when_the_key_is_absent_for_true_and_present_for_false() -> None:
    absent = policy(allow({"Null": {"s3:if-none-match": "true"}}))
    assert allowed([absent], "s3:GetObject", ARN, {})
    assert not allowed([absent], "s3:GetObject", ARN, {"s3:if-none-match": "*"})
    present = policy(allow({"Null": {"s3:if-none-match": "false"}}))
    assert allowed([present], "s3:GetObject", ARN, {"s3:if-none-match": "*"})
    assert not allowed([present], "s3:GetObject", ARN, {})
