"""GitHub Actions OIDC: the issuer, the STS audience, and the one function that builds every trusted subject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"

# GitHub's default `sub` claim has two forms (docs.github.com, actions/reference/security/oidc, "Immutable subject
# claims"; changelog 2026-04-23): `name` (repo:OWNER/REPO:...) for repositories that have not opted in, and
# `immutable` (repo:OWNER@OWNER_ID/REPO@REPO_ID:...) for every repository created, renamed or transferred after the
# mid-2026 cutover (15 July 2026 in the current documentation) and for those opted in. `@` cannot appear in a
# GitHub name, so the forms never overlap. A trust policy written for the wrong form matches no token: the role can
# never be assumed. `gh api repos/OWNER/REPO/actions/oidc/customization/sub` shows the form a repository uses
# (`use_immutable_subject`).
SubjectForm = Literal["name", "immutable"]

_OWNER = r"[A-Za-z0-9-]+"
_NAME = r"[A-Za-z0-9._-]+"
_ID = r"@[1-9][0-9]*"
# A subject narrowed to one repository (either form) and one environment or branch: never a wildcard.
OIDC_SUBJECT_PATTERN = (
    rf"^repo:(({_OWNER}/{_NAME})|({_OWNER}{_ID}/{_NAME}{_ID})):"
    r"(environment:[A-Za-z0-9._-]+|ref:refs/heads/[A-Za-z0-9._/-]+)$"
)


@dataclass(frozen=True)
class GithubRepository:
    """A repository as its Actions tokens name it."""

    owner: str
    """The owning organisation or user (github:owner)."""
    name: str
    """The repository's name."""
    form: SubjectForm = "name"
    """Which subject form its tokens carry."""
    owner_id: int | None = None
    """Numeric id of the owner; required by the immutable form."""
    repository_id: int | None = None
    """Numeric id of the repository; required by the immutable form."""

    def __post_init__(self) -> None:
        if self.form == "immutable" and (self.owner_id is None or self.repository_id is None):
            raise ValueError(f"{self.owner}/{self.name}: the immutable subject form needs the owner and repository ids")

    @property
    def full_name(self) -> str:
        """owner/name."""
        return f"{self.owner}/{self.name}"


def oidc_subject(
    repository: GithubRepository,
    *,
    environment: str | None = None,
    branch: str | None = None,
    pull_request: bool = False,
) -> str:
    """The `sub` of a token of `repository` for a job in `environment`, on `branch`, or of a pull request.

    Exactly one context: GitHub puts the environment in the subject when a job names one (whatever its branch),
    otherwise `pull_request` for pull-request events, otherwise the ref.
    """
    contexts = [
        context
        for context in (
            f"environment:{environment}" if environment is not None else None,
            f"ref:refs/heads/{branch}" if branch is not None else None,
            "pull_request" if pull_request else None,
        )
        if context is not None
    ]
    if len(contexts) != 1:
        raise ValueError("a subject names exactly one of environment, branch or pull_request")
    if repository.form == "immutable":
        prefix = f"{repository.owner}@{repository.owner_id}/{repository.name}@{repository.repository_id}"
    else:
        prefix = repository.full_name
    return f"repo:{prefix}:{contexts[0]}"
