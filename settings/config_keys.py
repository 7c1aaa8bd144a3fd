"""The config namespaces a stack file may use and the keys each provider reads, so a typo is named, not ignored."""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

PROJECT_NAMESPACE = "vibelog"
SECRETS_KEY = "vibelog:secrets"
# The engine's own settings (pulumi:disable-default-providers, pulumi:tags, ...) are open-ended.
ENGINE_NAMESPACE = "pulumi"
# Namespace -> the SDK package whose generated `config/vars.py` lists every key that provider reads.
PROVIDER_PACKAGES = {
    "aws": "pulumi_aws",
    "vercel": "pulumiverse_vercel",
    "github": "pulumi_github",
    "pagerduty": "pulumi_pagerduty",
}
NAMESPACES = (PROJECT_NAMESPACE, ENGINE_NAMESPACE, *PROVIDER_PACKAGES)
# The GitHub App credentials object carries the app's private key (its `pemFile` is secret in the provider
# schema) although the SDK passes the object as JSON rather than wrapping it in Output.secret.
EXTRA_SECRET_KEYS = ("github:appAuth",)


def _package_file(package: str, relative: str) -> str:
    """A file of an installed SDK, read as text without importing the (large) package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return ""
    path = Path(spec.origin).parent / relative
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@functools.cache
def provider_keys(namespace: str) -> frozenset[str]:
    """The config keys (`aws:region`) a provider's SDK reads: each `__config__.get*('name')` in config/vars.py."""
    text = _package_file(PROVIDER_PACKAGES[namespace], "config/vars.py")
    return frozenset(f"{namespace}:{name}" for name in re.findall(r"__config__\.get\w*\('([A-Za-z0-9_]+)'", text))


@functools.cache
def provider_secret_keys() -> frozenset[str]:
    """Provider config keys the SDK treats as secret: the Provider arguments it wraps in `pulumi.Output.secret`."""
    found = set(EXTRA_SECRET_KEYS)
    for namespace, package in PROVIDER_PACKAGES.items():
        text = _package_file(package, "provider.py")
        for name in re.findall(
            r'__props__\.__dict__\["(\w+)"\] = None if \w+ is None else pulumi\.Output\.secret', text
        ):
            head, *rest = name.split("_")
            found.add(f"{namespace}:{head}{''.join(part.title() for part in rest)}")
    return frozenset(found)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate a typo most likely meant, if one is close."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.7)
    return close[0] if close else None


def unknown_key_problem(key: str, project_keys: list[str]) -> tuple[str, str | None] | None:
    """For a config key outside the project's own: what is wrong with it and the key it probably meant, or None
    when a provider or the engine reads it."""
    namespace = key.partition(":")[0]
    if namespace == ENGINE_NAMESPACE:
        return None
    if namespace in PROVIDER_PACKAGES:
        known = provider_keys(namespace)
        if key in known or not known:
            return None
        guess = closest(key, known | set(project_keys))
        return f"is not a key the {namespace} provider reads", guess
    everything = {*project_keys, *(k for ns in PROVIDER_PACKAGES for k in provider_keys(ns))}
    guess = closest(key, everything)
    return f"'{namespace}' is not a config namespace of this stack (expected one of {', '.join(NAMESPACES)})", guess
