"""What a GitHub Actions environment holds, written once: its variables (delete-first) and its secrets (secret)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_github as github

from settings.github_names import names_problems


def environment_problems(variables: Mapping[str, object], secrets: Mapping[str, object]) -> list[str]:
    """Why an environment's names would be refused: invalid or repeated names, and a name that is both a secret and
    a variable (a workflow's `vars.X` and `secrets.X` would then read different values under one name)."""
    problems = names_problems(secrets) + names_problems(variables)
    shadowed = {name.upper() for name in secrets} & {name.upper() for name in variables}
    return problems + [f"{name!r} is both a secret and a variable" for name in sorted(shadowed)]


def slug(name: str) -> str:
    """A variable or secret name as a resource name's suffix (`AWS_ROLE_ARN` -> `aws-role-arn`)."""
    return name.lower().replace("_", "-")


def environment_variables(
    prefix: str,
    repository: pulumi.Input[str],
    environment: pulumi.Input[str],
    variables: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> list[github.ActionsEnvironmentVariable]:
    """`<prefix>-var-<name>`: one Actions variable of the environment each."""
    return [
        github.ActionsEnvironmentVariable(
            f"{prefix}-var-{slug(variable_name)}",
            repository=repository,
            environment=environment,
            variable_name=variable_name,
            value=value,
            # Delete-first: Create is a POST that GitHub refuses for an existing name, so a replacement must never
            # create first under the old name (policy/lifecycle.py).
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
        )
        for variable_name, value in variables.items()
    ]


def environment_secrets(
    prefix: str,
    repository: pulumi.Input[str],
    environment: pulumi.Input[str],
    secrets: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> list[github.ActionsEnvironmentSecret]:
    """`<prefix>-secret-<name>`: one Actions secret of the environment each, a Pulumi secret end to end."""
    return [
        github.ActionsEnvironmentSecret(
            f"{prefix}-secret-{slug(secret_name)}",
            repository=repository,
            environment=environment,
            secret_name=secret_name,
            value=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for secret_name, value in secrets.items()
    ]
