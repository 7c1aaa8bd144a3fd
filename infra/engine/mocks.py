"""The mock provider answers of the offline engine, keyed by type token, in the engine's camelCase."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

Computed = Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]]

# Outputs a provider computes from the inputs alone, so even `pulumi preview` could know them.
DERIVED: dict[str, Computed] = {
    # Every CloudFront distribution has the same Route 53 alias zone.
    "aws:cloudfront/distribution:Distribution": lambda _args: {"hostedZoneId": "Z2FDTNDATAQYW2"},
}

# Outputs the cloud assigns on creation: unknown in a preview, stand-ins after a mock `up`.
ASSIGNED: dict[str, Computed] = {
    # The provider records the id of the team the project was created in (the slug in its config resolves to it).
    "vercel:index/project:Project": lambda _args: {"teamId": "team_mock"},
    "vercel:index/edgeConfigToken:EdgeConfigToken": lambda args: {
        "connectionString": f"https://edge-config.vercel.com/{args.name}?token=mock",
        "token": "mock-token",
    },
    # Generated on Create (unknown in a preview, like the real provider's plan): a stand-in of the asked length that
    # changes with the keepers, so a rotation bump shows a new value downstream. Secret through the SDK's
    # additional_secret_outputs, as it is in a real `up`.
    "random:index/randomPassword:RandomPassword": lambda args: {
        "result": _stand_in(f"{args.name}:{sorted(args.inputs.get('keepers', {}).items())}", args.inputs["length"]),
        "bcryptHash": "$2a$10$mock",
    },
    # Ids from the zone's name, so two stacks' zones differ as they do in AWS.
    "aws:route53/zone:Zone": lambda args: {
        "zoneId": f"Z{str(args.inputs['name']).upper().replace('.', '')}",
        "arn": f"arn:aws:route53:::hostedzone/Z{str(args.inputs['name']).upper().replace('.', '')}",
        "nameServers": [f"ns-{n}.awsdns-{n}.{tld}" for n, tld in ((1, "com"), (2, "net"), (3, "org"), (4, "co.uk"))],
    },
    "aws:s3/bucket:Bucket": lambda args: {
        "arn": f"arn:aws:s3:::{args.inputs.get('bucket', args.name)}",
        "bucketRegionalDomainName": f"{args.inputs.get('bucket', args.name)}.s3.mock-region.amazonaws.com",
    },
    "aws:cloudfront/distribution:Distribution": lambda args: {
        "arn": f"arn:aws:cloudfront::123456789012:distribution/E{args.name.upper().replace('-', '')}",
        "domainName": f"d{len(args.name)}mock.cloudfront.net",
    },
    "aws:acm/certificate:Certificate": lambda args: {
        "arn": f"arn:aws:acm:us-east-1:123456789012:certificate/{args.name}",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_mock.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_mock.{domain.replace('.', '-')}.acm-validations.aws.",
            }
            for domain in [args.inputs["domainName"], *args.inputs.get("subjectAlternativeNames", [])]
        ],
    },
    "aws:route53/record:Record": lambda args: {"fqdn": str(args.inputs["name"]).rstrip(".")},
    "aws:kms/key:Key": lambda args: {
        "arn": f"arn:aws:kms:mock-region:000000000000:key/{args.name}",
        "keyId": args.name,
    },
    # In AWS a replica's ARN is its primary's key id (`mrk-...`) in its own region; the mock's ARNs carry no region,
    # so the replica keeps its own name and the two ARNs stay apart.
    "aws:kms/replicaKey:ReplicaKey": lambda args: {
        "arn": f"arn:aws:kms:mock-region:000000000000:key/{args.name}",
        "keyId": args.name,
    },
    "aws:iam/role:Role": lambda args: {"arn": f"arn:aws:iam::000000000000:role/{args.inputs.get('name', args.name)}"},
    "aws:cloudwatch/eventApiDestination:EventApiDestination": lambda args: {
        "arn": f"arn:aws:events:us-east-1:000000000000:api-destination/{args.inputs.get('name', args.name)}/mock"
    },
    # PagerDuty generates an integration's routing key on creation.
    "pagerduty:index/serviceIntegration:ServiceIntegration": lambda args: {"integrationKey": f"{args.name}-key"},
}


def _stand_in(seed: str, length: float) -> str:
    """A deterministic string of `length` hex characters derived from `seed` (numbers arrive as floats)."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return (digest * (int(length) // len(digest) + 1))[: int(length)]


# Provider functions the program calls, answered as the provider would for what the function was asked about.
CALLS: dict[str, Callable[[pulumi.runtime.MockCallArgs], dict[str, Any]]] = {
    # A stack that trusts the account's GitHub OIDC provider without owning it looks it up by ARN.
    "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": lambda args: {
        "arn": args.args["arn"],
        "url": args.args["arn"].split(":oidc-provider/", 1)[1],
        "clientIdLists": ["sts.amazonaws.com"],
        "thumbprintLists": [],
        "tags": {},
    },
    # A vendor is looked up by its name in PagerDuty's catalogue; the id is PagerDuty's (PZQ6AUS: Amazon CloudWatch).
    "pagerduty:index/getVendor:getVendor": lambda args: {
        "id": "PZQ6AUS" if args.args["name"] == "Amazon CloudWatch" else "PMOCKVD",
        "name": args.args["name"],
        "type": "aws_cloudwatch_inbound_integration" if args.args["name"] == "Amazon CloudWatch" else "generic",
    },
}


class VibelogMocks(pulumi.runtime.Mocks):
    """Answers like the providers would: in a preview, assigned outputs (ids, ARNs) stay unknown."""

    def __init__(self, preview: bool = True) -> None:
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """The resource's id and state: its inputs plus what the provider computes."""
        state = dict(args.inputs)
        derive = DERIVED.get(args.typ)
        if derive is not None:
            state.update(derive(args))
        if self.preview:
            return "", state
        assign = ASSIGNED.get(args.typ)
        if assign is not None:
            state.update(assign(args))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """The answer of a provider function the program calls; any new one must be answered in CALLS explicitly."""
        answer = CALLS.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock answer for the provider function {args.token}")
        return answer(args), []  # the mock monitor iterates the failures: an empty list, not None
