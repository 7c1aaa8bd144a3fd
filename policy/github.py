"""GitHub rules: production takes two people, environments GitHub accepts, valid Actions secret names."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policy.registry import Rules, Setting
from policy.type_tokens import ENVIRONMENT_SECRET, REPOSITORY_ENVIRONMENT, REPOSITORY_SECRET
from policy.unknowns import UNKNOWN
from policy.values import as_list, dig, known, props_of
from settings.github_names import NAME, RESERVED_PREFIX

RULES = Rules()
ENVIRONMENTS = Setting("environments", ["production"], {"type": "array", "items": {"type": "string"}})
MINIMUM_REVIEWERS = Setting("minimumReviewers", 2, {"type": "integer"})


@RULES.resource(
    "production-environment-approval",
    "Deploying to production takes two people: reviewers, no self review, no admin bypass.",
    settings=[ENVIRONMENTS, MINIMUM_REVIEWERS],
)
def production_environment_approval(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Production deploys take two people: 2+ reviewers, no self review, no admin bypass, protected branches."""
    if args.resource_type != REPOSITORY_ENVIRONMENT:
        return
    props = props_of(args)
    if props.get("environment") not in ENVIRONMENTS.read(args):
        return
    minimum = int(MINIMUM_REVIEWERS.read(args))
    reviewers = props.get("reviewers")
    if known(reviewers) or isinstance(reviewers, list):
        count = sum(len(as_list(dig(r, "users"))) + len(as_list(dig(r, "teams"))) for r in as_list(reviewers))
        if count < minimum:
            report(f"{count} reviewer(s); fix: list at least {minimum} users or teams in reviewers", None)
    if props.get("preventSelfReview") not in (True, UNKNOWN):
        report("the deployer may approve their own deployment; fix: prevent_self_review=True", None)
    if props.get("canAdminsBypass") not in (False, UNKNOWN):
        report("admins can bypass the approval (GitHub's default); fix: can_admins_bypass=False", None)
    policy = props.get("deploymentBranchPolicy")
    if known(policy) and (dig(policy, "protectedBranches") is not True or dig(policy, "customBranchPolicies")):
        report(
            "any branch can deploy; fix: deployment_branch_policy={'protected_branches': True, "
            "'custom_branch_policies': False}",
            None,
        )


@RULES.resource(
    "self-review-needs-reviewers",
    "An environment prevents self review only when it has reviewers (GitHub refuses it otherwise).",
)
def self_review_needs_reviewers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """prevent_self_review only with reviewers: GitHub answers 422 to it on an environment nobody reviews."""
    if args.resource_type != REPOSITORY_ENVIRONMENT:
        return
    props = props_of(args)
    reviewers = props.get("reviewers")
    if props.get("preventSelfReview") is not True or not (known(reviewers) or isinstance(reviewers, list)):
        return
    count = sum(len(as_list(dig(r, "users"))) + len(as_list(dig(r, "teams"))) for r in as_list(reviewers))
    if count == 0:
        report(
            f"{args.name} prevents self review without reviewers, which GitHub refuses (422) on the first up; "
            "fix: prevent_self_review=False, or name reviewers",
            None,
        )


@RULES.resource("actions-secret-name", "GitHub Actions secret names are valid.")
def actions_secret_name(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Secret names are what GitHub accepts: [A-Za-z0-9_], no leading digit, no GITHUB_ prefix."""
    if args.resource_type not in (ENVIRONMENT_SECRET, REPOSITORY_SECRET):
        return
    name = props_of(args).get("secretName")
    if not isinstance(name, str):
        return
    if not NAME.match(name):
        report(f"secret name {name!r} is not [A-Za-z0-9_] without a leading digit; fix: rename it", None)
    elif name.upper().startswith(RESERVED_PREFIX):
        report(f"secret name {name!r} uses the reserved GITHUB_ prefix; fix: rename it", None)
