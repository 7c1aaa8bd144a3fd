"""`infra compare`: what a promotion from staging to production changes, matched by type and logical name."""

from __future__ import annotations

from infra.compare import compare_documents
from infra.plan import plan_stack
from infra.render import plan_json


def test_staging_to_production_shows_flags_config_and_resources_in_one_only() -> None:
    staging, production = plan_stack("staging"), plan_stack("production")
    result = compare_documents(
        plan_json(staging), plan_json(production), staging.config.document, production.config.document
    )
    assert [(c.path, c.old, c.new) for c in result.flags] == [("vibelog:featureFlags.NEW_EDITOR", True, False)]
    assert ("vibelog:domain", "staging.vibelog.io", "vibelog.io") in [(c.path, c.old, c.new) for c in result.config]
    only_production = {c.name for c in result.resources if c.op == "create"}
    assert only_production == {"web-domain-vibelog-io", "web-domain-www-vibelog-io", "web-env-posthog-key"}
    only_staging = {c.name for c in result.resources if c.op == "delete"}
    assert only_staging == {"web-domain-staging-vibelog-io"}
    differing = {c.name: [p.path for p in c.properties] for c in result.resources if c.op == "update"}
    assert differing["web-project"] == ["name"], differing
    assert "flags-read-token" not in differing, "provider URNs differ by stack name; that is not a difference"
