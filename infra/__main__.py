"""`python -m infra <verb>`: offline tooling for the Pulumi program."""

from __future__ import annotations

import gc
import importlib
import io
import os
import signal
import sys

from infra.cli.exits import EXIT_USAGE
from infra.engine import interrupt

# verb -> (module with `main(argv) -> int`, summary); modules load on use, so each verb pays for its own imports.
VERBS: dict[str, tuple[str, str]] = {
    "plan": ("infra.cli.plan", "the offline preview of a stack (or all), as a tree or --json"),
    "check-env": ("infra.cli.check_env", "validate env files against the app's env schema"),
    "schema": ("infra.cli.schema", "the stack files' JSON Schema and the settings reference (docs/configuration.md)"),
    "diff": ("infra.cli.diff", "what each stack would change between a git revision and the working tree"),
    "compare": ("infra.cli.compare", "what differs between two stacks' plans (staging before production)"),
    "graph": ("infra.cli.graph", "a stack's plan as a Mermaid diagram, with its longest dependency chain"),
    "adopt": ("infra.cli.adopt", "the `pulumi import --file` document for what already runs (docs/adopting.md)"),
}


def main(argv: list[str]) -> int:
    """Dispatch to a verb; unknown verbs are a usage error (exit 2)."""
    if not argv or argv[0] in {"-h", "--help"}:
        lines = ["usage: python -m infra <verb> [options]", "", "verbs:"]
        lines += [f"  {name:<10} {summary}" for name, (_, summary) in VERBS.items()]
        lines += [
            "",
            "exit status: 0 yes (no changes, valid), 1 no (changes, violations, invalid), 2 usage or input, "
            "130 interrupted (Ctrl-C or SIGTERM)",
        ]
        print("\n".join(lines), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    verb = VERBS.get(argv[0])
    if verb is None:
        print(f"error: unknown verb '{argv[0]}' (expected one of {', '.join(VERBS)})", file=sys.stderr)
        return 2
    code: int = importlib.import_module(verb[0]).main(argv[1:])
    return code


def run(argv: list[str]) -> int:
    """`main`, with its output written out before it returns: an output that cannot take it (stdout on a full disk)
    is one line and exit 2, the question not answered, not a traceback or an answer nobody received."""
    # A file name that is not UTF-8 (argv holds its bytes as surrogates) is printed escaped, as stderr prints it, not a
    # UnicodeEncodeError under a locale whose stdout is strict.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's --help and usage errors: what they printed is written out too
            code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else EXIT_USAGE
        if sys.stdout is not None:  # None: started with stdout closed (`>&-`), so nothing was printed
            sys.stdout.flush()
    except OSError as error:
        where = f"{error.filename}: " if error.filename else "the output cannot be written: "
        print(f"error: {where}{error.strerror or type(error).__name__}", file=sys.stderr)
        # What is still buffered would fail again at the interpreter's exit, with a message of its own.
        if sys.stdout is not None:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    # A verb is a short-lived process whose objects all live until it exits, so the cyclic collector only costs:
    # measured, its full collections were ~40% of `plan --stack all` and made cost grow faster than the number of
    # resources (docs/offline-engine-speed.md). Reference counting still frees everything acyclic.
    gc.disable()
    # Piped into `head` or `less`: stop quietly when the reader goes away.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    interrupt.install()
    exit_code = run(sys.argv[1:])
    # Interpreter shutdown would otherwise run one more full collection over every object the run made; frozen
    # objects are skipped by it. A normal exit still flushes output and runs atexit handlers.
    gc.freeze()
    sys.exit(exit_code)
