"""A problem's fix is a command the Pulumi CLI runs as written and that leaves the key valid."""

from __future__ import annotations

from typing import Any

from tests.helpers.stacks import ciphertext, only_problem, problems_of


def test_a_nested_list_of_the_wrong_type_is_fixed_item_by_item() -> None:
    # `pulumi config set --path K '[...]'` stores the text "[...]" (with --path, only true, false and integers are
    # parsed), so the fix sets each item by index, after removing the string in the way.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:backup"]["operators"] = "arn:aws:iam::210987654321:user/alice"

    problem = only_problem("staging", edit)
    assert problem.path == "vibelog:backup.operators", problem
    assert problem.fix == (
        "pulumi config rm --stack staging --path vibelog:backup.operators, then "
        "pulumi config set --stack staging --path 'vibelog:backup.operators[0]' "
        "arn:aws:iam::210987654321:user/alice"
    ), problem
    assert "'[" not in problem.fix, problem


def test_a_nested_object_of_the_wrong_type_is_fixed_key_by_key() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:backup"]["objectLock"] = ["GOVERNANCE", 7]

    problem = only_problem("staging", edit)
    assert problem.path == "vibelog:backup.objectLock", problem
    assert "<value>" not in problem.fix, problem
    assert "pulumi config rm --stack staging --path vibelog:backup.objectLock, then " in problem.fix, problem
    assert "pulumi config set --stack staging --path vibelog:backup.objectLock.days " in problem.fix, problem
    assert "pulumi config set --stack staging --path vibelog:backup.objectLock.mode " in problem.fix, problem


def test_a_list_without_an_example_is_fixed_by_index() -> None:
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:app"]["targets"] = {"production": True}

    problem = only_problem("staging", edit)
    assert problem.path == "vibelog:app.targets", problem
    assert "'vibelog:app.targets[0]'" in problem.fix, problem


def test_an_enum_value_in_the_wrong_case_is_fixed_to_the_member_it_meant() -> None:
    # Suggesting the example (COMPLIANCE, a lock nobody can lift) to a stack that wrote "governance" is a trap.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:backup"]["objectLock"]["mode"] = "governance"

    problem = only_problem("staging", edit)
    assert problem.fix == "pulumi config set --stack staging --path vibelog:backup.objectLock.mode GOVERNANCE", problem


def test_a_lock_mode_that_means_no_member_is_never_fixed_to_the_one_nobody_can_lift() -> None:
    # A fix followed as written must be undoable: GOVERNANCE can be lifted, COMPLIANCE locks every new backup
    # version for its days, root included. Production's pack then asks for COMPLIANCE by its own rule.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:backup"]["objectLock"]["mode"] = "LEGAL_HOLD"

    for stack in ("staging", "production"):
        problem = only_problem(stack, edit)
        assert problem.fix == f"pulumi config set --stack {stack} --path vibelog:backup.objectLock.mode GOVERNANCE", (
            problem
        )


def test_a_misspelt_enum_value_is_fixed_to_the_member_it_meant() -> None:
    problem = only_problem("production", lambda c: c["vibelog:monitoring"].__setitem__("level", "Limted"))
    assert problem.fix == "pulumi config set --stack production --path vibelog:monitoring.level limited", problem


def test_a_cron_typo_is_reported_alongside_a_sibling_settings_error() -> None:
    # The schedules were checked by the backup section's own rule, which pydantic runs only once every field of
    # the section is valid: the typos surfaced one run later, after the other error was fixed.
    def edit(config: dict[str, Any]) -> None:
        backup = config["vibelog:backup"]
        backup["daily"]["retentionDays"] = "seven"
        backup["daily"]["schedule"] = "0 2 * *"
        backup["weekly"]["schedule"] = "0 1 * * 8"
        backup["restoreTestSchedule"] = "0 4 * 1"
        backup["maintenance"] = {**backup.get("maintenance", {}), "schedule": "0 25 * * 0"}

    problems = {p.path: p for p in problems_of("staging", edit)}
    assert sorted(problems) == [
        "vibelog:backup.daily.retentionDays",
        "vibelog:backup.daily.schedule",
        "vibelog:backup.maintenance.schedule",
        "vibelog:backup.restoreTestSchedule",
        "vibelog:backup.weekly.schedule",
    ], problems
    assert "five-field" in problems["vibelog:backup.daily.schedule"].expected, problems
    assert problems["vibelog:backup.daily.schedule"].fix.endswith("'0 2 * * *'"), problems


def test_a_section_given_as_text_is_fixed_key_by_key() -> None:
    problem = only_problem("staging", lambda c: c.__setitem__("vibelog:dns", "staging.vibelog.io"))
    assert problem.path == "vibelog:dns", problem
    assert problem.fix.startswith("pulumi config rm --stack staging vibelog:dns, then "), problem
    assert "pulumi config set --stack staging --path vibelog:dns.zone " in problem.fix, problem
    assert "<value>" not in problem.fix.partition(" vibelog:dns.zone ")[2].split(",")[0], problem


def test_a_missing_section_is_fixed_with_every_key_it_requires_in_its_shape() -> None:
    problem = only_problem("staging", lambda c: c.pop("vibelog:app"))
    assert problem.path == "vibelog:app", problem
    assert "pulumi config set --stack staging --path 'vibelog:app.targets[0]' <value>" in problem.fix, problem
    assert "pulumi config rm" not in problem.fix, problem


def test_a_secret_set_at_the_wrong_path_is_moved_under_the_secrets_object() -> None:
    # `pulumi config set --secret --path vibelog:ci.vercelDeployToken`: encrypted, but where nothing reads it.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:ci"]["vercelDeployToken"] = {"secure": ciphertext("vercel-token-" + "x" * 24)}

    problem = only_problem("staging", edit)
    assert problem.path == "vibelog:ci.vercelDeployToken", problem
    assert "vibelog:secrets.vercelDeployToken" in problem.expected, problem
    assert problem.fix == (
        "pulumi config rm --stack staging --path vibelog:ci.vercelDeployToken, then "
        "pulumi config set --stack staging --secret --path vibelog:secrets.vercelDeployToken"
    ), problem


def test_a_supabase_url_without_an_http_scheme_is_refused() -> None:
    # zod's .url() takes any scheme; supabase-js's createClient (validateSupabaseUrl) throws on all but http(s),
    # so "htps://" would deploy an app that fails on its first request.
    problem = only_problem("staging", lambda c: c["vibelog:supabase"].__setitem__("url", "htps://x.supabase.co"))
    assert problem.path == "vibelog:supabase.url", problem
    assert "https://" in problem.expected, problem
    assert problem.fix.startswith("pulumi config set --stack staging --path vibelog:supabase.url https://"), problem


def test_a_number_where_text_is_expected_is_fixed_with_type_string() -> None:
    # With --path the CLI stores 120 as a number again; --type string stores the text.
    problem = only_problem(
        "staging", lambda c: c["vibelog:ci"]["variables"].__setitem__("SMOKE_TEST_TIMEOUT_SECONDS", 120)
    )
    assert problem.fix == (
        "pulumi config set --stack staging --path --type string vibelog:ci.variables.SMOKE_TEST_TIMEOUT_SECONDS <value>"
    ), problem


def test_a_list_given_as_one_value_at_the_top_level_is_fixed_as_a_list() -> None:
    problem = only_problem("staging", lambda c: c.__setitem__("aws:allowedAccountIds", "210987654321"))
    assert problem.fix == (
        "pulumi config rm --stack staging aws:allowedAccountIds, then "
        "pulumi config set --stack staging --path --type string 'aws:allowedAccountIds[0]' 123456789012"
    ), problem


def test_a_domain_typo_says_what_form_a_domain_takes() -> None:
    problem = only_problem("staging", lambda c: c.__setitem__("vibelog:domain", "https://staging.vibelog.io/"))
    assert problem.path == "vibelog:domain", problem
    assert "without a scheme or path" in problem.expected, problem
    assert problem.fix == "pulumi config set --stack staging vibelog:domain staging.vibelog.io", problem
