"""`infra compare`: what a promotion from staging to production changes, matched by type and logical name."""

from __future__ import annotations

from infra.diffs.compare import compare_documents
from infra.engine.runtime import plan_stack
from infra.plans.render import plan_json


def test_staging_to_production_shows_flags_config_and_resources_in_one_only() -> None:
    staging, production = plan_stack("staging"), plan_stack("production")
    result = compare_documents(
        plan_json(staging), plan_json(production), staging.config.document, production.config.document
    )
    assert [(c.path, c.old, c.new) for c in result.flags] == [("vibelog:featureFlags.NEW_EDITOR", True, False)]
    assert ("vibelog:domain", "staging.vibelog.io", "vibelog.io") in [(c.path, c.old, c.new) for c in result.config]
    only_production = {c.name for c in result.resources if c.op == "create"}
    assert {"web-domain-vibelog-io", "web-domain-www-vibelog-io", "web-env-posthog-key"} <= only_production
    assert {"dns-primary-health", "dns-apex-secondary", "ci-branch-protection-vibelog"} <= only_production, (
        "failover, rules"
    )
    only_staging = {c.name for c in result.resources if c.op == "delete"}
    assert "web-domain-staging-vibelog-io" in only_staging
    assert not {name for name in only_staging if name.startswith(("flags-", "web-env-"))}, only_staging
    differing = {c.name: [p.path for p in c.properties] for c in result.resources if c.op == "update"}
    # Staging's env reaches its previews; production's never does, so its previews are off.
    assert sorted(differing["web-project"]) == ["name", "previewDeploymentsDisabled"], differing
    assert "flags-read-token" not in differing, "provider URNs differ by stack name; that is not a difference"
