"""What a restored database must show: the rows counted at dump time, valid constraints, the app's own query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

# Schemas of PostgreSQL itself; everything else is the application's (and Supabase's) data.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# The app lists a user's recent vibelogs on every page load: the reference's maintenance keeps an index for it
# (idx_vibelogs_created_at). A restore where this query fails is not a working database, whatever the counts say.
APP_QUERY = "SELECT id FROM public.vibelogs ORDER BY created_at DESC LIMIT 20"

TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast%%'
  AND (cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY(%(schemas)s))
ORDER BY 1, 2
"""


def row_counts(conn: psycopg.Connection[tuple[object, ...]], schemas: Sequence[str] = ()) -> dict[str, int]:
    """Exact row counts of every user table ("schema.table"), read in the connection's current snapshot."""
    tables = conn.execute(TABLES, {"system": list(SYSTEM_SCHEMAS), "schemas": list(schemas)}).fetchall()
    counts: dict[str, int] = {}
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(str(schema)), sql.Identifier(str(table)))
        row = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(str(row[0])) if row else 0
    return counts


@dataclass(frozen=True)
class Check:
    """One integrity check and what it found."""

    name: str
    """What was checked."""
    ok: bool
    """Whether it passed."""
    detail: str
    """What was found (a count, the first mismatch)."""


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> Check:
    """The restored tables and their row counts against the manifest written at dump time."""
    missing = sorted(set(expected) - set(actual))
    wrong = sorted(name for name in set(expected) & set(actual) if expected[name] != actual[name])
    if missing:
        return Check("row counts", False, f"{len(missing)} table(s) missing, first {missing[0]}")
    if wrong:
        name = wrong[0]
        return Check(
            "row counts", False, f"{len(wrong)} table(s) differ, first {name}: {actual[name]} != {expected[name]}"
        )
    return Check("row counts", True, f"{len(expected)} tables, {sum(expected.values())} rows as at dump time")


FOREIGN_KEYS = """
SELECT con.conname, src_ns.nspname, src.relname, dst_ns.nspname, dst.relname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.pos),
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.pos)
FROM pg_constraint con
JOIN pg_class src ON src.oid = con.conrelid JOIN pg_namespace src_ns ON src_ns.oid = src.relnamespace
JOIN pg_class dst ON dst.oid = con.confrelid JOIN pg_namespace dst_ns ON dst_ns.oid = dst.relnamespace
WHERE con.contype = 'f' AND src_ns.nspname <> ALL(%(system)s)
"""
CHECKS = """
SELECT con.conname, ns.nspname, rel.relname, pg_get_expr(con.conbin, con.conrelid)
FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE con.contype = 'c' AND ns.nspname <> ALL(%(system)s)
"""
INVALID_INDEXES = """
SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT (i.indisvalid AND i.indisready) AND n.nspname <> ALL(%(system)s)
"""


def validate_constraints(conn: psycopg.Connection[tuple[object, ...]]) -> Check:
    """Every foreign key has its parent row, every CHECK holds on every row, every index is valid.

    Re-checked by query rather than trusted: a restore that loaded data without its constraints (or a corrupt
    dump that pg_restore half-applied) would otherwise pass.
    """
    system = {"system": list(SYSTEM_SCHEMAS)}
    violations: list[str] = []
    keys = conn.execute(FOREIGN_KEYS, system).fetchall()
    for name, src_schema, src, dst_schema, dst, src_cols, dst_cols in keys:
        columns = [str(column) for column in src_cols]  # type: ignore[attr-defined]
        parents = [str(column) for column in dst_cols]  # type: ignore[attr-defined]
        query = sql.SQL(
            "SELECT count(*) FROM {src} c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {dst} p WHERE {match})"
        ).format(
            src=sql.Identifier(str(src_schema), str(src)),
            dst=sql.Identifier(str(dst_schema), str(dst)),
            not_null=sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in columns),
            match=sql.SQL(" AND ").join(
                sql.SQL("p.{} = c.{}").format(sql.Identifier(p), sql.Identifier(c))
                for p, c in zip(parents, columns, strict=True)
            ),
        )
        row = conn.execute(query).fetchone()
        if row and int(str(row[0])):
            violations.append(f"{src_schema}.{src} {name}: {row[0]} orphan row(s)")
    checks = conn.execute(CHECKS, system).fetchall()
    for name, schema, table, expression in checks:
        query = sql.SQL("SELECT count(*) FROM {} WHERE NOT ({})").format(
            sql.Identifier(str(schema), str(table)), sql.SQL(str(expression))
        )
        row = conn.execute(query).fetchone()
        if row and int(str(row[0])):
            violations.append(f"{schema}.{table} {name}: {row[0]} row(s) fail the check")
    invalid = conn.execute(INVALID_INDEXES, system).fetchone()
    if invalid and int(str(invalid[0])):
        violations.append(f"{invalid[0]} invalid index(es)")
    if violations:
        return Check("constraints", False, f"{len(violations)} violation(s), first {violations[0]}")
    return Check("constraints", True, f"{len(keys)} foreign keys, {len(checks)} checks, indexes valid")


def app_query(conn: psycopg.Connection[tuple[object, ...]], query: str = APP_QUERY) -> Check:
    """The query the app runs on every page load answers on the restored database."""
    try:
        rows = conn.execute(query).fetchall()
    except psycopg.Error as error:
        return Check("app query", False, str(error).splitlines()[0])
    return Check("app query", True, f"{len(rows)} row(s)")
