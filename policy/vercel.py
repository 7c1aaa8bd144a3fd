"""Vercel rules: the app's env per project and target, sensitive secrets, previews, deploys and Edge Config."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from policy.registry import Rules, Setting
from policy.type_tokens import EDGE_CONFIG_ITEM, ENV_VAR, VERCEL_PROJECT
from policy.unknowns import UNKNOWN
from policy.urns import stack_of
from policy.values import dig, known, of_type, props_of
from settings.env_schema import SECRET_ENV_KEYS, validate_app_env

RULES = Rules()

SECRET_KEYS: Final[frozenset[str]] = SECRET_ENV_KEYS | {"EDGE_CONFIG"}
"""Env vars whose values are secrets: the app schema's, plus the Edge Config connection string (it embeds a token)."""
PRODUCTION_STACKS = Setting("productionStacks", ["production"], {"type": "array", "items": {"type": "string"}})
"""The stacks whose env is production's."""


@RULES.stack(
    "env-schema",
    "The env vars of every Vercel project and deployment target satisfy the app's env schema.",
)
def env_schema(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every project's env, per deployment target, satisfies the app's env schema (settings.env_schema)."""
    # (project, target) -> key -> (value, urn of the variable)
    groups: dict[tuple[str, str], dict[str, tuple[Any, str]]] = defaultdict(dict)
    projects: dict[str, str] = {}
    for variable in of_type(args.resources, ENV_VAR):
        props = props_of(variable)
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


@RULES.resource("secret-env-sensitive", "Env vars holding secrets are sensitive on Vercel wherever Vercel allows it.")
def secret_env_sensitive(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A secret env var is `sensitive` wherever Vercel allows it (every target but development)."""
    if args.resource_type != ENV_VAR:
        return
    props = props_of(args)
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


@RULES.resource("debug-mode-off-in-production", "DEBUG_MODE is off in production.", settings=[PRODUCTION_STACKS])
def debug_mode_off_in_production(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """DEBUG_MODE is off (rollout 0%) in production."""
    if args.resource_type != EDGE_CONFIG_ITEM:
        return
    production = PRODUCTION_STACKS.read(args)
    props = props_of(args)
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


@RULES.resource(
    "production-env-not-on-previews",
    "No env var of a production stack targets preview deployments.",
    settings=[PRODUCTION_STACKS],
)
def production_env_not_on_previews(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In production stacks no env var targets preview: previews build unreviewed branches."""
    if args.resource_type != ENV_VAR or stack_of(args.urn) not in PRODUCTION_STACKS.read(args):
        return
    props = props_of(args)
    targets = props.get("targets")
    if isinstance(targets, list) and "preview" in targets:
        report(
            f"{props.get('key')} of the {stack_of(args.urn)} stack targets preview, so every preview deployment (an "
            f"unreviewed branch) would get it; fix: remove preview from vibelog:app.targets in "
            f"Pulumi.{stack_of(args.urn)}.yaml (production only)",
            None,
        )


@RULES.resource(
    "vercel-deploys-through-pipeline",
    "No Vercel project is linked to a git repository: only the pipeline deploys.",
)
def vercel_deploys_through_pipeline(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A Vercel project is not linked to a git repository: only the pipeline deploys it."""
    if args.resource_type != VERCEL_PROJECT:
        return
    repository = props_of(args).get("gitRepository")
    if repository is None or repository is UNKNOWN:
        return
    report(
        f"project {args.name} is linked to {dig(repository, 'repo')!r}: Vercel deploys every push, and a push to "
        f"{dig(repository, 'productionBranch') or 'the production branch'} reaches production without the "
        "pipeline's tests and approval; fix: remove git_repository (the pipeline deploys with `vercel --prod`)",
        None,
    )


@RULES.resource(
    "edge-config-strings-in-value",
    "Edge Config items hold strings in value (a string in value_json is replaced on every up).",
)
def edge_config_strings_in_value(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """An Edge Config item holds a string in `value`, never in `value_json`, or it is replaced on every `up`."""
    if args.resource_type != EDGE_CONFIG_ITEM:
        return
    props = props_of(args)
    if isinstance(props.get("valueJson"), str):
        report(
            f"item {props.get('key')} holds a string in value_json; the provider reads strings back into value, so "
            "the item would be deleted and re-created on every up; fix: pass the string as value=",
            None,
        )
