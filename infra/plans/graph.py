"""The dependency graph of a plan: edges between its custom resources, and its longest chain."""

from __future__ import annotations

from infra.engine.runtime import Plan, Registration
from policy.type_tokens import PROVIDER_PREFIX


def is_provider(reg: Registration) -> bool:
    """Whether a registration is a provider (its own step, but nothing else's input)."""
    return reg.type.startswith(PROVIDER_PREFIX)


def edges(plan: Plan) -> list[tuple[str, str]]:
    """(dependency URN, dependent URN) between the custom resources of a plan, from both kinds of dependency."""
    custom = {reg.urn for reg in plan.registrations if reg.custom and not is_provider(reg)}
    found: dict[tuple[str, str], None] = {}
    for reg in plan.registrations:
        if reg.urn not in custom:
            continue
        sources = [*reg.dependencies, *(urn for urns in reg.property_dependencies.values() for urn in urns)]
        for source in sources:
            if source in custom and source != reg.urn:
                found[(source, reg.urn)] = None
    return list(found)


def longest_chain(plan: Plan) -> list[Registration]:
    """The longest path through the dependency edges: `pulumi up` creates these one after another, whatever
    its parallelism, so its length bounds how few waves an update can take."""
    by_urn = plan.by_urn()
    incoming: dict[str, list[str]] = {}
    for source, target in edges(plan):
        incoming.setdefault(target, []).append(source)
    best: dict[str, list[str]] = {}
    # The engine registers a resource only after the ones it depends on, so one pass in order suffices.
    for reg in plan.registrations:
        if not reg.custom or is_provider(reg):
            continue
        before = max((best[src] for src in incoming.get(reg.urn, []) if src in best), key=len, default=[])
        best[reg.urn] = [*before, reg.urn]
    chain = max(best.values(), key=len, default=[])
    return [by_urn[urn] for urn in chain]
