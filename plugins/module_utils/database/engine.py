# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.database engine: a database (owner, encoding, locale, template), its
extensions and its schemas. Everything is planned as SQL first (shown in check mode), then run:
CREATE/DROP/ALTER DATABASE on the login database, the rest in one transaction in the database."""

from __future__ import annotations

import copy
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import resolve_target
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import with_diff

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - connect() reports the missing library
    pass

DATABASE_QUERY = """SELECT r.rolname AS owner, pg_encoding_to_char(d.encoding) AS encoding,
       d.datcollate AS lc_collate, d.datctype AS lc_ctype
  FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = %s"""
EXTENSIONS_QUERY = """SELECT e.extname, e.extversion, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"""
SCHEMAS_QUERY = """SELECT n.nspname, r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"""
AVAILABLE_QUERY = """SELECT a.name, a.default_version, array_agg(v.version ORDER BY v.version)
  FROM pg_available_extensions a JOIN pg_available_extension_versions v ON v.name = a.name
 WHERE a.name = ANY(%s) GROUP BY a.name, a.default_version"""
SESSIONS_QUERY = """SELECT count(*), coalesce(string_agg(DISTINCT usename, ', '), '')
  FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"""


class Plan:
    """SQL to run, in order, on the login database ('server') or in the managed database ('database')."""

    def __init__(self):
        self.steps = []

    def add(self, where: str, what: str, statement) -> None:
        """Queue one statement; `what` names it in an error message."""
        self.steps.append((where, what, statement))

    def of(self, where: str) -> list:
        """The steps to run on `where`."""
        return [(what, statement) for place, what, statement in self.steps if place == where]


def normalise_locale(name: str | None) -> str | None:
    """A locale name compared loosely: en_US.UTF-8 and en_US.utf8 are the same locale."""
    if not name:
        return name
    base, _dot, codeset = name.partition(".")
    return base + ("." + re.sub(r"[^a-z0-9]", "", codeset.lower()) if codeset else "")


def validate_options(p: dict) -> None:
    """Reject bad input before the server is asked anything; each message names the option."""
    if not p["name"]:
        raise PgdockError("name: the database name must not be empty")
    if p.get("locale") and (p.get("lc_collate") or p.get("lc_ctype")):
        raise PgdockError("locale sets both lc_collate and lc_ctype; give either locale or lc_collate/lc_ctype")
    for option in ("extensions", "schemas"):
        names = [entry["name"] for entry in p.get(option) or []]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise PgdockError(f"{option}: listed more than once: {', '.join(duplicates)}")
    for entry in p.get("extensions") or []:
        if entry["state"] == "latest" and entry.get("version"):
            raise PgdockError(f"extensions: {entry['name']}: state latest and a version exclude each other")


# ---------------------------------------------------------------- the engine

def ensure_database(module) -> dict:
    """Plan the changes, run them unless in check mode; the module's result."""
    p = module.params
    validate_options(p)
    target = resolve_target(p)
    name = p["name"]
    with Session(target) as session:
        # not connecting to a database about to be dropped: that session would count as a client
        current = read_database(session, target, name, with_contents=p["state"] == "present")
        plan, after = Plan(), None
        if p["state"] == "absent":
            plan_drop(session, p, current, plan, target.dbname)
        else:
            after = plan_present(session, target, p, current, plan)
        result = dict(changed=bool(plan.steps), queries=[stmt.as_string(session.conn) for _w, _what, stmt in plan.steps])
        if plan.steps and not module.check_mode:
            for what, statement in plan.of("server"):
                session.run(statement, what=what)
            if p["state"] == "present":
                run_in_database(target, name, plan.of("database"))
                after = read_database(session, target, name)
    result["database"] = after or {}
    return with_diff(result, module._diff, current or {}, after or {})


def read_database(session, target, name: str, with_contents: bool = True) -> dict | None:
    """The database as the module describes it (with extensions and schemas), None when it does not exist."""
    rows = session.rows(DATABASE_QUERY, (name,), dicts=True)
    if not rows:
        return None
    info = dict(name=name, **rows[0])
    if with_contents:
        with Session(target, dbname=name) as db_session:
            info["extensions"] = {ext: dict(version=version, schema=schema)
                                  for ext, version, schema in db_session.rows(EXTENSIONS_QUERY)}
            info["schemas"] = dict(db_session.rows(SCHEMAS_QUERY))
    return info


def plan_drop(session, p: dict, current: dict | None, plan: Plan, login_db: str) -> None:
    """DROP DATABASE, refused while others are connected unless force."""
    if current is None:
        return
    name = p["name"]
    if name == login_db:
        raise PgdockError(f"cannot drop {name!r} while connected to it: set login_db to another database")
    sessions, users = session.rows(SESSIONS_QUERY, (name,))[0]
    if sessions and not p["force"]:
        raise PgdockError(f"database {name!r} has {sessions} open connection(s) (users: {users}); it is not "
                          "dropped. Close them, or set force: true to terminate them (DROP DATABASE ... WITH (FORCE))")
    statement = sql.SQL("DROP DATABASE {}").format(sql.Identifier(name))
    if p["force"]:
        if session.version < 130000:
            raise PgdockError("force: DROP DATABASE ... WITH (FORCE) needs PostgreSQL 13 or later")
        statement = sql.SQL("{} WITH (FORCE)").format(statement)
    plan.add("server", f"dropping database {name!r}", statement)


def plan_present(session, target, p: dict, current: dict | None, plan: Plan) -> dict:
    """Plan the database, its schemas and its extensions; return what the database will look like."""
    check_roles(session, [p.get("owner")] + [s.get("owner") for s in p.get("schemas") or [] if s["state"] == "present"])
    available = available_extensions(session, [e for e in p.get("extensions") or [] if e["state"] != "absent"])
    if current is None:
        after = plan_create(session, target, p, plan)
    else:
        after = copy.deepcopy(current)
        check_unchangeable(p, current)
        if p.get("owner") and p["owner"] != current["owner"]:
            plan.add("server", "changing the owner", sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(p["name"]), sql.Identifier(p["owner"])))
            after["owner"] = p["owner"]
    schemas = p.get("schemas") or []
    plan_schemas([s for s in schemas if s["state"] == "present"], after, plan)
    plan_extensions(p.get("extensions") or [], available, after, plan)
    plan_schemas([s for s in schemas if s["state"] == "absent"], after, plan)
    return after


def plan_create(session, target, p: dict, plan: Plan) -> dict:
    """CREATE DATABASE; template0 when an encoding or locale is given without a template."""
    lc_collate = p.get("lc_collate") or p.get("locale")
    lc_ctype = p.get("lc_ctype") or p.get("locale")
    encoding = normalise_encoding(session, p["encoding"]) if p.get("encoding") else None
    template = p.get("template") or ("template0" if encoding or lc_collate or lc_ctype else None)
    parts = [sql.SQL("CREATE DATABASE {}").format(sql.Identifier(p["name"]))]
    for keyword, value, quote in (("OWNER", p.get("owner"), sql.Identifier), ("TEMPLATE", template, sql.Identifier),
                                  ("ENCODING", encoding, sql.Literal), ("LC_COLLATE", lc_collate, sql.Literal),
                                  ("LC_CTYPE", lc_ctype, sql.Literal)):
        if value:
            parts.append(sql.SQL(keyword + " {}").format(quote(value)))
    plan.add("server", f"creating database {p['name']!r}", sql.SQL(" ").join(parts))
    model = read_database(session, target, template or "template1", with_contents=False)
    if model is None:
        raise PgdockError(f"template: there is no database {template!r} to copy")
    return dict(name=p["name"], owner=p.get("owner") or target.user,
                encoding=encoding or model.get("encoding"), lc_collate=lc_collate or model.get("lc_collate"),
                lc_ctype=lc_ctype or model.get("lc_ctype"), extensions={}, schemas={})


def normalise_encoding(session, encoding: str) -> str:
    """The server's name of an encoding (utf-8 -> UTF8); PgdockError when it knows none such."""
    name = session.rows("SELECT pg_encoding_to_char(pg_char_to_encoding(%s))", (encoding,))[0][0]
    if not name:
        raise PgdockError(f"encoding: {encoding!r} is not an encoding PostgreSQL knows (e.g. UTF8, LATIN1, SQL_ASCII)")
    return name


def check_unchangeable(p: dict, current: dict) -> None:
    """Encoding and locale are fixed when a database is created: a difference is an error, never a drop."""
    wanted = dict(encoding=p.get("encoding"), lc_collate=p.get("lc_collate") or p.get("locale"),
                  lc_ctype=p.get("lc_ctype") or p.get("locale"))
    differ = []
    for key, value in wanted.items():
        if not value:
            continue
        same = (re.sub(r"[^A-Z0-9]", "", value.upper()) == re.sub(r"[^A-Z0-9]", "", current[key].upper())
                if key == "encoding" else normalise_locale(value) == normalise_locale(current[key]))
        if not same:
            differ.append(f"{key} is {current[key]!r}, not {value!r}")
    if differ:
        raise PgdockError(
            f"database {p['name']!r} exists and its {'; '.join(differ)}. PostgreSQL cannot change the encoding "
            "or locale of a database: dump it, create a new database with the new settings and restore into it "
            "(nothing was changed)")


def check_roles(session, names: list) -> None:
    """Every named owner must exist."""
    wanted = sorted({name for name in names if name})
    if not wanted:
        return
    found = {row[0] for row in session.rows("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (wanted,))}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise PgdockError(f"owner: role(s) {', '.join(repr(n) for n in missing)} do not exist; create them "
                          "first (pgdock.postgres.role)")


def available_extensions(session, wanted: list) -> dict:
    """name -> (default version, versions) for the wanted extensions; missing ones or versions are errors."""
    names = sorted({e["name"] for e in wanted})
    if not names:
        return {}
    available = {name: (default, list(versions)) for name, default, versions in session.rows(AVAILABLE_QUERY, (names,))}
    problems = [f"{name} is not available on the server (its files are not in the image)"
                for name in names if name not in available]
    problems += [f"{e['name']} has no version {e['version']!r} (available: {', '.join(available[e['name']][1])})"
                 for e in wanted if e.get("version") and e["name"] in available
                 and e["version"] not in available[e["name"]][1]]
    if problems:
        raise PgdockError("extensions: " + "; ".join(problems))
    return available


def plan_schemas(schemas: list, after: dict, plan: Plan) -> None:
    """CREATE, ALTER ... OWNER TO or DROP SCHEMA, as needed."""
    for entry in schemas:
        name, owner, exists = entry["name"], entry.get("owner"), entry["name"] in after["schemas"]
        ident = sql.Identifier(name)
        if entry["state"] == "absent":
            if exists:
                plan.add("database", f"dropping schema {name!r}",
                         sql.SQL("DROP SCHEMA {}" + (" CASCADE" if entry["cascade"] else "")).format(ident))
                del after["schemas"][name]
        elif not exists:
            statement = sql.SQL("CREATE SCHEMA {}").format(ident)
            if owner:
                statement = sql.SQL("{} AUTHORIZATION {}").format(statement, sql.Identifier(owner))
            plan.add("database", f"creating schema {name!r}", statement)
            after["schemas"][name] = owner or after["owner"]
        elif owner and after["schemas"][name] != owner:
            plan.add("database", f"changing the owner of schema {name!r}",
                     sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(ident, sql.Identifier(owner)))
            after["schemas"][name] = owner


def plan_extensions(extensions: list, available: dict, after: dict, plan: Plan) -> None:
    """CREATE, ALTER ... UPDATE / SET SCHEMA or DROP EXTENSION, as needed."""
    for entry in extensions:
        name, state, schema = entry["name"], entry["state"], entry.get("schema")
        ident, installed = sql.Identifier(name), after["extensions"].get(name)
        cascade = sql.SQL(" CASCADE" if entry["cascade"] else "")
        if state == "absent":
            if installed:
                plan.add("database", f"dropping extension {name!r}", sql.SQL("DROP EXTENSION {}{}").format(ident, cascade))
                del after["extensions"][name]
            continue
        version = entry.get("version") or (available[name][0] if state == "latest" else None)
        if not installed:
            parts = [sql.SQL("CREATE EXTENSION {}").format(ident)]
            if schema:
                parts.append(sql.SQL("SCHEMA {}").format(sql.Identifier(schema)))
            if version:
                parts.append(sql.SQL("VERSION {}").format(sql.Literal(version)))
            plan.add("database", f"creating extension {name!r}", sql.SQL(" ").join(parts) + cascade)
            after["extensions"][name] = dict(version=version or available[name][0], schema=schema or "public")
            continue
        if version and installed["version"] != version:
            plan.add("database", f"updating extension {name!r}",
                     sql.SQL("ALTER EXTENSION {} UPDATE TO {}").format(ident, sql.Literal(version)))
            installed["version"] = version
        if schema and installed["schema"] != schema:
            plan.add("database", f"moving extension {name!r}",
                     sql.SQL("ALTER EXTENSION {} SET SCHEMA {}").format(ident, sql.Identifier(schema)))
            installed["schema"] = schema


def run_in_database(target, name: str, steps: list) -> None:
    """Run the database's steps in one transaction: all of them or none."""
    if not steps:
        return
    with Session(target, dbname=name, autocommit=False) as session:
        for what, statement in steps:
            session.run(statement, what=what)
