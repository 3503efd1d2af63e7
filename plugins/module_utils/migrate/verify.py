# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check after a migration: what each side holds (databases with owners, roles, extensions, per
table row counts: exact below a size, estimates above it, or a hash of the rows) and the
differences between the two (pure comparison)."""

from __future__ import annotations

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

ROLES_SQL = """select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                      rolbypassrls from pg_roles where rolname !~ '^pg_' order by rolname"""
DATABASES_SQL = """select d.datname, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding)
                   from pg_database d where not d.datistemplate order by d.datname"""
EXTENSIONS_SQL = "select extname from pg_extension order by extname"
TABLES_SQL = """select n.nspname, c.relname, pg_get_userbyid(c.relowner), pg_total_relation_size(c.oid)::bigint,
                       c.reltuples::bigint
                from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
                  and n.nspname !~ '^pg_toast' order by 1, 2"""


def inventory(server, databases: list[str], exact_max_bytes: int, checksum: bool, ignore_roles=()) -> dict:
    """What `server` (a callable dbname -> Session) holds: roles, databases, and per database its
    extensions and tables (owner, rows: exact below `exact_max_bytes`, else the planner's estimate;
    with `checksum`, an md5 of the rows in a fixed order for the exactly counted ones)."""
    main = server("postgres")
    try:
        roles = {r[0]: list(r[1:]) for r in main.rows(ROLES_SQL) if r[0] not in ignore_roles}
        dbs = {r[0]: {"owner": r[1], "encoding": r[2]} for r in main.rows(DATABASES_SQL)}
    finally:
        main.close()
    for name in databases:
        if name not in dbs:
            continue
        session = server(name)
        try:
            dbs[name]["extensions"] = [r[0] for r in session.rows(EXTENSIONS_SQL)]
            dbs[name]["tables"] = {
                f"{schema}.{table}": table_facts(session, schema, table, owner, size, estimate, exact_max_bytes, checksum)
                for schema, table, owner, size, estimate in session.rows(TABLES_SQL)}
        finally:
            session.close()
    return {"roles": roles, "databases": dbs}


def table_facts(session, schema: str, table: str, owner: str, size: int, estimate: int, exact_max_bytes: int,
                checksum: bool) -> dict:
    """A table's owner and rows (exact or estimated), and its rows' hash when asked."""
    name = sql.Identifier(schema, table)
    if size > exact_max_bytes:
        return {"owner": owner, "rows": max(estimate, 0), "estimated": True}
    facts = {"owner": owner, "rows": session.value(sql.SQL("select count(*) from {}").format(name)),
             "estimated": False}
    if checksum:
        facts["md5"] = session.value(sql.SQL(
            "select md5(coalesce(string_agg(r::text, E'\\n' order by r::text), '')) from {} r").format(name))
    return facts


def differences(source: dict, target: dict, databases: list[str]) -> list[str]:
    """Every difference between two inventories that a migration must not leave, as sentences."""
    found = []
    for role in sorted(set(source["roles"]) - set(target["roles"])):
        found.append(f"role {role!r} is missing on the target")
    for role in sorted(set(source["roles"]) & set(target["roles"])):
        if source["roles"][role] != target["roles"][role]:
            found.append(f"role {role!r} has other attributes on the target")
    for name in databases:
        src, dst = source["databases"].get(name), target["databases"].get(name)
        if src is None:
            continue
        if dst is None:
            found.append(f"database {name!r} is missing on the target")
            continue
        if src["owner"] != dst["owner"]:
            found.append(f"database {name!r} is owned by {dst['owner']!r} on the target, {src['owner']!r} on the source")
        for ext in sorted(set(src.get("extensions", [])) - set(dst.get("extensions", []))):
            found.append(f"database {name!r}: extension {ext!r} is missing on the target")
        found.extend(table_differences(name, src.get("tables", {}), dst.get("tables", {})))
    return found


def table_differences(database: str, src: dict, dst: dict) -> list[str]:
    """Missing tables, other owners, other exact counts or hashes (estimates are not compared)."""
    found = []
    for table in sorted(src):
        theirs = dst.get(table)
        if theirs is None:
            found.append(f"database {database!r}: table {table} is missing on the target")
            continue
        ours = src[table]
        if ours["owner"] != theirs["owner"]:
            found.append(f"database {database!r}: table {table} is owned by {theirs['owner']!r} on the target")
        if not ours["estimated"] and not theirs["estimated"] and ours["rows"] != theirs["rows"]:
            found.append(f"database {database!r}: table {table} has {theirs['rows']} rows on the target, "
                         f"{ours['rows']} on the source")
        elif ours.get("md5") and theirs.get("md5") and ours["md5"] != theirs["md5"]:
            found.append(f"database {database!r}: table {table} has other rows on the target (same count)")
    return found


def summary(inv: dict) -> dict:
    """Counts for the result: databases, tables, rows counted exactly, tables estimated."""
    tables = [t for db in inv["databases"].values() for t in db.get("tables", {}).values()]
    return {"databases": len(inv["databases"]), "roles": len(inv["roles"]), "tables": len(tables),
            "rows": sum(t["rows"] for t in tables if not t["estimated"]),
            "estimated_tables": sum(1 for t in tables if t["estimated"])}
