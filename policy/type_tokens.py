"""Type tokens exactly as the engine records them (pulumiverse-vercel 5, pulumi-aws 7, pulumi-github 6): one home
for the rules, the offline tool and the tests."""

from __future__ import annotations

from typing import Final

VERCEL_PROJECT: Final = "vercel:index/project:Project"
ENV_VAR: Final = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
ENV_VARS_BULK: Final = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
EDGE_CONFIG_ITEM: Final = "vercel:index/edgeConfigItem:EdgeConfigItem"
BUCKET: Final = "aws:s3/bucket:Bucket"
BUCKET_VERSIONING: Final = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_ENCRYPTION: Final = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS_BLOCK: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_OBJECT_LOCK: Final = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
BUCKET_LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_OBJECT: Final = "aws:s3/bucketObjectv2:BucketObjectv2"
KMS_KEY: Final = "aws:kms/key:Key"
KMS_REPLICA_KEY: Final = "aws:kms/replicaKey:ReplicaKey"
KMS_ALIAS: Final = "aws:kms/alias:Alias"
HOSTED_ZONE: Final = "aws:route53/zone:Zone"
RECORD: Final = "aws:route53/record:Record"
HEALTH_CHECK: Final = "aws:route53/healthCheck:HealthCheck"
OIDC_PROVIDER: Final = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
IAM_ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
REPOSITORY_ENVIRONMENT: Final = "github:index/repositoryEnvironment:RepositoryEnvironment"
ENVIRONMENT_SECRET: Final = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"  # noqa: S105 - a type token
REPOSITORY_SECRET: Final = "github:index/actionsSecret:ActionsSecret"  # noqa: S105 - a type token
STACK: Final = "pulumi:pulumi:Stack"
PROVIDER_PREFIX: Final = "pulumi:providers:"
"""Provider instances: `pulumi:providers:<package>`."""
BACKUP_MODULE: Final = "vibelog:backup:"
"""The program's backup components: a bucket declared inside one (its URN's type chain) holds backups."""
# Types no rule matches on, named here so that the tests share one spelling with the rules.
EDGE_CONFIG: Final = "vercel:index/edgeConfig:EdgeConfig"
EDGE_CONFIG_TOKEN: Final = "vercel:index/edgeConfigToken:EdgeConfigToken"  # noqa: S105 - a type token
PROJECT_DOMAIN: Final = "vercel:index/projectDomain:ProjectDomain"
RANDOM_PASSWORD: Final = "random:index/randomPassword:RandomPassword"  # noqa: S105 - a type token
ENVIRONMENT_VARIABLE: Final = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
REPOSITORY_VARIABLE: Final = "github:index/actionsVariable:ActionsVariable"
BRANCH_PROTECTION: Final = "github:index/branchProtection:BranchProtection"
BUCKET_OWNERSHIP: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_REPLICATION: Final = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
CERTIFICATE: Final = "aws:acm/certificate:Certificate"
CERTIFICATE_VALIDATION: Final = "aws:acm/certificateValidation:CertificateValidation"
DISTRIBUTION: Final = "aws:cloudfront/distribution:Distribution"
METRIC_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD: Final = "aws:cloudwatch/dashboard:Dashboard"
EVENT_RULE: Final = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET: Final = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_API_DESTINATION: Final = "aws:cloudwatch/eventApiDestination:EventApiDestination"
EVENT_CONNECTION: Final = "aws:cloudwatch/eventConnection:EventConnection"
SNS_TOPIC: Final = "aws:sns/topic:Topic"
SNS_SUBSCRIPTION: Final = "aws:sns/topicSubscription:TopicSubscription"
