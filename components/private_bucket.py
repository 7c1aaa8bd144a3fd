"""Private-bucket hardening, written once: no public access of any kind, and the bucket owner owns every object."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# The condition of every bucket's TLS-only Deny statement: a request over plain HTTP.
INSECURE_TRANSPORT = {"Bool": {"aws:SecureTransport": "false"}}


def block_public_access(
    name: str, bucket: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.s3.BucketPublicAccessBlock:
    """`<name>-public-access`: no ACL and no policy may make the bucket or an object public, now or later."""
    return aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )


def enforce_bucket_owner(
    name: str, bucket: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.s3.BucketOwnershipControls:
    """`<name>-ownership`: ACLs are off and the bucket's account owns every object, whoever wrote it."""
    return aws.s3.BucketOwnershipControls(
        f"{name}-ownership", bucket=bucket, rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts
    )
