"""Helpers the tests import (fixtures live in tests/conftest.py): stack configs and plans, verbs run in-process,
policy rules run on synthetic registrations, an IAM evaluator."""
