"""The degraded-mode page as a static site: a private bucket, its page, an ACM certificate, CloudFront with OAC.

Plain resources, not a component of their own: they keep the parent (and so the URNs) of the component that builds
them, the DNS failover whose secondary records point at the distribution.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.private_bucket import INSECURE_TRANSPORT, block_public_access, enforce_bucket_owner

# AWS's managed "CachingOptimized" cache policy; the page's own Cache-Control keeps it fresh within a minute.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
PAGE_KEY = "index.html"
"""The page's object key, served only as the error page of every path."""
ROOT_OBJECT = "unavailable"
"""The distribution's default root object: a key the bucket never holds. With `index.html` there, `/` (the path most
visitors and crawlers ask for) answered 200 with the page while every other path answered 503, and a crawler that
reads a 200 page with `noindex` drops the home page from its index. A missing key is a 403 from S3 (the
distribution may not list the bucket), so `/` gets the 503 page like every path, and a root URL still never lists
the bucket (AWS CloudFront Developer Guide, "Specify a default root object")."""


@dataclass(frozen=True)
class DegradedSiteArgs:
    """Where the page is served from and for which names."""

    zone_id: pulumi.Input[str]
    """The Route 53 zone that holds the certificate's validation records."""
    zone_name: str
    """The zone's name, for descriptions."""
    names: Sequence[tuple[str, str]]
    """(label, fqdn) of every name the site answers for; the first is the certificate's domain name."""
    bucket_name: str
    """Global name of the page's bucket."""
    page_path: str
    """Path of the page's HTML, relative to the project directory."""
    validation_ttl: int
    """TTL of the certificate's validation records."""
    allow_overwrite: bool
    """Whether a validation record may take over an existing record of the zone."""


class DegradedSite:
    """The site's resources, children of the component passed in `on_site` / `on_global`."""

    def __init__(
        self, name: str, args: DegradedSiteArgs, *, on_site: pulumi.ResourceOptions, on_global: pulumi.ResourceOptions
    ) -> None:
        # The degraded-mode page: a private bucket in another region, readable only by this distribution.
        bucket_key = f"{name}-degraded-bucket"
        self.bucket = aws.s3.Bucket(bucket_key, bucket=args.bucket_name, opts=on_site)
        self.public_access_block = block_public_access(bucket_key, self.bucket.id, on_site)
        self.ownership = enforce_bucket_owner(bucket_key, self.bucket.id, on_site)
        # SSE-S3 rather than KMS: the page is public content, and CloudFront's OAC reads SSE-S3 without a key policy.
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{bucket_key}-encryption",
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=on_site,
        )
        # BucketObjectv2 (aws_s3_object): BucketObject (aws_s3_bucket_object) is deprecated; the alias keeps the
        # page a stack already holds as this resource instead of deleting one object and creating another.
        self.page = aws.s3.BucketObjectv2(
            f"{name}-degraded-page",
            bucket=self.bucket.id,
            key=PAGE_KEY,
            source=pulumi.FileAsset(args.page_path),
            content_type="text/html; charset=utf-8",
            cache_control="public, max-age=60",
            opts=pulumi.ResourceOptions.merge(
                on_site, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="aws:s3/bucketObject:BucketObject")])
            ),
        )

        fqdns = [fqdn for _, fqdn in args.names]
        self.certificate = aws.acm.Certificate(
            f"{name}-degraded-cert",
            domain_name=fqdns[0],
            subject_alternative_names=fqdns[1:],
            validation_method="DNS",
            opts=on_global,
        )
        validation_records = [
            aws.route53.Record(
                f"{name}-{label}-cert-validation",
                zone_id=args.zone_id,
                name=_validation_field(self.certificate, fqdn, "resource_record_name"),
                type=_validation_field(self.certificate, fqdn, "resource_record_type"),
                ttl=args.validation_ttl,
                records=[_validation_field(self.certificate, fqdn, "resource_record_value")],
                allow_overwrite=args.allow_overwrite,
                opts=on_global,
            )
            for label, fqdn in args.names
        ]
        # hashicorp/terraform-provider-aws internal/service/acm/certificate_validation.go: Create waits (default
        # timeout 75 minutes) until ACM reports ISSUED, which needs resolvers to reach the validation records through
        # the registrar's delegation. In a zone created by the same `up` that never happens: the stack's first up
        # runs bootstrap phase `zone` first (DnsFailoverArgs.zone_only).
        self.certificate_validation = aws.acm.CertificateValidation(
            f"{name}-degraded-cert-validation",
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[record.fqdn for record in validation_records],
            opts=on_global,
        )

        self.origin_access = aws.cloudfront.OriginAccessControl(
            f"{name}-degraded-oac",
            name=f"{args.bucket_name}-oac"[:64],
            description=f"CloudFront reads the degraded-mode page of {args.zone_name}",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=on_global,
        )
        origin_id = "degraded-page"
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-degraded-cdn",
            enabled=True,
            comment=f"Degraded-mode page of {args.zone_name} (Route 53 failover secondary)",
            aliases=fqdns,
            default_root_object=ROOT_OBJECT,
            origins=[
                {
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    "origin_id": origin_id,
                    "origin_access_control_id": self.origin_access.id,
                }
            ],
            default_cache_behavior={
                "target_origin_id": origin_id,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED_POLICY_ID,
                "compress": True,
            },
            # Every path of the app (`/`, a post, /api/health) answers with the page and 503: the service is degraded,
            # and clients and crawlers must not take the page for the content they asked for.
            custom_error_responses=[
                {
                    "error_code": code,
                    "response_code": 503,
                    "response_page_path": f"/{PAGE_KEY}",
                    "error_caching_min_ttl": 10,
                }
                for code in (403, 404)
            ],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={
                "acm_certificate_arn": self.certificate_validation.certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": "TLSv1.2_2021",
            },
            # The primary (Vercel's apex address) is IPv4 only, so the failover pairs publish A records only.
            is_ipv6_enabled=False,
            http_version="http2and3",
            price_class="PriceClass_100",
            opts=on_global,
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{bucket_key}-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, self.distribution.arn).apply(
                lambda arns: _bucket_policy(arns[0], arns[1])
            ),
            opts=pulumi.ResourceOptions.merge(on_site, pulumi.ResourceOptions(depends_on=[self.public_access_block])),
        )


def _validation_field(certificate: aws.acm.Certificate, fqdn: str, field: str) -> pulumi.Output[str]:
    """One field of the DNS validation record ACM asks for one of the certificate's names."""

    def pick(options: Sequence[aws.acm.outputs.CertificateDomainValidationOption]) -> str:
        option = next(o for o in options if o.domain_name == fqdn)
        value = getattr(option, field)
        return str(value)

    return certificate.domain_validation_options.apply(pick)


def _bucket_policy(bucket_arn: str, distribution_arn: str) -> str:
    """Only this distribution reads the page, and only over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudFrontReadsThePage",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": INSECURE_TRANSPORT,
                },
            ],
        }
    )
