"""Exactly the grants the code uses: each job's role allows every AWS call its verbs make, and nothing else.

The calls of each verb are a table (VERB_CALLS), and the table is the code's: `test_the_verb_table_is_what_the_verbs_
call` runs every verb against moto's S3 and CloudWatch (and PostgreSQL, and the runbooks' Vercel stand-in) and
records each call botocore sends. From the table, each job's role (followed from its workflow, as the plan wires
it) must allow every call with the IAM actions it implies, and each of its Allow statements must serve one.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from components.aws_iam import oidc_provider_arn
from infra.engine.runtime import Plan, Registration
from ops import cli, config_backup, uploads, vault
from ops.cli import parser
from policy.type_tokens import ENVIRONMENT_VARIABLE
from settings.backup_metrics import NAMESPACE as BACKUP_METRICS_NAMESPACE
from settings.stacks import PROJECT_DIR
from tests.helpers.access import deployed, inline_policies, trust_of
from tests.helpers.aws_calls import Call, recorded_calls
from tests.helpers.iam_eval import allowed, may_assume, statement_applies
from tests.helpers.jobs import AwsJob, aws_jobs, role_of
from tests.helpers.stacks import settings_of
from tests.ops_servers import REGION, S3Server, moto_server
from tests.runbook_servers import TOKEN, World, stand_in
from tests.test_ops_backups import seed

BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
# A call, as the table keeps it: service, operation, the variable that names its bucket ("" if none), key prefix.
Entry = tuple[str, str, str, str]
DB, UPLOADS, UPLOAD_BACKUPS = "BACKUP_DATABASE_BUCKET", "BACKUP_UPLOADS_BUCKET", "BACKUP_UPLOADS_BACKUP_BUCKET"
# KMS calls keep the key they name where S3 calls keep a key prefix: the stack's configuration key (either region's).
CONFIG_KEY = "CONFIG_KMS_KEY"
CONFIG = config_backup.PREFIX
DUMP_PREFIXES = tuple(f"{schedule}/" for schedule in vault.DATABASE_SCHEDULES)
UPLOAD_PREFIXES = (uploads.OBJECTS_PREFIX, uploads.MANIFESTS_PREFIX)
# CloudWatch calls keep their namespace where S3 calls keep a key prefix: PutMetricData is scoped by it.
CONFIG_KEY_REGION = "us-east-1"
JOB_METRICS: Entry = ("cloudwatch", "PutMetricData", "", BACKUP_METRICS_NAMESPACE)

# Every AWS call each verb makes (its Supabase Storage calls are Supabase's keys', not a role's).
VERB_CALLS: dict[str, frozenset[Entry]] = {
    # Each run's key is checked to be new before pg_dump starts (ListObjectsV2 under its schedule).
    "dump": frozenset(
        {*(("s3", "PutObject", DB, p) for p in DUMP_PREFIXES), *(("s3", "ListObjectsV2", DB, p) for p in DUMP_PREFIXES)}
        | {JOB_METRICS}
    ),
    "uploads": frozenset(
        {
            ("s3", "ListObjectsV2", UPLOADS, uploads.OBJECTS_PREFIX),
            ("s3", "PutObject", UPLOADS, uploads.OBJECTS_PREFIX),
            ("s3", "PutObject", UPLOADS, uploads.MANIFESTS_PREFIX),
        }
    ),
    "list": frozenset(
        {
            *(("s3", "ListObjectVersions", DB, prefix) for prefix in DUMP_PREFIXES),
            ("s3", "ListObjectsV2", UPLOAD_BACKUPS, uploads.MANIFESTS_PREFIX),
        }
    ),
    # Every read names the version its manifest names: the versions are listed first (ops/vault.py manifest_of).
    "thaw": frozenset(
        {
            ("s3", "ListObjectVersions", DB, "yearly/"),
            ("s3", "GetObjectVersion", DB, "yearly/"),
            ("s3", "HeadObjectVersion", DB, "yearly/"),
            ("s3", "RestoreObject", DB, "yearly/"),
        }
    ),
    "restore": frozenset(
        {
            ("s3", "ListObjectVersions", DB, "daily/"),
            ("s3", "HeadObjectVersion", DB, "daily/"),
            ("s3", "GetObjectVersion", DB, "daily/"),
        }
    ),
    "restore-test": frozenset(
        {
            ("s3", "ListObjectVersions", DB, "daily/"),
            ("s3", "HeadObjectVersion", DB, "daily/"),
            ("s3", "GetObjectVersion", DB, "daily/"),
            JOB_METRICS,
        }
    ),
    "runbook-database-restore": frozenset(
        {
            ("s3", "ListObjectVersions", DB, "daily/"),
            ("s3", "HeadObjectVersion", DB, "daily/"),
            ("s3", "GetObjectVersion", DB, "daily/"),
        }
    ),
    # The weekly check: a sample of the upload backups, read by version, restored into the uploads bucket's scratch
    # prefix and read back.
    "uploads-check": frozenset(
        {
            *(
                ("s3", op, UPLOAD_BACKUPS, p)
                for op in ("ListObjectVersions", "GetObjectVersion")
                for p in UPLOAD_PREFIXES
            ),
            ("s3", "PutObject", UPLOADS, uploads.CHECK_PREFIX),
            ("s3", "GetObject", UPLOADS, uploads.CHECK_PREFIX),
        }
    ),
    "runbook-failover-verify": frozenset({("cloudwatch", "GetMetricStatistics", "", "AWS/Route53")}),
    # The run's key is checked to be new, then written once; each readable Vercel value is encrypted on the way.
    "config-backup": frozenset(
        {("s3", "ListObjectsV2", DB, CONFIG), ("s3", "PutObject", DB, CONFIG), ("kms", "Encrypt", "", CONFIG_KEY)}
    ),
    # The backup is read by the version its run wrote, and every value decrypted (then dropped) to prove it can be.
    "config-restore": frozenset(
        {
            ("s3", "ListObjectVersions", DB, CONFIG),
            ("s3", "GetObjectVersion", DB, CONFIG),
            ("kms", "Decrypt", "", CONFIG_KEY),
        }
    ),
}


def entry(call: Call) -> Entry:
    """A recorded call as the table keeps it."""
    bucket_variable = call.params.get("Bucket", "")
    if call.service == "kms":
        # A key by ARN, in whichever region: its id (a multi-region key's replicas share it).
        return (call.service, call.operation, "", str(call.params.get("KeyId", "")).rsplit("/", 1)[-1])
    if "Namespace" in call.params:
        return (call.service, call.operation, bucket_variable, str(call.params["Namespace"]))
    versioned = "VersionId" in call.params and call.operation in ("GetObject", "HeadObject")
    operation = f"{call.operation}Version" if versioned else call.operation
    key = str(call.params.get("Key", call.params.get("Prefix", "")))
    return (call.service, operation, bucket_variable, key.split("/", 1)[0] + "/" if "/" in key else key)


@dataclass
class Scenario:
    """The servers and variables every verb runs with, and the buckets standing in for the stack's."""

    s3: S3Server
    monkeypatch: pytest.MonkeyPatch
    buckets: dict[str, str]
    keys: dict[str, str]
    """A KMS key's id -> the variable naming it."""

    def replicate_uploads(self) -> None:
        """What S3 replication does between the uploads sync and the check: the synced objects and manifests, copied
        into the upload backups (moto replicates nothing). Objects first, then manifests, as the sync wrote them:
        replication keeps each version's creation time, and the check reads the manifest written after an object (a
        manifest copied first, in the same millisecond or not, would be older than the objects it lists)."""
        client = self.s3.client()
        source, target = self.buckets[UPLOADS], self.buckets[UPLOAD_BACKUPS]
        items = client.list_objects_v2(Bucket=source).get("Contents", [])
        for prefix in (uploads.OBJECTS_PREFIX, uploads.MANIFESTS_PREFIX):
            for item in (item for item in items if item["Key"].startswith(prefix)):
                body = client.get_object(Bucket=source, Key=item["Key"])
                client.put_object(
                    Bucket=target, Key=item["Key"], Body=body["Body"].read(), Metadata=body.get("Metadata", {})
                )

    def run(self, *argv: str) -> set[Entry]:
        """Run one verb (its exit code does not matter here) and return the AWS calls it made, as table entries."""
        by_name = {name: variable for variable, name in self.buckets.items()}
        with recorded_calls() as calls:
            cli.main(list(argv))
        entries = set()
        for call in calls:
            if call.host != "127.0.0.1":
                continue  # Supabase Storage (the stand-in answers on localhost)
            service, operation, bucket, prefix = entry(call)
            if service == "kms":
                prefix = self.keys.get(prefix, f"<unknown key {prefix}>")
            entries.add((service, operation, by_name.get(bucket, bucket and f"<unknown bucket {bucket}>"), prefix))
        return entries


@pytest.fixture
def scenario(
    database: str, aws_env: S3Server, kms_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scenario]:
    seed(database)
    # The configuration key: a multi-region primary and its replica in the vault's region.
    kms = boto3.client(
        "kms",
        endpoint_url=kms_server.endpoint,
        region_name=CONFIG_KEY_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=REGION)
    buckets = {
        DB: aws_env.bucket(locked=True),
        UPLOAD_BACKUPS: aws_env.bucket(locked=True),
        UPLOADS: aws_env.bucket(locked=False),
    }
    world = World(
        items={"MAINTENANCE_MODE": False, "DEGRADED_MODE": False},
        envs=[{"id": "env_1", "key": "DATABASE_URL", "type": "encrypted", "target": ["production"], "value": "x"}],
    )
    # Supabase Storage: a server of its own (the job copies every bucket it lists), reached as `localhost`.
    with moto_server() as storage, stand_in(world) as base:
        storage_bucket = storage.bucket(locked=False)
        storage.client().put_object(Bucket=storage_bucket, Key="avatars/a.png", Body=b"png")
        port = storage.endpoint.rsplit(":", 1)[1]
        for name, value in {
            **buckets,
            "BACKUP_DATABASE_URL": database,
            "RESTORE_TARGET_URL": database,
            "BACKUP_UPLOADS_REGION": REGION,
            "BACKUP_UPLOADS_RETENTION_DAYS": "90",
            "SUPABASE_STORAGE_ENDPOINT": f"http://localhost:{port}",
            "SUPABASE_STORAGE_REGION": REGION,
            "SUPABASE_STORAGE_ACCESS_KEY_ID": "testing",
            "SUPABASE_STORAGE_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL_CLOUDWATCH": aws_env.endpoint,
            "HEALTH_CHECK_ID": "hc-1",
            "VERCEL_API_URL": base,
            "VERCEL_TOKEN": TOKEN,
            "VERCEL_ORG_ID": "team_1",
            "VERCEL_PROJECT_ID": "prj_1",
            "EDGE_CONFIG_ID": "ecfg_1",
            "APP_URL": base,
            "STATUS_PAGE_WEBHOOK": f"{base}/hooks/status",
            "SLACK_WEBHOOK": f"{base}/hooks/slack",
            "AWS_ENDPOINT_URL_KMS": kms_server.endpoint,
            "CONFIG_KMS_KEY_ARN": key["Arn"],
            "CONFIG_KMS_REGION": CONFIG_KEY_REGION,
        }.items():
            monkeypatch.setenv(name, value)
        yield Scenario(aws_env, monkeypatch, buckets, {key["KeyId"]: CONFIG_KEY})


def test_the_verb_table_is_what_the_verbs_call(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    recorded: dict[str, set[Entry]] = {}
    recorded["dump"] = (
        scenario.run("dump", "--to", "daily")
        | scenario.run("dump", "--to", "weekly", "--to", "yearly=DEEP_ARCHIVE")
        | scenario.run("dump", "--to", "pre-migration")
    )
    recorded["uploads"] = scenario.run("uploads")
    scenario.replicate_uploads()
    recorded["uploads-check"] = scenario.run("uploads-check")
    listing = scenario.run("list")
    keys = dict(re.findall(r"^(daily|yearly) .* ((?:daily|yearly)/\S+)$", capsys.readouterr().out, re.MULTILINE))
    recorded["list"] = listing
    recorded["thaw"] = scenario.run("thaw", keys["yearly"])
    recorded["restore"] = scenario.run("restore", keys["daily"], "--confirm-production")
    recorded["restore-test"] = scenario.run("restore-test", "--stack", "production")
    fast = ("--interval", "0", "--attempts", "1")
    recorded["runbook-database-restore"] = scenario.run(
        "runbook-database-restore", keys["daily"], "--confirm-production", *fast
    )
    recorded["runbook-failover-verify"] = scenario.run("runbook-failover-verify", "failed-over", *fast)
    recorded["config-backup"] = scenario.run("config-backup", "--stack", "production", "--dir", str(PROJECT_DIR))
    # After a loss of the primary region: the replica decrypts.
    scenario.monkeypatch.setenv("CONFIG_KMS_REGION", REGION)
    recorded["config-restore"] = scenario.run(
        "config-restore", "--stack", "production", "--to", str(tmp_path / "restored")
    )
    differences = {
        verb: {
            "made, not in the table": sorted(recorded[verb] - calls),
            "in the table, not made": sorted(calls - recorded[verb]),
        }
        for verb, calls in VERB_CALLS.items()
        if recorded[verb] != calls
    }
    assert differences == {}, "VERB_CALLS is not what the verbs call"


# The IAM actions each call needs (HeadObject is authorized as s3:GetObject), and the KMS actions S3 takes in the
# caller's name on a bucket encrypted with a KMS key (SSE-KMS): a data key for each write, and Decrypt to read an
# object or to assemble a multipart upload (docs.aws.amazon.com, "Using SSE-KMS" and "Multipart upload").
ACTIONS: dict[str, tuple[str, ...]] = {
    "PutObject": ("s3:PutObject",),
    "GetObject": ("s3:GetObject",),
    "HeadObject": ("s3:GetObject",),
    "RestoreObject": ("s3:RestoreObject",),
    "ListObjectsV2": ("s3:ListBucket",),
    "ListObjectVersions": ("s3:ListBucketVersions",),
    # A read that names a version is authorized as s3:GetObjectVersion, not s3:GetObject.
    "GetObjectVersion": ("s3:GetObjectVersion",),
    "HeadObjectVersion": ("s3:GetObjectVersion",),
    "GetMetricStatistics": ("cloudwatch:GetMetricStatistics",),
    "PutMetricData": ("cloudwatch:PutMetricData",),
}
KEY_ACTIONS: dict[str, tuple[str, ...]] = {
    "PutObject": ("kms:GenerateDataKey", "kms:Decrypt"),
    "GetObject": ("kms:Decrypt",),
    "GetObjectVersion": ("kms:Decrypt",),
}
# Every write goes through vault.upload or boto3's managed upload_fileobj: above one part, a multipart upload, which
# a failure aborts (s3:AbortMultipartUpload); its other calls are authorized as s3:PutObject.
MULTIPART = ("create_multipart_upload", "upload_part", "complete_multipart_upload", "abort_multipart_upload")


def test_every_write_is_the_multipart_upload_the_grants_assume() -> None:
    # vault.upload is upload_each of one target; a failure's aborts are _abort_each's.
    source = inspect.getsource(vault.upload_each) + inspect.getsource(vault._abort_each)
    assert all(f"s3.{call}(" in source for call in MULTIPART), (
        "vault.upload_each's multipart calls changed: see ACTIONS"
    )
    writes = {
        name
        for path in (Path(vault.__file__).parent).glob("*.py")
        for name in re.findall(
            r"\.(put_object|upload_fileobj|upload_file|copy_object|put_json|upload|upload_each)\(", path.read_text()
        )
    }
    assert writes <= {"put_object", "upload_fileobj", "put_json", "upload", "upload_each"}, writes


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes for a call: the action, the resource and the request's context."""

    action: str
    arn: str
    context: Mapping[str, str]


def bucket_keys(plan: Plan) -> dict[str, tuple[str, str]]:
    """Each SSE-KMS bucket's key ARN and region."""
    found = {}
    for reg in plan.by_type(BUCKET_ENCRYPTION):
        rule = reg.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        if rule["sseAlgorithm"] == "aws:kms":
            bucket = str(reg.inputs["bucket"])
            # Bucket names end with their region (BackupVaultArgs.bucket_name).
            found[bucket] = (str(rule["kmsMasterKeyId"]), "-".join(bucket.split("-")[-3:]))
    return found


def requests_of(
    entries: frozenset[Entry], variables: Mapping[str, str], keys: Mapping[str, tuple[str, str]], stack: str
) -> list[Request]:
    """What IAM authorizes for these calls, with the job's buckets (an entry whose bucket variable the job's
    environment does not declare is a call the verb skips) and keys (a KMS call is never skipped: a key whose ARN
    variable is not declared is named as missing)."""
    found = []
    for service, operation, variable, prefix in sorted(entries):
        if service == "cloudwatch":
            context = {"cloudwatch:namespace": prefix} if operation == "PutMetricData" else {}
            found += [Request(action, "*", context) for action in ACTIONS[operation]]
            continue
        if service == "kms":
            found += [
                Request(f"kms:{operation}", arn, {"kms:EncryptionContext:stack": stack})
                for arn in key_arns(operation, prefix, variables)
            ]
            continue
        if variable not in variables:
            continue
        bucket = variables[variable]
        if operation in ("ListObjectsV2", "ListObjectVersions"):
            found += [Request(a, f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}) for a in ACTIONS[operation]]
            continue
        obj = f"arn:aws:s3:::{bucket}/{prefix}x"
        found += [Request(action, obj, {}) for action in ACTIONS[operation]]
        if operation == "PutObject":
            found.append(Request("s3:AbortMultipartUpload", obj, {}))
        if bucket in keys:
            key, region = keys[bucket]
            via = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
            found += [Request(action, key, via) for action in KEY_ACTIONS.get(operation, ())]
    return found


def key_arns(operation: str, variable: str, variables: Mapping[str, str]) -> list[str]:
    """The ARNs a KMS call names: the key's (`$<variable>_ARN`, the multi-region primary); a Decrypt also its
    replica's (`$<variable>_REPLICA_ARN`), what a restore names after a region loss."""
    arns = [variables.get(f"{variable}_ARN", f"<${variable}_ARN not declared>")]
    if operation == "Decrypt":
        arns.append(variables.get(f"{variable}_REPLICA_ARN", f"<${variable}_REPLICA_ARN not declared>"))
    return sorted(set(arns))


def job_calls(job: AwsJob, verb: str) -> frozenset[Entry]:
    """The calls `verb` makes as the job runs it: a dump touches only the schedules its `--to` options name."""
    if verb != "dump":
        return VERB_CALLS[verb]
    schedules = {f"{name}/" for name in re.findall(r"--to \"?([a-z-]+)", job.runs)}
    return frozenset(call for call in VERB_CALLS[verb] if call[3] not in DUMP_PREFIXES or call[3] in schedules)


def job_verbs(job: AwsJob) -> list[str]:
    """The `python -m ops` verbs the job runs."""
    return re.findall(r"python -m ops ([a-z-]+)", job.runs)


def environment_variables(plan: Plan, environment: str | None) -> dict[str, str]:
    """The variables the plan declares in a GitHub environment."""
    return {
        str(reg.inputs["variableName"]): str(reg.inputs["value"])
        for reg in plan.by_type(ENVIRONMENT_VARIABLE)
        if reg.inputs["environment"] == environment
    }


def verb_functions() -> dict[str, Any]:
    """Each verb's `run` function, as the CLI dispatches it."""
    subparsers = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub.get_default("run") for name, sub in subparsers.choices.items()}


@functools.cache
def job_requests() -> dict[str, tuple[Plan, Registration, list[tuple[str, list[Request]]]]]:
    """Per role (by URN): its plan, the role, and each job assuming it with what its verbs need."""
    plans = {stack: deployed(stack) for stack in ("staging", "production")}
    found: dict[str, tuple[Plan, Registration, list[tuple[str, list[Request]]]]] = {}
    for job in aws_jobs():
        verbs = job_verbs(job)
        if not verbs:
            continue  # pulumi's jobs: their rights are DeployScope's (tests/test_ci_aws_access.py)
        plan, role = role_of(job, plans)
        variables = environment_variables(plan, job.environment)
        keys = bucket_keys(plan)
        needed = [
            r
            for verb in verbs
            if verb in VERB_CALLS
            for r in requests_of(job_calls(job, verb), variables, keys, plan.stack)
        ]
        found.setdefault(role.urn, (plan, role, []))[2].append((job.label, needed))
    return found


def test_verbs_outside_the_table_make_no_aws_call() -> None:
    functions = verb_functions()
    for job in aws_jobs():
        for verb in job_verbs(job):
            assert verb in functions, f"{job.label}: `python -m ops {verb}` is no verb"
            if verb not in VERB_CALLS:
                source = inspect.getsource(functions[verb])
                assert not re.search(r"boto3|_client\(", source), f"{verb} makes AWS calls: add it to VERB_CALLS"


def grant_problems(policies: list[dict[str, Any]], jobs: list[tuple[str, list[Request]]]) -> list[str]:
    """Each call a job needs that the policies do not allow, and each grant no job's call uses."""
    problems = [
        f"{label}: missing {r.action} on {r.arn}"
        for label, needed in jobs
        for r in needed
        if not allowed(policies, r.action, r.arn, r.context)
    ]
    every = [r for _, needed in jobs for r in needed]
    for document in policies:
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in listed(statement["Action"]):
                for resource in listed(statement["Resource"]):
                    narrow = {**statement, "Action": [action], "Resource": [resource]}
                    if not any(statement_applies(narrow, r.action, r.arn, r.context) for r in every):
                        problems.append(f"unused: {statement.get('Sid', '?')} {action} on {resource}")
    return problems


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_job_role_grants_exactly_what_its_jobs_call(stack: str) -> None:
    checked = {urn: entry for urn, entry in job_requests().items() if entry[0].stack == stack}
    assert len(checked) >= 2, f"{stack}: the writer and restore-test roles at least"
    problems = {
        urn: found
        for urn, (plan, role, jobs) in checked.items()
        if (found := grant_problems(inline_policies(plan, role), jobs))
    }
    assert problems == {}, "a role's grants are not its jobs' calls"


def test_a_missing_and_an_unused_grant_are_caught() -> None:
    [(plan, role, jobs)] = [
        entry for urn, entry in job_requests().items() if urn.endswith("::backup-writer") and "production" in urn
    ]
    policies = inline_policies(plan, role)
    assert grant_problems(policies, jobs) == [], "the compliant case"
    without_abort = [
        {
            **d,
            "Statement": [
                {**s, "Action": [a for a in s["Action"] if a != "s3:AbortMultipartUpload"]} for s in d["Statement"]
            ],
        }
        for d in policies
    ]
    assert any("missing s3:AbortMultipartUpload" in p for p in grant_problems(without_abort, jobs))
    extra = {
        "Statement": [
            {"Sid": "ReadDumps", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::x/*"]}
        ]
    }
    assert grant_problems([*policies, extra], jobs) == ["unused: ReadDumps s3:GetObject on arn:aws:s3:::x/*"]


def person_verbs() -> set[str]:
    """The AWS verbs docs/backups.md and docs/runbooks.md tell a person to run: those in a shell block, and those
    named in the text that no workflow runs (the text also names what the workflows run)."""
    docs = Path(__file__).resolve().parent.parent / "docs"
    texts = [(docs / name).read_text(encoding="utf-8") for name in ("backups.md", "runbooks.md")]
    verb = r"python -m ops ([a-z][a-z-]*)"
    in_blocks = {
        v
        for text in texts
        for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
        for v in re.findall(verb, block)
    }
    in_text = {v for text in texts for v in re.findall(verb, text)}
    run_by_workflows = {v for job in aws_jobs() for v in job_verbs(job)}
    # Only the verbs that call AWS need a role (the others act on a database, GitHub or Vercel with their own keys).
    return (in_blocks | (in_text - run_by_workflows)) & set(VERB_CALLS)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_verb_the_docs_tell_a_person_to_run_has_a_principal_that_can_run_it(stack: str) -> None:
    plan = deployed(stack)
    verbs = person_verbs()
    assert {"list", "thaw", "restore", "restore-test"} <= verbs, verbs
    operator = plan.one("aws:iam/role:Role", "backup-operator")
    # The operator exports what docs/backups.md says, from the stack's outputs.
    variables = {
        DB: plan.outputs["backup_database_bucket"],
        UPLOAD_BACKUPS: plan.outputs["backup_uploads_backup_bucket"],
        "CONFIG_KMS_KEY_ARN": plan.outputs["config_kms_key_arn"],
        "CONFIG_KMS_KEY_REPLICA_ARN": plan.outputs["config_kms_replica_key_arn"],
    }
    jobs = [
        (f"python -m ops {verb}", requests_of(VERB_CALLS[verb], variables, bucket_keys(plan), stack))
        for verb in sorted(verbs)
    ]
    assert grant_problems(inline_policies(plan, operator), jobs) == [], operator.urn
    # Only the people the settings name, and only with MFA.
    trust = trust_of(operator)
    named = settings_of(stack).backup.operators  # type: ignore[union-attr]
    for arn in named:
        assert may_assume(trust, {"AWS": arn}, "sts:AssumeRole", {"aws:MultiFactorAuthPresent": "true"}), arn
        assert not may_assume(trust, {"AWS": arn}, "sts:AssumeRole", {}), f"{arn} without MFA"
    stranger = f"arn:aws:iam::{settings_of(stack).aws_account_id}:user/someone-else"
    assert not may_assume(trust, {"AWS": stranger}, "sts:AssumeRole", {"aws:MultiFactorAuthPresent": "true"})
    github = {"Federated": oidc_provider_arn(settings_of(stack).aws_account_id)}
    assert not may_assume(trust, github, "sts:AssumeRoleWithWebIdentity", {}), "no workflow assumes it"
