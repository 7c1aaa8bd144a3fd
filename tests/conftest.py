"""The suite's fixtures: every stack's plan once per session, and the jobs' real servers (tests/ops_servers.py)."""

from __future__ import annotations

import gc
import os
import tempfile

import pytest

from infra.diffs.revision import scratch_parent
from infra.engine.runtime import Plan
from settings.stacks import STACKS
from tests.helpers.stacks import plan_of

# The jobs' real servers (PostgreSQL, moto S3), one of each per session.
pytest_plugins = ("tests.ops_servers",)


def pytest_configure() -> None:
    """Fewer cyclic collections: the suite builds dozens of plans, and with the collector's default thresholds
    its full passes over every live object were a third of the suite's CPU time (measured with and without).

    Scratch files go where `diff` checks out its base revision (`scratch_parent()`: /dev/shm when it is a tmpfs
    with room and no TMPDIR, TEMP or TMP names another place): tmp_path, the jobs' PostgreSQL clusters and the
    diff tests' git worktrees, for this process and every one it starts. On a virtual disk, PostgreSQL creating
    one database took 0.2 s and starting a cluster 1.1 s; in memory 15 ms and 0.45 s.
    """
    gc.set_threshold(10_000, 20, 20)
    parent = scratch_parent()
    if parent is not None:
        os.environ["TMPDIR"] = parent
        tempfile.tempdir = None  # gettempdir() looks again


def pytest_collection_finish() -> None:
    """After collection every SDK module is loaded: freeze them, so no collection walks them again."""
    gc.freeze()


@pytest.fixture(scope="session")
def all_plans() -> dict[str, Plan]:
    """Every stack's plan, built once for the session."""
    return {stack: plan_of(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def production(all_plans: dict[str, Plan]) -> Plan:
    """The production stack's plan."""
    return all_plans["production"]


@pytest.fixture(scope="session")
def staging(all_plans: dict[str, Plan]) -> Plan:
    """The staging stack's plan."""
    return all_plans["staging"]


@pytest.fixture(scope="session")
def development(all_plans: dict[str, Plan]) -> Plan:
    """The development stack's plan."""
    return all_plans["development"]
