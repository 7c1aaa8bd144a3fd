"""How long the offline tooling takes: plan, diff and the tests, at today's size and at ten times the resources.

    python bench/run.py [--runs 5] [--skip-tests]

Not a test: timings depend on the machine. Each figure is the median of several runs of a fresh process, so
interpreter start-up and imports are counted, as a developer or CI pays them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BARE = "import pulumi, pulumi_aws, pulumi_github, pulumiverse_vercel, pulumi_policy"


def timed(command: list[str], runs: int) -> float:
    """Median wall time of a command, in seconds; it must succeed (exit 0, or 1 for a diff with changes)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)  # noqa: S603
        times.append(time.perf_counter() - start)
        if done.returncode not in {0, 1}:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return statistics.median(times)


def synthetic(copies: int) -> None:
    """Plan the production stack with its components declared `copies` times, then diff two such plans.

    Prints `resources plan_seconds diff_seconds` measured inside this process (after imports).
    """
    sys.path.insert(0, str(PROJECT_DIR))
    from components.feature_flags import FeatureFlags, FeatureFlagsArgs  # noqa: PLC0415
    from components.providers import Providers  # noqa: PLC0415
    from components.vercel_app import VercelApp, VercelAppArgs  # noqa: PLC0415
    from infra.changes import diff_plans  # noqa: PLC0415
    from infra.engine import run_program  # noqa: PLC0415
    from infra.render import plan_json  # noqa: PLC0415
    from infra.stackfile import read_stack_config  # noqa: PLC0415
    from settings.loader import load_settings  # noqa: PLC0415

    def program() -> None:
        settings = load_settings()
        providers = Providers.for_stack(settings)
        for index in range(copies):
            opts = providers.opts(providers.vercel)
            flags = FeatureFlags(f"flags{index}", FeatureFlagsArgs.from_settings(settings), opts=opts)
            runtime_env = {"EDGE_CONFIG": flags.connection_string}
            VercelApp(f"web{index}", VercelAppArgs.from_settings(settings, runtime_env=runtime_env), opts=opts)

    config = read_stack_config("production")
    start = time.perf_counter()
    plan = run_program("production", config, program)
    planned = time.perf_counter() - start
    key = bytes(32)
    old, new = plan_json(plan, key), plan_json(run_program("production", config, program), key)
    start = time.perf_counter()
    diff_plans(old, new)
    diffed = time.perf_counter() - start
    print(len(plan.registrations), f"{planned:.3f}", f"{diffed:.4f}")


def main() -> None:
    """Print the figures docs/reviewing-diffs.md quotes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--synthetic", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.synthetic:
        synthetic(args.synthetic)
        return

    python = sys.executable
    bare = timed([python, "-c", BARE], args.runs)
    plan = timed([python, "-m", "infra", "plan", "--stack", "all"], args.runs)
    diff = timed([python, "-m", "infra", "diff", "--base", "HEAD"], args.runs)
    print(f"bare start + SDK imports     {bare:6.2f} s")
    print(f"plan --stack all             {plan:6.2f} s   ({plan / bare:.2f}x bare; target ≤ 1.5x)")
    print(f"diff --base HEAD (all)       {diff:6.2f} s")
    for copies in (1, 10):
        outputs = []
        for _ in range(args.runs):
            done = subprocess.run(  # noqa: S603
                [python, __file__, "--synthetic", str(copies)], capture_output=True, text=True, check=True
            )
            outputs.append(done.stdout.split())
        resources = int(outputs[0][0])
        planned = statistics.median(float(o[1]) for o in outputs)
        diffed = statistics.median(float(o[2]) for o in outputs)
        print(
            f"production x{copies:<2} ({resources:4d} registrations): program {planned:6.3f} s "
            f"({1000 * planned / resources:.2f} ms each), diff {1000 * diffed:7.2f} ms"
        )
    if not args.skip_tests:
        tests = timed([python, "-m", "pytest", "-q", "-p", "no:warnings"], max(1, args.runs // 2))
        print(f"test suite                   {tests:6.2f} s   (target < 60 s)")


if __name__ == "__main__":
    main()
