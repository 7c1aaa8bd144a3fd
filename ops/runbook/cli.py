"""`python -m ops runbook-*`: the runbook workflows' steps, configured by the environment their job runs in."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from pathlib import Path
from typing import Any

import boto3

from ops import environment, postgres, report, restore, vault
from ops.environment import Variable
from ops.errors import BadInputError, JobError
from ops.runbook import stackfile, steps
from ops.runbook.http import Client
from ops.runbook.messages import PHASES, Announcement, announce, public_message
from ops.runbook.vercel import API_URL, VercelApi

# What an automated trigger rolls back to: the production deployment before the one serving now.
PREVIOUS = "previous"
# Route 53 publishes its health-check metrics in us-east-1 only, whatever the zone's records say.
ROUTE53_METRICS_REGION = "us-east-1"


env = environment.value
# What each verb reads (its --help lists them; all are checked before it starts).
VERCEL_ENV = (
    Variable("VERCEL_TOKEN", "Vercel API token", secret=True),
    Variable("VERCEL_ORG_ID", "the Vercel team"),
    Variable("VERCEL_API_URL", "the Vercel API's base URL (a stand-in in tests)", required=False),
)
CHANNELS_ENV = (
    Variable("STATUS_PAGE_WEBHOOK", "the status page's incident webhook", secret=True),
    Variable("SLACK_WEBHOOK", "the team's Slack incoming webhook", secret=True),
)
ROLLBACK_ENV = (
    *VERCEL_ENV,
    Variable("VERCEL_PROJECT_ID", "the Vercel project"),
    Variable("APP_URL", "the production app, smoke-tested after the rollback"),
    *CHANNELS_ENV,
)
SWITCH_ENV = (*VERCEL_ENV, Variable("EDGE_CONFIG_ID", "the Edge Config holding the runbook switches"))
FAILOVER_ENV = (Variable("HEALTH_CHECK_ID", "the Route 53 health check of the primary"),)
DATABASE_RESTORE_ENV = (
    *SWITCH_ENV,
    Variable("BACKUP_VAULT_REGION", "the backup vault's AWS region"),
    Variable("BACKUP_DATABASE_BUCKET", "the vault's database bucket"),
    Variable("RESTORE_TARGET_URL", "the live database; the dump is restored beside it", secret=True),
    postgres.PG_BIN,
)


def vercel() -> VercelApi:
    """The Vercel API with the environment's token and team; VERCEL_API_URL points it at a stand-in in tests."""
    base = os.environ.get("VERCEL_API_URL") or API_URL
    return VercelApi(Client(base, env("VERCEL_TOKEN"), {"teamId": env("VERCEL_ORG_ID")}, "VERCEL_API_URL"))


def channels(service: str) -> steps.Channels:
    """The status page and Slack webhooks of the environment."""
    return steps.Channels(
        Client(env("STATUS_PAGE_WEBHOOK"), variable="STATUS_PAGE_WEBHOOK"),
        Client(env("SLACK_WEBHOOK"), variable="SLACK_WEBHOOK"),
        service,
    )


def switch_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE, VALUE true/false as a boolean, anything else as a string."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    value: Any = {"true": True, "false": False}.get(raw, raw)
    if key not in steps.SWITCHES or value not in steps.SWITCHES[key]:
        choices = ", ".join(f"{k}={'|'.join(str(v).lower() for v in vs)}" for k, vs in steps.SWITCHES.items())
        raise argparse.ArgumentTypeError(f"{text!r}: not a runbook switch ({choices})")
    return key, value


def deployment_name(text: str) -> str:
    """The rollback's target: `previous` or a deployment id, as the workflow's request job checks it."""
    if text != PREVIOUS and not re.fullmatch(r"dpl_[A-Za-z0-9]{1,64}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a deployment id (dpl_ and letters or digits) or previous")
    return text


def run_rollback(args: argparse.Namespace) -> int:
    api, project_id = vercel(), env("VERCEL_PROJECT_ID")
    deployment = args.deployment
    if deployment == PREVIOUS:
        found = api.previous_production_deployment(project_id)
        if found is None:
            raise JobError("no READY production deployment older than the one serving: nothing to roll back to")
        print(f"the previous production deployment is {found}")
        deployment = args.deployment = found
    result = steps.rollback(
        api,
        project_id=project_id,
        deployment_id=deployment,
        reason=args.reason,
        app=Client(env("APP_URL"), variable="APP_URL"),
        channels=channels(args.service),
        waiting=steps.Waiting(attempts=args.attempts, interval=args.interval),
    )
    report.summary(
        f"## Rolled back to {args.deployment}\n\n- reason: {args.reason}\n"
        + "".join(f"- smoke FAILED: {line}\n" for line in result.failures)
    )
    return 0 if result.ok else 1


def raise_twice(pairs: list[tuple[str, Any]]) -> None:
    """BadInputError naming a switch given twice: which value was meant is for the person to say, not the last one."""
    if len(dict(pairs)) != len(pairs):
        twice = next(key for key, _ in pairs if sum(k == key for k, _ in pairs) > 1)
        raise BadInputError(f"{twice} is given twice")


def run_switch(args: argparse.Namespace) -> int:
    raise_twice(args.switch)
    switches = dict(args.switch)
    # Refused where the stack file would refuse the same values (the AI fallback without its key), before any call.
    declared = [(stackfile.EDGE_SWITCHES[key], value) for key, value in switches.items()]
    stackfile.check(stack_path(args.stack), args.stack, declared)
    steps.set_switches(
        vercel(), env("EDGE_CONFIG_ID"), switches, waiting=steps.Waiting(attempts=args.attempts, interval=args.interval)
    )
    report.summary("## Edge Config switches\n\n" + "".join(f"- {k} = {v!r}\n" for k, v in switches.items()))
    return 0


def run_announce(args: argparse.Namespace) -> int:
    text = public_message(args.phase, args.service)
    detail = f" {args.detail}" if args.detail else ""
    chosen = channels(args.service)
    announce(chosen.status_page, chosen.slack, Announcement(args.phase, text, f"[{args.phase}] {text}{detail}"))
    print(f"announced {args.phase}")
    return 0


def run_failover_verify(args: argparse.Namespace) -> int:
    cloudwatch = boto3.client("cloudwatch", region_name=ROUTE53_METRICS_REGION, config=vault.client_config())
    steps.verify_failover(
        cloudwatch,
        env("HEALTH_CHECK_ID"),
        failed_over=args.state == "failed-over",
        waiting=steps.Waiting(attempts=args.attempts, interval=args.interval),
    )
    return 0


def run_database_restore(args: argparse.Namespace) -> int:
    s3 = vault.client()
    bucket, target_url, production_ref = (
        env("BACKUP_DATABASE_BUCKET"),
        env("RESTORE_TARGET_URL"),
        restore.production_project_ref(),
    )
    # Before maintenance goes on: an archived dump cannot be read by this role nor within this job, and a refused
    # target must not leave production in maintenance.
    restore.require_readable(s3, bucket, args.key)
    if not args.confirm_production:
        restore.guard_alongside(s3, bucket=bucket, key=args.key, target_url=target_url, production_ref=production_ref)

    def restore_step() -> steps.RestoreOutcome:
        restored, name = restore.restore_alongside(
            s3,
            bucket=bucket,
            key=args.key,
            target_url=target_url,
            confirm_production=args.confirm_production,
            production_ref=production_ref,
        )
        lines = [f"{'ok' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in restored.checks]
        lines.append(f"{args.key} restored into the new database `{name}`; the live database is untouched")
        return steps.RestoreOutcome(restored.ok, lines, SWITCH_OVER.format(name=name) if restored.ok else None)

    outcome = steps.database_corruption(
        vercel(),
        env("EDGE_CONFIG_ID"),
        restore_step,
        waiting=steps.Waiting(attempts=args.attempts, interval=args.interval),
    )
    after = f"\n**Next, by a person:** {outcome.switch_over}\n" if outcome.switch_over else ""
    report.summary("## Database restore\n\n" + "".join(f"- {line}\n" for line in outcome.lines) + after)
    return 0 if outcome.ok else 1


# The human step after a restore beside the live database (docs/runbooks.md, "Database corruption").
SWITCH_OVER = (
    "compare `{name}` with the live database (what the corruption touched, what was written since the dump); "
    "move the data over as docs/runbooks.md describes (the live state kept under a pre-restore name); then "
    "*Runbook: switch* `maintenance-off`; drop `{name}` when it is no longer needed"
)


def stack_path(stack: str) -> Path:
    """The stack file the change is made in (the repository's root, where the workflow checked it out)."""
    path = Path(f"Pulumi.{stack}.yaml")
    if not path.is_file():
        raise JobError(f"{path} does not exist (run from the repository's root)")
    return path


def stack_value(text: str) -> tuple[str, Any]:
    """SWITCH=VALUE for a stack switch: true/false, a whole number, or text; the settings models judge the value."""
    switch, sep, raw = text.partition("=")
    if not sep or switch not in stackfile.STACK_SWITCHES:
        raise argparse.ArgumentTypeError(f"{text!r}: expected one of {sorted(stackfile.STACK_SWITCHES)}=VALUE")
    value: Any = {"true": True, "false": False}.get(raw, raw)
    if re.fullmatch(r"-?[0-9]+", raw):
        with contextlib.suppress(ValueError):  # past Python's 4300 digits it stays text, which the models refuse
            value = int(raw)
    if (switch, value) == ("operations.securityMode", stackfile.LOCKDOWN_MODE):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a lockdown starts with `runbook-lockdown`, which also starts its secret rotation"
        )
    return switch, value


def run_stack_set(args: argparse.Namespace) -> int:
    raise_twice(args.change)
    edit = stackfile.apply(stack_path(args.stack), args.stack, args.change)
    lines = edit.lines()
    print("\n".join(lines))
    report.summary("## Stack change\n\n" + "".join(f"- {line}\n" for line in lines))
    return 0


def run_lockdown(args: argparse.Namespace) -> int:
    path = stack_path(args.stack)
    changes, note = stackfile.lockdown(stackfile.current(path, args.stack).operations, rotate_again=args.rotate_again)
    if not changes:
        line = f"{path}: {note}; nothing changed"
        print(line)
        report.summary(f"## Security lockdown\n\n{line}\n")
        return 0
    # Step 1 of the documented rotation (docs/incident-response.md): the new generation beside the old one. A single
    # `up` with keepPreviousSecrets false would revoke the token the running deployments serve with before the
    # redeploy that gives them the new one.
    edit = stackfile.apply(path, args.stack, changes)
    rotated = "operations.secretRotation" in edit.after
    lines = [
        *edit.lines(),
        *([note] if note else []),
        *(ROTATION_NEXT if rotated else ()),
        "Rotate by hand, at each provider, then `pulumi config set --secret` (it prompts) and `pulumi up`:",
        *(f"- {name}: {where}" for name, where in MANUAL_ROTATION.items()),
    ]
    print("\n".join(lines))
    report.summary("## Security lockdown\n\n" + "\n".join(lines) + "\n")
    return 0


# What follows this runbook's pull request, in the documented order (docs/incident-response.md, secret rotation).
ROTATION_NEXT = (
    "Next, in this order (the generated secrets: the Edge Config read token):",
    "1. Merge this pull request: deploy.yml's `pulumi up` creates the new token and points EDGE_CONFIG at it; the old "
    "token still works.",
    "2. Redeploy the app through its pipeline, and wait until every production deployment serving traffic is the new "
    "one (running deployments keep the env they were built with).",
    "3. Then a second pull request, `vibelog:operations.keepPreviousSecrets: false` (`python -m ops runbook-stack-set "
    "--stack production operations.keepPreviousSecrets=false`): its `pulumi up` revokes the old token.",
)


# Third-party keys this program holds but cannot mint: a person rotates each at its provider (docs/runbooks.md).
MANUAL_ROTATION = {
    "vibelog:secrets.openaiApiKey": "OpenAI dashboard, API keys (revoke the old key after the redeploy)",
    "vibelog:secrets.anthropicApiKey": "Anthropic console, API keys (the fallback provider, when set)",
    "vibelog:secrets.supabaseServiceRoleKey / supabaseAnonKey": "Supabase, Project settings, API: roll the JWT secret",
    "vibelog:secrets.databaseUrl / directUrl": "Supabase, Database: reset the database password",
    "vibelog:secrets.supabaseStorageAccessKeyId / SecretAccessKey": "Supabase, Storage, S3 access keys",
    "vibelog:secrets.vercelDeployToken": "Vercel, Account settings, Tokens",
    "vibelog:secrets.statusPageWebhook / slackWebhook": "the status page and Slack app settings: regenerate the URLs",
    "vibelog:secrets.runbookGithubToken / githubDispatchToken": "GitHub, Settings, Fine-grained tokens",
}


# The longest wait between two polls: an hour (the failover's default is 30 s).
MAX_INTERVAL = 3600.0


def poll_interval(text: str) -> float:
    """`--interval`: seconds from 0 to MAX_INTERVAL."""
    return environment.number_between(text, 0, MAX_INTERVAL)


def register(verbs: Any) -> None:
    """Add the runbook verbs to `python -m ops`."""

    def waiting(command: argparse.ArgumentParser, attempts: int, interval: float) -> None:
        command.add_argument("--attempts", type=environment.whole, default=attempts, help="polls before giving up")
        command.add_argument(
            "--interval", type=poll_interval, default=interval, help=f"seconds between polls (0 to {MAX_INTERVAL:g})"
        )

    rolling = environment.add_job(
        verbs,
        "runbook-rollback",
        summary="roll production back to a deployment, smoke-test, announce",
        run=run_rollback,
        variables=ROLLBACK_ENV,
    )
    rolling.add_argument(
        "deployment",
        type=deployment_name,
        help="the READY production deployment to serve again (dpl_...), or `previous`",
    )
    rolling.add_argument("--reason", required=True, help="why (shown on the status page and in Slack)")
    rolling.add_argument("--service", default="VibeLog", help="the service the public message names")
    waiting(rolling, 30, 10.0)
    switching = environment.add_job(
        verbs,
        "runbook-switch",
        summary="set Edge Config runbook switches (KEY=VALUE ...)",
        run=run_switch,
        variables=SWITCH_ENV,
    )
    switching.add_argument(
        "--stack", required=True, choices=("staging", "production"), help="whose stack file the values must pass"
    )
    switching.add_argument("switch", nargs="+", type=switch_value, help="e.g. MAINTENANCE_MODE=true")
    waiting(switching, 12, 5.0)
    announcing = environment.add_job(
        verbs,
        "runbook-announce",
        summary="post a template to the status page and Slack",
        run=run_announce,
        variables=CHANNELS_ENV,
    )
    announcing.add_argument("phase", choices=PHASES)
    announcing.add_argument("--service", default="VibeLog")
    announcing.add_argument("--detail", default="", help="internal detail added to the Slack message only")
    verifying = environment.add_job(
        verbs,
        "runbook-failover-verify",
        summary="wait for the health check's state",
        run=run_failover_verify,
        variables=FAILOVER_ENV,
    )
    verifying.add_argument("state", choices=("failed-over", "failed-back"))
    waiting(verifying, 20, 30.0)
    restoring = environment.add_job(
        verbs,
        "runbook-database-restore",
        summary="maintenance on, restore, checks, maintenance off",
        run=run_database_restore,
        variables=DATABASE_RESTORE_ENV,
    )
    restoring.add_argument("key", help="the dump's key, as `python -m ops list` shows it")
    restoring.add_argument("--confirm-production", action="store_true")
    waiting(restoring, 12, 5.0)
    setting = environment.add_job(
        verbs,
        "runbook-stack-set",
        summary="set runbook switches in a stack file (a reviewed change)",
        run=run_stack_set,
    )
    setting.add_argument("--stack", required=True, choices=("staging", "production"))
    setting.add_argument("change", nargs="+", type=stack_value, help="e.g. dns.forceFailover=true")
    locking = environment.add_job(
        verbs,
        "runbook-lockdown",
        summary="securityMode enhanced and, once per lockdown, a secret rotation",
        run=run_lockdown,
    )
    locking.add_argument("--stack", required=True, choices=("staging", "production"))
    locking.add_argument(
        "--rotate-again", action="store_true", help="start a new rotation in a lockdown whose rotation is finished"
    )
