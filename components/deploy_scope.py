"""The deploy role's rights, scoped to one stack: every bucket, role, zone, topic and alarm it may manage, by name.

Over 450 lines on purpose: it is one policy, the whole of what a stack's pipeline may do in AWS, and a reviewer
reads it in one place; each capability (backups, failover, incident) has a statement method of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.aws_iam import allow, oidc_provider_arn
from components.backup_vault import ROLE_KEYS, BackupVaultArgs
from components.dns_failover import (
    GLOBAL_REGION,
    DnsFailoverArgs,
    alarm_name,
    failover_alarm_name,
    oncall_topic_name,
)
from components.incident_response import vercel_oidc_issuer
from components.monitoring_dashboard import dashboard_name
from components.scaling_signals import scaling_alarm_name
from settings.secrets_provider import ALIAS_PATTERN, config_key_alias
from settings.stack import StackSettings

READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
PREVIEW_ROLE_NAME = "vibelog-infra-preview"

# The IAM actions a deploy role never performs on itself: widening its own rights takes an administrator's `up`.
SELF_WRITE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)


# Bucket settings the program never declares that would send what a bucket holds elsewhere (an inventory or analytics
# export, event notifications, access logs: every key name, to any account) or slow a restore (an Intelligent-Tiering
# archive tier needs a restore before a read; requester pays fails every job that does not say it pays). The deploy
# role's `s3:Put*` on the vault's buckets would grant them: on the backups and the live uploads, only an administrator.
BUCKET_EXPORT_ACTIONS = (
    "s3:PutInventoryConfiguration",
    "s3:PutAnalyticsConfiguration",
    "s3:PutBucketNotification",
    "s3:PutBucketLogging",
    "s3:PutIntelligentTieringConfiguration",
    "s3:PutBucketRequestPayment",
)


# What only an administrator may do to the backup buckets, their objects and the roles that read or write backups.
BACKUP_ADMIN_ACTIONS = (
    *BUCKET_EXPORT_ACTIONS,
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutReplicationConfiguration",
    "s3:DeleteReplicationConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    *SELF_WRITE_ACTIONS,
)


# What only an administrator may do to the live bucket the upload backups replicate from: DeleteBucketReplication is
# s3:PutReplicationConfiguration too, and S3 replicates nothing from a bucket whose versioning is suspended; its
# policy could grant object writes in the same account (each replicated in front of a backed-up version), and its
# lifecycle could expire the whole mirror.
REPLICATION_SOURCE_ADMIN_ACTIONS = (
    *BUCKET_EXPORT_ACTIONS,
    "s3:PutReplicationConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteBucket",
)


# IAM actions that write (create, change, attach, pass, delete), by verb: none is a bounded role's.
IAM_WRITE_ACTIONS = tuple(
    f"iam:{verb}*"
    for verb in ("Add", "Attach", "Change", "Create", "Deactivate", "Delete", "Detach", "Enable", "Pass", "Put",
                 "Remove", "Reset", "Resync", "Set", "Tag", "Untag", "Update", "Upload")
)  # fmt: skip
# Using a KMS key on data (S3's SSE-KMS calls these in the caller's name).
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant")
# What decides who may use a key, or whether it exists: its policy, grants, state, and its aliases (Decrypt of the
# stacks' config keys follows the alias: kms:ResourceAliases). An administrator's alone.
KEY_ADMIN_ACTIONS = (
    "kms:CreateKey",
    "kms:PutKeyPolicy",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:DisableKeyRotation",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ImportKeyMaterial",
    "kms:DeleteImportedKeyMaterial",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
)


# What managing an SNS topic (with its subscriptions) and a CloudWatch alarm takes: the failover's and the incidents'.
TOPIC_ACTIONS = (
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:TagResource",
    "sns:UntagResource",
    "sns:ListTagsForResource",
)
ALARM_ACTIONS = (
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "cloudwatch:ListTagsForResource",
)


@dataclass(frozen=True)
class DeployScope:
    """What one stack's deploy role may manage: the services and names its own components declare, nothing else.

    Built from the same args the components are built from, so a renamed bucket or a new failover moves the scope
    with it. Names that AWS assigns (a zone's id) come in as outputs of the stack's own resources.
    """

    account_id: str
    """The stack's AWS account."""
    environment: str
    """The stack's environment: its deploy role's name and the `environment` tag its provider puts on everything."""
    bucket_patterns: Sequence[str]
    """Names (with `*`) of the buckets the stack declares."""
    object_buckets: Sequence[str]
    """Buckets whose objects the program itself writes (the degraded-mode page); no other object is touched."""
    role_patterns: Sequence[str]
    """Names (with `*`) of the IAM roles the stack declares."""
    passable_roles: Sequence[str]
    """Role names (with `*`) the stack hands to S3 (replication)."""
    attachable_policy_arns: Sequence[str]
    """Managed policies the stack attaches to its roles."""
    zone_arn: pulumi.Input[str] | None
    """ARN of the stack's own hosted zone (its id is assigned by AWS), if it has one."""
    topic_names: Sequence[str]
    """SNS topics (us-east-1) of the failover."""
    alarm_names: Sequence[str]
    """CloudWatch alarms (us-east-1) of the failover."""
    failover: bool
    """Whether the stack declares health checks, a certificate and a CloudFront distribution."""
    incident_prefix: str | None
    """Prefix of the incident topics, rollback alarms, dispatch role and EventBridge bridge, if the stack has them."""
    vercel_oidc_issuer: str
    """The Vercel OIDC issuer (host/path) the app's metrics role trusts, if the stack has incident alarms."""
    owns_vercel_oidc: bool
    """Whether the stack owns (creates and updates) the account's provider for that issuer; else it only reads it."""
    keys: bool
    """Whether the stack declares KMS keys (tagged with its environment by its provider)."""
    owns_provider: bool
    """Whether the stack owns (and so may update) the account's GitHub OIDC provider."""
    backup_buckets: Sequence[str] = ()
    """The buckets that hold backups: their retention, lock, policy and objects are an administrator's alone."""
    replication_sources: Sequence[str] = ()
    """The live buckets the upload backups replicate from: their replication and versioning are an administrator's."""
    backup_roles: Sequence[str] = ()
    """The roles that read or write backups (the vault's, the runbooks'): whoever could rewrite one could reach the
    backups through it, so only an administrator changes them."""
    bounded_roles: Sequence[str] = ()
    """Names (with `*`) of the other roles the stack declares: the deploy role creates and changes them only with the
    permissions boundary (`deploy_boundary_arn`) attached, which it cannot alter."""
    dashboard: str | None = None
    """The stack's CloudWatch dashboard, if it is monitored."""
    config_key_alias: str | None = None
    """The alias of the stack's config key (its secrets provider), if it has one: `up` decrypts the stack's config."""

    @classmethod
    def of(
        cls,
        settings: StackSettings,
        dns: DnsFailoverArgs | None,
        backup: BackupVaultArgs | None,
        zone_arn: pulumi.Input[str] | None,
    ) -> DeployScope:
        """The scope of the stack these settings, and its components' args, describe."""
        account, environment = settings.aws_account_id, settings.environment
        buckets: list[str] = []
        passable: list[str] = []
        backup_buckets: tuple[str, ...] = ()
        replication_sources: tuple[str, ...] = ()
        if backup is not None:
            # Exact names, never a prefix with `*`: production's prefix (`vibelog-`) would also match staging's.
            buckets += backup.bucket_names()
            backup_buckets = backup.backup_bucket_names()
            replication_sources = (backup.uploads_bucket_name(),)
            passable.append(backup.role_name("replication"))
        backup_roles = protected_role_names(settings, backup)
        bounded = bounded_role_names(settings)
        roles = [deploy_role_name(environment), *backup_roles, *bounded]
        failover = dns.failover if dns is not None else None
        if failover is not None:
            buckets.append(failover.bucket_name)
        owns = settings.ci is not None and settings.ci.owns_oidc_provider
        return cls(
            account_id=account,
            environment=environment,
            bucket_patterns=tuple(dict.fromkeys(buckets)),
            object_buckets=(failover.bucket_name,) if failover is not None else (),
            role_patterns=tuple(roles),
            passable_roles=tuple(passable),
            attachable_policy_arns=(READ_ONLY_POLICY_ARN,) if owns else (),
            zone_arn=zone_arn,
            # Also with no on-call topic (a stack with vibelog:incident): the `up` that stops declaring one deletes
            # it, after this role's policy has been updated.
            topic_names=(oncall_topic_name(dns.zone_name),) if dns is not None and failover is not None else (),
            alarm_names=(
                alarm_name(failover.health_check.fqdn),
                *(failover_alarm_name(failover.health_check.fqdn, t) for t in ("error-rate", "p95")),
            )
            if failover is not None
            else (),
            failover=failover is not None,
            incident_prefix=settings.app.project_name if settings.incident is not None else None,
            vercel_oidc_issuer=vercel_oidc_issuer(settings.vercel_team) if settings.incident is not None else "",
            owns_vercel_oidc=settings.incident is not None and settings.incident.owns_vercel_oidc_provider,
            keys=backup is not None,
            owns_provider=owns,
            backup_buckets=backup_buckets,
            replication_sources=replication_sources,
            backup_roles=backup_roles,
            bounded_roles=bounded,
            dashboard=dashboard_name(settings.app.project_name) if settings.monitored else None,
            config_key_alias=config_key_alias(environment) if backup is not None else None,
        )

    def static_policy(self) -> dict[str, Any]:
        """Every right whose resources are known from names alone (readable in a preview)."""
        acct = self.account_id
        s3_buckets = [f"arn:aws:s3:::{name}" for name in self.bucket_patterns]
        roles = [f"arn:aws:iam::{acct}:role/{name}" for name in self.role_patterns]
        statements = [
            # Bucket-level actions only: `s3:Get*`/`s3:Put*` on a bucket ARN never reach its objects (those need
            # the object ARN), so the deploy role configures backup buckets but cannot read or delete a backup.
            allow(
                "ManageOwnBuckets",
                ["s3:CreateBucket", "s3:ListBucket", "s3:Get*", "s3:Put*", "s3:DeleteBucket*"],
                s3_buckets,
            ),
            # Reading every role it declares (a refresh); writing only the bounded ones (below).
            allow(
                "ReadOwnRoles",
                [
                    "iam:GetRole",
                    "iam:ListRoleTags",
                    "iam:GetRolePolicy",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole",
                ],
                roles,
            ),
            # Route 53 reports every change through GetChange; change ids are not tied to a zone.
            allow("WaitForDnsChanges", ["route53:GetChange"], ["arn:aws:route53:::change/*"]),
        ]
        if self.object_buckets:
            statements.append(
                allow(
                    "WriteDegradedPage",
                    ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"],
                    [f"arn:aws:s3:::{name}/*" for name in self.object_buckets],
                )
            )
        if self.bounded_roles:
            statements += self._bounded_role_statements()
        if self.incident_prefix is not None:
            statements += self._incident_statements(self.incident_prefix)
        if self.dashboard is not None:
            # PutDashboard creates and updates; the provider reads with GetDashboard (cloudwatch/dashboard.go).
            statements.append(
                allow(
                    "ManageOwnDashboard",
                    ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
                    [f"arn:aws:cloudwatch::{acct}:dashboard/{self.dashboard}"],
                )
            )
        if self.passable_roles:
            statements.append(
                allow(
                    "PassReplicationRoleToS3",
                    ["iam:PassRole"],
                    [f"arn:aws:iam::{acct}:role/{name}" for name in self.passable_roles],
                    Condition={"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}},
                )
            )
        provider = oidc_provider_arn(acct)
        statements.append(allow("ReadTrustedOidcProvider", ["iam:GetOpenIDConnectProvider"], [provider]))
        if self.owns_provider:
            statements.append(
                allow(
                    "UpdateOwnedOidcProvider",
                    [
                        "iam:TagOpenIDConnectProvider",
                        "iam:UntagOpenIDConnectProvider",
                        "iam:AddClientIDToOpenIDConnectProvider",
                        "iam:RemoveClientIDFromOpenIDConnectProvider",
                        "iam:UpdateOpenIDConnectProviderThumbprint",
                    ],
                    [provider],
                )
            )
        if self.keys:
            # Key ids are assigned by AWS; the stack's provider tags every key with the stack's environment. No
            # kms:ScheduleKeyDeletion, kms:Decrypt or kms:PutKeyPolicy: keys of backups are never deleted, used or
            # re-granted by a deploy (a key policy could hand Decrypt to anyone). The config key's Decrypt is
            # DecryptStackConfig's, by its alias.
            statements.append(
                allow(
                    "ManageOwnKeys",
                    [
                        "kms:DescribeKey",
                        "kms:GetKeyPolicy",
                        "kms:GetKeyRotationStatus",
                        "kms:ListResourceTags",
                        "kms:EnableKeyRotation",
                        "kms:TagResource",
                        "kms:UntagResource",
                        "kms:UpdateKeyDescription",
                    ],
                    [f"arn:aws:kms:*:{acct}:key/*"],
                    Condition={"StringEquals": {"aws:ResourceTag/environment": self.environment}},
                )
            )
            # The configuration key (components/config_secrets.py) follows the same rule: an administrator's first
            # `up` creates the key, its replica (kms:ReplicateKey) and both aliases; a later deploy only re-tags or
            # re-describes the two keys (above: the replica carries the stack's tag too). Nothing for the aliases:
            # an alias has no tags, a deploy never refreshes (deploy.yml; drift.yml refreshes with the preview role),
            # so it never reads one (ListAliases, IAM's `*` only), and only an administrator re-points or deletes one
            # (kms:UpdateAlias, DeleteAlias): an alias moved onto another key would hand the stack's secrets provider
            # (awskms://alias/...) to whoever holds that key; the boundary's NoKeyAdmin keeps every role a deploy
            # may write from it too. Its one use by a deploy is DecryptStackConfig (below).
        if self.config_key_alias is not None:
            statements.append(config_decrypt(acct, self.config_key_alias))
        if self.failover:
            statements += self._failover_statements()
        if self.backup_roles:
            statements.append(self._backups_admin_only())
        if self.replication_sources:
            # The upload backups' feed: removing or rewriting the replication, or suspending its versioning, would
            # stop every upload backup without touching one (REPLICATION_SOURCE_ADMIN_ACTIONS).
            statements.append(
                {
                    "Sid": "UploadBackupsFeedAdminOnly",
                    "Effect": "Deny",
                    "Action": list(REPLICATION_SOURCE_ADMIN_ACTIONS),
                    "Resource": [f"arn:aws:s3:::{name}" for name in self.replication_sources],
                }
            )
        # A role that could edit itself could grant itself anything: widening a deploy role takes an administrator.
        statements.append(
            {
                "Sid": "NeverItself",
                "Effect": "Deny",
                "Action": list(SELF_WRITE_ACTIONS),
                "Resource": f"arn:aws:iam::{acct}:role/{deploy_role_name(self.environment)}",
            }
        )
        return {"Version": "2012-10-17", "Statement": statements}

    def _bounded_role_statements(self) -> list[dict[str, Any]]:
        """Create and change the bounded roles, each only with the boundary attached; never remove or edit it.

        IAM checks `iam:PermissionsBoundary` (the boundary the role has or gets) on the actions that create a role
        or change its policies; the others (trust, tags, description) change nothing the boundary does not cap.
        """
        acct, boundary = self.account_id, deploy_boundary_arn(self.account_id, self.environment)
        bounded = [f"arn:aws:iam::{acct}:role/{name}" for name in self.bounded_roles]
        with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
        statements = [
            allow(
                "CreateAndChangeBoundedRoles",
                [
                    "iam:CreateRole",
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:PutRolePermissionsBoundary",
                ],
                bounded,
                Condition=with_boundary,
            ),
            allow(
                "ManageBoundedRoles",
                [
                    "iam:UpdateRole",
                    "iam:UpdateRoleDescription",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:DeleteRole",
                    "iam:TagRole",
                    "iam:UntagRole",
                ],
                bounded,
            ),
            allow(
                "ReadTheBoundary",
                ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicyTags"],
                [boundary],
            ),
            # The boundary is an administrator's: a deploy never edits it, nor takes it off a role.
            {
                "Sid": "KeepTheBoundary",
                "Effect": "Deny",
                "Action": [
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                    "iam:DeletePolicy",
                    "iam:TagPolicy",
                    "iam:UntagPolicy",
                    "iam:DeleteRolePermissionsBoundary",
                ],
                "Resource": [boundary, f"arn:aws:iam::{acct}:role/*"],
            },
        ]
        if self.attachable_policy_arns:
            statements.append(
                allow(
                    "AttachOnlyDeclaredPolicies",
                    ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                    bounded,
                    Condition={"ArnEquals": {"iam:PolicyARN": list(self.attachable_policy_arns)}, **with_boundary},
                )
            )
        return statements

    def _backups_admin_only(self) -> dict[str, Any]:
        """Nothing a compromised CI token holds can shorten, unlock, read or delete a backup.

        The deploy role configures the vault's buckets on a normal `up` (tags, encryption it cannot weaken below the
        policy pack's rules), but the rules that keep backups — lifecycle, Object Lock, versioning, replication, the
        bucket policy, public access — and the vault roles' permissions change only with an administrator's `up`.
        An explicit Deny wins over every Allow, including one a future statement adds by mistake.
        """
        acct = self.account_id
        buckets = [f"arn:aws:s3:::{name}" for name in self.backup_buckets]
        return {
            "Sid": "BackupsAdminOnly",
            "Effect": "Deny",
            "Action": list(BACKUP_ADMIN_ACTIONS),
            "Resource": [
                *buckets,
                *(f"{bucket}/*" for bucket in buckets),
                *(f"arn:aws:iam::{acct}:role/{name}" for name in self.backup_roles),
            ],
        }

    def _failover_statements(self) -> list[dict[str, Any]]:
        """Health checks, the certificate, the distribution, the on-call topic and the alarm of a failover."""
        acct, region = self.account_id, GLOBAL_REGION
        health_actions = ["route53:GetHealthCheck", "route53:UpdateHealthCheck", "route53:DeleteHealthCheck"]
        # Certificates and distributions carry the stack's `environment` tag (its provider's default tags), and
        # ACM and CloudFront authorize on it: one stack's role never changes another's. Route 53 health checks and
        # CloudFront origin access controls have no such condition: they stay account-wide.
        created_here = {"StringEquals": {"aws:RequestTag/environment": self.environment}}
        owned_here = {"StringEquals": {"aws:ResourceTag/environment": self.environment}}
        # Tagging a new object (no tag yet) or one of its own, never re-tagging another stack's into this one.
        tagged_here = {
            "StringEquals": {"aws:RequestTag/environment": self.environment},
            "StringEqualsIfExists": {"aws:ResourceTag/environment": self.environment},
        }
        certificates = f"arn:aws:acm:{region}:{acct}:certificate/*"
        distributions = f"arn:aws:cloudfront::{acct}:distribution/*"
        access_controls = f"arn:aws:cloudfront::{acct}:origin-access-control/*"
        return [
            allow("CreateHealthChecks", ["route53:CreateHealthCheck"], ["*"]),
            allow(
                "ManageHealthChecks",
                [*health_actions, "route53:ChangeTagsForResource", "route53:ListTagsForResource"],
                ["arn:aws:route53:::healthcheck/*"],
            ),
            allow("RequestCertificates", ["acm:RequestCertificate"], ["*"], Condition=created_here),
            allow("TagCertificates", ["acm:AddTagsToCertificate"], [certificates], Condition=tagged_here),
            allow(
                "ManageCertificates",
                [
                    "acm:DescribeCertificate",
                    "acm:ListTagsForCertificate",
                    "acm:RemoveTagsFromCertificate",
                    "acm:DeleteCertificate",
                ],
                [certificates],
                Condition=owned_here,
            ),
            allow(
                "CreateDistributions",
                ["cloudfront:CreateDistribution", "cloudfront:CreateDistributionWithTags"],
                [distributions],
                Condition=created_here,
            ),
            allow("TagDistributions", ["cloudfront:TagResource"], [distributions], Condition=tagged_here),
            allow(
                "ManageDistributions",
                [
                    "cloudfront:GetDistribution",
                    "cloudfront:GetDistributionConfig",
                    "cloudfront:UpdateDistribution",
                    "cloudfront:DeleteDistribution",
                    "cloudfront:UntagResource",
                    "cloudfront:ListTagsForResource",
                ],
                [distributions],
                Condition=owned_here,
            ),
            allow(
                "ManageOriginAccessControls",
                [
                    "cloudfront:CreateOriginAccessControl",
                    "cloudfront:GetOriginAccessControl",
                    "cloudfront:UpdateOriginAccessControl",
                    "cloudfront:DeleteOriginAccessControl",
                ],
                [access_controls],
            ),
            allow(
                "ManageOncallTopic",
                TOPIC_ACTIONS,
                [f"arn:aws:sns:{region}:{acct}:{name}" for name in self.topic_names],
            ),
            allow(
                "ManageFailoverAlarm",
                ALARM_ACTIONS,
                [f"arn:aws:cloudwatch:{region}:{acct}:alarm:{name}" for name in self.alarm_names],
            ),
        ]

    def _incident_statements(self, prefix: str) -> list[dict[str, Any]]:
        """The incident topics, rollback and scaling alarms and the EventBridge bridge (components/incident_response.py,
        components/scaling_signals.py)."""
        acct, region = self.account_id, "us-east-1"
        return [
            allow(
                "ManageIncidentTopics",
                TOPIC_ACTIONS,
                [f"arn:aws:sns:{region}:{acct}:{prefix}-incident-*"],
            ),
            allow(
                "ManageRollbackAlarms",
                ALARM_ACTIONS,
                [
                    f"arn:aws:cloudwatch:{region}:{acct}:alarm:{prefix}-rollback-*",
                    f"arn:aws:cloudwatch:{region}:{acct}:alarm:{scaling_alarm_name(prefix, '*')}",
                ],
            ),
            allow(
                "ManageDispatchBridge",
                [
                    "events:CreateConnection",
                    "events:UpdateConnection",
                    "events:DeleteConnection",
                    "events:DescribeConnection",
                    "events:CreateApiDestination",
                    "events:UpdateApiDestination",
                    "events:DeleteApiDestination",
                    "events:DescribeApiDestination",
                    "events:PutRule",
                    "events:DeleteRule",
                    "events:DescribeRule",
                    "events:PutTargets",
                    "events:RemoveTargets",
                    "events:ListTargetsByRule",
                    "events:TagResource",
                    "events:UntagResource",
                    "events:ListTagsForResource",
                ],
                [
                    f"arn:aws:events:{region}:{acct}:connection/{prefix}-github-dispatch*",
                    f"arn:aws:events:{region}:{acct}:api-destination/{prefix}-github-dispatch*",
                    f"arn:aws:events:{region}:{acct}:rule/{prefix}-rollback-*",
                ],
            ),
            # A connection keeps its credentials in a secret EventBridge creates in the caller's name.
            allow(
                "ManageConnectionSecret",
                [
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecret",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:DescribeSecret",
                ],
                [f"arn:aws:secretsmanager:{region}:{acct}:secret:events!connection/{prefix}-github-dispatch*"],
            ),
            # The OIDC provider the app's metrics role trusts (Vercel's issuer for this team): created and kept,
            # never deleted by a deploy (it is protected, and every stack's role would break with it).
            allow(
                "ManageVercelOidcProvider",
                [
                    "iam:CreateOpenIDConnectProvider",
                    "iam:GetOpenIDConnectProvider",
                    "iam:TagOpenIDConnectProvider",
                    "iam:UntagOpenIDConnectProvider",
                    "iam:AddClientIDToOpenIDConnectProvider",
                    "iam:RemoveClientIDFromOpenIDConnectProvider",
                    "iam:UpdateOpenIDConnectProviderThumbprint",
                ]
                if self.owns_vercel_oidc
                else ["iam:GetOpenIDConnectProvider"],
                [f"arn:aws:iam::{acct}:oidc-provider/{self.vercel_oidc_issuer}"],
            ),
            allow(
                "PassDispatchRoleToEvents",
                ["iam:PassRole"],
                [f"arn:aws:iam::{acct}:role/{prefix}-incident-dispatch"],
                Condition={"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
            ),
        ]

    def zone_policy(self, zone_arn: str) -> str:
        """The records and settings of the stack's own zone, by the ARN AWS gave it; never another zone."""
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    allow(
                        "ManageOwnZone",
                        [
                            "route53:GetHostedZone",
                            "route53:ListResourceRecordSets",
                            "route53:ChangeResourceRecordSets",
                            "route53:ListTagsForResource",
                            "route53:ChangeTagsForResource",
                            "route53:UpdateHostedZoneComment",
                        ],
                        [zone_arn],
                    )
                ],
            }
        )


def no_decrypt_but_config(sid: str) -> dict[str, Any]:
    """Deny kms:Decrypt with any key none of whose aliases is a stack's config key alias (a key without aliases, a
    backup's, included: `ForAllValues` over no aliases holds)."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"ForAllValues:StringNotLike": {"kms:ResourceAliases": ALIAS_PATTERN}},
    }


def config_decrypt(account_id: str, alias_pattern: str) -> dict[str, Any]:
    """Allow kms:Decrypt with the config keys whose alias matches: what `pulumi preview` and `up` need of an
    `awskms://` secrets provider (the stack's data key is decrypted once; values are then decrypted locally).

    Only without an encryption context, which is how the provider asks (google/go-cloud secrets/awskms/kms.go
    keeper.Decrypt sends the ciphertext alone): the configuration backup's values, sealed with a context, stay the
    operator's."""
    return {
        "Sid": "DecryptStackConfig",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": f"arn:aws:kms:*:{account_id}:key/*",
        "Condition": {
            "ForAnyValue:StringLike": {"kms:ResourceAliases": alias_pattern},
            "Null": {"kms:EncryptionContextKeys": "true"},
        },
    }


def boundary_policy(
    account_id: str,
    backup_buckets: Sequence[str],
    protected_roles: Sequence[str],
    replication_sources: Sequence[str] = (),
) -> dict[str, Any]:
    """The permissions boundary of the bounded roles: anything their own policies allow, except the backups, the
    keys, IAM writes and the protected roles. Whatever a deploy writes into such a role stays inside it."""
    buckets = [f"arn:aws:s3:::{name}" for name in backup_buckets]
    statements: list[dict[str, Any]] = [
        {"Sid": "WithinTheirOwnPolicies", "Effect": "Allow", "Action": "*", "Resource": "*"},
        # A bounded role never creates or rewrites a role, policy or provider: it cannot step outside the boundary.
        {"Sid": "NoIamWrites", "Effect": "Deny", "Action": list(IAM_WRITE_ACTIONS), "Resource": "*"},
        # No bounded role uses a KMS key: none can decrypt a backup, or encrypt into the vault. One exception: the
        # preview role decrypts with the stacks' config keys, their secrets provider, as every preview must.
        {
            "Sid": "NoKeyUse",
            "Effect": "Deny",
            "Action": [a for a in KEY_USE_ACTIONS if a != "kms:Decrypt"],
            "Resource": "*",
        },
        {
            "Sid": "NoDecryptButThePreview",
            "Effect": "Deny",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account_id}:role/{PREVIEW_ROLE_NAME}"}},
        },
        no_decrypt_but_config("NoDecryptButConfig"),
        # Nor administers one: a key policy, an alias moved onto another key, a deletion would each hand out or
        # destroy what the keys protect (the stacks' secrets, the backups).
        {"Sid": "NoKeyAdmin", "Effect": "Deny", "Action": list(KEY_ADMIN_ACTIONS), "Resource": "*"},
    ]
    if protected_roles:
        statements.append(
            {
                "Sid": "NoProtectedRoles",
                "Effect": "Deny",
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Resource": [f"arn:aws:iam::{account_id}:role/{name}" for name in protected_roles],
            }
        )
    if buckets:
        statements += [
            {"Sid": "NoBackupObjects", "Effect": "Deny", "Action": "s3:*",
             "Resource": [f"{bucket}/*" for bucket in buckets]},
            {"Sid": "NoBackupBucketChanges", "Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"],
             "Resource": buckets},
        ]  # fmt: skip
    if replication_sources:
        # The upload backups' feed: its replication and versioning, and its objects (a version written there, even
        # under S3's own key, replicates in front of the backed-up one; the jobs' own roles write it).
        statements += [
            {
                "Sid": "NoUploadBackupsFeedChanges",
                "Effect": "Deny",
                "Action": list(REPLICATION_SOURCE_ADMIN_ACTIONS),
                "Resource": [f"arn:aws:s3:::{name}" for name in replication_sources],
            },
            {
                "Sid": "NoUploadBackupsFeedObjects",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}/*" for name in replication_sources],
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def protected_role_names(settings: StackSettings, backup: BackupVaultArgs | None) -> tuple[str, ...]:
    """The roles that read or write backups: the vault's and the runbooks' (the database restore reads the dumps)."""
    roles = tuple(backup.role_name(key) for key in ROLE_KEYS) if backup is not None else ()
    if settings.runbooks is not None:
        roles += (runbook_role_name(settings.environment),)
    return roles


def bounded_role_names(settings: StackSettings) -> tuple[str, ...]:
    """The other roles a stack declares, which its deploy role creates and changes within the boundary."""
    roles: tuple[str, ...] = ()
    if settings.incident is not None:
        roles += (f"{settings.app.project_name}-incident-*",)
    if settings.ci is not None and settings.ci.owns_oidc_provider:
        roles += (PREVIEW_ROLE_NAME,)
    return roles


def deploy_boundary_name(environment: str) -> str:
    """Name of the managed policy that bounds every role a stack's deploy role may create or change."""
    return f"vibelog-{environment}-deploy-boundary"


def deploy_boundary_arn(account_id: str, environment: str) -> str:
    """Its ARN, known from its name (a customer managed policy at the root path)."""
    return f"arn:aws:iam::{account_id}:policy/{deploy_boundary_name(environment)}"


def runbook_role_name(environment: str) -> str:
    """Name of the role the runbook jobs of a stack assume (components/runbook_environment.py)."""
    return f"vibelog-{environment}-runbooks"


def deploy_role_name(environment: str) -> str:
    """Name of the role `pulumi up` of a stack runs with in CI."""
    return f"vibelog-{environment}-deploy"
