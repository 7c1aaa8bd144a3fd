"""Each registered type's lifecycle, read from the provider's source: what forces replacement, in which order.

Over 450 lines on purpose: most of it is the record itself, one row per registered type with its upstream citation;
the rows are read together when a provider is upgraded, and the functions below are their only readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from policy.type_tokens import BACKUP_MODULE, PROVIDER_PREFIX
from policy.urns import type_chain

# Where the verdicts were read (commits of the upstream mirrors this record was last checked against).
VERCEL = "vercel/terraform-provider-vercel@c8a6711 vercel/"
# The pinned pulumi-github (6.15.0, pulumi/pulumi-github@e46c2bb) builds its `upstream` submodule at 20728bb, the
# provider's v6.13.0: the GitHub rows are read there, not at the provider's later main.
GITHUB = "integrations/terraform-provider-github@20728bb github/"
# The AWS files were read one at a time: a row names the commit of the file version it was read at (`file.go@commit`).
AWS = "hashicorp/terraform-provider-aws internal/service/"
PULUMI_GITHUB = "pulumi/pulumi-github@e46c2bb provider/resources.go"
PULUMI_AWS = "pulumi/pulumi-aws provider/resources.go + provider/autonaming.go"
BRIDGE_SDKV2 = (
    "pulumi/pulumi-terraform-bridge@59de6c6 pkg/tfbridge/provider.go Diff, schema.go nameRequiresDeleteBeforeReplace"
)
PAGERDUTY = "PagerDuty/terraform-provider-pagerduty pagerduty/"
# The on-call rows were read at v3.32.4; the user's contact methods and notification rules are plugin-framework
# resources there (pagerdutyplugin/provider.go), the schedule and the user SDKv2 (pagerduty/provider.go).
PAGERDUTY_ONCALL = "PagerDuty/terraform-provider-pagerduty@95cf9d8 "
PULUMI_PAGERDUTY = "pulumi/pulumi-pagerduty@ea22c17 provider/resources.go SetAutonaming"
BRIDGE_PF = "pulumi/pulumi-terraform-bridge@59de6c6 pkg/pf/tfbridge/provider_diff.go (no name rule: #823)"

Create = Literal["fails", "upsert", "new-id"]
"""What the provider's Create does when an object with the same natural key exists: the API refuses it (409,
ENV_CONFLICT, AlreadyExists), overwrites it (PUT/PATCH: then the old one's Delete removes the new value), or
there is no natural key (the cloud assigns an id; two can coexist)."""

DeleteFirst = Literal["", "provider", "bridge"]
"""Who replaces delete-first without the resource's own option: nobody, the Pulumi provider's configuration
(ResourceInfo.DeleteBeforeReplace), or the bridge (an auto-named field given explicitly; SDKv2 resources only)."""


@dataclass(frozen=True)
class ReadBack:
    """An input the provider reads back into another property of the state (a second plan sees it moved)."""

    sent: str
    """The input as the program sends it."""
    read_into: str
    """The property the provider's Read fills with it."""
    when: Literal["string"]
    """Which values move: `string` = a JSON string."""
    source: str
    """The upstream function that does it."""


@dataclass(frozen=True)
class ImportId:
    """How `pulumi import` names an existing object of the type: the id its provider's importer parses."""

    template: str
    """The id: `{input}` is an input of the resource (an https URL without its scheme; GitHub escapes `:` as `??`),
    `{@part}` what only the account knows, given by the resource's inventory entry (a Vercel project or variable
    id, a hosted zone id), `{$part}` a stack-wide part (the Vercel project's id, the stack's AWS account, the
    adopted zone's id)."""
    pattern: str
    """The shape every id must have (a regular expression over the whole id)."""
    source: str
    """The upstream importer that parses it."""
    write_only: str = ""
    """Set when the object's value cannot be read back: what `up` does to the existing one instead of an import."""
    read_differently: tuple[str, ...] = ()
    """Inputs the importer stores in another form than the program declares (a repository's node id for its name):
    the program ignores their changes, or the `up` after the import would replace the object it adopted."""


@dataclass(frozen=True)
class Lifecycle:
    """One resource type's lifecycle, as its provider and the Pulumi bridge implement it."""

    type: str
    replace_on: frozenset[str]
    """Inputs (engine camelCase; a path covers everything below it) whose change replaces the resource:
    ForceNew (SDKv2) or RequiresReplace* (plugin framework)."""
    natural_key: tuple[str, ...]
    """Inputs that name the object in the provider's API: two objects with the same values collide."""
    create: Create
    delete_first: DeleteFirst
    source: str
    """The upstream file(s) the row was read from."""
    autonamed: str = ""
    """The input Pulumi auto-names; given explicitly, the bridge replaces delete-first (SDKv2 only)."""
    holds_data: bool = False
    """Replacing or deleting it loses data or identity, protected or not (the policy requires `protect`)."""
    holds_data_within: str = ""
    """When set, only resources declared inside a component of this type-token prefix hold data (a bucket holds
    data where the backup component declares it; a static site's bucket holds pages the program uploads again)."""
    gap: str = ""
    """What is missing between the delete and the create of a delete-first replacement."""
    read_back: tuple[ReadBack, ...] = ()
    checked: bool = True
    """Read in the provider source for this record; False: carried from an earlier record, not re-read."""
    import_id: ImportId | None = None
    """How an existing object is adopted (`python -m infra adopt`); None: the program always creates it."""
    computed: frozenset[str] = frozenset()
    """Optional inputs the provider fills in when the program leaves them out (Optional and Computed: a Vercel
    object's team_id, from the provider's team). Left out, the state keeps its value: one the state holds and the
    program does not declare (an importer reads it) neither changes nor replaces the object."""

    def key_triggers(self, inputs: Iterable[str]) -> list[str]:
        """The declared inputs whose change replaces the resource and keeps its natural key."""
        if not self.natural_key or self.create == "new-id":
            return []
        declared = set(inputs)
        return sorted(name for name in self.replace_on - set(self.natural_key) if name in declared)

    def forced_delete_first(self, inputs: Mapping[str, Any]) -> str:
        """Why the provider or bridge replaces delete-first by itself ("" if it does not)."""
        if self.delete_first == "provider":
            return "provider"
        if self.autonamed and inputs.get(self.autonamed) is not None:
            return "bridge"
        return ""


_VERCEL_TEAM = frozenset({"teamId"})
_BUCKET_SIDE_GAP = "the bucket has none of this configuration for a moment (S3 defaults apply)"

RECORD: tuple[Lifecycle, ...] = (
    # ------------------------------------------------------------------------------------------ Vercel
    # Plugin-framework resources: the bridge's PF Diff only honours ResourceInfo.DeleteBeforeReplace, and
    # pulumiverse/pulumi-vercel provider/resources.go sets it for none (it only calls SetAutonaming). Each one's
    # team_id is Optional and Computed (the provider's team when left out; the program names it on the provider only),
    # and the PF Diff plans from the prior state, not the old inputs (pulumi/pulumi-terraform-bridge@012ed3f
    # pkg/pf/tfbridge/provider_diff.go DiffWithContext): a team_id an import reads is kept, never a replacement.
    Lifecycle(
        "vercel:index/project:Project",
        frozenset({"teamId"}),
        ("teamId", "name"),
        "fails",
        "",
        f"{VERCEL}resource_project.go (team_id RequiresReplaceIfConfigured; name and resource_config updated in "
        "place by the project's PATCH)",
        holds_data=True,
        import_id=ImportId(
            "{@projectId}",
            r"prj_[A-Za-z0-9]+",
            f'{VERCEL}resource_project.go projectResource.ImportState ("team_id/project_id" or "project_id": the '
            "provider's team when the team is left out)",
        ),
        computed=_VERCEL_TEAM,
    ),
    Lifecycle(
        "vercel:index/projectDomain:ProjectDomain",
        frozenset({"projectId", "teamId", "domain"}),
        ("domain",),
        "fails",
        "",
        f"{VERCEL}resource_project_domain.go (project_id, domain RequiresReplace; team_id IfConfigured)",
        gap="the domain is attached to no project for a moment: it does not serve the app",
        import_id=ImportId(
            "{$projectId}/{domain}",
            r"prj_[A-Za-z0-9]+/[a-z0-9.-]+",
            f'{VERCEL}resource_project_domain.go projectDomainResource.ImportState ("project_id/domain")',
        ),
        computed=_VERCEL_TEAM,
    ),
    Lifecycle(
        "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
        frozenset({"projectId", "teamId", "key", "sensitive", "customEnvironmentIds"}),
        ("projectId", "key", "targets"),
        "fails",
        "",
        f"{VERCEL}resource_project_environment_variable.go (project_id, key, sensitive, custom_environment_ids "
        "RequiresReplace; Create is a POST that answers ENV_CONFLICT for an existing key and target)",
        gap="the variable is unset for a moment: a build started then lacks it",
        import_id=ImportId(
            "{$projectId}/{@envId}",
            r"prj_[A-Za-z0-9]+/[A-Za-z0-9]+",
            f"{VERCEL}resource_project_environment_variable.go projectEnvironmentVariableResource.ImportState "
            '("project_id/env_id"; a sensitive value is not read back: the next `up` writes the stack\'s value; '
            "sensitive is read from the variable's type, so a secret stored as encrypted is replaced by that `up`)",
        ),
        computed=_VERCEL_TEAM,
    ),
    Lifecycle(
        "vercel:index/edgeConfig:EdgeConfig",
        frozenset({"teamId"}),
        ("teamId", "name"),
        "fails",
        "",
        f"{VERCEL}resource_edge_config.go (team_id RequiresReplaceIfConfigured; name updated in place by Update, "
        "client/edge_config.go UpdateEdgeConfig: a PUT of the slug; Create is CreateEdgeConfig, a POST)",
        # Not data the program cannot write again: it declares every flag and runbook switch the app reads, from the
        # stack config, so the `up` that replaces the store fills the new one; the policy never required protection.
        # An adopted store may also hold keys set by hand that nothing declares: they stay while the store does,
        # and the program protects it (components/feature_flags.py): running deployments read it by id.
        computed=_VERCEL_TEAM,
        import_id=ImportId(
            "{@edgeConfigId}",
            r"ecfg_[A-Za-z0-9]+",
            f'{VERCEL}resource_edge_config.go edgeConfigResource.ImportState ("team_id/edge_config_id" or '
            '"edge_config_id", splitInto1Or2: the provider\'s team when the team is left out; responseToEdgeConfig '
            "reads the slug into name, which the `up` renames in place, and the owner into team_id)",
        ),
    ),
    Lifecycle(
        "vercel:index/edgeConfigItem:EdgeConfigItem",
        frozenset({"edgeConfigId", "key", "value", "valueJson"}),
        ("edgeConfigId", "key"),
        "upsert",
        "",
        f"{VERCEL}resource_edge_config_item.go (no Update; edge_config_id, key, value, value_json "
        "RequiresReplaceIfConfigured; Create is an upsert PATCH, Delete removes the key)",
        gap="the flag is absent for a moment: the app reads its default",
        read_back=(
            ReadBack(
                "valueJson",
                "value",
                "string",
                f"{VERCEL}resource_edge_config_item.go parseRawToState (a JSON string is read into value)",
            ),
        ),
        computed=_VERCEL_TEAM,
    ),
    Lifecycle(
        "vercel:index/edgeConfigToken:EdgeConfigToken",
        frozenset({"label", "edgeConfigId", "teamId"}),
        (),
        "new-id",
        "",
        f"{VERCEL}resource_edge_config_token.go (label, edge_config_id RequiresReplace; a new token each time)",
        computed=_VERCEL_TEAM,
    ),
    # ------------------------------------------------------------------------------------------ random
    # pulumi/pulumi-random provider/resources.go: random_password's ResourceInfo sets only its token (no
    # DeleteBeforeReplace). Nothing exists outside the state: Create draws the value, Delete only forgets it.
    Lifecycle(
        "random:index/randomPassword:RandomPassword",
        frozenset(
            {
                "keepers",
                "length",
                "special",
                "upper",
                "lower",
                "number",
                "numeric",
                "minNumeric",
                "minUpper",
                "minLower",
                "minSpecial",
                "overrideSpecial",
            }
        ),
        (),
        "new-id",
        "",
        "hashicorp/terraform-provider-random@c054b47 internal/provider/resource_password.go (keepers "
        "RequiresReplaceIfValuesNotNull; length, special, upper, lower, number, numeric, min_*, override_special "
        "RequiresReplace; Create generates, Delete only forgets)",
    ),
    # ------------------------------------------------------------------------------------------ GitHub
    # diffRepository (github/util_diff.go) runs only when `repository` changes: it forces replacement when the
    # new name is another repository, and keeps a rename of the same repository in place (a name no repository
    # has forces nothing: the update then fails on the missing repository). Either way the key changes with it, so
    # it never replaces under the same key; a repository deleted and re-created under the same name changes no
    # input at all (the next refresh finds the objects gone).
    Lifecycle(
        "github:index/repositoryEnvironment:RepositoryEnvironment",
        frozenset({"environment", "repository"}),
        ("repository", "environment"),
        "upsert",
        "",
        f"{GITHUB}resource_github_repository_environment.go (environment ForceNew; repository via "
        "diffRepository when another repository; Create is CreateUpdateEnvironment, a PUT; Delete is "
        "DeleteEnvironment, and GitHub deletes the environment's secrets and variables with it)",
        gap="the environment is absent for a moment, with its secrets and variables: a deployment job waiting on it "
        "fails",
        import_id=ImportId(
            "{repository}:{environment}",
            r"[A-Za-z0-9._-]+:[^:]+",
            f"{GITHUB}resource_github_repository_environment.go resourceGithubRepositoryEnvironmentImport "
            "(<repository>:<environment>, parseID2)",
        ),
    ),
    Lifecycle(
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
        frozenset({"environment", "secretName", "repository"}),
        ("repository", "environment", "secretName"),
        "upsert",
        "provider",
        f"{GITHUB}resource_github_actions_environment_secret.go (environment, secret_name ForceNew; "
        f"repository via diffRepository when another repository); {PULUMI_GITHUB} DeleteBeforeReplace",
        gap="the secret is unset for a moment: a job started then reads an empty value",
        import_id=ImportId(
            "{repository}:{environment}:{secretName}",
            r"[A-Za-z0-9._-]+:[^:]+:[A-Za-z0-9_]+",
            f"{GITHUB}resource_github_actions_environment_secret.go resourceGithubActionsEnvironmentSecretImport "
            "(parseID3; GetEnvSecret returns no value)",
            write_only="not imported: GitHub never returns a secret's value; `up` creates it with "
            "CreateOrUpdateEnvSecret, a PUT that replaces the value GitHub holds with the stack's",
        ),
    ),
    Lifecycle(
        "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
        frozenset({"environment", "variableName", "repository"}),
        ("repository", "environment", "variableName"),
        "fails",
        "",
        f"{GITHUB}resource_github_actions_environment_variable.go (environment, variable_name ForceNew; "
        "repository via diffRepository when another repository; Create is CreateEnvVariable, a POST refused for "
        "an existing name)",
        gap="the variable is unset for a moment: a job started then reads an empty value",
        import_id=ImportId(
            "{repository}:{environment}:{variableName}",
            r"[A-Za-z0-9._-]+:[^:]+:[A-Za-z0-9_]+",
            f"{GITHUB}resource_github_actions_environment_variable.go resourceGithubActionsEnvironmentVariableImport "
            "(parseID3, the environment unescaped by unescapeIDPart)",
        ),
    ),
    Lifecycle(
        "github:index/actionsVariable:ActionsVariable",
        frozenset({"variableName", "repository"}),
        ("repository", "variableName"),
        "fails",
        "",
        f"{GITHUB}resource_github_actions_variable.go (variable_name ForceNew; repository via diffRepository when "
        "another repository; Create is CreateRepoVariable, a POST refused for an existing name)",
        gap="the variable is unset for a moment: a job started then reads an empty value",
        import_id=ImportId(
            "{repository}:{variableName}",
            r"[A-Za-z0-9._-]+:[A-Za-z0-9_]+",
            f"{GITHUB}resource_github_actions_variable.go resourceGithubActionsVariableImport (parseID2)",
        ),
    ),
    Lifecycle(
        "github:index/branchProtection:BranchProtection",
        frozenset({"repositoryId"}),
        ("repositoryId", "pattern"),
        "fails",
        "",
        f"{GITHUB}resource_github_branch_protection.go (repository_id ForceNew; pattern updated in place; "
        "resourceGithubBranchProtectionCreate is the createBranchProtectionRule mutation, which GitHub refuses for "
        "a pattern the repository already protects (Name already protected: integrations/terraform-provider-github"
        "#1699); Delete is deleteBranchProtectionRule)",
        gap="the branch is unprotected for a moment",
        import_id=ImportId(
            "{repositoryId}:{pattern}",
            r"[A-Za-z0-9._-]+:[^:]+",
            f"{GITHUB}resource_github_branch_protection.go resourceGithubBranchProtectionImport (<repository>:"
            "<pattern>, parseID2; it stores the repository's node id in repository_id (getRepositoryID), which the "
            "program ignores: the name it declares would replace the rule)",
            read_differently=("repositoryId",),
        ),
    ),
    # --------------------------------------------------------------------------------------------- AWS
    # pulumi-aws auto-names every input `name` (provider/autonaming.go) and `bucket` (resources.go,
    # AutoNameTransform); the SDKv2 bridge replaces delete-first when such a name is given explicitly.
    Lifecycle(
        "aws:s3/bucket:Bucket",
        frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
        ("bucket",),
        "fails",
        "",
        f"{AWS}s3/bucket.go@4c72bcc ResourceBucket (bucket, bucket_prefix, object_lock_enabled ForceNew); "
        "resourceBucketCreate is CreateBucket, which S3 refuses for a name that exists (BucketAlreadyExists, or "
        "BucketAlreadyOwnedByYou outside us-east-1); resourceBucketDelete refuses a bucket with objects unless "
        f"force_destroy; {PULUMI_AWS}; {BRIDGE_SDKV2}",
        autonamed="bucket",
        holds_data=True,
        holds_data_within=BACKUP_MODULE,
    ),
    Lifecycle(
        "aws:s3/bucketVersioning:BucketVersioning",
        frozenset({"bucket", "expectedBucketOwner"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_versioning.go (bucket, expected_bucket_owner ForceNew; Delete suspends versioning)",
        gap=_BUCKET_SIDE_GAP,
    ),
    Lifecycle(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        frozenset({"bucket"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_server_side_encryption_configuration.go (bucket ForceNew; expected_bucket_owner "
        "deprecated, no longer ForceNew)",
        gap=_BUCKET_SIDE_GAP,
    ),
    Lifecycle(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        frozenset({"bucket", "expectedBucketOwner"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_lifecycle_configuration.go (plugin framework; bucket, expected_bucket_owner "
        "RequiresReplace; Create is PutBucketLifecycleConfiguration)",
        gap=_BUCKET_SIDE_GAP,
    ),
    Lifecycle(
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        frozenset({"bucket", "expectedBucketOwner", "objectLockEnabled"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_object_lock_configuration.go@01c0800 (bucket, expected_bucket_owner, object_lock_enabled "
        "ForceNew; resourceBucketObjectLockConfigurationDelete is PutObjectLockConfiguration without a rule: the "
        "bucket's default retention is removed, so the vault retains it)",
        gap=_BUCKET_SIDE_GAP,
    ),
    Lifecycle(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        frozenset({"bucket"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_ownership_controls.go (bucket ForceNew)",
        gap=_BUCKET_SIDE_GAP,
    ),
    Lifecycle(
        "aws:s3/bucketPolicy:BucketPolicy",
        frozenset({"bucket"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_policy.go (bucket ForceNew; Create and Update are the same PutBucketPolicy)",
        gap="the bucket has no policy for a moment: its TLS-only deny is off",
    ),
    Lifecycle(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        frozenset({"bucket"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_public_access_block.go (bucket ForceNew)",
        gap="the bucket's public access block is off for a moment (the account's block still applies)",
    ),
    Lifecycle(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        frozenset({"bucket"}),
        ("bucket",),
        "upsert",
        "",
        f"{AWS}s3/bucket_replication_configuration.go@e96a789 resourceBucketReplicationConfiguration (bucket "
        "ForceNew; role, rule, token updated in place; resourceBucketReplicationConfigurationCreate is "
        "PutBucketReplication, which overwrites the bucket's configuration; Delete is DeleteBucketReplication)",
        gap="objects written during the gap are not replicated",
    ),
    Lifecycle(
        "aws:s3/bucketObjectv2:BucketObjectv2",
        frozenset({"bucket", "key"}),
        ("bucket", "key"),
        "upsert",
        "",
        f"{AWS}s3/object.go resourceObject (aws_s3_object: bucket, key ForceNew; Create is PutObject)",
        gap="the object is absent for a moment: the degraded page answers 403",
    ),
    Lifecycle(
        "aws:kms/key:Key",
        frozenset({"customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"}),
        (),
        "new-id",
        "",
        f"{AWS}kms/key.go@00a3530 resourceKey (customer_master_key_spec, key_usage, multi_region, "
        "custom_key_store_id, xks_key_id ForceNew; resourceKeyCreate is CreateKey: KMS assigns the id; "
        "resourceKeyDelete only schedules the deletion, deletion_window_in_days)",
        holds_data=True,
    ),
    Lifecycle(
        "aws:kms/replicaKey:ReplicaKey",
        frozenset({"primaryKeyArn"}),
        ("primaryKeyArn",),
        "fails",
        "",
        f"{AWS}kms/replica_key.go@957dbb4 ResourceReplicaKey (primary_key_arn ForceNew, the only one; description, "
        "policy, enabled, tags updated in place; resourceReplicaKeyCreate is ReplicateKey, called in the primary "
        "key's region (NewSessionForRegion) with ReplicaRegion = the provider's region: KMS refuses a second replica "
        "of the key in one region (AlreadyExistsException) and gives the replica the primary's key id (mrk-...); "
        "resourceReplicaKeyDelete only schedules the deletion, deletion_window_in_days, and accepts a key already "
        "pending deletion; the importer is ImportStatePassthrough, the key id)",
        holds_data=True,
        gap="the region has no replica for a moment: the vault region cannot decrypt the stack's secrets",
    ),
    Lifecycle(
        "aws:kms/alias:Alias",
        frozenset({"name", "namePrefix"}),
        ("name",),
        "fails",
        "",
        f"{AWS}kms/alias.go@4c72bcc ResourceAlias (name, name_prefix ForceNew; target_key_id updated in place by "
        "resourceAliasUpdate's UpdateAlias; resourceAliasCreate is CreateAlias, which KMS refuses for a name "
        "that exists in the region (AlreadyExistsException): an alias made by hand is adopted with `pulumi import "
        "aws:kms/alias:Alias <name> alias/...` (ImportStatePassthrough: the alias name), or deleted first; "
        f"resourceAliasDelete is DeleteAlias, which leaves the key); {PULUMI_AWS} (`name` auto-named); "
        f"{BRIDGE_SDKV2}",
        autonamed="name",
        # Not key material, but the name the stack file's secrets provider (awskms://alias/...) resolves.
        holds_data=True,
        gap="the alias resolves to nothing for a moment: the stack's secrets provider cannot decrypt",
    ),
    Lifecycle(
        "aws:route53/zone:Zone",
        frozenset({"name", "delegationSetId"}),
        (),
        "new-id",
        "",
        f"{AWS}route53/zone.go@036631a ResourceZone (name, delegation_set_id ForceNew; CreateHostedZone takes a "
        "unique caller reference, so zones of the same name coexist; comment, default Managed by Terraform, which "
        "pulumi-aws makes Managed by Pulumi, is read from the zone by resourceZoneRead and changed in place by "
        "resourceZoneUpdate's UpdateHostedZoneComment: an import compares it, and an adopted zone ignores it); "
        f"{PULUMI_AWS} auto-names `name`",
        autonamed="name",
        holds_data=True,
        import_id=ImportId(
            "{@zoneId}",
            r"Z[A-Z0-9]{1,32}",
            f"{AWS}route53/zone.go resourceZone (schema.ImportStatePassthroughContext: the hosted zone id)",
        ),
    ),
    Lifecycle(
        "aws:route53/record:Record",
        frozenset({"name", "zoneId"}),
        ("zoneId", "name", "type", "setIdentifier"),
        "fails",
        "",
        f"{AWS}route53/record.go (name, zone_id ForceNew; type and set_identifier updated in place; Create is "
        "a CREATE change refused for an existing record unless allow_overwrite)",
        gap="the name does not resolve for a moment (resolvers cache the NXDOMAIN for the zone's SOA TTL)",
        # An adopted zone already answers for the app's names: the records are adopted with it, or the `up` fails
        # on its CREATE. What exists is a simple record (no set identifier): adopted as the failover primary, the
        # `up` turns it into the primary in place.
        import_id=ImportId(
            "{$zoneId}_{name}_{type}",
            r"Z[A-Z0-9]{1,32}_[a-z0-9*][a-z0-9.*-]*_[A-Z]+",
            f"{AWS}route53/record.go@00655c1 recordImportID.Parse (ZONEID_RECORDNAME_TYPE_SET-IDENTIFIER, the set "
            "identifier optional: left out, the simple record of that name and type; createRecordImportID lowercases "
            "the name)",
        ),
    ),
    Lifecycle(
        "aws:route53/healthCheck:HealthCheck",
        frozenset({"type", "requestInterval", "measureLatency", "referenceName", "routingControlArn"}),
        (),
        "new-id",
        "",
        f"{AWS}route53/health_check.go@0160692 resourceHealthCheck (type, request_interval, measure_latency, "
        "reference_name, routing_control_arn ForceNew; resourceHealthCheckCreate is CreateHealthCheck with a fresh "
        "CallerReference (id.UniqueId): Route 53 assigns the id, so two coexist)",
    ),
    Lifecycle(
        "aws:acm/certificate:Certificate",
        frozenset(
            {
                "certificateAuthorityArn",
                "domainName",
                "keyAlgorithm",
                "subjectAlternativeNames",
                "validationMethod",
                "validationOptions",
            }
        ),
        (),
        "new-id",
        "",
        f"{AWS}acm/certificate.go@01661ea resourceCertificate (certificate_authority_arn, domain_name, "
        "key_algorithm, subject_alternative_names, validation_method, validation_option ForceNew; pulumi-aws names "
        "validation_option `validationOptions`; resourceCertificateCreate is RequestCertificate with a fresh "
        "IdempotencyToken: ACM assigns a new ARN, so two coexist)",
    ),
    Lifecycle(
        "aws:acm/certificateValidation:CertificateValidation",
        frozenset({"certificateArn", "validationRecordFqdns"}),
        (),
        "new-id",
        "",
        f"{AWS}acm/certificate_validation.go (certificate_arn, validation_record_fqdns ForceNew; Create waits "
        "for issuance, Delete is a no-op)",
    ),
    Lifecycle(
        "aws:cloudfront/distribution:Distribution",
        frozenset({"staging"}),
        ("aliases",),
        "fails",
        "",
        f"{AWS}cloudfront/distribution.go@023c8e5 ResourceDistribution (staging ForceNew, every other argument "
        "updated in place by UpdateDistribution; resourceDistributionCreate is CreateDistributionWithTags: CloudFront "
        "assigns the id but refuses an alias another distribution serves (CNAMEAlreadyExists); "
        "resourceDistributionDelete disables the distribution, waits for it to deploy, then deletes it)",
        gap="the degraded page is not served until the new distribution deploys (minutes)",
    ),
    Lifecycle(
        "aws:cloudfront/originAccessControl:OriginAccessControl",
        frozenset(),
        ("name",),
        "fails",
        "",
        f"{AWS}cloudfront/origin_access_control.go (SDKv2 schema.Resource; name Required, updated in place; "
        f"CreateOriginAccessControl refuses an existing name); {PULUMI_AWS}; {BRIDGE_SDKV2}",
        autonamed="name",
        gap="the distribution's origin has no access control for a moment: the degraded page answers 403",
    ),
    Lifecycle(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        frozenset({"name"}),
        ("name",),
        "upsert",
        "",
        f"{AWS}cloudwatch/metric_alarm.go@e33a89d resourceMetricAlarm (alarm_name ForceNew, pulumi-aws names it "
        "`name`; resourceMetricAlarmCreate is PutMetricAlarm, which overwrites an alarm of that name; the version "
        "stored at 055611a also refuses an existing name first (findMetricAlarmByName): upstream PR #44169, open "
        f"when this row was read); {PULUMI_AWS}",
        autonamed="name",
    ),
    Lifecycle(
        "aws:cloudwatch/dashboard:Dashboard",
        frozenset({"dashboardName"}),
        ("dashboardName",),
        "upsert",
        "",
        f"{AWS}cloudwatch/dashboard.go resourceDashboard (dashboard_name ForceNew; Create and Update are one "
        "PutDashboard, which overwrites a dashboard of that name; dashboard_body stored as normalized JSON); "
        f"{PULUMI_AWS} (dashboard_name is not auto-named)",
        import_id=ImportId(
            "{dashboardName}",
            r"[A-Za-z0-9_-]{1,255}",
            f"{AWS}cloudwatch/dashboard.go resourceDashboard (schema.ImportStatePassthroughContext: the name)",
        ),
    ),
    Lifecycle(
        "aws:cloudwatch/eventConnection:EventConnection",
        frozenset({"name"}),
        ("name",),
        "fails",
        "",
        f"{AWS}events/connection.go (SDKv2 schema.Resource; name ForceNew; auth_parameters, authorization_type "
        "updated in place by UpdateConnection; CreateConnection refuses an existing name); "
        f"{PULUMI_AWS}; {BRIDGE_SDKV2}",
        autonamed="name",
        gap="the API destination has no credentials for a moment: a rollback dispatch then fails and is retried",
    ),
    Lifecycle(
        "aws:cloudwatch/eventApiDestination:EventApiDestination",
        frozenset({"name"}),
        ("name",),
        "fails",
        "",
        f"{AWS}events/api_destination.go (SDKv2 schema.Resource; name ForceNew; endpoint, method, rate and "
        f"connection updated in place); {PULUMI_AWS}; {BRIDGE_SDKV2}",
        autonamed="name",
        gap="the rules' target is missing for a moment: a rollback dispatch then fails and is retried",
    ),
    Lifecycle(
        "aws:cloudwatch/eventRule:EventRule",
        frozenset({"name", "namePrefix", "eventBusName"}),
        ("eventBusName", "name"),
        "upsert",
        "",
        f"{AWS}events/rule.go@9dfe6ff ResourceRule (name, name_prefix, event_bus_name ForceNew; resourceRuleCreate "
        "is PutRule (retryPutRule), which overwrites a rule of that name on that bus; resourceRuleDelete retries "
        f"while the rule still has targets); {PULUMI_AWS}",
        autonamed="name",
        gap="an alarm firing in the gap starts no rollback workflow",
    ),
    Lifecycle(
        "aws:cloudwatch/eventTarget:EventTarget",
        frozenset({"rule", "eventBusName", "targetId"}),
        (),
        "new-id",
        "",
        f"{AWS}events/target.go (rule, event_bus_name, target_id ForceNew; target_id generated when unset; "
        "Create is PutTargets)",
    ),
    Lifecycle(
        "aws:sns/topic:Topic",
        frozenset({"name", "namePrefix", "fifoTopic"}),
        ("name",),
        "upsert",
        "",
        f"{AWS}sns/topic.go@00a3530 resourceTopic (name, name_prefix, fifo_topic ForceNew; resourceTopicCreate is "
        "CreateTopic, which returns the existing topic of that name, then putTopicAttributes overwrites its "
        f"attributes; resourceTopicDelete is DeleteTopic); {PULUMI_AWS}",
        autonamed="name",
    ),
    Lifecycle(
        "aws:sns/topicSubscription:TopicSubscription",
        frozenset({"endpoint", "protocol", "topic"}),
        ("topic", "protocol", "endpoint"),
        "upsert",
        "",
        f"{AWS}sns/topic_subscription.go (endpoint, protocol, topic_arn ForceNew; pulumi-aws names "
        "topic_arn `topic`; Subscribe returns the existing subscription, an email endpoint confirms again)",
        gap="alerts published during the gap reach nobody on that endpoint",
    ),
    Lifecycle(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        frozenset({"url"}),
        ("url",),
        "fails",
        "",
        f"{AWS}iam/openid_connect_provider.go (url ForceNew; client_id_list and thumbprint_list updated in place; "
        "one provider per URL and account)",
        holds_data=True,
        import_id=ImportId(
            "arn:aws:iam::{$accountId}:oidc-provider/{url}",
            r"arn:aws:iam::[0-9]{12}:oidc-provider/[a-z0-9.-]+(/[A-Za-z0-9._-]+)*",
            f"{AWS}iam/openid_connect_provider.go resourceOpenIDConnectProvider "
            "(no Importer of its own: the @ArnIdentity annotation imports it by the provider's ARN)",
        ),
    ),
    Lifecycle(
        "aws:iam/role:Role",
        frozenset({"name", "namePrefix", "path"}),
        ("name",),
        "fails",
        "",
        f"{AWS}iam/role.go (name, name_prefix, path ForceNew; CreateRole refuses an existing name); "
        f"{PULUMI_AWS}; {BRIDGE_SDKV2}",
        autonamed="name",
        gap="the role does not exist for a moment: a job assuming it then is denied",
    ),
    Lifecycle(
        "aws:iam/policy:Policy",
        frozenset({"name", "namePrefix", "path", "description"}),
        ("name",),
        "fails",
        "",
        f"{AWS}iam/policy.go (name, name_prefix, path, description ForceNew; the document is a new default "
        f"version in place; CreatePolicy refuses an existing name); {PULUMI_AWS}",
        autonamed="name",
        gap="IAM refuses to delete a policy roles still carry as their boundary: the replacement fails",
    ),
    Lifecycle(
        "aws:iam/rolePolicy:RolePolicy",
        frozenset({"name", "namePrefix", "role"}),
        ("role", "name"),
        "upsert",
        "",
        f"{AWS}iam/role_policy.go (name, name_prefix, role ForceNew; Create is PutRolePolicy); {PULUMI_AWS}",
        autonamed="name",
        gap="the role lacks this inline policy for a moment: its calls are denied",
    ),
    Lifecycle(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        frozenset({"role", "policyArn"}),
        ("role", "policyArn"),
        "upsert",
        "",
        f"{AWS}iam/role_policy_attachment.go (role, policy_arn ForceNew; AttachRolePolicy is idempotent)",
        gap="the role lacks this managed policy for a moment: its calls are denied",
    ),
    Lifecycle(
        "pagerduty:index/escalationPolicy:EscalationPolicy",
        frozenset(),
        ("name",),
        "fails",
        "",
        f"{PAGERDUTY}resource_pagerduty_escalation_policy.go (no ForceNew: name, rules, num_loops updated in place; "
        "Create passes PagerDuty's refusal of a name already taken through; Delete retries while a service uses it); "
        f"{PULUMI_PAGERDUTY}; {BRIDGE_SDKV2}",
        autonamed="name",
    ),
    Lifecycle(
        "pagerduty:index/service:Service",
        frozenset(),
        ("name",),
        "fails",
        "",
        f"{PAGERDUTY}resource_pagerduty_service.go (no ForceNew: every input updated in place; Create passes "
        "PagerDuty's refusal of a name already taken through); "
        f"{PULUMI_PAGERDUTY}; {BRIDGE_SDKV2}",
        autonamed="name",
        holds_data=True,
        gap="a new service has none of the old one's incidents, and its integrations have new keys",
    ),
    Lifecycle(
        "pagerduty:index/schedule:Schedule",
        frozenset(),
        (),
        "new-id",
        "",
        f"{PAGERDUTY_ONCALL}pagerduty/resource_pagerduty_schedule.go (no ForceNew: name, time_zone and layers are "
        "updated in place, a layer dropped from the program is ended, never deleted; Create checks no name and "
        "PagerDuty assigns the id; PagerDuty refuses to delete a schedule an escalation policy pages, so "
        "resourcePagerDutyScheduleDelete rewrites each policy of several rules without it (removeScheduleFromEP) "
        "and fails when it is a policy's only target or incidents are open: the policy must change first); "
        f"{PULUMI_PAGERDUTY}; {BRIDGE_SDKV2}",
        autonamed="name",
        import_id=ImportId(
            "{@scheduleId}",
            r"P[A-Z0-9]{6}",
            f"{PAGERDUTY_ONCALL}pagerduty/resource_pagerduty_schedule.go Importer (ImportStatePassthrough: the "
            "schedule's id, in its URL /schedules#PABC123)",
        ),
    ),
    Lifecycle(
        "pagerduty:index/user:User",
        frozenset(),
        ("email",),
        "upsert",
        "",
        f"{PAGERDUTY_ONCALL}pagerduty/resource_pagerduty_user.go (no ForceNew: every input updated in place; "
        "resourcePagerDutyUserCreate adopts a user of the same email, name and role and then writes the declared "
        "inputs (vendor/github.com/heimweh/go-pagerduty/pagerduty/user.go UserService.Create, findExistingUser, "
        "isSameUser), else fails with Email has already been taken; Delete removes the person's account: the "
        "program retains it); "
        f"{PULUMI_PAGERDUTY}; {BRIDGE_SDKV2}",
        autonamed="name",
        import_id=ImportId(
            "{@userId}",
            r"P[A-Z0-9]{6}",
            f"{PAGERDUTY_ONCALL}pagerduty/resource_pagerduty_user.go Importer (ImportStatePassthrough: the user's id)",
        ),
    ),
    Lifecycle(
        "pagerduty:index/userContactMethod:UserContactMethod",
        frozenset(),
        ("userId", "type", "address", "countryCode"),
        "fails",
        "",
        f"{PAGERDUTY_ONCALL}pagerdutyplugin/resource_pagerduty_user_contact_method.go (no RequiresReplace: every "
        "attribute updated in place; Create passes PagerDuty's User Contact method must be unique through, only "
        "Update resolves it (processUpdateContactMethodResponse); Delete ignores a method already gone); "
        f"{BRIDGE_PF}",
        import_id=ImportId(
            "{@userAndMethodId}",
            r"P[A-Z0-9]{6}:P[A-Z0-9]{6}",
            f"{PAGERDUTY_ONCALL}pagerdutyplugin/resource_pagerduty_user_contact_method.go ImportState "
            '("<user_id>:<contact_method_id>")',
        ),
    ),
    Lifecycle(
        "pagerduty:index/userNotificationRule:UserNotificationRule",
        frozenset(),
        (),
        "new-id",
        "",
        f"{PAGERDUTY_ONCALL}pagerdutyplugin/resource_pagerduty_user_notification_rule.go (no RequiresReplace: "
        "user_id, start_delay_in_minutes, urgency and contact_method updated in place; Create checks for no "
        "existing rule, PagerDuty assigns the id; Delete ignores a rule already gone); "
        f"{BRIDGE_PF}",
    ),
    Lifecycle(
        "pagerduty:index/serviceIntegration:ServiceIntegration",
        frozenset({"service", "type", "vendor", "emailFilters"}),
        (),
        "new-id",
        "",
        f"{PAGERDUTY}resource_pagerduty_service_integration.go (service, type, vendor, email_filter ForceNew; "
        "PagerDuty assigns the id and the integration key: a replacement has a new key); "
        f"{PULUMI_PAGERDUTY}",
        autonamed="name",
        gap="alarms posted to the old key while the topic's subscription follows the new one open no incident",
    ),
)
"""The record: one row per type token the program registers (a test fails when a registered type has none)."""

EXEMPT_PREFIXES: tuple[str, ...] = (PROVIDER_PREFIX, "pulumi:pulumi:")
"""Registrations that are no cloud object (provider instances, the stack): they have no row."""

REPLACE_ON_PACKAGE: dict[str, frozenset[str]] = {
    # terraform-provider-aws 6 (pulumi-aws 7) added a per-resource `region`; a resource cannot move regions.
    "aws": frozenset({"region"}),
}

LIFECYCLE: dict[str, Lifecycle] = {row.type: row for row in RECORD}


def lifecycle(type_: str) -> Lifecycle | None:
    """The recorded lifecycle of a type token (None for a type without a row)."""
    return LIFECYCLE.get(type_)


def needs_row(type_: str, custom: bool) -> bool:
    """Whether a registration of this type must have a row in the record."""
    return custom and not type_.startswith(EXEMPT_PREFIXES)


def forces_replacement(type_: str, path: str, replace_on_changes: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether changing the input at `path` (e.g. `gitRepository.repo`, `rules[0].id`) replaces the resource.

    `replace_on_changes` is the resource's own `replace_on_changes` option: `*` or property paths.
    """
    row = LIFECYCLE.get(type_)
    package = type_.split(":", 1)[0]
    rules = (row.replace_on if row else frozenset()) | REPLACE_ON_PACKAGE.get(package, frozenset())
    return any(rule == "*" or _covers(rule, path) or _covers(path, rule) for rule in (*rules, *replace_on_changes))


def kept_when_left_out(type_: str, path: str) -> bool:
    """Whether the input at `path`, held by the state and left out by the program, keeps its value (no change)."""
    row = LIFECYCLE.get(type_)
    return row is not None and any(_covers(name, path) for name in row.computed)


def holds_data(type_: str, urn: str = "", protect: bool = False, retain_on_delete: bool = False) -> bool:
    """Whether losing this resource loses data or identity: protected, retained, or a data-holding type (declared
    where its row says data lives). The diff's loud warning and the policy's `protect-stateful` both ask this."""
    row = LIFECYCLE.get(type_)
    if protect or retain_on_delete:
        return True
    if row is None or not row.holds_data:
        return False
    return not row.holds_data_within or any(token.startswith(row.holds_data_within) for token in type_chain(urn)[:-1])


@dataclass(frozen=True)
class Order:
    """In which order a replacement runs, why, and what the reviewer should expect in between."""

    delete_first: bool
    why: str
    """option (the resource's deleteBeforeReplace), provider, bridge, or default (Pulumi creates first)."""
    gap: str

    def text(self) -> str:
        """One line for a reviewer."""
        order = "delete-first" if self.delete_first else "create-first"
        reason = {
            "option": "its deleteBeforeReplace option",
            "provider": "the Pulumi provider forces it",
            "bridge": "the bridge forces it: the name is given explicitly",
            "default": "Pulumi's default",
        }[self.why]
        return f"{order} ({reason}): {self.gap}"


def replacement_order(type_: str, inputs: Mapping[str, Any], delete_before_replace: bool) -> Order:
    """How Pulumi would replace a resource of this type with these inputs and this option."""
    row = LIFECYCLE.get(type_)
    forced = row.forced_delete_first(inputs) if row else ""
    if delete_before_replace or forced:
        gap = (row.gap if row else "") or "the object does not exist for a moment"
        return Order(True, "option" if delete_before_replace else forced, gap)
    if row is None or row.create == "new-id" or not row.natural_key:
        gap = "the new and old objects coexist until the old one is deleted"
    elif row.create == "upsert":
        gap = "the new object overwrites the old one, whose delete then removes it: the value is lost"
    else:
        gap = "the create collides with the old object of the same name and fails"
    return Order(False, "default", gap)


@dataclass(frozen=True)
class CollisionRisk:
    """A resource whose replacement would be create-first on an unchanged natural key."""

    type: str
    triggers: list[str]
    create: Create


def collision_risk(type_: str, inputs: Mapping[str, Any], delete_before_replace: bool | None) -> CollisionRisk | None:
    """Whether replacing the resource would create first and collide on its natural key, and through what."""
    row = LIFECYCLE.get(type_)
    if row is None or delete_before_replace or row.forced_delete_first(inputs):
        return None
    if row.autonamed in row.natural_key and inputs.get(row.autonamed) is None:
        return None  # auto-named: each replacement gets a fresh name
    triggers = row.key_triggers(inputs)
    return CollisionRisk(type_, triggers, row.create) if triggers else None


def read_back(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as the provider would read them back into state after a create."""
    row = LIFECYCLE.get(type_)
    state = dict(inputs)
    for rule in row.read_back if row else ():
        value = state.get(rule.sent)
        if rule.when == "string" and isinstance(value, str):
            del state[rule.sent]
            state[rule.read_into] = value
    return state


def _covers(rule: str, path: str) -> bool:
    """A rule path covers itself and everything below it (`a` covers `a.b` and `a[0]`, not `ab`)."""
    return path == rule or path.startswith((f"{rule}.", f"{rule}["))
