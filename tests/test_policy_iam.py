"""iam-least-privilege: no role of a stack holds account-wide rights; each case breaks one thing of the plan."""

from __future__ import annotations

import json

from infra.engine.runtime import Plan
from policy.type_tokens import ROLE_POLICY, ROLE_POLICY_ATTACHMENT
from tests.helpers.policy import found, run_rule, swap, with_inputs

RULE = "iam-least-privilege"


def test_the_production_plan_is_compliant(production: Plan) -> None:
    assert run_rule(RULE, production.registrations) == []


def test_attaching_administrator_access_to_the_deploy_role_is_refused(production: Plan) -> None:
    preview = production.one(ROLE_POLICY_ATTACHMENT, "ci-aws-preview-read-only")
    bad = with_inputs(preview, policyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert found(run_rule(RULE, swap(production.registrations, bad))) == [(RULE, bad.urn)]


def test_an_inline_star_action_is_refused(production: Plan) -> None:
    scope = production.one(ROLE_POLICY, "ci-aws-deploy-scope")
    document = json.loads(scope.inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::vibelog-*"})
    bad = with_inputs(scope, policy=json.dumps(document))
    assert found(run_rule(RULE, swap(production.registrations, bad))) == [(RULE, bad.urn)]


def test_a_service_wildcard_on_every_resource_is_refused(production: Plan) -> None:
    scope = production.one(ROLE_POLICY, "ci-aws-deploy-scope")
    for action in ("s3:*", "s3:Put*"):
        document = json.loads(scope.inputs["policy"])
        document["Statement"].append({"Effect": "Allow", "Action": [action], "Resource": "*"})
        bad = with_inputs(scope, policy=json.dumps(document))
        assert found(run_rule(RULE, swap(production.registrations, bad))) == [(RULE, bad.urn)], action


def test_a_service_wildcard_on_the_stack_s_own_arns_is_allowed(production: Plan) -> None:
    scope = production.one(ROLE_POLICY, "ci-aws-deploy-scope")
    document = json.loads(scope.inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::vibelog-uploads"})
    fine = with_inputs(scope, policy=json.dumps(document))
    assert run_rule(RULE, swap(production.registrations, fine)) == []
