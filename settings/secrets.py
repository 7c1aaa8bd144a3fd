"""The stack's secret values (vibelog:secrets), each with the placeholder the offline plan stands in for it."""

from __future__ import annotations

from pydantic import SecretStr

from settings.base import ConfigModel, secret_setting


class SecretSettings(ConfigModel):
    """Secret values, set with `pulumi config set --secret` and stored encrypted in the stack file."""

    openai_api_key: SecretStr = secret_setting(
        "OpenAI API key of this environment (OPENAI_API_KEY).", placeholder="sk-offline-plan-placeholder"
    )
    anthropic_api_key: SecretStr | None = secret_setting(
        "Anthropic API key (ANTHROPIC_API_KEY), optional.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    database_url: SecretStr = secret_setting(
        "Pooled Postgres connection URL (DATABASE_URL).",
        placeholder="postgresql://placeholder:placeholder@db.placeholder.invalid:6543/postgres",
    )
    direct_url: SecretStr = secret_setting(
        "Direct Postgres connection URL for migrations (DIRECT_URL).",
        placeholder="postgresql://placeholder:placeholder@db.placeholder.invalid:5432/postgres",
    )
    supabase_anon_key: SecretStr = secret_setting(
        "Supabase anon key (SUPABASE_ANON_KEY).", placeholder="offline-plan-placeholder"
    )
    supabase_service_role_key: SecretStr = secret_setting(
        "Supabase service-role key (SUPABASE_SERVICE_ROLE_KEY).", placeholder="offline-plan-placeholder"
    )
    resend_api_key: SecretStr | None = secret_setting(
        "Resend API key (RESEND_API_KEY), optional.", placeholder="offline-plan-placeholder", required=False
    )
    stripe_secret_key: SecretStr | None = secret_setting(
        "Stripe secret key (STRIPE_SECRET_KEY), optional.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    vercel_deploy_token: SecretStr | None = secret_setting(
        "Vercel token the app's pipeline deploys with (VERCEL_TOKEN); required with vibelog:ci.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    status_page_webhook: SecretStr | None = secret_setting(
        "Status page webhook the pipeline posts to after a deploy (STATUS_PAGE_WEBHOOK); required with CI.",
        placeholder="https://status.placeholder.invalid/webhook",
        required=False,
    )
    slack_webhook: SecretStr | None = secret_setting(
        "Slack incoming webhook for deploy and rollback notices (SLACK_WEBHOOK); required with CI.",
        placeholder="https://hooks.slack.placeholder.invalid/services/placeholder",
        required=False,
    )
    runbook_github_token: SecretStr | None = secret_setting(
        "Fine-grained GitHub token (Contents and Pull requests: write, this infra repository only) the failover and "
        "lockdown runbooks open their stack-file pull request with, so its checks run; required with runbooks.",
        placeholder="github_pat_runbook_placeholder",
        required=False,
    )
    infra_read_token: SecretStr | None = secret_setting(
        "Fine-grained GitHub token (Contents: read, this infra repository only) the app repository's pre-migration "
        "dump checks this repository out with; required with vibelog:migrations.preMigrationBackup unless the "
        "infra repository is public.",
        placeholder="github_pat_infra_read_placeholder",
        required=False,
    )
    supabase_storage_access_key_id: SecretStr | None = secret_setting(
        "Access key id of Supabase Storage's S3 API, read-only use by the upload backup; required with backups.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    supabase_storage_secret_access_key: SecretStr | None = secret_setting(
        "Secret access key of Supabase Storage's S3 API (the upload backup); required with backups.",
        placeholder="offline-plan-placeholder",
        required=False,
    )
    github_dispatch_token: SecretStr | None = secret_setting(
        "Fine-grained GitHub token (Contents: read and write on vibelog:incident.dispatchRepository only) the "
        "rollback alarms start the rollback workflow with (repository_dispatch); required with vibelog:incident.",
        placeholder="github_pat_offline_plan_placeholder",
        required=False,
    )
    pagerduty_token: SecretStr | None = secret_setting(
        "PagerDuty REST API token (an account key, or a user token of a manager) the pagerduty provider declares "
        "the P0 service with; required with vibelog:incident.pagerduty.",
        placeholder="u+offline-plan-placeholder",
        required=False,
    )
