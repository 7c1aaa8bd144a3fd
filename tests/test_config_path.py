"""Error paths come from the models' fields: renaming a field renames every message that points at it."""

from __future__ import annotations

from typing import Any

import pytest

from settings.backup import BackupSettings
from settings.base import config_path
from settings.dns import DnsSettings
from settings.stack import StackSettings, key
from tests.helpers.stacks import only_problem


def test_a_path_is_the_chain_of_aliases_of_the_fields_it_names() -> None:
    assert config_path(StackSettings, "ci", "github_plan") == "vibelog:ci.githubPlan"
    assert config_path(StackSettings, "feature_flags", "DEBUG_MODE") == "vibelog:featureFlags.DEBUG_MODE"
    assert key("dns", "delegations", 0, "name") == "vibelog:dns.delegations[0].name"
    assert config_path(BackupSettings, "recovery_objectives", "user_uploads") == "recoveryObjectives.userUploads"


@pytest.mark.parametrize(
    "steps", [("ci", "githubplan"), ("dns", "zone", "name"), ("no_such_section",)], ids=["typo", "leaf", "top"]
)
def test_a_step_that_names_no_field_fails_at_once(steps: tuple[str, ...]) -> None:
    with pytest.raises(KeyError):
        config_path(StackSettings, *steps)


def test_a_sections_own_rule_is_reported_under_the_sections_key() -> None:
    # DnsSettings gives "forceFailover"; the loader puts the section's key in front.
    def edit(config: dict[str, Any]) -> None:
        config["vibelog:dns"]["failover"] = False
        config["vibelog:dns"]["forceFailover"] = True

    problem = only_problem("production", edit)
    assert problem.path == key("dns", "force_failover") == "vibelog:dns.forceFailover", problem
    assert config_path(DnsSettings, "force_failover") == "forceFailover"
