"""State rules: what holds data or identity is protected, and replacements never collide on a natural key."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policy.lifecycle import collision_risk, holds_data
from policy.registry import Rules
from policy.values import props_of

RULES = Rules()


@RULES.resource(
    "replace-delete-first",
    "Replacements that would collide on a natural key run delete-first (policy/lifecycle.py).",
)
def replace_delete_first(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A replacement that would create first and collide on the natural key is delete-first instead.

    The lifecycle record (policy.lifecycle) says which inputs replace a resource while keeping its natural key,
    what Create does then (fails, or overwrites a value the old one's Delete removes), and whether the provider or
    the bridge already replaces delete-first. Protected resources are judged too: protect only blocks the
    replacement until someone lifts it, and then the order is what it is.
    """
    props = props_of(args)
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


@RULES.resource(
    "protect-stateful",
    "Resources holding data or identity (project, backup buckets, keys, zone, OIDC) are protected.",
)
def protect_stateful(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Resources that hold data or identity are protected against accidental delete and replace."""
    if holds_data(args.resource_type, args.urn) and not args.opts.protect:
        report(f"{args.name} holds data or identity; fix: give it opts=pulumi.ResourceOptions(protect=True)", None)
