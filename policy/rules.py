"""The pack's rules: one validator per rule, matched on exact type tokens, each message naming the fix.

The same functions run under the engine (`pulumi preview --policy-pack policy`, assembled by `policy/__main__.py`)
and offline (`python -m infra plan`, through `infra.engine.policies`), both times on pulumi_policy's own argument types.
What a validator sees is what CrossGuard gives it: secret values decrypted (so secrecy is judged from the
`additional_secret_outputs` option, the one signal the engine passes), unknown values of a preview as sentinels
(read through `policy.values.plain`, then skipped, never flagged).
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.lifecycle import collision_risk
from policy.values import UNKNOWN, as_list, dig, json_document, known, plain, stack_of, type_chain
from settings.env_schema import SECRET_ENV_KEYS, validate_app_env
from settings.github_oidc import GITHUB_OIDC_HOST
from settings.stackfile import StackConfig, StackFileError, read_stack_config

PACK_NAME: Final = "vibelog-guardrails"
PACK_ENFORCEMENT_LEVEL: Final = EnforcementLevel.MANDATORY
"""Level of every rule that does not set its own; a pack config entry overrides either."""

# Type tokens, exactly as the engine records them (pulumiverse-vercel 5, pulumi-aws 7, pulumi-github 6).
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
KMS_KEY: Final = "aws:kms/key:Key"
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

BACKUP_MODULE: Final = "vibelog:backup:"
"""Buckets declared inside a component of this module (BackupVault) hold backups."""

SECRET_KEYS: Final[frozenset[str]] = SECRET_ENV_KEYS | {"EDGE_CONFIG"}
"""Env vars whose values are secrets: the app schema's, plus the Edge Config connection string (it embeds a token)."""
SENSITIVE_TARGETS: Final = frozenset({"production", "preview"})
"""Vercel refuses `sensitive` on the development target, so that `vercel env pull` can read the value."""

SECRET_INPUTS: Final[Mapping[str, tuple[str, ...]]] = {
    ENV_VAR: ("value",),
    ENVIRONMENT_SECRET: ("value", "plaintextValue", "encryptedValue", "valueEncrypted"),
    REPOSITORY_SECRET: ("value", "plaintextValue", "encryptedValue", "valueEncrypted"),
    "pulumi:providers:vercel": ("apiToken",),
    "pulumi:providers:github": ("token",),
    # The provider does not mark the bulk resource's values secret: the program must (expert checklist).
    ENV_VARS_BULK: ("variables",),
}
"""Inputs that hold secrets, per type; the provider SDKs list them in additional_secret_outputs."""

STATEFUL_TYPES: Final = frozenset({VERCEL_PROJECT, KMS_KEY, HOSTED_ZONE, OIDC_PROVIDER})
"""Types that hold data or identity: replaced or deleted by accident, they take the service (or its trust) along."""

MIN_STORAGE_DAYS: Final[Mapping[str, int]] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
}
"""S3 minimum storage durations: an object deleted or moved earlier is billed as if it stayed that long."""
IA_CLASSES: Final = frozenset({"STANDARD_IA", "ONEZONE_IA"})
# The reference's daily retention (30 days) binds production; staging keeps backups briefly by design.
DEFAULT_MIN_RETENTION_DAYS: Final = {"production": 30, "default": 7}
"""The reference's shortest backup retention: daily database dumps kept 30 days."""

BROAD_MANAGED_POLICIES: Final = frozenset(
    f"arn:aws:iam::aws:policy/{name}" for name in ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
)
"""AWS managed policies that reach every stack of the account (and its identity): no role of a stack gets one."""
SECRET_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

STACK_CONFIG: ContextVar[StackConfig | None] = ContextVar("STACK_CONFIG", default=None)
"""The stack config a check runs against; unset, the stack file of the stack being previewed is read."""


# ------------------------------------------------------------------------------------------------ helpers


def _props(resource: ResourceValidationArgs | PolicyResource) -> dict[str, Any]:
    value = plain(resource.props)
    return value if isinstance(value, dict) else {}


def _config(args: ResourceValidationArgs | StackValidationArgs, key: str, default: Any) -> Any:
    return args.get_config().get(key, default)


def _of_type(resources: Iterable[PolicyResource], type_: str) -> list[PolicyResource]:
    return [resource for resource in resources if resource.resource_type == type_]


def _depends_on(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    return any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, []))


def _dns_name(value: Any) -> str | None:
    return value.rstrip(".").lower() if isinstance(value, str) else None


def is_backup_bucket(urn: str) -> bool:
    """A bucket declared by a backup component (its URN's type chain passes through `vibelog:backup:`)."""
    chain = type_chain(urn)
    return bool(chain) and chain[-1] == BUCKET and any(token.startswith(BACKUP_MODULE) for token in chain[:-1])


def _backup_buckets(resources: list[PolicyResource]) -> list[PolicyResource]:
    """Buckets of a backup component, except the live bucket it replicates from (tagged as such by the component)."""
    return [
        resource
        for resource in resources
        if is_backup_bucket(resource.urn) and dig(_props(resource), "tags", "vibelog-role") != "replication-source"
    ]


def _attached(resources: list[PolicyResource], bucket: PolicyResource, type_: str) -> list[PolicyResource]:
    """Side resources of `type_` that configure `bucket`: by dependency, or by a known equal bucket name."""
    name = _props(bucket).get("bucket")
    found = []
    for resource in _of_type(resources, type_):
        target = _props(resource).get("bucket")
        if _depends_on(resource, "bucket", bucket) or (isinstance(name, str) and target == name):
            found.append(resource)
    return found


def _bucket_rule(
    type_: str, what: str, check: Callable[[dict[str, Any]], str | None]
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """A stack validator: each backup bucket has a side resource of `type_`, and `check` passes on each of them."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for bucket in _backup_buckets(args.resources):
            side = _attached(args.resources, bucket, type_)
            if not side:
                report(
                    f"backup bucket {bucket.name} has no {type_.rsplit(':', 1)[-1]}; fix: declare one ({what})",
                    bucket.urn,
                )
            for resource in side:
                problem = check(_props(resource))
                if problem:
                    report(f"{resource.name} (backup bucket {bucket.name}): {problem}", resource.urn)

    return validate


# ------------------------------------------------------------------------------------------------ Vercel env


def env_schema(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every project's env, per deployment target, satisfies the app's env schema (settings.env_schema)."""
    # (project, target) -> key -> (value, urn of the variable)
    groups: dict[tuple[str, str], dict[str, tuple[Any, str]]] = defaultdict(dict)
    projects: dict[str, str] = {}
    for variable in _of_type(args.resources, ENV_VAR):
        props = _props(variable)
        deps = variable.property_dependencies.get("projectId", [])
        project = deps[0].urn if deps else str(props.get("projectId"))
        projects[project] = deps[0].name if deps else project
        key, targets = props.get("key"), props.get("targets")
        if not isinstance(key, str) or not isinstance(targets, list):
            continue  # unknown in this preview: nothing to group by
        for target in targets:
            if isinstance(target, str):
                groups[(project, target)][key] = (props.get("value"), variable.urn)
    for (project, target), env in sorted(groups.items()):
        values = {key: value for key, (value, _) in env.items() if isinstance(value, str)}
        for problem in validate_app_env(values):
            if problem.key in env and not isinstance(env[problem.key][0], str):
                continue  # its value is unknown in this preview (or not text): skip, never flag
            if problem.key in env:
                urn = env[problem.key][1]
                fix = f"fix the stack config value behind {problem.key} (python -m infra plan names the config key)"
            else:
                urn = project if project.startswith("urn:") else ""
                fix = f"declare a {ENV_VAR.rsplit(':', 1)[-1]} {problem.key} whose targets include {target}"
            report(f"project {projects[project]}, target {target}: {problem.message}; fix: {fix}", urn or None)


def secret_env_sensitive(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A secret env var is `sensitive` wherever Vercel allows it (every target but development)."""
    if args.resource_type != ENV_VAR:
        return
    props = _props(args)
    key, targets, sensitive = props.get("key"), props.get("targets"), props.get("sensitive")
    if key not in SECRET_KEYS or not isinstance(targets, list) or not known(targets) or sensitive is UNKNOWN:
        return
    on_dev = "development" in targets
    others = sorted(set(targets) - {"development"})
    if on_dev and others:
        report(
            f"{key} holds a secret and targets development together with {', '.join(others)}; fix: split it into "
            "one variable for development (sensitive=False) and one for the other targets (sensitive=True)",
            None,
        )
    elif on_dev and sensitive is True:
        report(f"{key} targets development, where Vercel refuses sensitive variables; fix: set sensitive=False", None)
    elif not on_dev and sensitive is not True:
        report(f"{key} holds a secret; fix: set sensitive=True on its {', '.join(others)} variable", None)


def secret_inputs_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Inputs that hold secrets are secret in state (listed in additional_secret_outputs)."""
    names = SECRET_INPUTS.get(args.resource_type)
    if not names:
        return
    props = _props(args)
    marked = set(args.opts.additional_secret_outputs or [])
    for name in names:
        if props.get(name) is not None and name not in marked:
            report(
                f"input {name} holds a secret but would be stored in plaintext in the state; fix: wrap it in "
                f"pulumi.Output.secret(...) and add additional_secret_outputs=[{name!r}] to its options",
                None,
            )


def debug_mode_off_in_production(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """DEBUG_MODE is off (rollout 0%) in production."""
    if args.resource_type != EDGE_CONFIG_ITEM:
        return
    production = _config(args, "productionStacks", ["production"])
    props = _props(args)
    if stack_of(args.urn) not in production or props.get("key") != "DEBUG_MODE":
        return
    value = props.get("valueJson")
    if not known(value):
        return
    if value not in (False, 0, {"rolloutPercent": 0}):
        report(
            f"DEBUG_MODE is {value!r} in the {stack_of(args.urn)} stack; fix: pulumi config set --stack "
            f"{stack_of(args.urn)} --path 'vibelog:featureFlags.DEBUG_MODE' false",
            None,
        )


def production_env_not_on_previews(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In production stacks no env var targets preview: previews build unreviewed branches."""
    if args.resource_type != ENV_VAR or stack_of(args.urn) not in _config(args, "productionStacks", ["production"]):
        return
    props = _props(args)
    targets = props.get("targets")
    if isinstance(targets, list) and "preview" in targets:
        report(
            f"{props.get('key')} of the {stack_of(args.urn)} stack targets preview, so every preview deployment (an "
            f"unreviewed branch) would get it; fix: remove preview from vibelog:app.targets in "
            f"Pulumi.{stack_of(args.urn)}.yaml (production only)",
            None,
        )


def vercel_deploys_through_pipeline(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A Vercel project is not linked to a git repository: only the pipeline deploys it."""
    if args.resource_type != VERCEL_PROJECT:
        return
    repository = _props(args).get("gitRepository")
    if repository is None or repository is UNKNOWN:
        return
    report(
        f"project {args.name} is linked to {dig(repository, 'repo')!r}: Vercel deploys every push, and a push to "
        f"{dig(repository, 'productionBranch') or 'the production branch'} reaches production without the "
        "pipeline's tests and approval; fix: remove git_repository (the pipeline deploys with `vercel --prod`)",
        None,
    )


def edge_config_strings_in_value(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """An Edge Config item holds a string in `value`, never in `value_json`, or it is replaced on every `up`."""
    if args.resource_type != EDGE_CONFIG_ITEM:
        return
    props = _props(args)
    if isinstance(props.get("valueJson"), str):
        report(
            f"item {props.get('key')} holds a string in value_json; the provider reads strings back into value, so "
            "the item would be deleted and re-created on every up; fix: pass the string as value=",
            None,
        )


# ------------------------------------------------------------------------------------------------ state safety


def protect_stateful(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Resources that hold data or identity are protected against accidental delete and replace."""
    stateful = args.resource_type in STATEFUL_TYPES or is_backup_bucket(args.urn)
    if stateful and not args.opts.protect:
        report(f"{args.name} holds data or identity; fix: give it opts=pulumi.ResourceOptions(protect=True)", None)


def replace_delete_first(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A replacement that would create first and collide on the natural key is delete-first instead.

    The lifecycle record (policy.lifecycle) says which inputs replace a resource while keeping its natural key,
    what Create does then (fails, or overwrites a value the old one's Delete removes), and whether the provider or
    the bridge already replaces delete-first. Protected resources are judged too: protect only blocks the
    replacement until someone lifts it, and then the order is what it is.
    """
    props = _props(args)
    risk = collision_risk(args.resource_type, props, args.opts.delete_before_replace)
    if risk is None:
        return
    outcome = (
        "Create overwrites the old object and the old one's Delete then removes the value"
        if risk.create == "upsert"
        else "Create collides with the old object and fails"
    )
    report(
        f"{args.name}: a change of {', '.join(risk.triggers)} replaces it under the same natural key, create-first "
        f"by default ({outcome}); fix: add delete_before_replace=True to its pulumi.ResourceOptions",
        None,
    )


# ------------------------------------------------------------------------------------------------ backups


def _versioning(props: dict[str, Any]) -> str | None:
    status = dig(props, "versioningConfiguration", "status")
    if status is UNKNOWN or status == "Enabled":
        return None
    return f"versioning is {status!r}; fix: versioning_configuration={{'status': 'Enabled'}}"


def _encryption(props: dict[str, Any]) -> str | None:
    rules = props.get("rules")
    if not known(rules):
        return None
    for rule in as_list(rules):
        default = dig(rule, "applyServerSideEncryptionByDefault")
        if dig(default, "sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and dig(default, "kmsMasterKeyId"):
            if dig(rule, "bucketKeyEnabled") is not True:
                return "bucket_key_enabled is off (each object then costs a KMS call); fix: bucket_key_enabled=True"
            return None
    return "objects are not encrypted with a customer KMS key; fix: sse_algorithm='aws:kms' with kms_master_key_id"


def _public_access(props: dict[str, Any]) -> str | None:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    open_ = [flag for flag in flags if props.get(flag) is not True and props.get(flag) is not UNKNOWN]
    return f"{', '.join(open_)} not True; fix: set all four to True" if open_ else None


def _tls_only(props: dict[str, Any]) -> str | None:
    document = json_document(props.get("policy"))
    if document is UNKNOWN or not known(document):
        return None
    for statement in as_list(dig(document, "Statement")):
        secure = dig(statement, "Condition", "Bool", "aws:SecureTransport")
        if dig(statement, "Effect") == "Deny" and str(secure).lower() in ("false", "['false']"):
            return None
    return "no statement denies requests without TLS; fix: Deny on Condition Bool aws:SecureTransport = false"


def _object_lock(props: dict[str, Any]) -> str | None:
    retention = dig(props, "rule", "defaultRetention")
    if not known(retention):
        return None
    if dig(retention, "mode") not in ("GOVERNANCE", "COMPLIANCE") or not (
        dig(retention, "days") or dig(retention, "years")
    ):
        return "no default retention; fix: rule={'default_retention': {'mode': 'GOVERNANCE', 'days': N}}"
    return None


def backup_object_lock(args: StackValidationArgs, report: ReportViolation) -> None:
    """Backup buckets are created with Object Lock on, and a default retention."""
    for bucket in _backup_buckets(args.resources):
        enabled = _props(bucket).get("objectLockEnabled")
        if enabled is not True and enabled is not UNKNOWN:
            report(
                f"backup bucket {bucket.name} is created without Object Lock (it cannot be added freely later); "
                "fix: aws.s3.Bucket(..., object_lock_enabled=True)",
                bucket.urn,
            )
    _bucket_rule(BUCKET_OBJECT_LOCK, "GOVERNANCE or COMPLIANCE default retention", _object_lock)(args, report)


def _retention_days(config: Mapping[str, Any]) -> int | None:
    retention = dig(config, "rule", "defaultRetention")
    days, years = dig(retention, "days"), dig(retention, "years")
    if isinstance(days, int):
        return days
    return years * 365 if isinstance(years, int) else None


def lifecycle_problems(rule: Mapping[str, Any], minimum_days: int) -> list[str]:
    """What is wrong with one enabled lifecycle rule: minimum durations, order, retention, noncurrent versions."""
    problems = []
    transitions = sorted(
        (t for t in as_list(rule.get("transitions")) if isinstance(dig(t, "days"), int)), key=lambda t: t["days"]
    )
    expiration = dig(rule, "expiration", "days")
    for index, transition in enumerate(transitions):
        day, storage = transition["days"], transition.get("storageClass")
        if storage in IA_CLASSES and day < 30:
            problems.append(f"transition to {storage} at day {day}: S3 requires 30 days; fix: days >= 30")
        following = transitions[index + 1]["days"] if index + 1 < len(transitions) else expiration
        minimum = MIN_STORAGE_DAYS.get(str(storage), 0)
        if isinstance(following, int) and following <= day:
            problems.append(f"expiration/next transition at day {following} is not after the transition at day {day}")
        elif isinstance(following, int) and following - day < minimum:
            problems.append(
                f"objects leave {storage} after {following - day} days, under its {minimum}-day minimum storage "
                f"duration; fix: keep them there at least {minimum} days"
            )
    if isinstance(expiration, int) and expiration < minimum_days:
        problems.append(
            f"objects expire after {expiration} days, before the {minimum_days}-day retention; fix: expiration days >= "
            f"{minimum_days}"
        )
    if expiration is not None and rule.get("noncurrentVersionExpiration") is None:
        problems.append(
            "in a versioned bucket expiration only adds a delete marker; fix: also set noncurrent_version_expiration"
        )
    return problems


def _retention_floor(args: StackValidationArgs) -> int:
    """The shortest retention a backup may have in this stack: a number, or a map of stack name (or default) -> days."""
    configured = _config(args, "minimumRetentionDays", DEFAULT_MIN_RETENTION_DAYS)
    if not isinstance(configured, dict):
        return int(configured)
    stack = args.resources[0].urn.split("::")[0].rsplit(":", 1)[-1] if args.resources else ""
    floor = configured.get(stack, configured.get("default", 0))
    return int(floor) if floor is not None else 0


def backup_lifecycle(args: StackValidationArgs, report: ReportViolation) -> None:
    """Lifecycle rules meet the retention objectives and the storage classes' minimum durations."""
    configured = _retention_floor(args)
    for bucket in _backup_buckets(args.resources):
        locks = [_retention_days(_props(lock)) for lock in _attached(args.resources, bucket, BUCKET_OBJECT_LOCK)]
        minimum = max([configured, *(days for days in locks if days is not None)])
        lifecycles = _attached(args.resources, bucket, BUCKET_LIFECYCLE)
        if not lifecycles:
            report(
                f"backup bucket {bucket.name} has no BucketLifecycleConfiguration; fix: declare one that moves "
                f"backups to Glacier and expires them after at least {minimum} days",
                bucket.urn,
            )
        for lifecycle in lifecycles:
            rules = _props(lifecycle).get("rules")
            if not known(rules):
                continue
            enabled = [rule for rule in as_list(rules) if isinstance(rule, dict) and rule.get("status") == "Enabled"]
            if not enabled:
                report(f"{lifecycle.name}: no enabled rule; fix: status='Enabled'", lifecycle.urn)
            for rule in enabled:
                for problem in lifecycle_problems(rule, minimum):
                    report(f"{lifecycle.name}, rule {rule.get('id')}: {problem}", lifecycle.urn)


# ------------------------------------------------------------------------------------------------ DNS


def _failover_role(props: Mapping[str, Any]) -> Any:
    return dig(props, "failoverRoutingPolicies", 0, "type")


def failover_pair(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every PRIMARY failover record has a health check and a SECONDARY of the same name and type."""
    records = [(record, _props(record)) for record in _of_type(args.resources, RECORD)]
    failover = [(r, p) for r, p in records if _failover_role(p) in ("PRIMARY", "SECONDARY")]
    for record, props in failover:
        role, name, type_ = _failover_role(props), _dns_name(props.get("name")), props.get("type")
        if name is None or not isinstance(type_, str):
            continue
        if role == "PRIMARY" and props.get("healthCheckId") is None:
            report(f"PRIMARY record {name} {type_} has no health check; fix: set health_check_id", record.urn)
        other = "SECONDARY" if role == "PRIMARY" else "PRIMARY"
        partners = [
            (r, p)
            for r, p in failover
            if _failover_role(p) == other and _dns_name(p.get("name")) == name and p.get("type") == type_
        ]
        if not partners:
            report(f"{role} record {name} {type_} has no {other}; fix: declare the {other} record", record.urn)
        for _, partner in partners:
            if role == "PRIMARY" and partner.get("setIdentifier") == props.get("setIdentifier"):
                report(
                    f"PRIMARY and SECONDARY of {name} {type_} share set_identifier "
                    f"{props.get('setIdentifier')!r}; fix: give each its own",
                    record.urn,
                )


def health_check_probes_origin(args: StackValidationArgs, report: ReportViolation) -> None:
    """Health checks probe the primary origin, never the failover name (they would measure whichever side is live)."""
    names = {
        _dns_name(_props(record).get("name"))
        for record in _of_type(args.resources, RECORD)
        if _failover_role(_props(record)) is not None
    }
    for check in _of_type(args.resources, HEALTH_CHECK):
        props = _props(check)
        if props.get("type") in ("CALCULATED", "CLOUDWATCH_METRIC", UNKNOWN):
            continue
        fqdn, address = props.get("fqdn"), props.get("ipAddress")
        if fqdn is None and address is None:
            report(f"{check.name} names no endpoint; fix: set ip_address (and fqdn) of the primary origin", check.urn)
        elif _dns_name(fqdn) in names and address is None:
            report(
                f"{check.name} probes the failover name {fqdn}; fix: probe the origin (its ip_address, or its "
                "*.vercel.app host) and keep fqdn only for SNI/Host",
                check.urn,
            )


def health_check_settings(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Health checks follow the reference: HTTPS on /api/health, failover after 3 consecutive failures."""
    if args.resource_type != HEALTH_CHECK:
        return
    props = _props(args)
    type_ = props.get("type")
    if type_ in ("CALCULATED", "CLOUDWATCH_METRIC", UNKNOWN):
        return
    path = _config(args, "resourcePath", "/api/health")
    threshold = int(_config(args, "failureThreshold", 3))
    checks = [
        (type_ in ("HTTPS", "HTTPS_STR_MATCH"), f"type is {type_!r}; fix: type='HTTPS_STR_MATCH' (or 'HTTPS')"),
        (props.get("resourcePath") in (path, UNKNOWN), f"resource_path is not {path}; fix: resource_path={path!r}"),
        (props.get("requestInterval") in (10, 30, None, UNKNOWN), "request_interval must be 10 or 30"),
        (
            props.get("failureThreshold") in (threshold, UNKNOWN),
            f"failure_threshold is {props.get('failureThreshold')!r}; fix: failure_threshold={threshold}",
        ),
        (
            type_ != "HTTPS_STR_MATCH" or props.get("searchString") is not None,
            "HTTPS_STR_MATCH without search_string; fix: set search_string (catches an error page served with 200)",
        ),
    ]
    for ok, message in checks:
        if not ok:
            report(f"{args.name}: {message}", None)


def failover_ttl(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Records tied to health checks have short TTLs, so resolvers follow a failover within a minute."""
    if args.resource_type != RECORD:
        return
    props = _props(args)
    limit = int(_config(args, "maximumTtl", 60))
    ttl = props.get("ttl")
    tied = props.get("healthCheckId") is not None or _failover_role(props) is not None
    if tied and isinstance(ttl, int) and ttl > limit:
        report(f"{args.name} has ttl {ttl}; fix: ttl <= {limit} for a health-checked record", None)


# ------------------------------------------------------------------------------------------------ GitHub


def production_environment_approval(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Production deploys take two people: 2+ reviewers, no self review, no admin bypass, protected branches."""
    if args.resource_type != REPOSITORY_ENVIRONMENT:
        return
    props = _props(args)
    if props.get("environment") not in _config(args, "environments", ["production"]):
        return
    minimum = int(_config(args, "minimumReviewers", 2))
    reviewers = props.get("reviewers")
    if known(reviewers) or isinstance(reviewers, list):
        count = sum(len(as_list(dig(r, "users"))) + len(as_list(dig(r, "teams"))) for r in as_list(reviewers))
        if count < minimum:
            report(f"{count} reviewer(s); fix: list at least {minimum} users or teams in reviewers", None)
    if props.get("preventSelfReview") not in (True, UNKNOWN):
        report("the deployer may approve their own deployment; fix: prevent_self_review=True", None)
    if props.get("canAdminsBypass") not in (False, UNKNOWN):
        report("admins can bypass the approval (GitHub's default); fix: can_admins_bypass=False", None)
    policy = props.get("deploymentBranchPolicy")
    if known(policy) and (dig(policy, "protectedBranches") is not True or dig(policy, "customBranchPolicies")):
        report(
            "any branch can deploy; fix: deployment_branch_policy={'protected_branches': True, "
            "'custom_branch_policies': False}",
            None,
        )


def self_review_needs_reviewers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """prevent_self_review only with reviewers: GitHub answers 422 to it on an environment nobody reviews."""
    if args.resource_type != REPOSITORY_ENVIRONMENT:
        return
    props = _props(args)
    reviewers = props.get("reviewers")
    if props.get("preventSelfReview") is not True or not (known(reviewers) or isinstance(reviewers, list)):
        return
    count = sum(len(as_list(dig(r, "users"))) + len(as_list(dig(r, "teams"))) for r in as_list(reviewers))
    if count == 0:
        report(
            f"{args.name} prevents self review without reviewers, which GitHub refuses (422) on the first up; "
            "fix: prevent_self_review=False, or name reviewers",
            None,
        )


def actions_secret_name(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Secret names are what GitHub accepts: [A-Za-z0-9_], no leading digit, no GITHUB_ prefix."""
    if args.resource_type not in (ENVIRONMENT_SECRET, REPOSITORY_SECRET):
        return
    name = _props(args).get("secretName")
    if not isinstance(name, str):
        return
    if not SECRET_NAME.match(name):
        report(f"secret name {name!r} is not [A-Za-z0-9_] without a leading digit; fix: rename it", None)
    elif name.upper().startswith("GITHUB_"):
        report(f"secret name {name!r} uses the reserved GITHUB_ prefix; fix: rename it", None)


def oidc_trust_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A role trusted by GitHub's OIDC pins both the audience and the subject (repository and environment)."""
    if args.resource_type != IAM_ROLE:
        return
    document = json_document(_props(args).get("assumeRolePolicy"))
    if not known(document) or not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        actions = as_list(dig(statement, "Action"))
        federated = " ".join(str(p) for p in as_list(dig(statement, "Principal", "Federated")))
        if "sts:AssumeRoleWithWebIdentity" not in actions or GITHUB_OIDC_HOST not in federated:
            continue
        equals = dig(statement, "Condition", "StringEquals") or {}
        audience = as_list(dig(equals, f"{GITHUB_OIDC_HOST}:aud"))
        subject = as_list(dig(equals, f"{GITHUB_OIDC_HOST}:sub"))
        if audience != ["sts.amazonaws.com"]:
            report(
                f"{args.name} does not pin the audience; fix: StringEquals {GITHUB_OIDC_HOST}:aud = sts.amazonaws.com",
                None,
            )
        if not subject or any("*" in str(value) for value in subject):
            report(
                f"{args.name} does not pin the subject; fix: StringEquals {GITHUB_OIDC_HOST}:sub = "
                "repo:ORG/REPO:environment:NAME",
                None,
            )


def iam_least_privilege(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No role of a stack holds account-wide rights: no broad managed policy, no `*` action, no `iam:*` on `*`."""
    props = _props(args)
    if args.resource_type == ROLE_POLICY_ATTACHMENT and props.get("policyArn") in BROAD_MANAGED_POLICIES:
        report(
            f"{args.name} attaches {props['policyArn']}, which reaches every stack of the account; fix: an inline "
            "policy scoped to the stack's own names (components/ci_aws_access.py DeployScope)",
            None,
        )
    if args.resource_type != ROLE_POLICY:
        return
    document = json_document(props.get("policy"))
    if not known(document) or not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        if dig(statement, "Effect") != "Allow":
            continue
        actions = [str(action) for action in as_list(dig(statement, "Action"))]
        everywhere = "*" in [str(r) for r in as_list(dig(statement, "Resource"))] or "NotResource" in statement
        if "*" in actions or (everywhere and "iam:*" in actions):
            report(
                f"{args.name} allows {actions} on every resource; fix: name the actions and the stack's own ARNs",
                None,
            )


# ------------------------------------------------------------------------------------------------ stack config


@contextlib.contextmanager
def stack_config(config: StackConfig) -> Iterator[None]:
    """Run the stack-config rule against `config` (the offline plan's) instead of reading the stack file."""
    token = STACK_CONFIG.set(config)
    try:
        yield
    finally:
        STACK_CONFIG.reset(token)


def stack_config_secrets_encrypted(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every config value the settings declare secret is stored encrypted in the stack file."""
    config = STACK_CONFIG.get()
    stacks = {stack_of(resource.urn) for resource in args.resources} - {""}
    if config is None:
        stack = next(iter(stacks), None) or pulumi.get_stack()
        try:
            config = read_stack_config(stack)
        except StackFileError as error:
            args.not_applicable(str(error))
            return
    root = next((r.urn for r in _of_type(args.resources, STACK)), None)
    for path in config.plaintext_secrets:
        report(
            f"{path} is a secret stored in plaintext in Pulumi.{config.stack}.yaml; fix: pulumi config rm --stack "
            f"{config.stack} --path '{path}', then pulumi config set --stack {config.stack} --secret --path "
            f"'{path}' (and rotate it: it is in the repository's history)",
            root,
        )


# ------------------------------------------------------------------------------------------------ the pack


def build_policies() -> list[Policy]:
    """Every rule of the pack, with its default enforcement level; the pack and the offline plan both use this."""

    def schema(**properties: Any) -> PolicyConfigSchema:
        return PolicyConfigSchema(properties=dict(properties))

    advisory = EnforcementLevel.ADVISORY
    return [
        StackValidationPolicy(
            name="env-schema",
            description="The env vars of every Vercel project and deployment target satisfy the app's env schema.",
            validate=env_schema,
        ),
        ResourceValidationPolicy(
            name="secret-env-sensitive",
            description="Env vars holding secrets are sensitive on Vercel wherever Vercel allows it.",
            validate=secret_env_sensitive,
        ),
        ResourceValidationPolicy(
            name="secret-inputs-encrypted",
            description="Inputs that hold secrets are secret in the Pulumi state.",
            validate=secret_inputs_encrypted,
        ),
        ResourceValidationPolicy(
            name="debug-mode-off-in-production",
            description="DEBUG_MODE is off in production.",
            validate=debug_mode_off_in_production,
            config_schema=schema(
                productionStacks={"type": "array", "items": {"type": "string"}, "default": ["production"]}
            ),
        ),
        ResourceValidationPolicy(
            name="replace-delete-first",
            description="Replacements that would collide on a natural key run delete-first (policy/lifecycle.py).",
            validate=replace_delete_first,
        ),
        ResourceValidationPolicy(
            name="production-env-not-on-previews",
            description="No env var of a production stack targets preview deployments.",
            validate=production_env_not_on_previews,
            config_schema=schema(
                productionStacks={"type": "array", "items": {"type": "string"}, "default": ["production"]}
            ),
        ),
        ResourceValidationPolicy(
            name="vercel-deploys-through-pipeline",
            description="No Vercel project is linked to a git repository: only the pipeline deploys.",
            validate=vercel_deploys_through_pipeline,
        ),
        ResourceValidationPolicy(
            name="edge-config-strings-in-value",
            description="Edge Config items hold strings in value (a string in value_json is replaced on every up).",
            validate=edge_config_strings_in_value,
        ),
        ResourceValidationPolicy(
            name="protect-stateful",
            description="Resources holding data or identity (project, backup buckets, keys, zone, OIDC) are protected.",
            validate=protect_stateful,
        ),
        StackValidationPolicy(
            name="backup-versioning",
            description="Backup buckets keep every version of every object.",
            validate=_bucket_rule(BUCKET_VERSIONING, "status Enabled", _versioning),
        ),
        StackValidationPolicy(
            name="backup-encryption",
            description="Backup buckets encrypt with a customer-managed KMS key and S3 bucket keys.",
            validate=_bucket_rule(BUCKET_ENCRYPTION, "aws:kms with a customer key, bucket_key_enabled", _encryption),
        ),
        StackValidationPolicy(
            name="backup-public-access-blocked",
            description="Backup buckets block every kind of public access.",
            validate=_bucket_rule(BUCKET_PUBLIC_ACCESS_BLOCK, "all four flags True", _public_access),
        ),
        StackValidationPolicy(
            name="backup-tls-only",
            description="Backup buckets refuse requests that do not use TLS.",
            validate=_bucket_rule(BUCKET_POLICY, "Deny when aws:SecureTransport is false", _tls_only),
        ),
        StackValidationPolicy(
            name="backup-object-lock",
            description="Backup buckets have Object Lock with a default retention, so no one can delete backups early.",
            validate=backup_object_lock,
        ),
        StackValidationPolicy(
            name="backup-lifecycle",
            description="Backup lifecycles keep backups for their retention and respect minimum storage durations.",
            validate=backup_lifecycle,
            config_schema=schema(
                minimumRetentionDays={
                    "type": ["integer", "object"],
                    "additionalProperties": {"type": "integer"},
                    "default": DEFAULT_MIN_RETENTION_DAYS,
                }
            ),
        ),
        StackValidationPolicy(
            name="failover-pair",
            description="Every PRIMARY failover record has a health check and a SECONDARY with the same name and type.",
            validate=failover_pair,
        ),
        StackValidationPolicy(
            name="health-check-probes-origin",
            description="Route 53 health checks probe the primary origin, not the failover name.",
            validate=health_check_probes_origin,
        ),
        ResourceValidationPolicy(
            name="health-check-settings",
            description="Health checks use HTTPS on /api/health and fail over after 3 consecutive failures.",
            validate=health_check_settings,
            enforcement_level=advisory,
            config_schema=schema(
                resourcePath={"type": "string", "default": "/api/health"},
                failureThreshold={"type": "integer", "default": 3},
            ),
        ),
        ResourceValidationPolicy(
            name="failover-ttl",
            description="Records tied to health checks have a TTL of at most 60 seconds.",
            validate=failover_ttl,
            config_schema=schema(maximumTtl={"type": "integer", "default": 60}),
        ),
        ResourceValidationPolicy(
            name="production-environment-approval",
            description="Deploying to production takes two people: reviewers, no self review, no admin bypass.",
            validate=production_environment_approval,
            config_schema=schema(
                environments={"type": "array", "items": {"type": "string"}, "default": ["production"]},
                minimumReviewers={"type": "integer", "default": 2},
            ),
        ),
        ResourceValidationPolicy(
            name="self-review-needs-reviewers",
            description="An environment prevents self review only when it has reviewers (GitHub refuses it otherwise).",
            validate=self_review_needs_reviewers,
        ),
        ResourceValidationPolicy(
            name="actions-secret-name",
            description="GitHub Actions secret names are valid.",
            validate=actions_secret_name,
        ),
        ResourceValidationPolicy(
            name="oidc-trust-pinned",
            description="Roles trusted by GitHub's OIDC pin both audience and subject.",
            validate=oidc_trust_pinned,
        ),
        ResourceValidationPolicy(
            name="iam-least-privilege",
            description="No role holds account-wide rights (broad managed policies, `*` actions).",
            validate=iam_least_privilege,
        ),
        StackValidationPolicy(
            name="stack-config-secrets-encrypted",
            description="Config values declared secret are stored encrypted in the stack file.",
            validate=stack_config_secrets_encrypted,
        ),
    ]


def policy_names() -> list[str]:
    """The names of the pack's rules, in order."""
    return [policy.name for policy in build_policies()]
