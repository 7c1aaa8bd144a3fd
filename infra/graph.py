"""`python -m infra graph --stack X`: a stack's plan as a Mermaid diagram, and its longest dependency chain."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from infra.engine import Plan, Registration, plan_stack
from infra.exits import EXIT_NO, EXIT_OK, EXIT_USAGE
from infra.stackfile import StackFileError
from settings.loader import ConfigError
from settings.stacks import STACKS

STACK_TYPE = "pulumi:pulumi:Stack"


def is_provider(reg: Registration) -> bool:
    """Whether a registration is a provider (its own step, but nothing else's input)."""
    return reg.type.startswith("pulumi:providers:")


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


def mermaid(plan: Plan) -> str:
    """The plan as a Mermaid flowchart: components as subgraphs, resources as nodes, dependencies as edges."""
    ids = {reg.urn: f"r{index}" for index, reg in enumerate(plan.registrations)}
    children: dict[str, list[Registration]] = {}
    for reg in plan.registrations:
        children.setdefault(reg.parent, []).append(reg)
    lines = ["flowchart LR"]

    def node(reg: Registration, indent: str) -> None:
        if reg.type == STACK_TYPE:
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


def main(argv: list[str]) -> int:
    """Print the diagram (fenced for Markdown with --markdown) and the longest dependency chain: exit 0, or 1 when
    the stack's config is invalid, 2 on bad arguments or an unreadable stack file."""
    parser = argparse.ArgumentParser(prog="python -m infra graph", description=__doc__)
    parser.add_argument("--stack", default="production", choices=STACKS, help="the stack (default production)")
    parser.add_argument("--markdown", action="store_true", help="a ```mermaid block GitHub renders in a comment")
    args = parser.parse_args(argv)
    try:
        plan = plan_stack(args.stack)
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO
    chain = longest_chain(plan)
    if args.markdown:
        print(f"```mermaid\n{mermaid(plan)}\n```\n\nLongest dependency chain {chain_text(chain)}")
    else:
        print(f"{mermaid(plan)}\n%% longest dependency chain {chain_text(chain)}")
    return EXIT_OK
