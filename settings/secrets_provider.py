"""The stacks' secrets provider: one multi-region KMS key per stack with a backup vault, the same alias in the
stack's region and in the vault's (docs/deploying.md, "The stack's secrets provider").

The reference keeps secrets in a "vault with multiple regions": a stack file whose `secretsprovider` is this key
decrypts without the Pulumi backend, and, pointed at the vault's region, without the stack's region.
"""

from __future__ import annotations

# Named by the stack, not the app's project name: the preview role reads every stack's with one pattern.
ALIAS_PREFIX = "alias/vibelog-"
ALIAS_SUFFIX = "-config"
ALIAS_PATTERN = f"{ALIAS_PREFIX}*{ALIAS_SUFFIX}"
"""Every stack's config key alias, as an IAM condition pattern (`kms:ResourceAliases`)."""


def config_key_alias(environment: str) -> str:
    """The alias of the stack's config key, the same in both regions (`alias/vibelog-production-config`)."""
    return f"{ALIAS_PREFIX}{environment}{ALIAS_SUFFIX}"


def secrets_provider_url(environment: str, region: str) -> str:
    """The stack file's `secretsprovider` for the key's copy in `region` (`pulumi stack change-secrets-provider`)."""
    return f"awskms://{config_key_alias(environment)}?region={region}"
