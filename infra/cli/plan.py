"""`python -m infra plan`: the offline preview of one stack or all of them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infra.cli.exits import EXIT_NO, EXIT_OK, EXIT_USAGE, UsageError, stacks_named
from infra.cli.planned import plan_or_exit
from infra.engine.policies import check_plan, mandatory, read_policy_config, violations_text
from infra.plans.render import fingerprint_key_from_env, plan_json, plan_text


def main(argv: list[str]) -> int:
    """Print each stack's plan and policy verdict: exit 1 on an invalid config or a mandatory violation, 2 on bad
    arguments or a stack file that cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m infra plan", description=__doc__)
    parser.add_argument("--stack", default="all", help="development, staging, production or all (default)")
    parser.add_argument("--json", action="store_true", help="write the `pulumi preview --json` shape")
    parser.add_argument("--policy-config", metavar="FILE", help="the policy pack's config, as --policy-pack-config")
    args = parser.parse_args(argv)
    try:
        stacks = stacks_named(args.stack)
        policy_config = read_policy_config(Path(args.policy_config)) if args.policy_config else {}
        key = fingerprint_key_from_env() if args.json else None
    except (UsageError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    code = EXIT_OK
    documents = {}
    for index, stack in enumerate(stacks):
        # One stack that cannot be read or is misconfigured fails alone; the others are still planned.
        plan = plan_or_exit(stack)
        if isinstance(plan, int):
            code = max(code, plan)
            continue
        violations = check_plan(plan, policy_config)
        if mandatory(violations):
            code = max(code, EXIT_NO)
        if args.json:
            documents[stack] = {**plan_json(plan, key), "policyViolations": [v.to_json() for v in violations]}
        else:
            print(("\n" if index else "") + plan_text(plan) + "\n\n" + violations_text(violations))
    if args.json and documents:  # a stack that failed has no document: never an empty one, read as no changes
        out = documents[stacks[0]] if len(stacks) == 1 else {"stacks": documents}
        print(json.dumps(out, indent=2))
    return code
