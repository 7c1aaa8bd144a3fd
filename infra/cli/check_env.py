"""`check-env FILE... [--json]`: validate env files (dotenv or JSON) against the app's env schema."""

from __future__ import annotations

import argparse
import json
import sys

from infra.cli.exits import EXIT_NO, EXIT_OK, EXIT_USAGE
from infra.config.env_files import STDIN, check_files

USAGE = "usage: python -m infra check-env FILE... [--json]   (FILE - reads standard input)"


def main(argv: list[str]) -> int:
    """Run `check-env`: 0 when every file is valid, 1 when any is invalid, 2 on bad arguments or a file that
    cannot be read (the other files still get their verdict)."""
    parser = argparse.ArgumentParser(
        prog="python -m infra check-env",
        description="Validate env files (dotenv as `vercel env pull` writes it, or a JSON object) against the app's "
        "env schema. Problems name the key, never the value. Exit 0 all valid, 1 any invalid, 2 bad arguments or "
        "a file that cannot be read.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="an env file; - reads standard input")
    parser.add_argument("--json", action="store_true", help="the verdicts as a JSON list")
    args, unknown = parser.parse_known_args(argv)
    reason = ""
    if unknown:
        reason = f"unknown option {unknown[0]}"
    elif not args.files:
        reason = "no files given"
    elif args.files.count(STDIN) > 1:
        reason = "- (standard input) given twice; it can be read once"
    if reason:
        print(f"check-env: {reason}; {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    verdicts = check_files(args.files)
    for verdict in verdicts:
        if verdict.unreadable:
            print(f"check-env: {verdict.file}: {verdict.unreadable}", file=sys.stderr)
    if args.json:
        report = [
            {
                "file": verdict.file,
                "valid": not verdict.problems and not verdict.unreadable,
                "errors": [{"key": p.key, "message": p.message} for p in verdict.problems],
                **({"unreadable": verdict.unreadable} if verdict.unreadable else {}),
            }
            for verdict in verdicts
        ]
        print(json.dumps(report, indent=2))
    else:
        for verdict in verdicts:
            if verdict.unreadable:
                continue
            print(f"{verdict.file}: {'invalid' if verdict.problems else 'ok'}")
            for problem in verdict.problems:
                print(f"  {problem.message}")
    if any(verdict.unreadable for verdict in verdicts):
        return EXIT_USAGE
    return EXIT_NO if any(verdict.problems for verdict in verdicts) else EXIT_OK
