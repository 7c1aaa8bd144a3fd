"""`python -m infra graph --stack X`: a stack's plan as a Mermaid diagram, and its longest dependency chain."""

from __future__ import annotations

import argparse

from infra.cli.exits import EXIT_OK
from infra.cli.planned import plan_or_exit
from infra.plans.graph import longest_chain
from infra.plans.mermaid import chain_text, mermaid
from settings.stacks import STACKS


def main(argv: list[str]) -> int:
    """Print the diagram (fenced for Markdown with --markdown) and the longest dependency chain: exit 0, or 1 when
    the stack's config is invalid, 2 on bad arguments or an unreadable stack file."""
    parser = argparse.ArgumentParser(prog="python -m infra graph", description=__doc__)
    parser.add_argument("--stack", default="production", choices=STACKS, help="the stack (default production)")
    parser.add_argument("--markdown", action="store_true", help="a ```mermaid block GitHub renders in a comment")
    args = parser.parse_args(argv)
    plan = plan_or_exit(args.stack)
    if isinstance(plan, int):
        return plan
    chain = longest_chain(plan)
    if args.markdown:
        print(f"```mermaid\n{mermaid(plan)}\n```\n\nLongest dependency chain {chain_text(chain)}")
    else:
        print(f"{mermaid(plan)}\n%% longest dependency chain {chain_text(chain)}")
    return EXIT_OK
