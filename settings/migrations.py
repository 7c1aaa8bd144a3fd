"""The migrations section: how the app's schema migrations reach this stack, who approves them and their rollback."""

from __future__ import annotations

from typing import Literal

from settings.base import ConfigModel, setting
from settings.ci import CiReviewers

# The reference's Migration Strategy, per environment: how a migration is applied and how one is rolled back.
ApplyRule = Literal["automatic", "automatic_on_deploy", "manual_with_review"]
RollbackRule = Literal["manual", "manual_with_approval", "two_person_approval"]
# The app repository's environments the migrate workflow (.github/workflows/migrate.yml) runs in: `<stack><suffix>`.
MIGRATE_SUFFIX, ROLLBACK_SUFFIX, BACKUP_SUFFIX = "-migrate", "-migrate-rollback", "-pre-migration"


class MigrationSettings(ConfigModel):
    """The app repository's migration environments of this stack (docs/ci-cd.md, "Migrations").

    A stack without the section (development: its migrations apply automatically where the app runs, with no
    pipeline) declares no migration environment; the section needs vibelog:ci.
    """

    apply: ApplyRule = setting(
        "How a migration is applied (the reference: development automatic, staging automatic_on_deploy, production "
        "manual_with_review); manual_with_review makes `<stack>-migrate` wait for a reviewer.",
        example="manual_with_review",
    )
    rollback: RollbackRule = setting(
        "How a migration is rolled back (the reference: development manual, staging manual_with_approval, production "
        "two_person_approval); `<stack>-migrate-rollback` waits for one reviewer, or for two people (whoever starts "
        "it cannot approve it).",
        example="two_person_approval",
    )
    reviewers: CiReviewers = setting(
        "Who approves a reviewed migration or an approved rollback; two_person_approval needs at least two.",
        default_factory=CiReviewers,
    )
    pre_migration_backup: bool = setting(
        "Dump the database into the vault's pre-migration/ prefix before each migration or rollback (the reference: "
        "production's pre_migration_backup); needs vibelog:backup.",
        example=True,
        default=False,
    )

    @property
    def apply_reviewed(self) -> bool:
        """Whether `<stack>-migrate` waits for a reviewer."""
        return self.apply == "manual_with_review"

    @property
    def rollback_reviewed(self) -> bool:
        """Whether `<stack>-migrate-rollback` waits for a reviewer."""
        return self.rollback != "manual"
