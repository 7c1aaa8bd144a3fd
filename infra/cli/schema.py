"""`python -m infra schema`: the stack files' JSON Schema and the README's config reference, from the models."""

from __future__ import annotations

import argparse
import json
import sys

from infra.config.schema import README_PATH, SCHEMA_PATH, config_reference, readme_with_reference, stack_file_schema


def main(argv: list[str]) -> int:
    """Write or check the generated files; exit 1 if `--check` finds them stale."""
    parser = argparse.ArgumentParser(prog="python -m infra schema", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the schema file and README reference")
    group.add_argument("--check", action="store_true", help="exit 1 if either is out of date")
    args = parser.parse_args(argv)
    schema = json.dumps(stack_file_schema(), indent=2) + "\n"
    readme = readme_with_reference(README_PATH.read_text(encoding="utf-8"))
    if args.write:
        SCHEMA_PATH.parent.mkdir(exist_ok=True)
        SCHEMA_PATH.write_text(schema, encoding="utf-8")
        README_PATH.write_text(readme, encoding="utf-8")
        return 0
    if args.check:
        stale = [
            p.name
            for p, text in ((SCHEMA_PATH, schema), (README_PATH, readme))
            if not p.is_file() or p.read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"out of date: {', '.join(stale)}; run `make schema`", file=sys.stderr)
            return 1
        return 0
    print(config_reference())
    return 0
