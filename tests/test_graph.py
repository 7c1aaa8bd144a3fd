"""The plan as a Mermaid graph, and the longest dependency chain that bounds how parallel `pulumi up` can be."""

from __future__ import annotations

from infra.engine.runtime import plan_stack
from infra.plans.graph import edges, longest_chain
from infra.plans.mermaid import mermaid


def test_production_graph_has_components_as_subgraphs_and_the_domain_chain() -> None:
    plan = plan_stack("production")
    diagram = mermaid(plan)
    assert diagram.startswith("flowchart LR")
    assert "subgraph" in diagram
    assert "web (vibelog:vercel:VercelApp)" in diagram
    by_urn = plan.by_urn()
    named = {(by_urn[a].name, by_urn[b].name) for a, b in edges(plan)}
    assert ("flags-read-token", "web-env-edge-config") in named, "the connection string is a property dependency"
    assert ("web-domain-vibelog-io", "web-domain-www-vibelog-io") in named, "www redirects to the apex"
    # The degraded page's certificate is validated through the zone before CloudFront and the alias can exist.
    assert ("dns-degraded-cert-validation", "dns-degraded-cdn") in named, "CloudFront waits for its certificate"
    assert ("dns-degraded-cdn", "dns-apex-secondary") in named, "the failover alias names the distribution"
    chain = [reg.name for reg in longest_chain(plan)]
    # P0's way to a person is the longest: the on-call users before their schedule, the escalation policy paging
    # it, the service on the policy, its CloudWatch integration, and the P0 topic's subscription to its key. The
    # rotation's members tie as its start; the chain's length and end do not.
    assert len(chain) == 6, chain
    assert chain[0] in {"incident-oncall-engineer-1", "incident-oncall-engineer-2"}, chain
    assert chain[1:] == [
        "incident-oncall-schedule",
        "incident-pagerduty-escalation",
        "incident-pagerduty",
        "incident-pagerduty-cloudwatch",
        "incident-p0-pagerduty-2",
    ], chain
