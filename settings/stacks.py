"""The project's stacks, one `Pulumi.<stack>.yaml` each: a leaf module, so a verb can name them without the SDK."""

from pathlib import Path

STACKS = ("development", "staging", "production")
# The directory of Pulumi.yaml and the stack files: every tool that reads or runs the project starts here.
PROJECT_DIR = Path(__file__).resolve().parent.parent
