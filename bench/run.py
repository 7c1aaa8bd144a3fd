"""How long the offline tooling takes, against the floor of starting Python and importing the SDKs it needs.

    python bench/run.py [--runs 7] [--skip-tests] [--base REV]
    python bench/run.py --quick        # every figure once, smallest sizes: proves the script works, times nothing

Not a test: timings depend on the machine and on what else runs on it (the load average is printed before and
after; on a shared machine trust the CPU-second columns and the in-process ablations more than wall time).
Every command runs as a fresh process, so interpreter start-up and imports are counted as a developer or CI pays
them, and the commands are interleaved round by round, so a change of load hits each of them alike:

- bare floor: `import pulumi, pulumi_aws, pulumiverse_vercel, pulumi_github, pydantic`;
- `plan --stack all`, `plan --stack production` and `diff --base REV`: min / median / max wall time, median CPU
  time (the process and its children), and each median against the floor's median of the same run;
- generated stacks of 50, 500 and 1,500 buckets: engine CPU milliseconds per registration, as the CLI runs it
  (collector off) and with the collector on, to show the cost stays linear;
- the in-process ablation of `plan --stack all`: CPU seconds with each speed-up undone in turn, and the share of
  the time the cyclic collector takes when it is on;
- `make test` with warm caches (skip with --skip-tests).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent  # a script: it puts the project on sys.path itself
BARE = "import pulumi, pulumi_aws, pulumiverse_vercel, pulumi_github, pydantic"
SIZES = (50, 500, 1500)
TARGETS = {"plan --stack all": 1.8, "plan --stack production": 1.5}
DIFF_TARGET = 1.3
ABLATIONS = {
    "as shipped": {},
    "collector on": {"gc": True},
    "SDK shortcuts off": {"shortcuts": False},
    "eager SDK imports": {"lazy": False},
    "SDK annotations evaluated": {"deferred": False},
    "all four undone": {"gc": True, "shortcuts": False, "lazy": False, "deferred": False},
}


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Python's default, as on a developer's machine and in CI's checkout after its first run: the project's modules are
# compiled once into __pycache__ and read from there. A shell that sets PYTHONDONTWRITEBYTECODE would have every
# run compile them again, which the SDKs (compiled when pip installed them) never pay, and so skew each ratio.
RUN_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _run(command: Sequence[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (with its children) and stdout of a command; it must exit 0 or 1 (a diff)."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        command, cwd=PROJECT_DIR, env=RUN_ENV, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode not in {0, 1}:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return wall, _cpu_of_children() - cpu, done.stdout


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}"


def commands(base: str) -> dict[str, list[str]]:
    """The whole-process measurements, by name."""
    python = sys.executable
    return {
        "bare floor": [python, "-c", BARE],
        "plan --stack all": [python, "-m", "infra", "plan", "--stack", "all"],
        "plan --stack production": [python, "-m", "infra", "plan", "--stack", "production"],
        f"diff --base {base}": [python, "-m", "infra", "diff", "--base", base],
    }


def whole_processes(base: str, runs: int) -> None:
    """Min/median/max of each command, interleaved round by round, and the ratios of the medians."""
    named = commands(base)
    walls: dict[str, list[float]] = {name: [] for name in named}
    cpus: dict[str, list[float]] = {name: [] for name in named}
    for round_ in range(runs):
        names = list(named)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]  # rotate who goes first
        for name in names:
            wall, cpu, _ = _run(named[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    bare = statistics.median(walls["bare floor"])
    bare_cpu = statistics.median(cpus["bare floor"])
    plan_all = statistics.median(walls["plan --stack all"])
    print(f"whole process, {runs} interleaved run(s) each   wall s: min median max   CPU s   x floor (wall, CPU)")
    for name in named:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        line = f"  {name:<26} {_spread(walls[name])}   {cpu:5.2f}   {wall / bare:5.2f}x, {cpu / bare_cpu:5.2f}x"
        if name in TARGETS:
            line += f"   (target ≤ {TARGETS[name]}x)"
        print(line)
    diff_name = f"diff --base {base}"
    diff = statistics.median(walls[diff_name])
    print(f"  {diff_name} / plan --stack all: {diff / plan_all:.2f}x (target ≤ {DIFF_TARGET}x)")


def generated(sizes: Sequence[int], runs: int) -> None:
    """Engine CPU ms per registration for generated stacks, collector off (as the CLI runs) and on."""
    print("generated stacks (N buckets + the stack + one provider), engine only, CPU ms, median of runs")
    print("  resources   registrations   ms each, collector off   ms each, collector on   collections (on)")
    for size in sizes:
        rows = {}
        for collector in ("off", "on"):
            results = []
            for _ in range(runs):
                _, _, out = _run([sys.executable, __file__, "--child-generated", str(size), "--collector", collector])
                results.append(json.loads(out))
            rows[collector] = results
        count = rows["off"][0]["registrations"]
        off = statistics.median(r["seconds"] for r in rows["off"]) * 1000 / count
        on = statistics.median(r["seconds"] for r in rows["on"]) * 1000 / count
        collections = statistics.median(r["collections"] for r in rows["on"])
        print(f"  {size:9d}   {count:13d}   {off:22.2f}   {on:21.2f}   {collections:16.0f}")


def ablation(runs: int, quick: bool = False) -> None:
    """CPU seconds of `plan --stack all` in one fresh process per configuration, and what the collector takes.

    "collector s" counts the collections during the run; the one at interpreter exit comes on top and shows in
    the CPU column (measured from outside the process), so the collector's whole cost is the row's difference.
    """
    print("ablation of plan --stack all: one fresh process per run, CPU s from start to exit (imports included)")
    width = max(map(len, ABLATIONS))
    print(f"  {'configuration':<{width}} CPU s (median)   vs shipped   collector s (in run)   collections   modules")
    shipped = 0.0
    configurations = {k: v for k, v in ABLATIONS.items() if not quick or k in {"as shipped", "all four undone"}}
    for name, flags in configurations.items():
        results = []
        for _ in range(runs):
            argv = [sys.executable, __file__, "--child-plan"]
            argv += [f"--{key}={'on' if value else 'off'}" for key, value in flags.items()]
            _, cpu, out = _run(argv)
            results.append({**json.loads(out), "cpu": cpu})  # measured from outside: exit included
        cpu = statistics.median(r["cpu"] for r in results)
        gc_seconds = statistics.median(r["gc_seconds"] for r in results)
        collections = statistics.median(r["collections"] for r in results)
        modules = statistics.median(r["modules"] for r in results)
        shipped = shipped or cpu
        figures = f"{cpu:14.3f}   {cpu - shipped:+10.3f}   {gc_seconds:20.3f}   {collections:11.0f}   {modules:7.0f}"
        print(f"  {name:<{width}} {figures}")


def gate(runs: int) -> None:
    """`make test` with warm caches (the first run warms them and is not counted)."""
    walls = []
    for index in range(runs + 1):
        wall, _, _ = _run(["make", "--no-print-directory", "test"])
        if index:
            walls.append(wall)
    print(f"make test, warm caches, {runs} run(s)   wall s: min median max {_spread(walls)}   (target < 30 s)")


class _GcClock:
    """Counts the collector's passes and the CPU time they take."""

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.collections += 1
            self.seconds += time.process_time() - self._start


def child_generated(size: int, collector: bool) -> None:
    """Run a program of `size` buckets through the engine; print its registrations and seconds as JSON."""
    if not collector:
        gc.disable()  # as `python -m infra` runs
    sys.path.insert(0, str(PROJECT_DIR))
    import pulumi  # noqa: PLC0415
    import pulumi_aws as aws  # noqa: PLC0415

    from infra.engine.runtime import run_program  # noqa: PLC0415
    from settings.stackfile import read_stack_config  # noqa: PLC0415

    def program(size: int) -> Callable[[], None]:
        def declare() -> None:
            provider = aws.Provider("generated", region="us-east-1")
            for index in range(size):
                aws.s3.Bucket(f"generated-{index}", opts=pulumi.ResourceOptions(provider=provider))

        return declare

    config = read_stack_config("production")
    run_program("production", config, program(1))  # imports and first-use costs out of the measurement
    clock = _GcClock()
    gc.callbacks.append(clock)
    start = time.process_time()
    plan = run_program("production", config, program(size))
    seconds = time.process_time() - start
    print(json.dumps({"registrations": len(plan.registrations), "seconds": seconds, "collections": clock.collections}))


def child_plan(collector: bool, shortcuts: bool, lazy: bool, deferred: bool) -> None:
    """`plan --stack all` in this process with the speed-ups as given; print CPU, collector and module figures."""
    clock = _GcClock()
    gc.callbacks.append(clock)
    if not collector:
        gc.disable()
    sys.path.insert(0, str(PROJECT_DIR))
    from infra.__main__ import main  # noqa: PLC0415
    from infra.engine import deferred_annotations, lazy_sdk  # noqa: PLC0415
    from infra.engine import runtime as engine  # noqa: PLC0415

    if not lazy:
        sys.meta_path.remove(lazy_sdk.FINDER)
    if not deferred:
        sys.meta_path.remove(deferred_annotations.FINDER)
    if not shortcuts:
        vars(engine)["sdk_shortcuts"] = contextlib.nullcontext
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan", "--stack", "all"])
    if code != 0:
        raise SystemExit(f"plan --stack all exited {code}")
    if not collector:
        gc.freeze()  # as `python -m infra` exits
    print(json.dumps({"gc_seconds": clock.seconds, "collections": clock.collections, "modules": len(sys.modules)}))


def main(argv: list[str] | None = None) -> None:
    """Print every figure of docs/offline-engine-speed.md, "Targets and measured figures"."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs of each measurement (default 7)")
    parser.add_argument("--base", default="HEAD", help="the revision `diff --base` compares with (default HEAD)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time `make test`")
    parser.add_argument("--quick", action="store_true", help="one run of each, smallest size, no `make test`")
    parser.add_argument("--child-generated", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-plan", action="store_true", help=argparse.SUPPRESS)
    on_off: Callable[[str], bool] = lambda text: text == "on"  # noqa: E731
    parser.add_argument("--collector", type=on_off, default=False, help=argparse.SUPPRESS)
    parser.add_argument("--gc", type=on_off, default=False, help=argparse.SUPPRESS)
    parser.add_argument("--shortcuts", type=on_off, default=True, help=argparse.SUPPRESS)
    parser.add_argument("--lazy", type=on_off, default=True, help=argparse.SUPPRESS)
    parser.add_argument("--deferred", type=on_off, default=True, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_generated is not None:
        child_generated(args.child_generated, args.collector)
        return
    if args.child_plan:
        child_plan(args.gc, args.shortcuts, args.lazy, args.deferred)
        return

    runs = 1 if args.quick else args.runs
    print(f"python bench/run.py{' --quick' if args.quick else ''}: {_load()}, Python {sys.version.split()[0]}")
    whole_processes(args.base, runs)
    generated(SIZES[:1] if args.quick else SIZES, 1 if args.quick else max(1, runs // 2))
    ablation(1 if args.quick else max(1, runs // 2), quick=args.quick)
    if not (args.quick or args.skip_tests):
        gate(max(1, runs // 3))
    print(f"after: {_load()}")


if __name__ == "__main__":
    main()
