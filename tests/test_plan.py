"""The offline plan: every real stack builds, secrets never show, bad input fails cleanly before any resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.cli import plan as plan_cli
from infra.engine.runtime import Plan, run_program
from infra.plans.render import plan_json, plan_text
from settings.loader import ConfigError
from settings.secrets import SecretSettings
from settings.stackfile import read_stack_config
from settings.stacks import STACKS
from tests.helpers.stacks import ciphertext, committed_document, stack_config

PLACEHOLDERS: list[str] = [
    str(extra["placeholder"])
    for field in SecretSettings.model_fields.values()
    if isinstance(extra := field.json_schema_extra, dict) and isinstance(extra.get("placeholder"), str)
]


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_plans_the_app_and_its_flags(all_plans: dict[str, Plan], stack: str) -> None:
    plan = all_plans[stack]
    types = {reg.type for reg in plan.registrations}
    for expected in ("vibelog:vercel:VercelApp", "vibelog:flags:FeatureFlags", "vercel:index/project:Project"):
        assert expected in types, f"the {stack} plan declares no {expected}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_uses_an_explicit_provider(all_plans: dict[str, Plan], stack: str) -> None:
    for reg in all_plans[stack].registrations:
        if reg.custom and not reg.type.startswith("pulumi:providers:"):
            assert reg.provider, f"{reg.urn} uses the ambient default provider"


@pytest.mark.parametrize("stack", STACKS)
def test_no_placeholder_secret_appears_in_any_output(all_plans: dict[str, Plan], stack: str) -> None:
    plan = all_plans[stack]
    rendered = plan_text(plan) + json.dumps(plan_json(plan))
    for placeholder in PLACEHOLDERS:
        assert placeholder not in rendered, f"a placeholder secret leaked into the {stack} plan"
    assert "[secret]" in rendered


def test_the_json_has_the_shape_of_pulumi_preview(production: Plan) -> None:
    document = plan_json(production)
    step = next(s for s in document["steps"] if s["newState"]["type"] == "vercel:index/project:Project")
    assert step["op"] == "create"
    assert set(step["newState"]) >= {
        "type",
        "urn",
        "custom",
        "parent",
        "inputs",
        "dependencies",
        "protect",
        "retainOnDelete",
        "provider",
    }
    assert step["newState"]["protect"] is True
    env = next(s for s in document["steps"] if s["newState"]["inputs"].get("key") == "EDGE_CONFIG")
    assert env["newState"]["inputs"]["projectId"] == pulumi.runtime.rpc.UNKNOWN, "an id unknown in a preview"
    assert document["changeSummary"]["create"] == len(document["steps"])


def test_the_plan_lists_the_secrets_a_stack_lacks() -> None:
    config = read_stack_config("production")
    assert "vibelog:secrets.openaiApiKey" in config.lacking
    text = plan_text(run_program("production", config))
    assert "pulumi config set --stack production --secret --path 'vibelog:secrets.openaiApiKey'\n" in text + "\n"


def test_encrypted_secrets_count_as_present() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:secrets"] = {"openaiApiKey": {"secure": ciphertext("sk-in-the-stack-file")}}

    config = stack_config("production", edit)
    assert "vibelog:secrets.openaiApiKey" in config.encrypted
    assert "vibelog:secrets.openaiApiKey" not in config.lacking
    assert "vibelog:secrets" in config.secret_keys
    assert config.not_ciphertext == ()


@pytest.mark.parametrize("key", ["zz", "abc", "0x00"])
def test_a_malformed_fingerprint_key_is_bad_input_in_one_line(
    key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIBELOG_PLAN_FINGERPRINT_KEY", key)
    assert plan_cli.main(["--json", "--stack", "development"]) == 2, f"VIBELOG_PLAN_FINGERPRINT_KEY={key} was taken"
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: $VIBELOG_PLAN_FINGERPRINT_KEY must be hex digits (`infra diff` sets it)\n")


def test_plan_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_cli.main(["--stack", "nope"]) == 2
    assert "unknown stack 'nope'" in capsys.readouterr().err
    assert plan_cli.main(["--stack", "staging", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == "staging"


class CountingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args.name)
        return "", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []  # the mock monitor iterates the failures: an empty list, not None


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.text(max_size=12), st.lists(st.text(max_size=4)))


@st.composite
def broken_production_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The production stack's config with one to three values replaced by junk, or keys dropped or invented."""
    document: dict[str, Any] = committed_document("production")["config"]
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(document)))
        action = draw(st.sampled_from(["replace", "drop", "nested", "invent"]))
        if action == "replace":
            document[key] = draw(SCALARS)
        elif action == "drop":
            document.pop(key, None)
        elif action == "nested" and isinstance(document.get(key), dict) and document[key]:
            inner = draw(st.sampled_from(sorted(document[key])))
            document[key][inner] = draw(SCALARS)
        else:
            document[f"vibelog:{draw(st.text('abcxyz', min_size=1, max_size=6))}"] = draw(SCALARS)
    return document


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_production_configs())
def test_a_broken_config_fails_cleanly_before_any_resource_is_registered(document: dict[str, Any]) -> None:
    config = read_stack_config("production", text=yaml.dump({"config": document}, Dumper=yaml.CSafeDumper))
    mocks = CountingMocks()
    error: ConfigError | None = None
    try:
        run_program("production", config, mocks=mocks)
    except ConfigError as raised:
        error = raised
    if error is None:
        assert mocks.created, "a config that loads must declare the stack's resources"
        return
    assert mocks.created == [], f"resources registered before the config error: {mocks.created}"
    assert error.problems, "a ConfigError names at least one problem"
    for problem in error.problems:
        assert problem.fix.startswith("pulumi config "), problem
        assert problem.path.startswith(("vibelog:", "vercel:", "github:", "aws:", "(")), problem
