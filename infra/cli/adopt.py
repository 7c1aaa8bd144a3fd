"""`python -m infra adopt --stack X [--inventory FILE]`: the bulk import file for what already runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infra.cli.exits import EXIT_OK, EXIT_USAGE
from infra.cli.planned import plan_or_exit
from infra.plans.adopt import InventoryError, adoption, template
from settings.loader import load_settings
from settings.stackfile import StackFileError, load_yaml, read_text_bounded
from settings.stacks import STACKS


def main(argv: list[str]) -> int:
    """Without --inventory, print the stack's inventory to fill in; with it, print the import file (`pulumi import
    --file`) and, on stderr, what the adoption leaves to `up`: exit 0, 1 for an invalid stack config, 2 for bad
    arguments or an inventory entry that is wrong."""
    parser = argparse.ArgumentParser(prog="python -m infra adopt", description=__doc__)
    parser.add_argument("--stack", required=True, choices=STACKS, help="the stack to adopt into")
    parser.add_argument("--inventory", metavar="FILE", help="what already exists (YAML: label -> id or true)")
    args = parser.parse_args(argv)
    inventory = None
    if args.inventory is not None:
        try:
            inventory = _inventory(Path(args.inventory))
        except (StackFileError, InventoryError) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
    plan = plan_or_exit(args.stack)
    if isinstance(plan, int):
        return plan
    if inventory is None:
        print(template(plan), end="")
        return EXIT_OK
    settings = load_settings(args.stack, plan.config.values, plan.config.secret_keys)
    try:
        result = adoption(plan, inventory, settings.aws_account_id if settings.declares_aws else "")
    except InventoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result.document, indent=2))
    lines = [
        f"{len(result.adopted)} resource(s) to import; `up` creates the {len(result.created)} the inventory leaves out."
    ]
    for what in dict.fromkeys(c.import_id.write_only for c in result.write_only):
        lines.append(f"Write-only, {what}:")
        lines += [f"  {c.label}" for c in result.write_only if c.import_id.write_only == what]
    print("\n".join(lines), file=sys.stderr)
    return EXIT_OK


def _inventory(path: Path) -> dict[str, str | bool]:
    """The inventory file: label -> the id (or true); a null entry is something that does not exist."""
    loaded = load_yaml(read_text_bounded(path), path.name)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(key, str) for key in loaded):
        raise InventoryError(f"{path.name} must map each resource's label to its id or true")
    return {key: value for key, value in loaded.items() if value is not None}
