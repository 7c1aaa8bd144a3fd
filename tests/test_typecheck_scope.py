"""The type check skips only pulumi_aws services the program does not use."""

from __future__ import annotations

import re
import tomllib

from infra.engine.runtime import Plan
from settings.stacks import PROJECT_DIR

PROGRAM_SOURCES = [PROJECT_DIR / "__main__.py", *sorted((PROJECT_DIR / "components").glob("*.py"))]


def followed_services() -> set[str]:
    """The pulumi_aws services the mypy config checks in full."""
    config = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    followed = set()
    for override in config["tool"]["mypy"].get("overrides", []):
        if override.get("follow_imports") == "normal":
            for module in override["module"]:
                parts = module.split(".")
                if parts[0] == "pulumi_aws" and len(parts) > 1 and not parts[1].startswith("_"):
                    followed.add(parts[1])
    return followed


def test_every_aws_service_the_program_names_is_type_checked() -> None:
    named = {
        service
        for path in PROGRAM_SOURCES
        for service in re.findall(r"\baws\.([a-z0-9_]+)\.", path.read_text(encoding="utf-8"))
    }
    assert named, "no aws.<service> found in the program: the scan is broken"
    missing = named - followed_services()
    assert not missing, f"pyproject.toml skips {sorted(missing)} for mypy; add them to the followed list"


def test_every_aws_service_the_plans_register_is_type_checked(all_plans: dict[str, Plan]) -> None:
    registered = {
        reg.type.split(":")[1].split("/")[0]
        for plan in all_plans.values()
        for reg in plan.registrations
        if reg.type.startswith("aws:")
    }
    missing = registered - followed_services() - {"index"}
    assert not missing, f"the plans register aws services {sorted(missing)} that mypy skips; add them to pyproject"
