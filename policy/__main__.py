"""The policy pack as the Pulumi CLI runs it (`pulumi preview --policy-pack policy`): it only assembles the rules."""

import sys
from pathlib import Path

# The CLI runs the pack from this directory; the rules share the settings models with the program, which live in
# the project root (this directory's parent), so that root must be importable.
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if PROJECT_ROOT not in sys.path:
    sys.path.insert(0, PROJECT_ROOT)

from pulumi_policy import PolicyPack  # noqa: E402 - after the path is set

from policy.pack import PACK_ENFORCEMENT_LEVEL, PACK_NAME, build_policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=PACK_ENFORCEMENT_LEVEL)
