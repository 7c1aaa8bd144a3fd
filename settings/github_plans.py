"""What a GitHub plan lets a repository of each visibility have: environments, their rules, protected branches."""

from __future__ import annotations

from typing import Literal

GithubPlan = Literal["free", "pro", "team", "enterprise"]
Visibility = Literal["public", "private", "internal"]
Feature = Literal["environments", "protection_rules", "protected_branches"]

ALL_FEATURES: frozenset[Feature] = frozenset({"environments", "protection_rules", "protected_branches"})
# docs.github.com, "Managing environments for deployment" (who can use this feature): environments, environment
# secrets and deployment protection rules are in public repositories on every current plan; in private or internal
# ones, environments, their secrets and deployment branch policies need Pro, Team or Enterprise, and the other
# protection rules (required reviewers, wait timers) need Enterprise. The API answers 404 on Free and 422 on
# Pro/Team; go-github (repos_environments.go, CreateUpdateEnvironment) then resends only deployment_branch_policy,
# so can_admins_bypass keeps GitHub's default (true) there.
# "About protected branches": public repositories on Free, public and private ones on Pro, Team and Enterprise.
# Internal repositories exist only in Enterprise organisations.
_PRIVATE_FEATURES: dict[GithubPlan, frozenset[Feature]] = {
    "free": frozenset(),
    "pro": frozenset({"environments", "protected_branches"}),
    "team": frozenset({"environments", "protected_branches"}),
    "enterprise": ALL_FEATURES,
}

FEATURE_NAMES: dict[Feature, str] = {
    "environments": "deployment environments, their secrets and deployment branch policies",
    "protection_rules": "required reviewers, wait timers and the admin-bypass switch of an environment",
    "protected_branches": "branch protection rules",
}


def features(plan: GithubPlan, visibility: Visibility) -> frozenset[Feature]:
    """What a repository of `visibility` in an organisation on `plan` can have."""
    if visibility == "public":
        return ALL_FEATURES
    if visibility == "internal" and plan != "enterprise":
        return frozenset()
    return _PRIVATE_FEATURES[plan]


def plans_with(feature: Feature, visibility: Visibility) -> tuple[GithubPlan, ...]:
    """The plans on which a repository of `visibility` has `feature`, cheapest first."""
    plans: tuple[GithubPlan, ...] = ("free", "pro", "team", "enterprise")
    return tuple(plan for plan in plans if feature in features(plan, visibility))
