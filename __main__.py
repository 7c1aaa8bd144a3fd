"""VibeLog's infrastructure, one stack per environment: settings, then providers, then components, then exports."""

import dataclasses

import pulumi

from components.backup_jobs import BackupJobs, BackupJobsArgs
from components.backup_vault import BackupVault, BackupVaultArgs
from components.ci_aws_access import CiAwsAccess, CiAwsAccessArgs, DeployBoundary, DeployBoundaryArgs
from components.ci_environment import CiEnvironment, CiEnvironmentArgs
from components.config_secrets import ConfigSecrets, ConfigSecretsArgs
from components.deploy_scope import DeployScope
from components.dns_failover import DnsFailover, DnsFailoverArgs
from components.feature_flags import FeatureFlags, FeatureFlagsArgs
from components.incident_response import DISPATCH_EVENT_TYPE, GLOBAL_REGION, IncidentResponse, IncidentResponseArgs
from components.migration_environments import MigrationEnvironments, MigrationEnvironmentsArgs
from components.monitoring_dashboard import MonitoringDashboard, MonitoringDashboardArgs
from components.providers import Providers, ignore_tags_while_adopting
from components.runbook_environment import RunbookEnvironment, RunbookEnvironmentArgs, RunbookRole, RunbookRoleArgs
from components.scaling_signals import ScalingSignals, ScalingSignalsArgs
from components.vercel_app import VercelApp, VercelAppArgs
from settings.github_oidc import oidc_subject
from settings.loader import load_settings

settings = load_settings()
if settings.bootstrap_phase == "adopt":
    ignore_tags_while_adopting()  # the `up` after `pulumi import` (docs/adopting.md)
providers = Providers.for_stack(settings)
pulumi.export("bootstrap_phase", settings.bootstrap_phase)
declares_all = settings.bootstrap_phase != "zone"

backup = settings.backup
backup_args = (
    BackupVaultArgs.from_settings(settings, backup, providers) if backup is not None and declares_all else None
)
# The boundary of every role the deploy role may create or change, before those roles (they carry its ARN).
boundary_args = DeployBoundaryArgs.of(settings, backup_args) if declares_all else None
boundary = (
    DeployBoundary("deploy-boundary", boundary_args, opts=providers.opts(providers.aws()))
    if boundary_args is not None
    else None
)
boundary_arn = boundary.arn if boundary is not None else None

# First, in every phase: the zone, whose name servers the registrar (or the parent zone) must delegate to before
# anything validates against it (docs/deploying.md, "Your first `pulumi up`").
# The incident classes' topics and the rollback alarms come first: the failover alarm notifies P0's topic.
incident = (
    IncidentResponse(
        "incident", IncidentResponseArgs.from_settings(settings, settings.incident, providers, boundary_arn)
    )
    if settings.incident is not None and declares_all
    else None
)
notify_p0 = [incident.topics["P0"].arn] if incident is not None else []
dns_args = (
    DnsFailoverArgs.from_settings(settings, settings.dns, providers, notify=notify_p0)
    if settings.dns is not None
    else None
)
dns = DnsFailover("dns", dns_args) if dns_args is not None else None
if dns is not None:
    pulumi.export("dns_zone_id", dns.zone_id)
    pulumi.export("dns_name_servers", dns.name_servers)

if declares_all:
    flags = FeatureFlags("flags", FeatureFlagsArgs.from_settings(settings), opts=providers.opts(providers.vercel))
    app = VercelApp(
        "web",
        VercelAppArgs.from_settings(
            settings,
            runtime_env={"EDGE_CONFIG": flags.connection_string}
            | ({"AWS_ROLE_ARN": incident.metrics_role_arn} if incident is not None else {}),
        ),
        opts=providers.opts(providers.vercel, providers.random),
    )
    pulumi.export("app_url", app.url)
    pulumi.export("app_public_env", app.public_env)
    pulumi.export("vercel_project_id", app.project_id)
    pulumi.export("edge_config_id", flags.store_id)

    ci_access = None
    if settings.ci is not None:
        scope = DeployScope.of(settings, dns_args, backup_args, zone_arn=dns.zone.arn if dns is not None else None)
        ci_access = CiAwsAccess(
            "ci-aws",
            CiAwsAccessArgs.from_settings(settings, settings.ci, scope, boundary_arn),
            opts=providers.opts(providers.aws()),
        )
        ci = CiEnvironment(
            "ci",
            CiEnvironmentArgs.from_settings(
                settings,
                settings.ci,
                vercel_project_id=app.project_id,
                vercel_org_id=app.project.team_id,
                deploy_role_arn=ci_access.deploy_role_arn,
                preview_role_arn=ci_access.preview_role_arn,
            ),
            opts=providers.opts(providers.github),
        )
        pulumi.export("ci_environment", ci.environment)
        pulumi.export("ci_deploy_role_arn", ci_access.deploy_role_arn)
    if dns is not None:
        if dns.health_check_id is not None:
            pulumi.export("dns_health_check_id", dns.health_check_id)
        if dns.degraded_page_domain is not None:
            pulumi.export("degraded_page_domain", dns.degraded_page_domain)

    alarms = [*(dns.alarms if dns is not None else [])]
    if incident is not None and settings.incident is not None:
        pulumi.export("incident_topic_arns", incident.topic_arns)
        pulumi.export("incident_rollback_alarms", incident.rollback_alarm_names)
        pulumi.export("incident_dispatch_event_type", DISPATCH_EVENT_TYPE)
        scaling = ScalingSignals(
            "scaling",
            ScalingSignalsArgs.from_settings(settings, settings.incident, incident.topics["P2"].arn),
            opts=providers.opts(providers.aws(GLOBAL_REGION)),
        )
        pulumi.export("scaling_alarms", scaling.alarm_names)
        alarms += [*incident.rollback_alarms, *scaling.alarms]
    if dns is not None and dns.https_health_check_id is not None:
        pulumi.export("dns_https_health_check_id", dns.https_health_check_id)

    if backup is not None and backup_args is not None:
        if ci_access is not None and ci_access.provider is not None:
            # The vault's roles trust the OIDC provider this stack declares: they wait for it.
            backup_args = dataclasses.replace(backup_args, oidc_provider=ci_access.provider)
        # The stack's secrets provider and the configuration backups' key, before the vault whose roles use it.
        config_secrets = ConfigSecrets("config-secrets", ConfigSecretsArgs.from_settings(settings, backup, providers))
        pulumi.export("config_secrets_provider", config_secrets.secrets_provider)
        pulumi.export("config_secrets_provider_replica", config_secrets.replica_secrets_provider)
        pulumi.export("config_kms_key_arn", config_secrets.key_arn)
        pulumi.export("config_kms_replica_key_arn", config_secrets.replica_key_arn)
        backup_args = dataclasses.replace(
            backup_args,
            config_key_arn=config_secrets.key_arn,
            config_replica_key_arn=config_secrets.replica_key_arn,
        )
        vault = BackupVault("backup", backup_args)
        pulumi.export("backup_database_bucket", vault.database_bucket)
        pulumi.export("backup_uploads_bucket", vault.uploads_bucket)
        pulumi.export("backup_uploads_backup_bucket", vault.uploads_backup_bucket)
        pulumi.export("backup_writer_role_arn", vault.writer_role_arn)
        pulumi.export("backup_restore_test_role_arn", vault.reader_role_arn)
        pulumi.export("backup_operator_role_arn", vault.operator_role_arn)
        pulumi.export("backup_config_role_arn", vault.config_role_arn)
        jobs = BackupJobs(
            "backup-jobs",
            BackupJobsArgs.from_settings(
                settings,
                backup,
                writer_role_arn=vault.writer_role_arn,
                reader_role_arn=vault.reader_role_arn,
                database_bucket=vault.database_bucket,
                uploads_bucket=vault.uploads_bucket,
                uploads_backup_bucket=vault.uploads_backup_bucket,
                config_role_arn=vault.config_role_arn,
                config_key_arn=config_secrets.key_arn,
                vercel_project_id=app.project_id,
                vercel_org_id=app.project.team_id,
            ),
            opts=providers.opts(providers.github),
        )
        pulumi.export(
            "backup_job_environments", [jobs.writer_environment, jobs.reader_environment, jobs.config_environment]
        )
    if settings.runbooks is not None and ci_access is not None:
        runbook_role = RunbookRole(
            "runbooks-aws",
            RunbookRoleArgs(
                environment=settings.environment,
                oidc_provider=ci_access.provider,
                subject=oidc_subject(settings.github_repository("infra"), environment=settings.runbook_environment),
                provider_arn=ci_access.provider_arn,
                database_bucket_arn=vault.database.arn if backup_args is not None else None,
                vault_key_arn=vault.key.arn if backup_args is not None else None,
                vault_region=backup.region if backup is not None else None,
            ),
            opts=providers.opts(providers.aws()),
        )
        runbooks = RunbookEnvironment(
            "runbooks",
            RunbookEnvironmentArgs.from_settings(
                settings,
                settings.runbooks,
                vercel_project_id=app.project_id,
                vercel_org_id=app.project.team_id,
                edge_config_id=flags.store_id,
                aws_role_arn=runbook_role.arn,
                health_check_id=dns.health_check_id if dns is not None else None,
                database_bucket=vault.database_bucket if backup_args is not None else None,
            ),
            opts=providers.opts(providers.github),
        )
        pulumi.export("runbook_environment", runbooks.environment)
    if settings.monitored:
        dashboard = MonitoringDashboard(
            "monitoring",
            MonitoringDashboardArgs.from_settings(
                settings,
                GLOBAL_REGION,
                health_checks=[(label, check.id) for label, check in (dns.health_checks if dns is not None else [])],
                alarms=[alarm.name for alarm in alarms],
            ),
            opts=providers.opts(providers.aws(GLOBAL_REGION)),
        )
        pulumi.export("monitoring_dashboard", dashboard.dashboard_name)
    if settings.migrations is not None:
        migrations = MigrationEnvironments(
            "migrations",
            MigrationEnvironmentsArgs.from_settings(
                settings,
                settings.migrations,
                pre_migration_role_arn=vault.pre_migration_role_arn if backup_args is not None else None,
                database_bucket=vault.database_bucket if backup_args is not None else None,
            ),
            opts=providers.opts(providers.github),
        )
        pulumi.export("migration_environments", migrations.environments)
if settings.bootstrap_phase == "adopt":
    pulumi.export(
        "bootstrap_next_step",
        "phase adopt: what `pulumi import` adopted keeps its tags for this `up`. Then: "
        f"pulumi config set --stack {pulumi.get_stack()} vibelog:bootstrapPhase complete && "
        f"pulumi up --stack {pulumi.get_stack()} (docs/adopting.md)",
    )
elif not declares_all:
    pulumi.export(
        "bootstrap_next_step",
        "phase zone: only the zone exists. Delegate it to dns_name_servers "
        "(the registrar for a registered domain, the parent zone's stack for a subzone), wait until "
        "`dig NS <zone>` answers with them, then: "
        f"pulumi config set --stack {pulumi.get_stack()} vibelog:bootstrapPhase complete && "
        f"pulumi up --stack {pulumi.get_stack()}",
    )
