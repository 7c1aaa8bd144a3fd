"""The pack as a whole: it loads the way the engine loads it, offline sees the same rules, real stacks pass it,
enforcement levels are configurable, and a broken stack fails `python -m infra plan` with the rule's message."""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_policy
import pulumiverse_vercel as vercel
import pytest
import yaml
from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

from components.feature_flags import FeatureFlags, FeatureFlagsArgs
from infra.cli import plan as plan_verb
from infra.engine import policies as engine_policies
from infra.engine import runtime as engine
from infra.engine.policies import check_plan, mandatory, policy_props
from infra.engine.runtime import Secret, plan_stack, run_program
from policy import secrecy
from policy.pack import PACK_ENFORCEMENT_LEVEL, PACK_NAME, policy_names
from policy.type_tokens import HOSTED_ZONE, OIDC_PROVIDER, STACK
from policy.unknowns import UNKNOWN
from settings.stackfile import StackConfig, read_stack_config
from settings.stacks import STACKS
from tests.helpers.cli import copy_stacks, diff_in_process, fifo_without_writer, run_verb
from tests.helpers.policy import found, reg, run_rule
from tests.helpers.stacks import ciphertext, stack_config

ROOT = Path(__file__).resolve().parent.parent
PACK_MAIN = ROOT / "policy" / "__main__.py"


class RecordedPack:
    """Stands in for pulumi_policy.PolicyPack, whose constructor would start the analyzer's gRPC server."""

    packs: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        RecordedPack.packs.append(kwargs)


def test_pack_main_builds_the_same_rules_the_offline_plan_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    RecordedPack.packs.clear()
    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordedPack)
    runpy.run_path(str(PACK_MAIN), run_name="__main__")
    (pack,) = RecordedPack.packs
    assert pack["name"] == PACK_NAME
    assert pack["enforcement_level"] == PACK_ENFORCEMENT_LEVEL
    assert [policy.name for policy in pack["policies"]] == policy_names()
    assert len(set(policy_names())) == len(policy_names())


def test_pack_imports_resolve_when_run_from_its_own_directory() -> None:
    # The CLI runs the pack with the pack directory as working directory; nothing puts the project root on the path.
    script = (
        "import runpy, pulumi_policy\n"
        "class P:\n"
        "    def __init__(self, **kw): print(len(kw['policies']), kw['name'])\n"
        "pulumi_policy.PolicyPack = P\n"
        "runpy.run_path('__main__.py', run_name='__main__')\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(  # noqa: S603 - the test's own interpreter and script
        [sys.executable, "-c", script], cwd=ROOT / "policy", env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(policy_names())), PACK_NAME]


def test_pack_files_are_what_the_cli_reads() -> None:
    import yaml  # noqa: PLC0415

    manifest = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["virtualenv"] == "venv"
    assert "-r ../requirements.txt" in (ROOT / "policy" / "requirements.txt").read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_every_real_stack_passes_the_pack(stack: str) -> None:
    violations = check_plan(plan_stack(stack))
    assert mandatory(violations) == [], violations


def test_plan_of_all_stacks_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_verb.main(["--stack", "all"]) == 0
    assert capsys.readouterr().out.count(f"Policies: {PACK_NAME} reports no violation.") == len(STACKS)


def test_plan_json_lists_policy_violations(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_verb.main(["--stack", "production", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["policyViolations"] == []


def _debug_on_program() -> None:
    """The real FeatureFlags component, declared with DEBUG_MODE on for everyone."""
    provider = vercel.Provider("vercel", team="vibelog")
    args = FeatureFlagsArgs(store_name="vibelog-flags", flags={"DEBUG_MODE": 100}, switches={})
    FeatureFlags("flags", args, opts=pulumi.ResourceOptions(providers=[provider]))


def test_registrations_with_debug_mode_on_fail_production() -> None:
    plan = run_program("production", read_stack_config("production"), program=_debug_on_program)
    violations = mandatory(check_plan(plan))
    item = plan.one("vercel:index/edgeConfigItem:EdgeConfigItem", "flags-item-debug-mode")
    assert found(violations) == [("debug-mode-off-in-production", item.urn)]
    assert "DEBUG_MODE is {'rolloutPercent': 100} in the production stack" in violations[0].message


def _edited(stack: str, old: str, new: str) -> str:
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert old in text
    return text.replace(old, new)


def _plan_with_stack_text(monkeypatch: pytest.MonkeyPatch, text: str, *argv: str) -> int:
    monkeypatch.setattr(engine, "read_stack_config", lambda stack: read_stack_config(stack, text=text))
    return plan_verb.main(["--stack", "production", *argv])


def test_stack_file_with_debug_mode_on_fails_the_plan(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The settings loader refuses it before any resource exists; the policy is the second line (test above).
    text = _edited("production", "DEBUG_MODE: false", "DEBUG_MODE: true")
    assert _plan_with_stack_text(monkeypatch, text) == 1
    error = capsys.readouterr().err
    assert "vibelog:featureFlags.DEBUG_MODE: DEBUG_MODE can never be on in production" in error
    assert "pulumi config set --stack production --path vibelog:featureFlags.DEBUG_MODE false" in error


PLAINTEXT_SECRET = f"""  vibelog:secrets:
    openaiApiKey:
      secure: {ciphertext("sk-encrypted-in-the-file")}
    stripeSecretKey: sk_live_plaintext
"""


def _secure_openai_key(value: object) -> list[tuple[str, str]]:
    """The stack-config rule's (policy, message) on production holding `openaiApiKey: {secure: value}`."""
    config = stack_config("production", lambda c: c.update({"vibelog:secrets": {"openaiApiKey": {"secure": value}}}))
    stack = reg(STACK, "vibelog-production", {})
    return [(v.policy, v.message) for v in run_rule("stack-config-secrets-encrypted", [stack], stack_config=config)]


@pytest.mark.parametrize("service", [False, True], ids=["passphrase-or-kms", "pulumi-cloud"])
def test_a_secure_value_that_is_pulumi_ciphertext_passes(service: bool) -> None:
    assert _secure_openai_key(ciphertext("sk-proj-0123456789", service=service)) == []


@pytest.mark.parametrize(
    "value",
    [
        "sk-proj-wrappedbyhand0123456789",  # plaintext wrapped by hand
        "c2stcHJvai13cmFwcGVkYnloYW5k",  # base64 of a plaintext: no service header
        "v1:AAAA:" + "B" * 24,  # a nonce that is not 12 bytes
        "v1:" + "A" * 16 + ":" + "B" * 20,  # a sealed value that is not base64
        "v1:" + "A" * 16 + ":QUJD",  # too short to hold the 16-byte tag
        12345,
    ],
    ids=["plaintext", "base64-plaintext", "nonce", "not-base64", "no-tag", "number"],
)
def test_a_secure_value_that_is_not_ciphertext_is_a_mandatory_violation(value: object) -> None:
    (violation,) = _secure_openai_key(value)
    policy, message = violation
    assert policy == "stack-config-secrets-encrypted"
    assert message.startswith("vibelog:secrets.openaiApiKey in Pulumi.production.yaml is marked secure: but is not")
    assert "pulumi config set --stack production --secret --path 'vibelog:secrets.openaiApiKey'" in message
    assert str(value) not in message, "the value is never shown"


def test_stack_file_with_a_plaintext_secret_fails_the_plan(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "Pulumi.production.yaml").read_text() + PLAINTEXT_SECRET
    assert _plan_with_stack_text(monkeypatch, text) == 1
    out = capsys.readouterr().out
    assert "[mandatory] stack-config-secrets-encrypted" in out
    assert "urn:pulumi:production::vibelog::pulumi:pulumi:Stack::vibelog-production" in out
    assert "vibelog:secrets.stripeSecretKey is a secret stored in plaintext in Pulumi.production.yaml" in out
    assert "pulumi config set --stack production --secret --path 'vibelog:secrets.stripeSecretKey'" in out
    assert "sk_live_plaintext" not in out
    assert "1 mandatory violation(s): the preview fails." in out


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_under_the_engine_the_stack_rules_read_the_file_of_the_stack_the_resources_name(
    monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    # `pulumi preview` runs the pack without the offline plan's config: the rule reads the previewed stack's file,
    # the one its resources' URNs name.
    read: list[str] = []

    def read_with_a_plaintext_secret(name: str) -> StackConfig:
        read.append(name)
        return read_stack_config(name, text=(ROOT / f"Pulumi.{name}.yaml").read_text() + PLAINTEXT_SECRET)

    monkeypatch.setattr(engine_policies, "stack_config", lambda _config: contextlib.nullcontext())
    monkeypatch.setattr(secrecy, "read_stack_config", read_with_a_plaintext_secret)
    root = reg(STACK, f"vibelog-{stack}", {}, stack=stack)

    violations = run_rule("stack-config-secrets-encrypted", [root])

    assert read == [stack], f"the rule read the stack files {read} for resources of {stack}"
    assert found(violations) == [("stack-config-secrets-encrypted", root.urn)], violations
    assert f"stripeSecretKey is a secret stored in plaintext in Pulumi.{stack}.yaml" in violations[0].message


def _ci_variable(value: str) -> list[tuple[str, str]]:
    """The credential rule's (policy, message) on production with one more CI variable, RELEASE_NOTE = value."""

    def edit(config: dict[str, Any]) -> None:
        config["vibelog:ci"]["variables"]["RELEASE_NOTE"] = value

    stack = reg(STACK, "vibelog-production", {})
    config = stack_config("production", edit)
    return [(v.policy, v.message) for v in run_rule("ci-variables-not-credentials", [stack], stack_config=config)]


@pytest.mark.parametrize(
    "value",
    ["120", "true", "us-east-1", "https://status.vibelog.io/api/health", "vibelog/vibelog", "Deploy 2026-01-15: ok"],
)
def test_a_ci_variable_that_is_plainly_not_a_credential_passes(value: str) -> None:
    assert _ci_variable(value) == []


# Shapes only, made up here (an issuer's example key, or text of the right form): none is a live credential.
CREDENTIALS = {
    "an AWS access key id": "AKIAIOSFODNN7EXAMPLE",
    "a GitHub token": "ghp_" + "a1B2c3D4e5" * 4,
    "a GitHub token ": "github_pat_11ABCDEFG0" + "abcdefghij" * 6,
    "an OpenAI or Anthropic API key": "sk-proj-" + "Ab1" * 12,
    "a Slack token": "xoxb-1234567890-0987654321-abcdefABCDEF",
    "a Slack webhook URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
    "a private key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----",
    "a URL with a password": "postgresql://postgres:hunter2@db.example.invalid:5432/postgres",
    "a JSON Web Token": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLWJ5dGVz",
    "a random token": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "a random hex token": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}


@pytest.mark.parametrize(("shape", "value"), CREDENTIALS.items(), ids=list(CREDENTIALS))
def test_a_ci_variable_shaped_like_a_credential_is_a_mandatory_violation(shape: str, value: str) -> None:
    (violation,) = _ci_variable(value)
    policy, message = violation
    assert policy == "ci-variables-not-credentials"
    assert message.startswith(
        f"vibelog:ci.variables.RELEASE_NOTE in Pulumi.production.yaml looks like {shape.strip()},"
    )
    assert "pulumi config rm --stack production --path 'vibelog:ci.variables.RELEASE_NOTE'" in message
    assert value[:12] not in message, "the value is never shown"


def test_plan_json_carries_the_violation(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "Pulumi.production.yaml").read_text() + PLAINTEXT_SECRET
    assert _plan_with_stack_text(monkeypatch, text, "--json") == 1
    (violation,) = json.loads(capsys.readouterr().out)["policyViolations"]
    assert violation["policyName"] == "stack-config-secrets-encrypted"
    assert violation["enforcementLevel"] == "mandatory"
    assert violation["urn"] == "urn:pulumi:production::vibelog::pulumi:pulumi:Stack::vibelog-production"


@pytest.mark.parametrize(("level", "shown"), [("advisory", True), ("disabled", False)])
def test_enforcement_level_comes_from_the_pack_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, level: str, shown: bool
) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"stack-config-secrets-encrypted": level}))
    text = (ROOT / "Pulumi.production.yaml").read_text() + PLAINTEXT_SECRET
    assert _plan_with_stack_text(monkeypatch, text, "--policy-config", str(config)) == 0
    out = capsys.readouterr().out
    assert (f"[{level}] stack-config-secrets-encrypted" in out) is shown


@pytest.mark.parametrize(
    ("setting", "code"),
    [(30, 0), ({"production": 400, "default": 7}, 1)],
    ids=["number", "per-stack"],
)
def test_a_pack_config_setting_reaches_its_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: object, code: int
) -> None:
    # The settings the rules' schemas allow are accepted from the file and change what the rule reports.
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"backup-lifecycle": {"minimumRetentionDays": setting}}))
    assert plan_verb.main(["--stack", "production", "--policy-config", str(config)]) == code, capsys.readouterr().err
    out = capsys.readouterr().out
    assert ("before the 400-day retention" in out) is bool(code), f"minimumRetentionDays={setting}: {out[-2000:]}"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"no-such-rule": "advisory"}', "'no-such-rule' is not a rule of vibelog-guardrails"),
        ('{"env-schema": "sometimes"}', "env-schema: expected an enforcement level (advisory, disabled, mandatory"),
        ('{"env-schema": ["advisory"]}', "env-schema: expected an enforcement level"),
        ('{"env-schema": {"enforcementLevel": ["advisory"]}}', "env-schema: expected an enforcement level"),
        ('{"failover-ttl": {"maximumTTL": 30}}', "failover-ttl: unknown option 'maximumTTL' (options: maximumTtl)"),
        ('{"failover-ttl": {"maximumTtl": "30"}}', "failover-ttl.maximumTtl: expected an integer"),
        ('{"failover-ttl": {"maximumTtl": true}}', "failover-ttl.maximumTtl: expected an integer"),
        (
            '{"backup-lifecycle": {"minimumRetentionDays": {"production": [30]}}}',
            "backup-lifecycle.minimumRetentionDays: expected an integer or an object (each an integer or an object "
            "(each an integer))",
        ),
        ('{"env-schema": ', "is not valid JSON: Expecting value at line 1, column 16"),
        ('["env-schema"]', "must hold a JSON object"),
        ("\udcff", "is not UTF-8 text"),
        ('{"protect-stateful": "disabled", "protect-stateful": "mandatory"}', "'protect-stateful' is given twice"),
        ('{"failover-ttl": {"maximumTtl": 30, "maximumTtl": 300}}', "'maximumTtl' is given twice"),
    ],
    ids=[
        *("rule", "level", "list", "level-list", "option", "option-type", "bool", "nested", "json", "array", "utf8"),
        *("rule-twice", "option-twice"),
    ],
)
def test_bad_pack_config_is_a_usage_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, reason: str
) -> None:
    config = tmp_path / "policy-config.json"
    config.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert plan_verb.main(["--stack", "production", "--policy-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {config}"), err
    assert reason in err
    assert err.count("\n") == 1, f"one line:\n{err}"


def test_a_pack_config_that_is_a_fifo_is_refused_not_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fifo_without_writer(tmp_path / "policy-config.json") as config:
        assert plan_verb.main(["--stack", "production", "--policy-config", str(config)]) == 2
    assert capsys.readouterr().err == f"error: {config} cannot be read (not a regular file: a FIFO, device or socket)\n"


def test_validators_see_what_crossguard_hands_them() -> None:
    # Secrets arrive decrypted (pulumi-policy#241) and an unknown raises when read, as under the engine.
    props = policy_props({"value": Secret("s3cret"), "later": UNKNOWN, "nested": {"x": [Secret(1)]}})
    assert props["value"] == "s3cret"
    assert props["nested"]["x"][0] == 1
    with pytest.raises(pulumi_policy.proxy.UnknownValueError):
        props["later"]


def test_a_rule_that_reads_an_unknown_gets_the_engines_advisory_note() -> None:
    def careless(args: ResourceValidationArgs, report: Any) -> None:
        if args.resource_type == "test:index/thing:Thing" and args.props["later"] == "x":
            report("never", None)

    policy = ResourceValidationPolicy(name="careless", description="reads an unknown", validate=careless)
    registration = reg("test:index/thing:Thing", "thing", {"later": UNKNOWN})
    plan = run_program("production", read_stack_config("production"), program=lambda: None)
    plan.registrations.append(registration)
    (note,) = check_plan(plan, policies=[policy])
    assert note.level == "advisory"
    assert "can't run policy 'careless'" in note.message
    assert "string value at .later can't be known during preview" in note.message


@pytest.mark.parametrize(("type_", "name"), [(HOSTED_ZONE, "zone"), (OIDC_PROVIDER, "github-oidc")])
def test_zone_and_oidc_provider_must_be_protected(type_: str, name: str) -> None:
    bare = reg(type_, name, {})
    assert found(run_rule("protect-stateful", [bare])) == [("protect-stateful", bare.urn)]
    assert run_rule("protect-stateful", [reg(type_, name, {}, protect=True)]) == []


def test_a_credential_shaped_ci_variable_is_never_shown(tmp_path: Path) -> None:
    """Named by the rule, and a secret to Pulumi until moved: no plan, graph, compare or diff shows the value."""
    canary = "AKIACANARY0000000042"
    (tmp_path / "head").mkdir()
    (tmp_path / "base").mkdir()
    head_dir = copy_stacks(tmp_path / "head")
    base_dir = copy_stacks(tmp_path / "base")
    path = head_dir / "Pulumi.staging.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["vibelog:ci"]["variables"]["RELEASE_NOTE"] = canary
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    runs = {
        "plan": run_verb(["plan", "--stack", "staging"], head_dir),
        "plan --json": run_verb(["plan", "--json", "--stack", "staging"], head_dir),
        "graph": run_verb(["graph", "--stack", "staging"], head_dir),
        "compare": run_verb(["compare", "production", "staging"], head_dir),
    }
    with diff_in_process(head_dir, base_dir):
        runs["diff"] = run_verb(["diff", "--base", "HEAD", "--stack", "staging"], head_dir)
        runs["diff --json"] = run_verb(["diff", "--base", "HEAD", "--stack", "staging", "--json"], head_dir)
    # Each verb ran to its end (a verb that stopped before its output would show nothing): plan fails on the rule,
    # diff exits 1 for "changes".
    codes = {"plan": 1, "plan --json": 1, "graph": 0, "compare": 0, "diff": 1, "diff --json": 1}
    assert {verb: run.code for verb, run in runs.items()} == codes, {verb: run.err for verb, run in runs.items()}
    for verb, run in runs.items():
        assert canary not in run.both, f"{verb} shows the credential-shaped CI variable RELEASE_NOTE"
        assert "release-note" in run.both.lower(), f"{verb} does not show the CI variable RELEASE_NOTE at all"
    assert "ci-variables-not-credentials" in runs["plan"].out, "the plan names the variable"
    assert 'variableName: "RELEASE_NOTE"\n        value: [secret]' in runs["diff"].out, "the diff shows it, masked"
