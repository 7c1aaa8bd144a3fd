"""Secrecy rules (named so as not to shadow the standard `secrets` module where the pack runs from its folder):
inputs that hold secrets are secret in state, the stack files hold secrets encrypted, and no credential is an
Actions variable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Final

import pulumi
from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from policy.registry import Rules
from policy.type_tokens import ENV_VAR, ENV_VARS_BULK, ENVIRONMENT_SECRET, REPOSITORY_SECRET, STACK
from policy.urns import stack_of
from policy.values import of_type, props_of
from settings.credentials import credential_shape
from settings.loader import ConfigError
from settings.stack import key as stack_key
from settings.stackfile import StackConfig, StackFileError, read_stack_config

RULES = Rules()


SECRET_INPUTS: Final[Mapping[str, tuple[str, ...]]] = {
    ENV_VAR: ("value",),
    ENVIRONMENT_SECRET: ("value", "plaintextValue", "encryptedValue", "valueEncrypted"),
    REPOSITORY_SECRET: ("value", "plaintextValue", "encryptedValue", "valueEncrypted"),
    "pulumi:providers:vercel": ("apiToken",),
    "pulumi:providers:github": ("token",),
    # The provider does not mark the bulk resource's values secret: the program must (expert checklist).
    ENV_VARS_BULK: ("variables",),
}
"""Inputs that hold secrets, per type; the provider SDKs list them in additional_secret_outputs."""


STACK_CONFIG: ContextVar[StackConfig | None] = ContextVar("STACK_CONFIG", default=None)
"""The stack config a check runs against; unset, the stack file of the stack being previewed is read."""


@RULES.resource("secret-inputs-encrypted", "Inputs that hold secrets are secret in the Pulumi state.")
def secret_inputs_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Inputs that hold secrets are secret in state (listed in additional_secret_outputs)."""
    names = SECRET_INPUTS.get(args.resource_type)
    if not names:
        return
    props = props_of(args)
    marked = set(args.opts.additional_secret_outputs or [])
    for name in names:
        if props.get(name) is not None and name not in marked:
            report(
                f"input {name} holds a secret but would be stored in plaintext in the state; fix: wrap it in "
                f"pulumi.Output.secret(...) and add additional_secret_outputs=[{name!r}] to its options",
                None,
            )


@contextlib.contextmanager
def stack_config(config: StackConfig) -> Iterator[None]:
    """Run the stack-config rule against `config` (the offline plan's) instead of reading the stack file."""
    token = STACK_CONFIG.set(config)
    try:
        yield
    finally:
        STACK_CONFIG.reset(token)


def _config_of(args: StackValidationArgs) -> StackConfig | None:
    """The config the stack rules check: the offline plan's, or the previewed stack's file (None, and the rule not
    applicable, when that cannot be read)."""
    config = STACK_CONFIG.get()
    if config is not None:
        return config
    stacks = {stack_of(resource.urn) for resource in args.resources} - {""}
    try:
        return read_stack_config(next(iter(stacks), None) or pulumi.get_stack())
    except (StackFileError, ConfigError) as error:
        args.not_applicable(str(error))
        return None


@RULES.stack(
    "stack-config-secrets-encrypted",
    "Config values declared secret are stored encrypted in the stack file.",
)
def stack_config_secrets_encrypted(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every config value the settings declare secret is stored encrypted in the stack file."""
    config = _config_of(args)
    if config is None:
        return
    root = next((r.urn for r in of_type(args.resources, STACK)), None)
    for path in config.plaintext_secrets:
        report(
            f"{path} is a secret stored in plaintext in Pulumi.{config.stack}.yaml; fix: pulumi config rm --stack "
            f"{config.stack} --path '{path}', then pulumi config set --stack {config.stack} --secret --path "
            f"'{path}' (and rotate it: it is in the repository's history)",
            root,
        )
    for path in config.not_ciphertext:
        report(
            f"{path} in Pulumi.{config.stack}.yaml is marked secure: but is not Pulumi ciphertext, so it is a value "
            f"committed in the clear; fix: pulumi config set --stack {config.stack} --secret --path '{path}' (it "
            "prompts for the value and writes its ciphertext), and rotate it: it is in the repository's history",
            root,
        )


CI_VARIABLES: Final = stack_key("ci", "variables")


@RULES.stack(
    "ci-variables-not-credentials",
    "No value of vibelog:ci.variables (plaintext Actions variables) looks like a credential.",
)
def ci_variables_not_credentials(args: StackValidationArgs, report: ReportViolation) -> None:
    """Actions variables are plaintext by design: a value shaped like a credential is named (never shown)."""
    config = _config_of(args)
    if config is None:
        return
    section, _, field = CI_VARIABLES.partition(".")
    ci = config.document.get(section)
    variables = ci.get(field) if isinstance(ci, dict) else None
    root = next((r.urn for r in of_type(args.resources, STACK)), None)
    for name, value in (variables or {}).items() if isinstance(variables, dict) else ():
        shape = credential_shape(value) if isinstance(value, str) else None
        if shape is not None:
            report(
                f"{CI_VARIABLES}.{name} in Pulumi.{config.stack}.yaml looks like {shape}, and Actions variables are "
                f"plaintext, readable by anyone who can read the repository; fix: pulumi config rm --stack "
                f"{config.stack} --path '{CI_VARIABLES}.{name}', keep credentials in vibelog:secrets (set with "
                "--secret), and rotate it: it is in the repository's history",
                root,
            )
