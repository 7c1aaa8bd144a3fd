"""VibeLog's infrastructure, one stack per environment: settings, then providers, then components, then exports."""

import pulumi

from components.backup_jobs import BackupJobs, BackupJobsArgs
from components.backup_vault import BackupVault, BackupVaultArgs
from components.ci_aws_access import CiAwsAccess, CiAwsAccessArgs
from components.ci_environment import CiEnvironment, CiEnvironmentArgs
from components.dns_failover import DnsFailover, DnsFailoverArgs
from components.feature_flags import FeatureFlags, FeatureFlagsArgs
from components.providers import Providers
from components.vercel_app import VercelApp, VercelAppArgs
from settings.loader import load_settings

settings = load_settings()
providers = Providers.for_stack(settings)

flags = FeatureFlags("flags", FeatureFlagsArgs.from_settings(settings), opts=providers.opts(providers.vercel))
app = VercelApp(
    "web",
    VercelAppArgs.from_settings(settings, runtime_env={"EDGE_CONFIG": flags.connection_string}),
    opts=providers.opts(providers.vercel),
)

pulumi.export("app_url", app.url)
pulumi.export("vercel_project_id", app.project_id)
pulumi.export("edge_config_id", flags.store_id)

if settings.ci.enabled:
    ci_access = CiAwsAccess("ci-aws", CiAwsAccessArgs.from_settings(settings), opts=providers.opts(providers.aws()))
    ci = CiEnvironment(
        "ci",
        CiEnvironmentArgs.from_settings(
            settings,
            vercel_project_id=app.project_id,
            vercel_org_id=app.project.team_id,
            deploy_role_arn=ci_access.deploy_role_arn,
            preview_role_arn=ci_access.preview_role_arn,
        ),
        opts=providers.opts(providers.github),
    )
    pulumi.export("ci_environment", ci.environment)
    pulumi.export("ci_deploy_role_arn", ci_access.deploy_role_arn)
if settings.dns is not None:
    dns = DnsFailover("dns", DnsFailoverArgs.from_settings(settings, providers))
    pulumi.export("dns_zone_id", dns.zone_id)
    pulumi.export("dns_name_servers", dns.name_servers)
    if dns.health_check_id is not None:
        pulumi.export("dns_health_check_id", dns.health_check_id)
    if dns.degraded_page_domain is not None:
        pulumi.export("degraded_page_domain", dns.degraded_page_domain)

if settings.backup.enabled:
    vault = BackupVault("backup", BackupVaultArgs.from_settings(settings, providers))
    pulumi.export("backup_database_bucket", vault.database_bucket)
    pulumi.export("backup_uploads_bucket", vault.uploads_bucket)
    pulumi.export("backup_uploads_backup_bucket", vault.uploads_backup_bucket)
    pulumi.export("backup_writer_role_arn", vault.writer_role_arn)
    pulumi.export("backup_restore_test_role_arn", vault.reader_role_arn)
    jobs = BackupJobs(
        "backup-jobs",
        BackupJobsArgs.from_settings(
            settings,
            writer_role_arn=vault.writer_role_arn,
            reader_role_arn=vault.reader_role_arn,
            database_bucket=vault.database_bucket,
            uploads_bucket=vault.uploads_bucket,
            uploads_backup_bucket=vault.uploads_backup_bucket,
        ),
        opts=providers.opts(providers.github),
    )
    pulumi.export("backup_job_environments", [jobs.writer_environment, jobs.reader_environment])
