"""A plan's dependency graph as a Mermaid flowchart, and its longest chain as one line."""

from __future__ import annotations

from collections.abc import Sequence

from infra.engine.runtime import Plan, Registration
from infra.plans.graph import edges, is_provider
from policy.type_tokens import STACK


def mermaid(plan: Plan) -> str:
    """The plan as a Mermaid flowchart: components as subgraphs, resources as nodes, dependencies as edges."""
    ids = {reg.urn: f"r{index}" for index, reg in enumerate(plan.registrations)}
    children: dict[str, list[Registration]] = {}
    for reg in plan.registrations:
        children.setdefault(reg.parent, []).append(reg)
    lines = ["flowchart LR"]

    def node(reg: Registration, indent: str) -> None:
        if reg.type == STACK:
            for kid in children.get(reg.urn, []):
                node(kid, indent)
            return
        label = f"{reg.name}<br/><small>{reg.type.rsplit(':', 1)[-1]}</small>"
        if not reg.custom:
            lines.append(f'{indent}subgraph {ids[reg.urn]}["{reg.name} ({reg.type})"]')
            for kid in children.get(reg.urn, []):
                node(kid, indent + "  ")
            lines.append(f"{indent}end")
        elif is_provider(reg):
            lines.append(f'{indent}{ids[reg.urn]}{{{{"{label}"}}}}')
        else:
            shape = ('[("', '")]') if reg.protect or reg.retain_on_delete else ('["', '"]')
            lines.append(f"{indent}{ids[reg.urn]}{shape[0]}{label}{shape[1]}")

    for root in children.get("", []):
        node(root, "  ")
    lines += [f"  {ids[source]} --> {ids[target]}" for source, target in edges(plan)]
    return "\n".join(lines)


def chain_text(chain: Sequence[Registration]) -> str:
    """`3: a → b → c`."""
    return f"{len(chain)}: " + " → ".join(reg.name for reg in chain)
