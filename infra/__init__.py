"""Offline tooling: run the Pulumi program under Pulumi's mock runtime and report on it (`python -m infra`)."""
