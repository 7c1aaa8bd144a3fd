"""Each verb imports only what it needs: the SDKs and the policy pack cost most of a short command's time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from settings.stacks import PROJECT_DIR

SDKS = ("pulumi", "pulumi_aws", "pulumi_github", "pulumiverse_vercel", "pulumi_policy")
POLICY = ("pulumi_policy", "policy.pack", "infra.engine.policies")


def imported_by(module: str) -> set[str]:
    """The modules a fresh interpreter holds after importing a verb's module."""
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("verb", ["infra.cli.check_env", "infra.cli.schema", "infra.cli.diff"])
def test_verbs_that_read_files_import_no_pulumi_sdk(verb: str) -> None:
    loaded = imported_by(verb)
    assert not loaded & set(SDKS), f"{verb} imports {sorted(loaded & set(SDKS))}, which it never uses"


@pytest.mark.parametrize("verb", ["infra.cli.graph", "infra.cli.compare"])
def test_verbs_that_only_read_plans_import_no_policy_pack(verb: str) -> None:
    loaded = imported_by(verb)
    assert "infra.engine.runtime" in loaded, f"the probe did not see {verb} import the engine"
    assert not loaded & set(POLICY), f"{verb} imports {sorted(loaded & set(POLICY))}: it runs no policy"
