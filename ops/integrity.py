"""What a restored database must show: the rows counted at dump time, valid constraints, the app's own query."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql

from ops import postgres
from settings.backup import RestoreDropBound

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


# Schema objects the manifest records per schema (counts and a digest of their definitions), read with the search
# path set to pg_catalog alone so every name in a definition is qualified, the same on the source and the restore.
# Extension members are left to the extension (its version is recorded); owners' own grants are left out, as a
# restore with --no-owner gives the objects another owner.
NOT_MEMBER = (
    "NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = {catalog}::regclass AND d.objid = {oid} AND d.deptype = 'e')"
)
GRANTEE = (
    "CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type"
    " || CASE WHEN a.is_grantable THEN ' grantable' ELSE '' END"
)
# Each grant the inventory's `grants` records, with its grantee and, for a default privilege, the role whose future
# objects it applies to. The manifest keeps those a restore may be unable to show (`grant_lines`, ops/restore.py):
# the default privileges, and the grants to the dumping user (Supabase's `postgres`, who restores too), not every
# grant (a project with thousands of tables has tens of thousands).
GRANTS = f"""
SELECT n.nspname, a.grantee, NULL::oid AS default_for, 'schema ' || {GRANTEE} AS line
FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee <> n.nspowner
UNION ALL
SELECT n.nspname, a.grantee, NULL, c.relkind::text || ' ' || c.relname || ' ' || {GRANTEE}
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE a.grantee <> c.relowner AND {NOT_MEMBER.format(catalog="'pg_class'", oid="c.oid")}
UNION ALL
SELECT n.nspname, a.grantee, NULL, 'function ' || p.oid::regprocedure::text || ' ' || {GRANTEE}
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
WHERE a.grantee <> p.proowner AND {NOT_MEMBER.format(catalog="'pg_proc'", oid="p.oid")}
UNION ALL
SELECT n.nspname, a.grantee, d.defaclrole,
       'default for ' || pg_get_userbyid(d.defaclrole) || ' on ' || d.defaclobjtype::text || ' ' || {GRANTEE}
FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
"""  # noqa: S608
GRANT_LINES = f"""
SELECT g.nspname, CASE g.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
       coalesce(pg_get_userbyid(g.default_for), ''), g.line
FROM ({GRANTS}) g
WHERE g.default_for IS NOT NULL OR g.grantee = (SELECT oid FROM pg_roles WHERE rolname = current_user)
ORDER BY 1, 4
"""  # noqa: S608
# Built from the constants above only, never from input.
OBJECTS = f"""
SELECT n.nspname, 'tables', c.relname || ' ' || coalesce((SELECT string_agg(a.attname || ' '
       || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', '
       ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {NOT_MEMBER.format(catalog="'pg_class'", oid="c.oid")}
UNION ALL
SELECT n.nspname, 'views', c.relname || ' ' || md5(pg_get_viewdef(c.oid))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {NOT_MEMBER.format(catalog="'pg_class'", oid="c.oid")}
UNION ALL
SELECT n.nspname, 'constraints', c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {NOT_MEMBER.format(catalog="'pg_class'", oid="c.oid")}
UNION ALL
SELECT n.nspname, 'indexes', pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {NOT_MEMBER.format(catalog="'pg_class'", oid="i.indrelid")}
UNION ALL
SELECT n.nspname, 'triggers', pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
UNION ALL
SELECT n.nspname, 'policies', c.relname || ' ' || p.polname || ' ' || p.polcmd::text || ' ' || p.polpermissive::text
       || ' ' || array_to_string(ARRAY(SELECT CASE r WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END
                                      FROM unnest(p.polroles) r ORDER BY 1), ',')
       || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
       || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
UNION ALL
SELECT n.nspname, 'policies', c.relname || ' row security' || CASE WHEN c.relforcerowsecurity THEN ' forced' ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity
UNION ALL
SELECT n.nspname, 'functions', p.oid::regprocedure::text || ' '
       || md5(CASE WHEN p.prokind = 'a' THEN p.prosrc ELSE pg_get_functiondef(p.oid) END)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE {NOT_MEMBER.format(catalog="'pg_proc'", oid="p.oid")}
UNION ALL
SELECT n.nspname, 'types', t.typname || ' ' || array_to_string(ARRAY(
           SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), ',')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd') AND {NOT_MEMBER.format(catalog="'pg_type'", oid="t.oid")}
UNION ALL
SELECT n.nspname, 'sequences', c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND {NOT_MEMBER.format(catalog="'pg_class'", oid="c.oid")}
UNION ALL
SELECT nspname, 'grants', line FROM ({GRANTS}) g
"""  # noqa: S608
SEQUENCE_VALUES = "SELECT schemaname, sequencename, last_value FROM pg_sequences"


def _user_schema(name: str, schemas: Sequence[str]) -> bool:
    system = name in SYSTEM_SCHEMAS or name.startswith(("pg_temp", "pg_toast"))
    return not system and (not schemas or name in schemas)


def grant_lines(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, list[list[str]]]:
    """Per schema, the inventory's `grants` lines of default privileges and of grants to the connected user, each
    as [grantee, the role of a default privilege or "", line]: what a restore may be unable to show is taken from
    these (ops/restore.py `check`)."""
    found: dict[str, list[list[str]]] = {}
    for schema, grantee, default_for, line in conn.execute(GRANT_LINES).fetchall():
        if _user_schema(str(schema), ()):
            found.setdefault(str(schema), []).append([str(grantee), str(default_for), str(line)])
    return found


def inventory(
    conn: psycopg.Connection[tuple[object, ...]],
    schemas: Sequence[str] = (),
    implicit: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Per schema, each kind of object (tables, views, constraints, indexes, triggers, policies, functions, types,
    sequences, grants) as a count and a SHA-256 of their sorted definitions; and each sequence's value.

    Read in the connection's current transaction: the dump's snapshot at dump time. The search path is left at
    pg_catalog alone for the rest of that transaction, or of the session outside one. `implicit` adds, per schema,
    the `grants` lines (recorded at dump time) that a restore cannot show, where they are not there already, so the
    rest is still compared exactly (ops/restore.py `check`).
    """
    conn.execute(
        "SELECT set_config('search_path', 'pg_catalog', %s)",
        [conn.info.transaction_status == pq.TransactionStatus.INTRANS],
    )
    items: dict[str, dict[str, list[str]]] = {}
    for schema, kind, item in conn.execute(OBJECTS).fetchall():
        if _user_schema(str(schema), schemas):
            items.setdefault(str(schema), {}).setdefault(str(kind), []).append(str(item))
    for schema, lines in (implicit or {}).items():
        if _user_schema(schema, schemas):
            grants = items.setdefault(schema, {}).setdefault("grants", [])
            grants.extend(sorted(set(lines) - set(grants)))
    objects = {
        schema: {
            kind: {"count": len(found), "digest": hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()}
            for kind, found in sorted(kinds.items())
        }
        for schema, kinds in sorted(items.items())
    }
    values = {
        f"{schema}.{name}": None if value is None else int(str(value))
        for schema, name, value in conn.execute(SEQUENCE_VALUES).fetchall()
        if _user_schema(str(schema), schemas)
    }
    return {"objects": objects, "sequence_values": dict(sorted(values.items()))}


EXTENSIONS = """
SELECT e.extname, e.extversion, n.nspname,
       ARRAY(SELECT cn.nspname || '.' || c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
             JOIN pg_namespace cn ON cn.oid = c.relnamespace
             WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
               AND d.refobjid = e.oid AND d.deptype = 'e' AND c.relkind IN ('r', 'p') ORDER BY 1)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1
"""


def extensions(conn: psycopg.Connection[tuple[object, ...]]) -> list[dict[str, Any]]:
    """Each installed extension: its name, version, schema and the tables it owns (whose rows it restores)."""
    return [
        {"name": str(name), "version": str(version), "schema": str(schema), "tables": [str(t) for t in tables]}  # type: ignore[attr-defined]
        for name, version, schema, tables in conn.execute(EXTENSIONS).fetchall()
    ]


# Attribute columns in the order of postgres.ROLE_OPTIONS, which names them.
ROLES = """
SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication,
       r.rolbypassrls,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1)
FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1
"""


def roles(conn: psycopg.Connection[tuple[object, ...]]) -> list[dict[str, Any]]:
    """The server's roles (not PostgreSQL's own pg_*): attributes and memberships, never passwords.

    Grants, policies and owners name them; a server without them cannot restore the dump's privileges.
    """
    found = []
    for name, *flags, member_of in conn.execute(ROLES).fetchall():
        role: dict[str, Any] = {"name": str(name)}
        role.update({attribute: bool(flag) for attribute, flag in zip(postgres.ROLE_OPTIONS, flags, strict=True)})
        role["member_of"] = [str(group) for group in member_of]  # type: ignore[attr-defined]
        found.append(role)
    return found


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


def compare_objects(recorded: Mapping[str, Any], restored: Mapping[str, Any]) -> Check:
    """Each schema's objects of each kind, restored against the manifest: the same count and the same definitions.

    A restore without its post-data (keys, indexes, triggers, policies), or whose grants were lost, differs here.
    """
    differences = []
    for schema, kinds in recorded.items():
        found = restored.get(schema, {})
        for kind in sorted({*kinds, *found}):
            want, got = kinds.get(kind, {"count": 0}), found.get(kind, {"count": 0})
            if want["count"] != got["count"]:
                differences.append(f"{schema} {kind}: {got['count']} restored, {want['count']} at dump time")
            elif want.get("digest") != got.get("digest"):
                differences.append(f"{schema} {kind}: {got['count']} restored with other definitions than at dump time")
    if differences:
        return Check("schema objects", False, f"{len(differences)} difference(s), first {differences[0]}")
    total = sum(kind["count"] for kinds in recorded.values() for kind in kinds.values())
    return Check("schema objects", True, f"{total} objects in {len(recorded)} schemas as at dump time")


def compare_sequences(recorded: Mapping[str, int | None], restored: Mapping[str, int | None]) -> Check:
    """Each sequence is restored at least at the value read at dump time.

    pg_dump reads a sequence's value when it dumps it, not in the snapshot (sequences are not transactional), so a
    sequence in use may be restored further on; never behind, or new rows would reuse ids.
    """
    behind = []
    for name, value in recorded.items():
        now = restored.get(name)
        if value is not None and (now is None or now < value):
            behind.append(f"{name} at {now}, {value} at dump time")
    if behind:
        return Check("sequences", False, f"{len(behind)} sequence(s) behind, first {behind[0]}")
    return Check("sequences", True, f"{len(recorded)} sequences at or past their value at dump time")


def compare_extensions(recorded: Sequence[Mapping[str, Any]], restored: Sequence[Mapping[str, Any]]) -> Check:
    """Each recorded extension is restored at its version, in its schema."""
    found = {extension["name"]: extension for extension in restored}
    wrong = []
    for extension in recorded:
        now = found.get(extension["name"])
        if now is None or (now["version"], now["schema"]) != (extension["version"], extension["schema"]):
            at = "missing" if now is None else f"{now['version']} in {now['schema']}"
            wrong.append(f"{extension['name']} {at}, {extension['version']} in {extension['schema']} at dump time")
    if wrong:
        return Check("extensions", False, f"{len(wrong)} extension(s) differ, first {wrong[0]}")
    return Check("extensions", True, ", ".join(f"{e['name']} {e['version']}" for e in recorded) or "none")


def compare_previous(previous: Mapping[str, Any] | None, current: Mapping[str, Any], bound: RestoreDropBound) -> Check:
    """The dump's rows and objects against the previous dump's: a drop beyond the bound fails.

    A dump that restores perfectly can still be a backup of a database that lost its data (a bad migration, a
    truncate): the restore test is where someone looks every week.
    """
    name = "drop since the previous dump"
    if previous is None:
        return Check(name, True, "no previous dump to compare with")
    drops = []
    rows = dict(current.get("row_counts", {}))
    for table, before in dict(previous.get("row_counts", {})).items():
        lost = int(before) - int(rows.get(table, 0))
        if lost >= bound.min_rows and lost * 100 > bound.percent * int(before):
            drops.append(f"{table}: {rows.get(table, 0)} rows, {before} in the previous dump")
    objects = dict(current.get("inventory", {}).get("objects", {}))
    for schema, kinds in dict(previous.get("inventory", {}).get("objects", {})).items():
        for kind, before in kinds.items():
            now = int(objects.get(schema, {}).get(kind, {}).get("count", 0))
            lost = int(before["count"]) - now
            if lost > 0 and lost * 100 > bound.percent * int(before["count"]):
                drops.append(f"{schema} {kind}: {now}, {before['count']} in the previous dump")
    if drops:
        return Check(name, False, f"{len(drops)} drop(s) beyond {bound.percent}%, first {drops[0]}")
    return Check(name, True, f"within {bound.percent}% of {previous.get('key', 'the previous dump')}")


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
