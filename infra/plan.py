"""`python -m infra plan`: the offline preview of one stack or all of them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infra.engine import plan_stack
from infra.policies import check_plan, mandatory, read_policy_config, violations_text
from infra.render import fingerprint_key_from_env, plan_json, plan_text
from infra.stackfile import STACKS, StackFileError
from settings.loader import ConfigError


class UsageError(Exception):
    """Bad arguments: reported on one line, exit 2."""


def stacks_named(name: str) -> list[str]:
    """The stacks `--stack NAME` means (`all` is every stack)."""
    if name == "all":
        return list(STACKS)
    if name not in STACKS:
        raise UsageError(f"unknown stack '{name}' (expected one of {', '.join(STACKS)}, or all)")
    return [name]


def main(argv: list[str]) -> int:
    """Print each stack's plan and policy verdict; exit 1 on a failed stack or mandatory violation, 2 on bad usage."""
    parser = argparse.ArgumentParser(prog="python -m infra plan", description=__doc__)
    parser.add_argument("--stack", default="all", help="development, staging, production or all (default)")
    parser.add_argument("--json", action="store_true", help="write the `pulumi preview --json` shape")
    parser.add_argument("--policy-config", metavar="FILE", help="the policy pack's config, as --policy-pack-config")
    args = parser.parse_args(argv)
    try:
        stacks = stacks_named(args.stack)
        policy_config = read_policy_config(Path(args.policy_config)) if args.policy_config else {}
    except (UsageError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    failed = False
    documents = {}
    key = fingerprint_key_from_env() if args.json else None
    for index, stack in enumerate(stacks):
        try:
            plan = plan_stack(stack)
        except (ConfigError, StackFileError) as error:
            failed = True
            print(f"error: {error}", file=sys.stderr)
            continue
        violations = check_plan(plan, policy_config)
        failed = failed or bool(mandatory(violations))
        if args.json:
            documents[stack] = {**plan_json(plan, key), "policyViolations": [v.to_json() for v in violations]}
        else:
            print(("\n" if index else "") + plan_text(plan) + "\n\n" + violations_text(violations))
    if args.json:
        out = documents[stacks[0]] if len(stacks) == 1 and documents else {"stacks": documents}
        print(json.dumps(out, indent=2))
    return 1 if failed else 0
