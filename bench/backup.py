"""Dump and restore throughput of generated databases, and what it means for the reference's RTOs.

    python bench/backup.py [--sizes 10 100 1000]

Not a test: timings depend on the machine. Each size gets a fresh PostgreSQL server (durable settings, as a restore
test's scratch server), a database of app-like tables filled to the size, then the jobs' own steps: pg_dump in the
custom format (compression 6, the daily dump), pg_restore in one transaction, and the integrity checks. S3 transfer
is not included (it depends on the runner's network, not on this machine).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops import integrity, postgres, restore

MB = 1024 * 1024
SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE vibelogs (
    id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id), title text NOT NULL,
    body text NOT NULL, created_at timestamptz NOT NULL
);
CREATE INDEX idx_vibelogs_created_at ON vibelogs (created_at);
INSERT INTO users SELECT n, 'user' || n || '@vibelog.io' FROM generate_series(1, 10000) n;
"""
# About 1 KB of text per post, varied enough that compression does not make it vanish.
BATCH = """
INSERT INTO vibelogs
SELECT n, 1 + n %% 10000, 'post ' || n,
       (SELECT string_agg(md5(n::text || k::text), ' ') FROM generate_series(1, 30) k),
       now() - n * interval '1 second'
FROM generate_series(%(start)s::bigint, %(end)s::bigint) n
"""
ROWS_PER_BATCH = 2000
# The reference's recovery time objectives, in minutes.
RTO = {"critical services": 30, "full functionality": 240}


def fill(url: str, megabytes: int) -> int:
    """Grow the database to about `megabytes`; returns its size in bytes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        start = 1
        while True:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            size = int(row[0]) if row else 0
            if size >= megabytes * MB:
                conn.execute("ANALYZE")
                return size
            conn.execute(BATCH, {"start": start, "end": start + ROWS_PER_BATCH - 1})
            start += ROWS_PER_BATCH


def measure(megabytes: int) -> dict[str, float]:
    """Fill, dump, restore and check one database; seconds and bytes of each step."""
    with postgres.scratch_cluster() as cluster, tempfile.TemporaryDirectory() as workdir:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE source")
            conn.execute("CREATE DATABASE target")
        source, target = cluster.database_url("source"), cluster.database_url("target")
        size = fill(source, megabytes)
        dump = Path(workdir) / "database.dump"
        start = time.monotonic()
        with psycopg.connect(source, autocommit=True) as conn:
            counts = integrity.row_counts(conn)
        counted = time.monotonic() - start
        start = time.monotonic()
        dbname, env = postgres.tool_connection(source)
        subprocess.run(  # noqa: S603 - the installed pg_dump
            [
                postgres.tool("pg_dump"),
                "--format=custom",
                "--compress=6",
                "--no-password",
                f"--file={dump}",
                f"--dbname={dbname}",
            ],
            env=env,
            check=True,
        )
        dumped = time.monotonic() - start
        restored = restore.pg_restore(dump, target)
        start = time.monotonic()
        checks = restore.check(target, {"row_counts": counts})
        checked = time.monotonic() - start
        if not all(check.ok for check in checks):
            raise SystemExit(f"{megabytes} MB: the restore failed its checks: {checks}")
        return {
            "size": size,
            "dump_bytes": dump.stat().st_size,
            "count": counted,
            "dump": dumped,
            "restore": restored,
            "check": checked,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="database sizes in MB")
    args = parser.parse_args()
    print(f"PostgreSQL binaries: {postgres.bin_dir()}")
    header = "size MB | dump file MB | count s | pg_dump s (MB/s) | pg_restore s (MB/s) | checks s | GB restorable in"
    print(header + " " + " / ".join(f"{minutes} min" for minutes in RTO.values()))
    for megabytes in args.sizes:
        result = measure(megabytes)
        size_mb = result["size"] / MB
        restore_rate = size_mb / (result["restore"] + result["check"])
        within = " / ".join(f"{restore_rate * 60 * minutes / 1024:.1f}" for minutes in RTO.values())
        print(
            f"{size_mb:7.0f} | {result['dump_bytes'] / MB:12.1f} | {result['count']:7.1f} | "
            f"{result['dump']:6.1f} ({size_mb / result['dump']:6.1f}) | "
            f"{result['restore']:6.1f} ({size_mb / result['restore']:6.1f}) | {result['check']:8.1f} | {within}"
        )


if __name__ == "__main__":
    main()
