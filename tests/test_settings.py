"""The stack config is validated once, before any resource exists, with one precise message per problem."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from settings import loader
from settings.loader import ConfigError, load_settings
from settings.stacks import STACKS
from tests.helpers.stacks import only_problem, problems_of, settings_of, stack_config


@pytest.mark.parametrize("stack", STACKS)
def test_every_real_stack_file_is_valid(stack: str) -> None:
    settings = settings_of(stack)
    assert settings.environment == stack, f"Pulumi.{stack}.yaml declares environment {settings.environment}"


def test_the_reference_values_per_environment() -> None:
    expected = {
        "development": ("localhost:3000", "local_postgres", "disabled", "http://localhost:3000"),
        "staging": ("staging.vibelog.io", "supabase", "limited", "https://staging.vibelog.io"),
        "production": ("vibelog.io", "supabase", "full", "https://vibelog.io"),
    }
    for stack, (domain, database, monitoring, url) in expected.items():
        s = settings_of(stack)
        assert (s.domain, s.database.provider, s.monitoring.level, s.app_url) == (domain, database, monitoring, url), (
            stack
        )


def test_the_reference_feature_flags_per_environment() -> None:
    on = {"NEW_EDITOR": 100, "BATCH_PROCESSING": 100, "TEAM_FEATURES": 100, "DEBUG_MODE": 100}
    assert settings_of("development").feature_flags.percentages() == on
    assert settings_of("staging").feature_flags.percentages() == {**dict.fromkeys(on, 0), "NEW_EDITOR": 100}
    assert settings_of("production").feature_flags.percentages() == dict.fromkeys(on, 0)


def test_an_unknown_key_is_an_error_with_the_command_that_removes_it() -> None:
    problem = only_problem("staging", lambda c: c.__setitem__("vibelog:monitorng", "full"))
    assert problem.path == "vibelog:monitorng"
    assert problem.fix == "pulumi config rm --stack staging --path vibelog:monitorng"


def test_an_unknown_feature_flag_is_an_error() -> None:
    problem = only_problem("staging", lambda c: c["vibelog:featureFlags"].__setitem__("NEW_EDITR", True))
    assert problem.path == "vibelog:featureFlags.NEW_EDITR"
    assert "not a setting" in problem.expected


def test_a_wrong_enum_names_the_allowed_values_and_the_fix() -> None:
    problem = only_problem("production", lambda c: c["vibelog:monitoring"].__setitem__("level", "verbose"))
    assert problem.path == "vibelog:monitoring.level"
    assert "'disabled', 'limited' or 'full'" in problem.expected
    assert problem.fix == "pulumi config set --stack production --path vibelog:monitoring.level full"


def test_debug_mode_can_never_be_on_in_production() -> None:
    problem = only_problem("production", lambda c: c["vibelog:featureFlags"].__setitem__("DEBUG_MODE", True))
    assert problem.path == "vibelog:featureFlags.DEBUG_MODE"
    assert "never be on in production" in problem.expected
    rollout = only_problem(
        "production", lambda c: c["vibelog:featureFlags"].__setitem__("DEBUG_MODE", {"rolloutPercent": 1})
    )
    assert rollout.path == "vibelog:featureFlags.DEBUG_MODE"


def test_production_env_never_targets_preview_deployments() -> None:
    problem = only_problem("production", lambda c: c["vibelog:app"].__setitem__("targets", ["production", "preview"]))
    assert problem.path == "vibelog:app.targets"
    assert "unreviewed branches" in problem.expected
    settings_of("staging")  # staging's own env on its previews is fine


def test_a_gradual_rollout_is_a_percentage_from_0_to_100() -> None:
    ok = settings_of(
        "production", lambda c: c["vibelog:featureFlags"].__setitem__("NEW_EDITOR", {"rolloutPercent": 10})
    )
    assert ok.feature_flags.percentages()["NEW_EDITOR"] == 10
    problem = only_problem(
        "production", lambda c: c["vibelog:featureFlags"].__setitem__("NEW_EDITOR", {"rolloutPercent": 101})
    )
    assert problem.path == "vibelog:featureFlags.NEW_EDITOR.rolloutPercent"


def test_monitoring_keys_follow_the_level() -> None:
    problem = only_problem("production", lambda c: c["vibelog:monitoring"].pop("posthogKey"))
    assert problem.path == "vibelog:monitoring"
    assert "posthogKey is required when level is full" in problem.expected
    problem = only_problem(
        "development", lambda c: c["vibelog:monitoring"].__setitem__("sentryDsn", "https://k@s.io/1")
    )
    assert "sentryDsn must be unset when level is disabled" in problem.expected


def test_a_hosted_environment_cannot_use_localhost_or_a_local_database() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:domain"] = "localhost:3000"
        config["vibelog:app"].pop("wwwRedirect")
        config["vibelog:database"]["provider"] = "local_postgres"

    paths = {p.path for p in problems_of("production", edit)}
    assert paths == {"vibelog:domain", "vibelog:database.provider"}


def test_every_problem_is_listed_at_once() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:monitoring"]["level"] = "verbose"
        config["vibelog:app"]["targets"] = ["prod"]
        del config["vercel:team"]

    paths = {p.path for p in problems_of("staging", edit)}
    assert paths == {"vibelog:monitoring.level", "vibelog:app.targets[0]", "vercel:team"}


def test_missing_secrets_are_named_with_the_secret_set_command() -> None:
    config = stack_config("production")
    values = dict(config.values)
    del values["vibelog:secrets"]
    with pytest.raises(ConfigError) as raised:
        load_settings("production", values, set())
    missing = {p.path: p for p in raised.value.problems if p.missing_secret}
    assert "vibelog:secrets.openaiApiKey" in missing
    assert missing["vibelog:secrets.openaiApiKey"].fix == (
        "pulumi config set --stack production --secret --path vibelog:secrets.openaiApiKey"
    )
    assert "vibelog:secrets.anthropicApiKey" not in missing, "optional secrets are not required"


def secrets_set(**values: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:secrets"] = {key: {"secure": "v1:ciphertext"} for key in values}

    return edit


def with_secret(stack: str, field: str, value: str) -> tuple[dict[str, str], set[str]]:
    """The stack's config with one secret set to a fixture value (as the CLI would hand it, decrypted)."""
    config = stack_config(stack)
    values = dict(config.values)
    secrets = json.loads(values["vibelog:secrets"])
    secrets[field] = value
    values["vibelog:secrets"] = json.dumps(secrets)
    return values, set(config.secret_keys)


def test_a_secret_the_app_schema_rejects_fails_without_showing_the_value() -> None:
    values, secret_keys = with_secret("production", "openaiApiKey", "pk-live-0123456789")
    with pytest.raises(ConfigError) as raised:
        load_settings("production", values, secret_keys)
    [problem] = raised.value.problems
    assert problem.path == "vibelog:secrets.openaiApiKey"
    assert "OPENAI_API_KEY" in problem.expected
    assert "sk-" in problem.expected
    assert "--secret" in problem.fix
    assert "pk-live" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "why"),
    [("nextauthSecret", "generates NEXTAUTH_SECRET"), ("pagerdutyIntegrationUrl", "integration vibelog:incident")],
)
def test_a_stack_file_still_setting_a_retired_secret_is_told_to_remove_it(name: str, why: str) -> None:
    values, secret_keys = with_secret("production", name, "stale-hand-set-secret-" * 2)
    with pytest.raises(ConfigError) as raised:
        load_settings("production", values, secret_keys)
    [problem] = raised.value.problems
    assert problem.path == f"vibelog:secrets.{name}", problem
    assert why in problem.expected, problem
    assert problem.fix == f"pulumi config rm --stack production --path vibelog:secrets.{name}", problem
    assert "stale-hand-set-secret" not in str(raised.value)


def test_the_generated_nextauth_secret_is_long_enough_for_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    load_settings("staging", *with_secret("staging", "openaiApiKey", "sk-test"))  # the generator's 64 pass
    monkeypatch.setattr(loader, "GENERATED_SECRETS", {"NEXTAUTH_SECRET": 31})
    with pytest.raises(ConfigError) as raised:
        load_settings("staging", *with_secret("staging", "openaiApiKey", "sk-test"))
    [problem] = raised.value.problems
    assert "NEXTAUTH_SECRET must be at least 32 characters" in problem.expected, problem


def test_secrets_stored_in_plaintext_are_refused() -> None:
    values, _ = with_secret("staging", "openaiApiKey", "sk-plaintext-in-the-stack-file")
    with pytest.raises(ConfigError) as raised:
        load_settings("staging", values, set())
    [problem] = raised.value.problems
    assert problem.path == "vibelog:secrets"
    assert "plaintext" in problem.expected
    assert "sk-plaintext" not in str(raised.value)


def test_a_config_error_is_a_run_error_so_pulumi_prints_no_traceback() -> None:
    assert issubclass(ConfigError, pulumi.RunError)
