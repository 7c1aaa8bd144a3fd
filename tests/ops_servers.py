"""Real servers for the jobs' tests: one throwaway PostgreSQL cluster and one moto S3 server per session."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ops import postgres
from ops.errors import JobError
from tests.helpers.ci import missing

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

REGION = "us-west-2"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def _missing(reason: str) -> None:
    """Skip where PostgreSQL is not installed; in CI nothing may be skipped silently, so fail."""
    missing(f"{reason}; .ci/run installs it (apt-get install -y postgresql)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    """A PostgreSQL server of the installed version, in a temporary directory on a port of its own."""
    try:
        postgres.tool("initdb")
    except JobError as error:
        _missing(str(error))
    with postgres.scratch_cluster(durable=False) as cluster:
        yield cluster


@pytest.fixture
def database(pg_cluster: postgres.Cluster) -> str:
    """URL of a new, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_cluster.database_url(name)


SUPABASE_SQL = Path(__file__).parent / "fixtures" / "supabase.sql"
# Rows per table of the Supabase-shaped fixture, as its SQL writes them.
SUPABASE_ROWS = {
    "auth.users": 200,
    "public.audit_logs": 2000,
    "public.audit_logs_archive": 0,
    "public.profiles": 200,
    "public.sessions": 500,
    "public.vibelogs": 3000,
    "storage.buckets": 1,
    "storage.objects": 200,
}


# On Supabase the bootstrap superuser is `supabase_admin` and `postgres`, the login the jobs use (the direct URL's, the
# session pooler's `postgres.<ref>`), is not a superuser (tests/fixtures/supabase.sql says what it is).
SUPABASE_SUPERUSER = "supabase_admin"
SUPABASE_LOGIN = "postgres"


@pytest.fixture(scope="session")
def supabase_cluster() -> Iterator[postgres.Cluster]:
    """A PostgreSQL server whose superuser is `supabase_admin`, as a Supabase project's, so its `postgres` can be the
    non-superuser login Supabase has."""
    try:
        postgres.tool("initdb")
    except JobError as error:
        _missing(str(error))
    with postgres.scratch_cluster(durable=False, superuser=SUPABASE_SUPERUSER) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def supabase_template(supabase_cluster: postgres.Cluster) -> str:
    """A database shaped like a Supabase project's (tests/fixtures/supabase.sql), loaded once per session and
    copied for each test: its roles, auth/extensions/storage schemas and their owners, RLS policies, grants and the
    app's tables."""
    name = "supabase_template"
    with psycopg.connect(supabase_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(supabase_cluster.database_url(name), autocommit=True) as conn:
        conn.execute(SUPABASE_SQL.read_text(encoding="utf-8").encode())
    return name


@pytest.fixture
def supabase(supabase_cluster: postgres.Cluster, supabase_template: str) -> str:
    """URL of a new copy of the Supabase-shaped database, owned by `postgres` and connecting as it, as the jobs do
    on Supabase: a login that is not a superuser (`as_supabase_admin` for what only a superuser may set up)."""
    name = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(supabase_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{supabase_template}" OWNER {SUPABASE_LOGIN}')
    return f"postgresql://{SUPABASE_LOGIN}@127.0.0.1:{supabase_cluster.port}/{name}"


def as_supabase_admin(url: str) -> str:
    """The same database as Supabase's superuser, for a test's setup that the `postgres` login may not do."""
    return make_conninfo(url, user=SUPABASE_SUPERUSER)


ALL_ROWS = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname IN ('public', 'auth', 'storage') ORDER BY 1, 2
"""


def fingerprint(url: str) -> dict[str, str]:
    """An MD5 of every row of every table of the app's schemas: "the same rows came back", not "as many"."""
    with psycopg.connect(url, autocommit=True) as conn:
        prints = {}
        for schema, table in conn.execute(ALL_ROWS).fetchall():
            query = sql.SQL("SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {} t").format(
                sql.Identifier(schema, table)
            )
            row = conn.execute(query).fetchone()
            prints[f"{schema}.{table}"] = str(row[0]) if row else ""
    return prints


@dataclass(frozen=True)
class S3Server:
    """moto's S3 in server mode: real HTTP, versioning and Object Lock enforced by the server."""

    endpoint: str

    def client(self) -> S3Client:
        """A client of the server with the stand-in credentials."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def bucket(self, *, locked: bool, days: int = 30, mode: str = "COMPLIANCE") -> str:
        """A new bucket; `locked` ones are versioned with a default Object Lock retention, like the vault's."""
        name = f"vault-{uuid.uuid4().hex[:16]}"
        s3 = self.client()
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
            ObjectLockEnabledForBucket=locked,
        )
        if locked:
            s3.put_object_lock_configuration(
                Bucket=name,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},  # type: ignore[typeddict-item]
                },
            )
        else:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def unversioned_bucket(self) -> str:
        """A new bucket without versioning: an overwrite replaces the object's bytes."""
        name = f"plain-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
        )
        return name


@contextmanager
def moto_server(module: str = "moto.server") -> Iterator[S3Server]:
    """A moto server on 127.0.0.1 and a free port, with nothing in it; stopped on leaving. `module` runs it (a
    wrapper fixing a bug of moto's: tests/helpers/moto_kms.py)."""
    port = postgres.free_port()
    process = subprocess.Popen(  # noqa: S603 - the pinned moto of this virtualenv
        [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,  # where `tests` is importable
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("moto's S3 server did not start")
        yield S3Server(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto server for the session."""
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def kms_server() -> Iterator[S3Server]:
    """One moto server for the session's KMS calls, whose ciphertext names multi-region keys whole."""
    with moto_server("tests.helpers.moto_kms") as server:
        yield server


@pytest.fixture
def aws_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The environment a job runs with, its S3 and CloudWatch calls sent to the moto server."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    # The same server answers the jobs' PutMetricData (ops/metrics.py).
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", s3_server.endpoint)
    monkeypatch.setenv("STACK", "staging")
    monkeypatch.setenv("BACKUP_VAULT_REGION", REGION)
    monkeypatch.delenv("SLACK_WEBHOOK", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return s3_server
