"""`python -m infra compare staging production`: what differs between two stacks, so a promotion is reviewed."""

from __future__ import annotations

import argparse
import json

from infra.cli.exits import EXIT_OK
from infra.cli.planned import plans_or_exit
from infra.diffs.compare import compare_documents
from infra.diffs.compare_review import comparison_json, comparison_text
from infra.plans.render import plan_json
from settings.stacks import STACKS


def main(argv: list[str]) -> int:
    """Print how the second stack differs from the first: exit 0 when compared, 1 when a stack's config is
    invalid, 2 on bad arguments or an unreadable stack file."""
    parser = argparse.ArgumentParser(prog="python -m infra compare", description=__doc__)
    parser.add_argument("first", choices=STACKS, help="the stack a change has been tried on (e.g. staging)")
    parser.add_argument("second", choices=STACKS, help="the stack it is promoted to (e.g. production)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="Markdown for a pull-request comment")
    output.add_argument("--json", action="store_true", help="the differences as JSON")
    args = parser.parse_args(argv)
    plans = plans_or_exit([args.first, args.second])
    if isinstance(plans, int):
        return plans
    result = compare_documents(
        plan_json(plans[0]), plan_json(plans[1]), plans[0].config.document, plans[1].config.document
    )
    if args.json:
        print(json.dumps(comparison_json(result), indent=2))
    else:
        print(comparison_text(result, markdown=args.markdown), end="")
    return EXIT_OK
