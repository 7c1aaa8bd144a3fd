"""Offline tooling for the VibeLog stacks, run as `python -m infra VERB`."""
