"""`python -m infra diff --base REV`: what each stack would change between a git revision and the working tree."""

from __future__ import annotations

import argparse
import json
import sys

from infra.cli.exits import UsageError, stacks_named
from infra.diffs.review import diff_json, diff_markdown, diff_text
from infra.diffs.revision import DiffError, diff_revision, resolve


def main(argv: list[str]) -> int:
    """Print the diff; exit 0 if nothing changes, 1 if something does, 2 if the diff could not be made."""
    parser = argparse.ArgumentParser(prog="python -m infra diff", description=__doc__)
    parser.add_argument("--base", required=True, help="git revision to compare against (e.g. origin/main)")
    parser.add_argument("--stack", default="all", help="development, staging, production or all (default)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="Markdown for a pull-request comment")
    output.add_argument("--json", action="store_true", help="the changes as JSON")
    args = parser.parse_args(argv)

    try:
        stacks_named(args.stack)  # a mistyped stack must not read as "no changes"
        sha = resolve(args.base)
        diffs = diff_revision(sha, args.stack)
    except (DiffError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    title = f"Infrastructure diff: `{args.base}` ({sha[:10]}) → this change"
    if args.json:
        print(json.dumps(diff_json(diffs, sha), indent=2))
    elif args.markdown:
        print(diff_markdown(diffs, title), end="")
    else:
        print(diff_text(diffs, title.replace("`", "")), end="")
    if any(diff.error for diff in diffs):
        return 2
    return 1 if any(diff.changed for diff in diffs) else 0
