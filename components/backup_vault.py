"""Database dumps and upload backups in a separate region: encrypted, locked, expired on the reference's schedule.

Over 450 lines on purpose: the buckets, their keys, the replication between them and the three roles' policies
name each other's ARNs, and least privilege is only reviewable when the roles sit beside what they reach; the bucket
hardening and the IAM documents themselves come from components/private_bucket.py and components/aws_iam.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_iam import document, github_trust, oidc_provider_arn, put_metric_data, statement
from components.private_bucket import INSECURE_TRANSPORT, block_public_access, enforce_bucket_owner
from components.providers import Providers
from settings import backup_metrics
from settings.backup import BackupSettings
from settings.github_oidc import oidc_subject
from settings.migrations import BACKUP_SUFFIX
from settings.retention import ARCHIVED_CLASSES
from settings.stack import StackSettings

# Lifecycle transitions skip objects under 128 KB unless told otherwise; tiny objects would cost more in Glacier
# (its per-object minimum size and overhead) than in STANDARD, so the default is kept, and written out.
TRANSITION_MINIMUM_SIZE = "all_storage_classes_128K"
DATABASE_CLASSES = ("daily", "weekly", "yearly")
# The dumps the app repository's migrate workflow takes before a migration: their own prefix, rule and writer.
PRE_MIGRATION = "pre-migration"
# The configuration backups (`python -m ops config-backup`): their own prefix, rule and role, in the database bucket.
CONFIG = "config"
DATABASE_PURPOSE, UPLOAD_BACKUPS_PURPOSE, UPLOADS_PURPOSE = "db-backups", "upload-backups", "uploads"
BACKUP_BUCKET_PURPOSES = (DATABASE_PURPOSE, UPLOAD_BACKUPS_PURPOSE)
ROLE_KEYS = ("writer", "restore-test", "replication", "operator", PRE_MIGRATION, CONFIG)
# Each role's longest session, at least its job's timeout: backup-database.yml (120 minutes), restore-test.yml (240),
# migrate.yml's dump (120), config-backup.yml (15, within configure-aws-credentials' default hour); an operator's
# restore by hand gets the database's 4-hour RTO too.
SESSION_SECONDS = {
    "writer": 7200,
    "restore-test": 14400,
    "replication": 3600,
    "operator": 14400,
    PRE_MIGRATION: 7200,
    CONFIG: 3600,
}
# Every role whose job reports to the stack's dashboard (settings/backup_metrics.py) may do exactly that.
JOB_METRICS_POLICY = document(put_metric_data("PutJobMetrics", backup_metrics.NAMESPACE))


# S3's conditional-write keys (2024): `s3:if-none-match` is absent from a write without If-None-Match, and
# `s3:ObjectCreationOperation` is true for PutObject, CopyObject and CompleteMultipartUpload, false for the parts.
REQUIRE_IF_NONE_MATCH = {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}

# What the uploads bucket replicates into the upload backups (ops/uploads.py OBJECTS_PREFIX and MANIFESTS_PREFIX),
# by replication rule id; the weekly check's scratch prefix (CHECK_PREFIX) stays out.
REPLICATED_PREFIXES = {"uploads-to-backup": "objects/", "manifests-to-backup": "manifests/"}
UPLOADS_CHECK_PREFIX = "restore-check/"

# Tag naming what a bucket of the vault is for: `backup`, or `replication-source` (the live uploads).
BUCKET_ROLE_TAG = "vibelog-role"


@dataclass(frozen=True)
class BackupClass:
    """One class of backups under its own key prefix, with one lifecycle rule."""

    prefix: str
    """Key prefix of the class ("daily/"), or "" for a whole bucket."""
    retention_days: int
    """Days a backup is kept before it expires."""
    transitions: Sequence[tuple[str, int]]
    """(storage class, day) moves, in order."""


@dataclass(frozen=True)
class BackupVaultArgs:
    """Where the backups of one stack live, how long each class is kept, and who may write and read them."""

    bucket_prefix: str
    """Start of every bucket name (the stack's project name); names are global, so account and region follow."""
    account_id: str
    """The AWS account; bucket names, the GitHub OIDC provider ARN and the roles' trust depend on it."""
    primary_region: str
    """Region of the uploads bucket (the app's region)."""
    vault_region: str
    """Region of the backup buckets and their key, apart from the primary."""
    primary_provider: aws.Provider
    """AWS in the primary region."""
    vault_provider: aws.Provider
    """AWS in the vault region."""
    database_classes: Mapping[str, BackupClass]
    """Database dump classes by name (daily, weekly, yearly), all in the database bucket."""
    uploads_class: BackupClass
    """The incremental upload backups, the whole uploads backup bucket."""
    pre_migration_class: BackupClass
    """The dumps taken before a migration (pre-migration/), in the database bucket."""
    config_class: BackupClass
    """The configuration backups (config/), in the database bucket."""
    noncurrent_version_days: int
    """Days an overwritten or expired version is kept before it is removed."""
    abort_incomplete_upload_days: int
    """Days after which an unfinished multipart upload is aborted."""
    lock_mode: str
    """Default Object Lock mode of the backup buckets: GOVERNANCE or COMPLIANCE."""
    lock_days: int
    """Default Object Lock retention, in days."""
    writer_subject: str
    """GitHub OIDC subject of the scheduled backup workflow."""
    reader_subject: str
    """GitHub OIDC subject of the restore-test workflow."""
    stack: str
    """The stack's name: the configuration job may encrypt only with it as the KMS encryption context's `stack`."""
    config_subject: str
    """GitHub OIDC subject of the configuration backup (this infra repository's `<stack>-config-backup`)."""
    operators: tuple[str, ...] = ()
    """IAM users or roles (ARNs) whose people may assume the operator role, with MFA."""
    pre_migration_subject: str | None = None
    """GitHub OIDC subject of the app repository's pre-migration dump job, when the stack takes one."""
    oidc_provider: pulumi.Resource | None = None
    """The account's GitHub OIDC provider when this stack declares it: the roles that trust it wait for it."""
    config_key_arn: pulumi.Input[str] | None = None
    """The stack's configuration key (components/config_secrets.py), primary region: required by the vault, whose
    config role encrypts with it and whose operator decrypts with it."""
    config_replica_key_arn: pulumi.Input[str] | None = None
    """Its replica in the vault's region: the operator decrypts with it when the primary region is lost."""

    @classmethod
    def from_settings(cls, settings: StackSettings, backup: BackupSettings, providers: Providers) -> BackupVaultArgs:
        """The args for the stack these settings describe, whose backup section is `backup`."""

        def backup_class(prefix: str, key: str) -> BackupClass:
            setting = backup.classes()[key]
            moves = tuple((move.storage_class, move.days) for move in setting.transitions)
            return BackupClass(prefix, setting.retention_days, moves)

        return cls(
            bucket_prefix=settings.app.project_name,
            account_id=settings.aws_account_id,
            primary_region=settings.primary_region,
            vault_region=backup.region,
            primary_provider=providers.aws(),
            vault_provider=providers.aws(backup.region),
            database_classes={key: backup_class(f"{key}/", key) for key in DATABASE_CLASSES},
            uploads_class=backup_class("", "uploads"),
            pre_migration_class=BackupClass(f"{PRE_MIGRATION}/", backup.pre_migration_retention_days, ()),
            config_class=backup_class(f"{CONFIG}/", CONFIG),
            noncurrent_version_days=backup.noncurrent_version_days,
            abort_incomplete_upload_days=backup.abort_incomplete_upload_days,
            lock_mode=backup.object_lock.mode,
            lock_days=backup.object_lock.days,
            writer_subject=backup.writer_subject,
            reader_subject=backup.reader_subject,
            stack=settings.environment,
            config_subject=oidc_subject(
                settings.github_repository("infra"), environment=settings.config_backup_environment
            ),
            operators=tuple(backup.operators),
            pre_migration_subject=oidc_subject(
                settings.github_repository("app"), environment=settings.migration_environment(BACKUP_SUFFIX)
            )
            if settings.migrations is not None and settings.migrations.pre_migration_backup
            else None,
        )

    def role_name(self, key: str) -> str:
        """A vault role's name: `writer`, `restore-test`, `replication`, `pre-migration`, ... (see ROLE_KEYS)."""
        return f"{self.bucket_prefix}-backup-{key}"

    def backup_bucket_names(self) -> tuple[str, ...]:
        """The buckets that hold backups (the vault region's): nothing but an administrator changes their rules."""
        return tuple(self.bucket_name(purpose, self.vault_region) for purpose in BACKUP_BUCKET_PURPOSES)

    def bucket_names(self) -> tuple[str, ...]:
        """Every bucket of the vault: the backups, and the primary region's uploads bucket they replicate."""
        return (*self.backup_bucket_names(), self.uploads_bucket_name())

    def uploads_bucket_name(self) -> str:
        """The primary region's uploads bucket: its replication (and the versioning it needs) feeds the upload
        backups, so nothing but an administrator changes those two."""
        return self.bucket_name(UPLOADS_PURPOSE, self.primary_region)

    def bucket_name(self, purpose: str, region: str) -> str:
        """A bucket's global name: the same every run, so its ARN is known before it exists."""
        return f"{self.bucket_prefix}-{purpose}-{self.account_id}-{region}"

    @property
    def oidc_provider_arn(self) -> str:
        """The account's GitHub OIDC provider (declared by the production stack, referenced here)."""
        return oidc_provider_arn(self.account_id)


@dataclass(frozen=True)
class _Bucket:
    """A bucket with what makes it safe to hold backups."""

    bucket: aws.s3.Bucket
    arn: pulumi.Output[str]
    versioning: aws.s3.BucketVersioning
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    public_access: aws.s3.BucketPublicAccessBlock
    ownership: aws.s3.BucketOwnershipControls
    policy: aws.s3.BucketPolicy


class BackupVault(pulumi.ComponentResource):
    """Backups of one stack, in a region apart from the app, that nobody can delete before their time.

    The database bucket holds the dump classes under daily/, weekly/, yearly/; the uploads backup bucket is fed by
    cross-region replication of the uploads bucket (declared here, in the primary region) that the backup workflow
    syncs from Supabase Storage. Both backup buckets have Object Lock and live under one customer KMS key.
    """

    database_bucket: pulumi.Output[str]
    """Name of the database dump bucket."""
    uploads_bucket: pulumi.Output[str]
    """Name of the uploads bucket (primary region) the backup workflow syncs to."""
    uploads_backup_bucket: pulumi.Output[str]
    """Name of the bucket holding the replicated upload backups."""
    writer_role_arn: pulumi.Output[str]
    """Role the scheduled backup workflow assumes to write backups."""
    reader_role_arn: pulumi.Output[str]
    """Role the restore-test workflow assumes to read backups."""
    operator_role_arn: pulumi.Output[str]
    """Role the named operators assume (with MFA) to list, thaw and restore backups by hand."""
    pre_migration_role_arn: pulumi.Output[str] | None
    """Role the app repository's pre-migration dump assumes, when the stack takes one."""
    config_role_arn: pulumi.Output[str]
    """Role the configuration backup workflow assumes to write its documents."""

    def __init__(self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.config_key_arn is None or args.config_replica_key_arn is None:
            raise ValueError(
                "the vault's config role needs the stack's configuration key (components/config_secrets.py)"
            )
        super().__init__("vibelog:backup:BackupVault", name, None, opts)
        self._name = name
        self._args = args
        self._config_keys: list[pulumi.Input[str]] = [args.config_key_arn, args.config_replica_key_arn]
        # What holds backups survives `pulumi destroy` and refuses an accidental replace or delete; so does what keeps
        # them (a side resource's Delete undoes it in AWS: the lock configuration's leaves new backups unlocked, the
        # bucket policy's drops DenyOverwrite, the replication's stops the upload backups). The roles: see _role.
        keep = pulumi.ResourceOptions(protect=True, retain_on_delete=True)
        vault = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self, provider=args.vault_provider), keep)
        primary = pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(parent=self, provider=args.primary_provider), keep
        )

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Backups of {args.bucket_prefix} ({args.vault_region})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=vault,
        )
        self.uploads_key = aws.kms.Key(
            f"{name}-uploads-key",
            description=f"Uploads of {args.bucket_prefix} ({args.primary_region}), replicated to the backups",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=primary,
        )

        self.database = self._bucket("db", args.bucket_name(DATABASE_PURPOSE, args.vault_region), self.key, vault, True)
        self.uploads_backup = self._bucket(
            "uploads-backup", args.bucket_name(UPLOAD_BACKUPS_PURPOSE, args.vault_region), self.key, vault, True
        )
        self.uploads = self._bucket(
            "uploads", args.bucket_name(UPLOADS_PURPOSE, args.primary_region), self.uploads_key, primary, False
        )

        self.database_lock = self._lock("db", self.database, vault)
        self.uploads_backup_lock = self._lock("uploads-backup", self.uploads_backup, vault)
        self.database_lifecycle = self._lifecycle(
            "db",
            self.database,
            [*args.database_classes.items(), (PRE_MIGRATION, args.pre_migration_class), (CONFIG, args.config_class)],
            vault,
            expire_current=True,
        )
        # Replication puts each new version of a live object (a changed upload, a refresh, or a compromised writer
        # rewriting them all) in front of the backed-up one: a superseded upload backup is kept for the class's
        # retention, so a restore `--at` any time within it still finds the version then current.
        self.uploads_backup_lifecycle = self._lifecycle(
            "uploads-backup",
            self.uploads_backup,
            [("uploads", args.uploads_class)],
            vault,
            expire_current=True,
            noncurrent_days=max(args.noncurrent_version_days, args.uploads_class.retention_days),
        )
        # The uploads bucket mirrors Supabase Storage: current objects stay; only superseded versions go.
        self.uploads_lifecycle = self._lifecycle(
            "uploads", self.uploads, [("uploads", BackupClass("", 0, ()))], primary, expire_current=False
        )

        self.replication_role, self.replication_policies = self._replication_role()
        self.replication = aws.s3.BucketReplicationConfig(
            f"{name}-uploads-replication",
            bucket=self.uploads.bucket.bucket,
            role=self.replication_role.arn,
            # The objects and the run manifests only: the weekly check's scratch copies (ops/uploads.py
            # CHECK_PREFIX) are not backups.
            rules=[
                {
                    "id": rule_id,
                    "priority": priority,
                    "status": "Enabled",
                    "filter": {"prefix": prefix},
                    # A deletion in the app must never reach the backups.
                    "delete_marker_replication": {"status": "Disabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": self.uploads_backup.arn,
                        "storage_class": "STANDARD",
                        "encryption_configuration": {"replica_kms_key_id": self.key.arn},
                    },
                }
                for priority, (rule_id, prefix) in enumerate(REPLICATED_PREFIXES.items(), start=1)
            ],
            opts=pulumi.ResourceOptions.merge(
                primary,
                pulumi.ResourceOptions(
                    # S3 refuses a replication configuration unless both sides are versioned.
                    depends_on=[
                        self.uploads.versioning,
                        self.uploads_backup.versioning,
                        *self.replication_policies,
                    ]
                ),
            ),
        )

        self.writer_role, self.writer_policies = self._writer_role()
        self.reader_role, self.reader_policies = self._reader_role()
        self.operator_role, self.operator_policies = self._operator_role()
        self.pre_migration_role: aws.iam.Role | None = None
        self.pre_migration_policies: list[aws.iam.RolePolicy] = []
        if args.pre_migration_subject is not None:
            self.pre_migration_role, self.pre_migration_policies = self._pre_migration_role(args.pre_migration_subject)

        self.config_role, self.config_policies = self._config_role(args.config_key_arn)

        self.database_bucket = self.database.bucket.bucket
        self.uploads_bucket = self.uploads.bucket.bucket
        self.uploads_backup_bucket = self.uploads_backup.bucket.bucket
        self.writer_role_arn = self.writer_role.arn
        self.reader_role_arn = self.reader_role.arn
        self.operator_role_arn = self.operator_role.arn
        self.pre_migration_role_arn = self.pre_migration_role.arn if self.pre_migration_role is not None else None
        self.config_role_arn = self.config_role.arn
        self.register_outputs(
            {
                "database_bucket": self.database_bucket,
                "uploads_bucket": self.uploads_bucket,
                "uploads_backup_bucket": self.uploads_backup_bucket,
                "writer_role_arn": self.writer_role_arn,
                "reader_role_arn": self.reader_role_arn,
                "operator_role_arn": self.operator_role_arn,
                "config_role_arn": self.config_role_arn,
            }
        )

    def _bucket(
        self, key: str, bucket_name: str, kms_key: aws.kms.Key, opts: pulumi.ResourceOptions, locked: bool
    ) -> _Bucket:
        """A versioned, KMS-encrypted, private, TLS-only bucket; Object Lock can only be chosen at creation."""
        name = f"{self._name}-{key}"
        bucket = aws.s3.Bucket(
            name,
            bucket=bucket_name,
            object_lock_enabled=locked,
            force_destroy=False,
            # The policy pack treats every bucket of this component as a backup unless it says it is not one.
            tags={BUCKET_ROLE_TAG: "backup" if locked else "replication-source"},
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True, retain_on_delete=True)),
        )
        arn = pulumi.Output.concat("arn:aws:s3:::", bucket.bucket)
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.bucket, versioning_configuration={"status": "Enabled"}, opts=opts
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.bucket,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": kms_key.arn,
                    },
                    # One data key per bucket instead of one KMS call per object.
                    "bucket_key_enabled": True,
                }
            ],
            opts=opts,
        )
        public_access = block_public_access(name, bucket.bucket, opts)
        ownership = enforce_bucket_owner(name, bucket.bucket, opts)
        statements = [
            statement(
                "Deny",
                ["s3:*"],
                [arn, pulumi.Output.concat(arn, "/*")],
                Sid="DenyInsecureTransport",
                Principal="*",
                Condition=INSECURE_TRANSPORT,
            )
        ]
        if locked:
            # A backup is written once: a PutObject or CompleteMultipartUpload without If-None-Match (which could put
            # a new version in front of a locked one) is refused by S3 itself, whoever holds s3:PutObject. The parts
            # of a multipart upload carry no such header, so only the object-creating requests are held to it.
            statements.append(
                statement(
                    "Deny",
                    ["s3:PutObject"],
                    [pulumi.Output.concat(arn, "/*")],
                    Sid="DenyOverwrite",
                    Principal="*",
                    Condition=REQUIRE_IF_NONE_MATCH,
                )
            )
        policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.bucket,
            policy=pulumi.Output.json_dumps(document(*statements)),
            # S3 rejects a bucket policy while the public access block is being written.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[public_access])),
        )
        return _Bucket(bucket, arn, versioning, encryption, public_access, ownership, policy)

    def _lock(self, key: str, target: _Bucket, opts: pulumi.ResourceOptions) -> aws.s3.BucketObjectLockConfiguration:
        """Every new backup version is locked for the default retention: no delete, no overwrite of that version."""
        return aws.s3.BucketObjectLockConfiguration(
            f"{self._name}-{key}-lock",
            bucket=target.bucket.bucket,
            rule={"default_retention": {"mode": self._args.lock_mode, "days": self._args.lock_days}},
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[target.versioning])),
        )

    def _lifecycle(
        self,
        key: str,
        target: _Bucket,
        classes: Sequence[tuple[str, BackupClass]],
        opts: pulumi.ResourceOptions,
        *,
        expire_current: bool,
        noncurrent_days: int | None = None,
    ) -> aws.s3.BucketLifecycleConfiguration:
        """One rule per class: its moves, its expiry, then removal of the versions the expiry leaves behind (after
        `noncurrent_days`, by default the setting's noncurrent_version_days)."""
        rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = []
        for rule_id, backup in classes:
            rule: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {
                "id": rule_id,
                "status": "Enabled",
                "filter": {"prefix": backup.prefix},
                "transitions": [{"storage_class": cls, "days": day} for cls, day in backup.transitions],
                # In a versioned bucket an expiry only adds a delete marker; the version itself goes later.
                "noncurrent_version_expiration": {
                    "noncurrent_days": self._args.noncurrent_version_days
                    if noncurrent_days is None
                    else noncurrent_days
                },
                "abort_incomplete_multipart_upload": {"days_after_initiation": self._args.abort_incomplete_upload_days},
            }
            if expire_current:
                rule["expiration"] = {"days": backup.retention_days}
            rules.append(rule)
        return aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-{key}-lifecycle",
            bucket=target.bucket.bucket,
            rules=rules,
            transition_default_minimum_object_size=TRANSITION_MINIMUM_SIZE,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[target.versioning])),
        )

    def _role(
        self, key: str, trust: dict[str, Any], policies: Mapping[str, Any], description: str
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """A role and its inline policies; each policy document is its own resource, readable in a preview."""
        name = f"{self._name}-{key}"
        # Protected, so no rename or removal rewrites a role by accident; not retained: a role dropped on purpose (after
        # `pulumi state unprotect`) is deleted, never left behind trusting a workflow nobody reviews any more.
        global_opts = pulumi.ResourceOptions(parent=self, provider=self._args.vault_provider, protect=True)
        federated = any("Federated" in s.get("Principal", {}) for s in trust["Statement"])
        provider = self._args.oidc_provider
        # IAM refuses a trust naming a federated principal that does not exist yet.
        after = [provider] if federated and provider is not None else []
        role = aws.iam.Role(
            name,
            name=self._args.role_name(key),
            description=description,
            assume_role_policy=pulumi.Output.json_dumps(trust),
            max_session_duration=SESSION_SECONDS[key],
            opts=pulumi.ResourceOptions.merge(global_opts, pulumi.ResourceOptions(depends_on=after)),
        )
        attached = [
            aws.iam.RolePolicy(
                f"{name}-{policy_key}",
                role=role.id,
                name=policy_key,
                policy=pulumi.Output.json_dumps(policy),
                opts=global_opts,
            )
            for policy_key, policy in policies.items()
        ]
        return role, attached

    def _github_trust(self, subject: str) -> dict[str, Any]:
        """Only a GitHub Actions job of this repository and environment, with the STS audience, may assume it."""
        return github_trust(self._args.oidc_provider_arn, subject)

    def _via_s3(self, region: str) -> dict[str, Any]:
        """The key is usable only through S3 in its region, never directly."""
        return {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}

    def _writer_role(self) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """Exactly what the dump and upload jobs (ops/dump.py, ops/uploads.py) call; nothing that deletes or unlocks."""
        args = self._args
        objects = [
            pulumi.Output.concat(self.database.arn, "/", backup.prefix, "*")
            for backup in args.database_classes.values()
        ]
        objects.append(pulumi.Output.concat(self.uploads.arn, "/*"))
        # S3 SSE-KMS asks KMS for a data key on every write (GenerateDataKey) and decrypts it again to assemble a
        # multipart upload (Decrypt); it never calls kms:Encrypt for an object, so the writer does not get it.
        write_with_key = ["kms:GenerateDataKey", "kms:Decrypt"]
        return self._role(
            "writer",
            self._github_trust(args.writer_subject),
            {
                "put-backups": document(
                    # AbortMultipartUpload: a failed dump removes its own parts instead of leaving them for days.
                    statement("Allow", ["s3:PutObject", "s3:AbortMultipartUpload"], objects, Sid="PutBackups"),
                    # The dump job checks that its key is new before it uploads (ops/vault.py require_new): real S3
                    # refuses a second writer of the same key only once its whole upload is done.
                    statement(
                        "Allow",
                        ["s3:ListBucket"],
                        [self.database.arn],
                        Sid="CheckNewDumpKeys",
                        Condition={
                            "StringLike": {"s3:prefix": [b.prefix + "*" for b in args.database_classes.values()]}
                        },
                    ),
                    # The upload job compares Supabase Storage with its mirror under objects/ to copy only what is
                    # new or changed; it lists nothing else and reads no object.
                    statement(
                        "Allow",
                        ["s3:ListBucket"],
                        [self.uploads.arn],
                        Sid="ListUploadsMirror",
                        Condition={"StringLike": {"s3:prefix": ["objects/*"]}},
                    ),
                ),
                "encrypt-backups": document(
                    statement(
                        "Allow",
                        write_with_key,
                        [self.key.arn],
                        Sid="EncryptBackups",
                        Condition=self._via_s3(args.vault_region),
                    ),
                    statement(
                        "Allow",
                        write_with_key,
                        [self.uploads_key.arn],
                        Sid="EncryptUploads",
                        Condition=self._via_s3(args.primary_region),
                    ),
                ),
                # The dump job reports each dump it wrote (ops/metrics.py) for the stack's dashboard.
                "put-job-metrics": JOB_METRICS_POLICY,
            },
            "Scheduled backup jobs: write new backups, cannot delete or unlock any.",
        )

    def _pre_migration_role(self, subject: str) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """What `python -m ops dump --to pre-migration` calls from the app repository: new dumps under one prefix.

        A role of its own rather than the writer's: the app repository's environment is trusted here, and a job
        there must not be able to write the scheduled classes the restore test and the runbooks pick from.
        """
        args = self._args
        objects = [pulumi.Output.concat(self.database.arn, "/", args.pre_migration_class.prefix, "*")]
        return self._role(
            PRE_MIGRATION,
            self._github_trust(subject),
            {
                "put-pre-migration-dumps": document(
                    statement(
                        "Allow", ["s3:PutObject", "s3:AbortMultipartUpload"], objects, Sid="PutPreMigrationDumps"
                    ),
                    # As the writer: the dump job checks that its key is new before it uploads.
                    statement(
                        "Allow",
                        ["s3:ListBucket"],
                        [self.database.arn],
                        Sid="CheckNewDumpKeys",
                        Condition={"StringLike": {"s3:prefix": [args.pre_migration_class.prefix + "*"]}},
                    ),
                ),
                "encrypt-backups": document(
                    # As the writer: a data key per write, and Decrypt to assemble a multipart upload.
                    statement(
                        "Allow",
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        [self.key.arn],
                        Sid="EncryptBackups",
                        Condition=self._via_s3(args.vault_region),
                    ),
                ),
                # The dump job reports every dump it writes (settings/backup_metrics.py), this one included.
                "put-job-metrics": JOB_METRICS_POLICY,
            },
            "Pre-migration dumps from the app repository's migrate workflow: write new ones, delete nothing.",
        )

    def _reader_role(self) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """What the restore test and `uploads-check` call (ops/restore.py, ops/vault.py, ops/uploads.py): the newest
        daily dump and the upload backups, read by version; it writes nothing but the uploads check's scratch prefix."""
        daily = pulumi.Output.concat(self.database.arn, "/", self._args.database_classes["daily"].prefix, "*")
        buckets = [self.database.arn, self.uploads_backup.arn]
        reads = [
            # Versions: every read names the version its manifest names, never what stands in front of it
            # (ops/vault.py), so it lists versions and reads them (s3:GetObjectVersion), nothing unversioned.
            statement("Allow", ["s3:ListBucketVersions"], buckets, Sid="ListBackups"),
            statement(
                "Allow",
                ["s3:GetObjectVersion"],
                [daily, pulumi.Output.concat(self.uploads_backup.arn, "/*")],
                Sid="ReadBackups",
            ),
        ]
        if any(move in ARCHIVED_CLASSES for move, _ in self._args.database_classes["daily"].transitions):
            # An archived daily dump is readable only after a RestoreObject (a temporary copy; the archived version
            # is untouched), which the restore test's download starts.
            reads.append(statement("Allow", ["s3:RestoreObject"], [daily], Sid="RestoreArchivedDumps"))
        return self._role(
            "restore-test",
            self._github_trust(self._args.reader_subject),
            {
                "read-backups": document(*reads),
                "decrypt-backups": document(
                    statement(
                        "Allow",
                        ["kms:Decrypt"],
                        [self.key.arn],
                        Sid="DecryptBackups",
                        Condition=self._via_s3(self._args.vault_region),
                    )
                ),
                # The restore test reports its verdict, the dump's age and the restore time (ops/metrics.py).
                "put-job-metrics": JOB_METRICS_POLICY,
                # ops/uploads.py check(): the weekly check restores a sample into the uploads bucket's scratch
                # prefix and reads it back; each week's sample overwrites the last (no delete), and it is not
                # replicated. Nothing else of the live bucket is reachable.
                "check-uploads-restore": document(
                    statement(
                        "Allow",
                        ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
                        [pulumi.Output.concat(self.uploads.arn, "/", UPLOADS_CHECK_PREFIX, "*")],
                        Sid="RestoreSampleUploads",
                    ),
                ),
                "encrypt-uploads-check": document(
                    statement(
                        "Allow",
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        [self.uploads_key.arn],
                        Sid="EncryptSampleUploads",
                        Condition=self._via_s3(self._args.primary_region),
                    ),
                ),
            },
            "Weekly restore test: reads backups, cannot change or delete any.",
        )

    def _operator_role(self) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """The manual path (docs/backups.md): `python -m ops list`, `thaw`, `restore` and `restore-test`, by a named
        person with MFA.

        A person, not a workflow: a restore by hand goes into a database of the operator's choosing (its URL is theirs,
        not an environment's), and thawing a yearly copy takes up to 12 hours, longer than any job. Reads and thaws
        only; nothing that writes, deletes or unlocks a backup.
        """
        args = self._args
        objects = pulumi.Output.concat(self.database.arn, "/*")
        archived = [
            pulumi.Output.concat(self.database.arn, "/", backup.prefix, "*")
            for backup in args.database_classes.values()
            if any(move in ARCHIVED_CLASSES for move, _ in backup.transitions)
        ]
        reads = [
            # Versions, as the restore test: every read names the version its manifest names.
            statement("Allow", ["s3:ListBucketVersions"], [self.database.arn], Sid="ListDumps"),
            # `list` shows the upload backups' manifests too.
            statement(
                "Allow",
                ["s3:ListBucket"],
                [self.uploads_backup.arn],
                Sid="ListUploadManifests",
                Condition={"StringLike": {"s3:prefix": ["manifests/*"]}},
            ),
            statement("Allow", ["s3:GetObjectVersion"], [objects], Sid="ReadDumps"),
        ]
        if archived:
            reads.append(statement("Allow", ["s3:RestoreObject"], archived, Sid="ThawArchivedDumps"))
        # `config-restore` lists config/ and reads its documents by version through ListDumps and ReadDumps (the
        # whole database bucket); what it adds is the configuration key, to check that each value decrypts.
        trust = document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": list(args.operators)},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        )
        return self._role(
            "operator",
            trust,
            {
                "read-backups": document(*reads),
                "decrypt-backups": document(
                    statement(
                        "Allow",
                        ["kms:Decrypt"],
                        [self.key.arn],
                        Sid="DecryptDumps",
                        Condition=self._via_s3(args.vault_region),
                    )
                ),
                # A restore test run by hand is a restore test: its verdict reaches the dashboard as the weekly one's.
                "put-job-metrics": JOB_METRICS_POLICY,
                # In either region (the replica's after the loss of the primary's), and only what the configuration
                # backup encrypted for this stack: not the stack file's own secrets, which carry no such context.
                "decrypt-config-backups": document(
                    statement(
                        "Allow",
                        ["kms:Decrypt"],
                        self._config_keys,
                        Sid="DecryptConfigValues",
                        Condition=self._config_context(),
                    )
                ),
            },
            "Operators by hand (named, with MFA): list, thaw and restore backups; cannot change or delete any.",
        )

    def _config_context(self) -> dict[str, Any]:
        """The configuration key is used only for this stack's values (ops/config: context {"stack": S, ...})."""
        return {"StringEquals": {"kms:EncryptionContext:stack": self._args.stack}}

    def _config_role(self, config_key_arn: pulumi.Input[str]) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """What `python -m ops config-backup` calls: a check that its key is new, one new document under config/, and
        the configuration key's Encrypt of each Vercel value; it reads, deletes and decrypts nothing.

        A role of its own, trusted by its own environment: the job holds the Vercel token, and the dump's writer
        must not be reachable from it (nor it from the dump's environment, which holds the database's URL).
        """
        args = self._args
        prefix = args.config_class.prefix
        return self._role(
            CONFIG,
            self._github_trust(args.config_subject),
            {
                "put-config-backups": document(
                    # One small document per run; AbortMultipartUpload as every writer of the vault, so a failed
                    # upload removes its own parts (the bucket policy still refuses a write without If-None-Match).
                    statement(
                        "Allow",
                        ["s3:PutObject", "s3:AbortMultipartUpload"],
                        [pulumi.Output.concat(self.database.arn, "/", prefix, "*")],
                        Sid="PutConfigBackups",
                    ),
                    # The job checks that its key is new before it writes (ListObjectsV2 under config/<stack>/).
                    statement(
                        "Allow",
                        ["s3:ListBucket"],
                        [self.database.arn],
                        Sid="CheckNewConfigKeys",
                        Condition={"StringLike": {"s3:prefix": [prefix + "*"]}},
                    ),
                ),
                "encrypt-config-backups": document(
                    # SSE-KMS of the document with the vault's key, through S3 only.
                    statement(
                        "Allow",
                        ["kms:GenerateDataKey", "kms:Decrypt"],
                        [self.key.arn],
                        Sid="EncryptConfigBackups",
                        Condition=self._via_s3(args.vault_region),
                    ),
                    # Each Vercel value, encrypted by the job itself with the stack's configuration key (primary
                    # region), always with the stack in its encryption context; Decrypt stays the operator's.
                    statement(
                        "Allow",
                        ["kms:Encrypt"],
                        [config_key_arn],
                        Sid="EncryptConfigValues",
                        Condition=self._config_context(),
                    ),
                ),
            },
            "Configuration backups: write new documents under config/ and encrypt values; cannot read or delete any.",
        )

    def _replication_role(self) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """What S3 replication needs from the uploads bucket to the backup bucket, and no delete replication."""
        args = self._args
        source, target = self.uploads.arn, self.uploads_backup.arn
        return self._role(
            "replication",
            document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Only S3 acting for this account (the confused-deputy guard).
                    "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                }
            ),
            {
                "replicate-buckets": document(
                    statement(
                        "Allow",
                        ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                        [source],
                        Sid="ReadReplicationConfiguration",
                    ),
                    statement(
                        "Allow",
                        [
                            "s3:GetObjectVersionForReplication",
                            "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging",
                        ],
                        [pulumi.Output.concat(source, "/*")],
                        Sid="ReadSourceVersions",
                    ),
                    statement(
                        "Allow",
                        ["s3:ReplicateObject", "s3:ReplicateTags"],
                        [pulumi.Output.concat(target, "/*")],
                        Sid="WriteReplicas",
                    ),
                ),
                "replicate-keys": document(
                    statement(
                        "Allow",
                        ["kms:Decrypt"],
                        [self.uploads_key.arn],
                        Sid="DecryptSource",
                        Condition=self._via_s3(args.primary_region),
                    ),
                    statement(
                        "Allow",
                        ["kms:Encrypt", "kms:GenerateDataKey"],
                        [self.key.arn],
                        Sid="EncryptReplicas",
                        Condition=self._via_s3(args.vault_region),
                    ),
                ),
            },
            "S3 replication of the uploads bucket into the upload backups.",
        )
