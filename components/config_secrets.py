"""The stack's secrets provider: one multi-region KMS key, its replica in the vault's region, one alias in both.

The stack file's `secretsprovider: awskms://alias/vibelog-<stack>-config?region=<primary>` encrypts every
`secure:` value with it; a multi-region key and its replica share key material and key id (`mrk-...`), so after the
loss of the primary region the same ciphertext decrypts with `?region=<vault region>` (docs/deploying.md). The
configuration backup (`python -m ops config-backup`) encrypts the Vercel project's variables with it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.providers import Providers
from settings.backup import BackupSettings
from settings.secrets_provider import config_key_alias, secrets_provider_url
from settings.stack import StackSettings

# Days KMS waits before it deletes a key whose deletion was scheduled (the longest it allows), as the vault's keys.
DELETION_WINDOW_DAYS = 30


@dataclass(frozen=True)
class ConfigSecretsArgs:
    """Where the stack's configuration key lives and what it is called."""

    project_name: str
    """The stack's project name (`vibelog`, `vibelog-staging`): the keys' descriptions name it."""
    environment: str
    """The stack's name: the alias names it, one key per stack."""
    primary_region: str
    """The stack's region (aws:region): the primary key."""
    replica_region: str
    """The vault's region (vibelog:backup.region): the replica, usable when the primary region is lost."""
    primary_provider: aws.Provider
    """AWS in the primary region."""
    replica_provider: aws.Provider
    """AWS in the vault's region."""

    @classmethod
    def from_settings(cls, settings: StackSettings, backup: BackupSettings, providers: Providers) -> ConfigSecretsArgs:
        """The key of the stack these settings describe, whose vault is in `backup.region`."""
        return cls(
            project_name=settings.app.project_name,
            environment=settings.environment,
            primary_region=settings.primary_region,
            replica_region=backup.region,
            primary_provider=providers.aws(),
            replica_provider=providers.aws(backup.region),
        )

    @property
    def alias_name(self) -> str:
        """The alias in both regions (`alias/vibelog-production-config`; settings/secrets_provider.py)."""
        return config_key_alias(self.environment)


class ConfigSecrets(pulumi.ComponentResource):
    """A multi-region key for the stack's secrets and configuration backups, replicated into the vault's region.

    Protected and retained like the vault's keys: a deleted key makes every `secure:` value of the stack file and
    every configuration backup unreadable. Created by an administrator's `up` (the deploy role may not create,
    delete or re-point a key or an alias: components/deploy_scope.py).
    """

    key_arn: pulumi.Output[str]
    """ARN of the primary key (the configuration backup encrypts with it)."""
    replica_key_arn: pulumi.Output[str]
    """ARN of the replica in the vault's region (the restore decrypts with it when the primary region is lost)."""
    secrets_provider: str
    """The stack's secrets provider URL, through the primary region."""
    replica_secrets_provider: str
    """The same key's secrets provider URL through the vault's region."""

    def __init__(self, name: str, args: ConfigSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:backup:ConfigSecrets", name, None, opts)
        keep = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
        primary = pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(parent=self, provider=args.primary_provider), keep
        )
        replica = pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(parent=self, provider=args.replica_provider), keep
        )
        description = f"Secrets and configuration backups of {args.project_name} {args.environment}"
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{description} ({args.primary_region}, primary)",
            multi_region=True,
            enable_key_rotation=True,
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            opts=primary,
        )
        # ReplicateKey is called in the primary's region (the provider opens a session there) and creates the
        # replica in this provider's region; rotation follows the primary (a replica has no rotation of its own).
        self.replica = aws.kms.ReplicaKey(
            f"{name}-replica",
            primary_key_arn=self.key.arn,
            description=f"{description} ({args.replica_region}, replica)",
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            opts=replica,
        )
        self.alias = aws.kms.Alias(f"{name}-alias", name=args.alias_name, target_key_id=self.key.key_id, opts=primary)
        self.replica_alias = aws.kms.Alias(
            f"{name}-replica-alias", name=args.alias_name, target_key_id=self.replica.key_id, opts=replica
        )
        self.key_arn = self.key.arn
        self.replica_key_arn = self.replica.arn
        self.secrets_provider = secrets_provider_url(args.environment, args.primary_region)
        self.replica_secrets_provider = secrets_provider_url(args.environment, args.replica_region)
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "replica_key_arn": self.replica_key_arn,
                "secrets_provider": self.secrets_provider,
                "replica_secrets_provider": self.replica_secrets_provider,
            }
        )
