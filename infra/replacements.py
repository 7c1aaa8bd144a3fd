"""What makes a provider replace a resource, and which resources hold data: tables keyed by type token."""

from __future__ import annotations

# Input properties (engine camelCase; a dotted path covers everything below it) whose change makes the provider
# replace the resource instead of updating it in place. From each provider's schema (ForceNew in SDKv2
# providers, RequiresReplace plan modifiers in plugin-framework ones); the Pulumi bridge keeps those verdicts.
# Add a row with each new resource type; a type missing here is diffed as an in-place update.
REPLACE_ON: dict[str, frozenset[str]] = {
    # hashicorp/terraform-provider-aws internal/service/s3/bucket.go: bucket, bucket_prefix and
    # object_lock_enabled are ForceNew (Object Lock can only be chosen when the bucket is created).
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    # internal/service/kms/key.go: the key's spec, usage, multi-region flag and key store are fixed at creation.
    "aws:kms/key:Key": frozenset({"customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"}),
    # internal/service/route53/zone.go: a hosted zone's name and delegation set are ForceNew.
    "aws:route53/zone:Zone": frozenset({"name", "delegationSetId"}),
    # internal/service/route53/record.go: name and zone_id are ForceNew (type and set_identifier are updated
    # in place by an UPSERT/DELETE change batch).
    "aws:route53/record:Record": frozenset({"name", "zoneId"}),
    # internal/service/route53/health_check.go: type, request_interval, measure_latency, reference_name and
    # routing_control_arn are ForceNew.
    "aws:route53/healthCheck:HealthCheck": frozenset(
        {"type", "requestInterval", "measureLatency", "referenceName", "routingControlArn"}
    ),
    # vercel/terraform-provider-vercel vercel/resource_project.go: team_id RequiresReplace; the name is updated
    # in place (Vercel renames a project without losing its deployments).
    "vercel:index/project:Project": frozenset({"teamId"}),
    # vercel/resource_project_domain.go: project_id, team_id and domain RequiresReplace.
    "vercel:index/projectDomain:ProjectDomain": frozenset({"projectId", "teamId", "domain"}),
    # vercel/resource_project_environment_variable.go: project_id, team_id and key RequiresReplace; sensitive
    # too (a sensitive value cannot be read back, so Vercel cannot turn it into a plain one in place).
    "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable": frozenset(
        {"projectId", "teamId", "key", "sensitive"}
    ),
    # vercel/resource_edge_config.go: only team_id (RequiresReplaceIfConfigured); the name is updated in place.
    "vercel:index/edgeConfig:EdgeConfig": frozenset({"teamId"}),
    # vercel/resource_edge_config_item.go: Update is unsupported; edge_config_id, key, value and value_json
    # are all RequiresReplaceIfConfigured, so flipping a flag deletes and re-creates its item.
    "vercel:index/edgeConfigItem:EdgeConfigItem": frozenset({"edgeConfigId", "teamId", "key", "value", "valueJson"}),
    # vercel/resource_edge_config_token.go: label, edge_config_id and team_id RequiresReplace (a new token,
    # so a new connection string for every env var that carries it).
    "vercel:index/edgeConfigToken:EdgeConfigToken": frozenset({"label", "edgeConfigId", "teamId"}),
    # integrations/terraform-provider-github: github/resource_github_repository_environment.go and
    # resource_github_actions_environment_secret.go mark repository, environment and secret_name ForceNew.
    "github:index/repositoryEnvironment:RepositoryEnvironment": frozenset({"repository", "environment"}),
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": frozenset(
        {"repository", "environment", "secretName"}
    ),
}

# Properties that force replacement for every resource of a package. terraform-provider-aws 6 (pulumi-aws 7)
# added a per-resource `region`; a resource cannot move between regions, so changing it re-creates it.
REPLACE_ON_PACKAGE: dict[str, frozenset[str]] = {
    "aws": frozenset({"region"}),
}

# Types whose replacement or deletion loses data or identity even when not protected: stored objects, keys
# that encrypted them, the zone every record and delegation points at, the project that owns deployments,
# domains and analytics, the OIDC trust that deployments assume roles through.
HOLDS_DATA: frozenset[str] = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "aws:route53/zone:Zone",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "vercel:index/project:Project",
        "vercel:index/edgeConfig:EdgeConfig",
    }
)


def forces_replacement(type_: str, path: str, replace_on_changes: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether changing the input at `path` (e.g. `gitRepository.repo`, `rules[0].id`) replaces the resource.

    `replace_on_changes` is the resource's own `replace_on_changes` option: `*` or property paths.
    """
    package = type_.split(":", 1)[0]
    rules = REPLACE_ON.get(type_, frozenset()) | REPLACE_ON_PACKAGE.get(package, frozenset())
    return any(rule == "*" or _covers(rule, path) or _covers(path, rule) for rule in (*rules, *replace_on_changes))


def holds_data(type_: str, protect: bool = False, retain_on_delete: bool = False) -> bool:
    """Whether losing this resource loses data or identity: protected, retained, or of a data-holding type."""
    return protect or retain_on_delete or type_ in HOLDS_DATA


def _covers(rule: str, path: str) -> bool:
    """A rule path covers itself and everything below it (`a` covers `a.b` and `a[0]`, not `ab`)."""
    return path == rule or path.startswith((f"{rule}.", f"{rule}["))
