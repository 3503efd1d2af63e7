# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.grant engine: privileges on databases, schemas, tables, sequences, functions,
default privileges and role memberships, compared with the catalogs' ACLs (aclexplode) so that a
GRANT or REVOKE runs only when it changes something. Presets bundle what application roles need."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.roles import (
    PUBLIC,
    check_role_name,
    current_user,
    grant_membership,
    grantee_sql,
    memberships,
    revoke_membership,
    role_oids,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import with_diff

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - pg_connection reports the missing library
    pass

ALL_IN_SCHEMA = "ALL_IN_SCHEMA"
MEMBER = "MEMBER"  # pseudo-privilege of type role: membership in the role
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN")
PRIVILEGES = {
    "database": ("CREATE", "CONNECT", "TEMPORARY"),
    "schema": ("USAGE", "CREATE"),
    "table": TABLE_PRIVILEGES,
    "sequence": ("USAGE", "SELECT", "UPDATE"),
    "function": ("EXECUTE",),
    "role": (MEMBER,),
    # default privileges, by the kind of future object
    "tables": TABLE_PRIVILEGES,
    "sequences": ("USAGE", "SELECT", "UPDATE"),
    "functions": ("EXECUTE",),
    "types": ("USAGE",),
    "schemas": ("USAGE", "CREATE"),
}
SINCE = {"MAINTAIN": 170000}
ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}
DEFAULT_KINDS = ("tables", "sequences", "functions", "types", "schemas")
# default-privilege kind: (pg_default_acl.defaclobjtype, acldefault type character)
DEFAULT_ACL_TYPES = {"tables": ("r", "r"), "sequences": ("S", "s"), "functions": ("f", "f"),
                     "types": ("T", "T"), "schemas": ("n", "n")}
# object type: (catalog, name column, ACL column, owner column, acldefault type character)
CATALOGS = {
    "database": ("pg_database", "datname", "datacl", "datdba", "d"),
    "schema": ("pg_namespace", "nspname", "nspacl", "nspowner", "n"),
    "table": ("pg_class", "relname", "relacl", "relowner", "r"),
    "sequence": ("pg_class", "relname", "relacl", "relowner", "s"),
    "function": ("pg_proc", "proname", "proacl", "proowner", "f"),
}
# relkinds GRANT ... ON ALL TABLES covers (tables, views, materialized views, foreign and partitioned tables)
RELKINDS = {"table": ["r", "v", "m", "f", "p"], "sequence": ["S"]}
IN_SCHEMA_TYPES = ("table", "sequence", "function")
OBJECT_TYPES = ("database", "schema", "table", "sequence", "function", "default_privileges", "role")
PRESETS = {
    "readonly": {"tables": ("SELECT",), "sequences": ("SELECT",)},
    "readwrite": {"tables": ("SELECT", "INSERT", "UPDATE", "DELETE"), "sequences": ("USAGE", "SELECT", "UPDATE")},
}


@dataclass(frozen=True)
class Request:
    """Privileges on objects of one type, for every grantee of the run.

    objs: names; (ALL_IN_SCHEMA,); for default_privileges one kind of future object; for role the groups.
    """

    type: str
    objs: tuple
    privileges: tuple = ()
    schema: str | None = None
    target_role: str | None = None

    @property
    def privilege_kind(self) -> str:
        """Key of PRIVILEGES that lists what this request may ask for."""
        return self.objs[0] if self.type == "default_privileges" else self.type


# ---------------------------------------------------------------- pure logic (unit tested)

def validate_options(p: dict) -> None:
    """Reject bad input before the server is asked anything; each message names the option."""
    if not p.get("roles"):
        raise PgdockError("roles: give at least one role to grant to or revoke from (or PUBLIC)")
    for role in p["roles"]:
        check_role_name(role, "roles", allow_public=True)
    if p.get("target_role") is not None:
        check_role_name(p["target_role"], "target_role")
    if p.get("preset"):
        if p.get("type") or p.get("objs") or p.get("privileges"):
            raise PgdockError("preset: give either a preset or type/objs/privileges, not both")
        return
    kind = p.get("type")
    if not kind:
        raise PgdockError("type: give the type of the objects (or a preset)")
    objs = p.get("objs") or []
    if not objs:
        raise PgdockError(f"objs: give the {kind} objects to grant on")
    if kind != "role" and not p.get("privileges"):
        raise PgdockError(f"privileges: give the privileges on the {kind} objects (or ALL)")
    if ALL_IN_SCHEMA in objs and (kind not in IN_SCHEMA_TYPES or len(objs) > 1):
        raise PgdockError(f"objs: {ALL_IN_SCHEMA} stands alone and only for types {', '.join(IN_SCHEMA_TYPES)}")
    if kind == "default_privileges":
        unknown = [obj for obj in objs if obj not in DEFAULT_KINDS]
        if unknown:
            raise PgdockError(f"objs: {', '.join(map(repr, unknown))} is not a kind of default privileges; "
                              f"use {', '.join(DEFAULT_KINDS)}")
        if "schemas" in objs and p.get("schema"):
            raise PgdockError("schema: default privileges on schemas cannot be limited to a schema")
    elif p.get("target_role") is not None:
        raise PgdockError("target_role: only for type default_privileges and the presets")
    if kind == "role":
        if p.get("privileges"):
            raise PgdockError("privileges: type role grants membership in the roles of objs; give no privileges")
        if p.get("with_grant_option"):
            raise PgdockError("with_grant_option: not supported for type role (membership)")
        if any(role.upper() == PUBLIC for role in p["roles"]):
            raise PgdockError("roles: PUBLIC cannot be a member of a role")


def requests_from_options(p: dict) -> list[Request]:
    """What the options ask for, presets expanded."""
    if p.get("preset"):
        return preset_requests(p["preset"], p["login_db"], p.get("schema") or "public", p.get("target_role"))
    kind, objs = p["type"], tuple(p["objs"])
    if kind == "default_privileges":
        return [Request(kind, (obj,), tuple(p["privileges"]), p.get("schema"), p.get("target_role"))
                for obj in objs]
    schema = (p.get("schema") or "public") if kind in IN_SCHEMA_TYPES else None
    return [Request(kind, objs, tuple(p.get("privileges") or ()), schema)]


def preset_requests(preset: str, database: str, schema: str, target_role: str | None) -> list[Request]:
    """The requests of a preset: readonly, readwrite (CONNECT, USAGE on the schema, privileges on its
    tables and sequences now and in future, by default privileges of target_role) or monitor."""
    connect = Request("database", (database,), ("CONNECT",))
    if preset == "monitor":
        return [Request("role", ("pg_monitor",)), connect]
    requests = [connect, Request("schema", (schema,), ("USAGE",))]
    for kind, privileges in PRESETS[preset].items():
        requests.append(Request(kind.rstrip("s"), (ALL_IN_SCHEMA,), privileges, schema))
        requests.append(Request("default_privileges", (kind,), privileges, schema, target_role))
    return requests


def normalize_privileges(privileges, kind: str, version: int) -> tuple:
    """Upper-case privileges in canonical order, ALL expanded for `kind` on this server version."""
    known = tuple(priv for priv in PRIVILEGES[kind] if version >= SINCE.get(priv, 0))
    if kind == "role":
        return known
    wanted = set()
    for raw in privileges:
        priv = " ".join(raw.upper().split())
        priv = ALIASES.get(priv, priv)
        if priv == "ALL":
            wanted.update(known)
        elif priv in known:
            wanted.add(priv)
        elif priv in PRIVILEGES[kind]:
            raise PgdockError(f"privileges: {priv} needs PostgreSQL {SINCE[priv] // 10000} or later")
        else:
            raise PgdockError(f"privileges: {raw!r} is not a privilege of {kind_label(kind)}; "
                              f"use {', '.join(known)} or ALL")
    return tuple(priv for priv in known if priv in wanted)


def kind_label(kind: str) -> str:
    """How messages name a privilege kind: 'tables', 'tables (default privileges)', 'role membership'."""
    if kind in DEFAULT_KINDS:
        return f"{kind} (default privileges)"
    return "role membership" if kind == "role" else kind + "s"


def plan(held: dict, privileges: tuple, state: str, grant_option: bool | None) -> list[tuple[str, tuple]]:
    """Actions that bring `held` ({privilege: grantable}) to what is asked, as (action, privileges):
    grant, grant_option (GRANT ... WITH GRANT OPTION), revoke, revoke_option (REVOKE GRANT OPTION FOR)."""
    held_privileges = tuple(priv for priv in privileges if priv in held)
    missing = tuple(priv for priv in privileges if priv not in held)
    grantable = tuple(priv for priv in privileges if held.get(priv))
    not_grantable = tuple(priv for priv in privileges if not held.get(priv))
    if state == "present":
        if grant_option:
            actions = [("grant_option", not_grantable)]
        else:
            actions = [("grant", missing)]
            if grant_option is False:
                actions.append(("revoke_option", grantable))
    elif grant_option:
        actions = [("revoke_option", grantable)]
    else:
        actions = [("revoke", held_privileges)]
    return [(action, privs) for action, privs in actions if privs]


def apply_plan(held: dict, actions: list[tuple[str, tuple]]) -> dict:
    """`held` after the actions (what check mode predicts)."""
    result = dict(held)
    for action, privileges in actions:
        for priv in privileges:
            if action == "grant":
                result[priv] = result.get(priv, False)
            elif action == "grant_option":
                result[priv] = True
            elif action == "revoke":
                result.pop(priv, None)
            elif priv in result:
                result[priv] = False
    return result


def merge_actions(plans: list[list[tuple[str, tuple]]], order: tuple) -> list[tuple[str, tuple]]:
    """One action per kind for the union of the privileges of several plans (an ALL ... IN SCHEMA
    statement covers every object at once)."""
    merged: dict[str, set] = {}
    for actions in plans:
        for action, privileges in actions:
            merged.setdefault(action, set()).update(privileges)
    return [(action, tuple(priv for priv in order if priv in merged[action]))
            for action in ("revoke_option", "revoke", "grant", "grant_option") if action in merged]


def describe(held: dict) -> list[str]:
    """Privileges for the diff, sorted; '*' marks a grant option (as in aclitem)."""
    return sorted(priv + ("*" if grantable else "") for priv, grantable in held.items())


# ---------------------------------------------------------------- the engine

def ensure_grant(module) -> dict:
    """Grant or revoke what the module's options describe; the module's result."""
    p = module.params
    validate_options(p)
    with Session(params=p, check_mode=module.check_mode, autocommit=False) as session:
        before, after = GrantRun(session, p).run()
    result = {"changed": bool(session.queries), "queries": session.queries, "privileges": after}
    return with_diff(result, module._diff, before, after)


@dataclass
class Target:
    """Objects one GRANT/REVOKE addresses: their labels and catalog keys, and what follows ON."""

    labels: list
    keys: list
    on: object  # sql.Composable


class GrantRun:
    """One run: resolve objects and grantees, read ACLs, plan, execute (or record)."""

    def __init__(self, session: Session, params: dict):
        self.s, self.p = session, params
        self.grantees = role_oids(session, params["roles"], "roles")

    def run(self) -> tuple[dict, dict]:
        """Apply every request in order; (before, after) keyed by object label, then grantee."""
        before, after = {}, {}
        for request in requests_from_options(self.p):
            privileges = normalize_privileges(request.privileges, request.privilege_kind, self.s.version)
            for target in self.targets(request):
                held = self.held(request, target)
                for grantee in self.grantees:
                    current = [held.get((key, grantee), {}) for key in target.keys]
                    plans = [plan(h, privileges, self.p["state"], self.p["with_grant_option"]) for h in current]
                    actions = merge_actions(plans, PRIVILEGES[request.privilege_kind])
                    for action, privs in actions:
                        self.execute(request, target, grantee, action, privs)
                    for label, h, actions_one in zip(target.labels, current, plans):
                        before.setdefault(label, {})[grantee] = describe(h)
                        after.setdefault(label, {})[grantee] = describe(apply_plan(h, actions_one))
                if not self.s.check_mode:
                    held = self.held(request, target)
                    for label, key in zip(target.labels, target.keys):
                        for grantee in self.grantees:
                            after[label][grantee] = describe(held.get((key, grantee), {}))
        return before, after

    # ------------------------------------------------------------------ objects

    def targets(self, request: Request) -> list[Target]:
        """The objects of a request, grouped as the statements address them."""
        if request.type == "default_privileges":
            return [self.default_target(request)]
        if request.type == "role":
            role_oids(self.s, request.objs, "objs")
            return [Target([f"role {group}"], [group], sql.Identifier(group)) for group in request.objs]
        if request.type in ("database", "schema"):
            return self.named_targets(request)
        schema = request.schema
        if not self.s.value("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)):
            raise PgdockError(f"schema: schema {schema!r} does not exist in database {self.s.dbname!r}")
        if request.objs == (ALL_IN_SCHEMA,):
            found = self.in_schema(request.type, schema)
            keyword = "ROUTINES" if request.type == "function" else request.type.upper() + "S"
            on = sql.SQL("ALL {} IN SCHEMA {}").format(sql.SQL(keyword), sql.Identifier(schema))
            return [Target([label for label, _key, _on in found], [key for _label, key, _on in found], on)]
        return [Target([label], [key], on) for label, key, on in self.named_in_schema(request)]

    def named_targets(self, request: Request) -> list[Target]:
        """Databases or schemas by name; each must exist."""
        catalog, name_col, _acl, _owner, _char = CATALOGS[request.type]
        found = dict(self.s.rows(sql.SQL("SELECT {}, oid FROM {} WHERE {} = ANY(%s)").format(
            sql.Identifier(name_col), sql.Identifier("pg_catalog", catalog), sql.Identifier(name_col)),
            (list(request.objs),)))
        where = "" if request.type == "database" else f" in database {self.s.dbname!r}"
        targets = []
        for name in request.objs:
            if name not in found:
                raise PgdockError(f"objs: {request.type} {name!r} does not exist{where}")
            targets.append(Target([f"{request.type} {name}"], [found[name]],
                                  sql.SQL("{} {}").format(sql.SQL(request.type.upper()), sql.Identifier(name))))
        return targets

    def in_schema(self, kind: str, schema: str) -> list[tuple]:
        """(label, oid, ON clause) of every table, sequence or routine of a schema."""
        if kind == "function":
            return [self.routine(oid) for (oid,) in self.s.rows(
                "SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = %s ORDER BY p.proname, p.oid", (schema,))]
        rows = self.s.rows("SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = %s AND c.relkind = ANY(%s) ORDER BY 1", (schema, RELKINDS[kind]))
        return [(f"{kind} {schema}.{name}", oid, None) for name, oid in rows]

    def named_in_schema(self, request: Request) -> list[tuple]:
        """(label, oid, ON clause) of named tables, sequences or routines of the request's schema."""
        schema, kind = request.schema, request.type
        if kind == "function":
            return [self.routine(self.routine_oid(schema, obj)) for obj in request.objs]
        found = {name: (oid, relkind) for name, oid, relkind in self.s.rows(
            "SELECT c.relname, c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = ANY(%s)", (schema, list(request.objs)))}
        result = []
        for name in request.objs:
            if name not in found:
                raise PgdockError(f"objs: {kind} {name!r} does not exist in schema {schema!r} "
                                  f"of database {self.s.dbname!r}")
            oid, relkind = found[name]
            if relkind not in RELKINDS[kind]:
                other = "sequence" if relkind == "S" else "table"
                raise PgdockError(f"objs: {schema}.{name} is a {other}, not a {kind}; use type {other}")
            on = sql.SQL("{} {}").format(sql.SQL(kind.upper()), sql.Identifier(schema, name))
            result.append((f"{kind} {schema}.{name}", oid, on))
        return result

    def routine_oid(self, schema: str, obj: str) -> int:
        """The oid of a function or procedure given as name or name(argument types)."""
        name, paren, args = obj.partition("(")
        what = f"objs: function {obj!r} in schema {schema!r}"
        if paren:
            oid = self.s.value("SELECT to_regprocedure(format('%%I.%%I(%%s', %s, %s, %s))::oid",
                               (schema, name.strip(), args), what)
            if oid is None:
                raise PgdockError(f"{what} does not exist")
            return oid
        oids = [row[0] for row in self.s.rows(
            "SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = %s", (schema, name))]
        if len(oids) != 1:
            raise PgdockError(f"{what} does not exist" if not oids else
                              f"{what} is ambiguous ({len(oids)} functions have that name); give its "
                              "argument types, e.g. name(integer, text)")
        return oids[0]

    def routine(self, oid: int) -> tuple:
        """(label, oid, ON clause) of a routine; argument types as the server's format_type spells them."""
        schema, name, types = self.s.rows(
            "SELECT n.nspname, p.proname, array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) "
            "WITH ORDINALITY AS a(t, i) ORDER BY i) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.oid = %s", (oid,))[0]
        args = sql.SQL(", ").join(sql.SQL(arg_type) for arg_type in types)
        on = sql.SQL("ROUTINE {}({})").format(sql.Identifier(schema, name), args)
        return f"function {schema}.{name}({', '.join(types)})", oid, on

    def default_target(self, request: Request) -> Target:
        """The default privileges of target_role (default: the connected role), in a schema or everywhere."""
        owner = request.target_role or current_user(self.s)
        role_oids(self.s, [owner], "target_role")
        kind = request.objs[0]
        prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(sql.Identifier(owner))
        label = f"default privileges of {owner} on {kind}"
        if request.schema:
            if not self.s.value("SELECT 1 FROM pg_namespace WHERE nspname = %s", (request.schema,)):
                raise PgdockError(f"schema: schema {request.schema!r} does not exist in database {self.s.dbname!r}")
            prefix += sql.SQL(" IN SCHEMA {}").format(sql.Identifier(request.schema))
            label += f" in schema {request.schema}"
        return Target([label], [(owner, request.schema, kind)], prefix)

    # ------------------------------------------------------------------ ACLs

    def held(self, request: Request, target: Target) -> dict:
        """{(object key, grantee): {privilege: grantable}} for the run's grantees."""
        if request.type == "role":
            return {(group, grantee): {MEMBER: False} for group in target.keys for grantee in self.grantees
                    if group in memberships(self.s, grantee)}
        if request.type == "default_privileges":
            owner, schema, kind = target.keys[0]
            objtype, char = DEFAULT_ACL_TYPES[kind]
            rows = [(target.keys[0],) + row for row in self.s.rows(
                "SELECT a.grantee, a.privilege_type, a.is_grantable FROM pg_roles r, aclexplode(coalesce("
                "(SELECT d.defaclacl FROM pg_default_acl d WHERE d.defaclrole = r.oid AND d.defaclobjtype = %(type)s "
                "AND d.defaclnamespace = coalesce((SELECT oid FROM pg_namespace WHERE nspname = %(schema)s), 0)), "
                "CASE WHEN %(schema)s IS NULL THEN acldefault(%(char)s, r.oid) END)) a "
                "WHERE r.rolname = %(owner)s AND a.grantee = ANY(%(grantees)s)",
                {"type": objtype, "char": char, "schema": schema, "owner": owner,
                 "grantees": list(self.grantees.values())})]
        else:
            catalog, _name, acl, owner_col, char = CATALOGS[request.type]
            rows = self.s.rows(sql.SQL(
                "SELECT o.oid, a.grantee, a.privilege_type, a.is_grantable FROM {} o, "
                "aclexplode(coalesce(o.{}, acldefault({}, o.{}))) a "
                "WHERE o.oid = ANY(%s) AND a.grantee = ANY(%s)").format(
                    sql.Identifier("pg_catalog", catalog), sql.Identifier(acl), sql.Literal(char),
                    sql.Identifier(owner_col)),
                (list(target.keys), list(self.grantees.values())))
        by_oid = {oid: name for name, oid in self.grantees.items()}
        result: dict = {}
        for key, grantee_oid, privilege, grantable in rows:
            held = result.setdefault((key, by_oid[grantee_oid]), {})
            held[privilege] = held.get(privilege, False) or grantable
        return result

    # ------------------------------------------------------------------ statements

    def execute(self, request: Request, target: Target, grantee: str, action: str, privileges: tuple) -> None:
        """Run one GRANT or REVOKE (membership, object privilege or default privilege)."""
        what = f"{action.replace('_', ' ')} {', '.join(privileges)} on {request.type} for {grantee!r}"
        if request.type == "role":
            group = target.keys[0]
            if action == "grant":
                grant_membership(self.s, group, grantee)
            else:
                revoke_membership(self.s, group, grantee)
            return
        if request.type == "default_privileges":
            statement = target.on + sql.SQL(" ") + privilege_statement(
                action, privileges, sql.SQL(request.objs[0].upper()), grantee)
        else:
            statement = privilege_statement(action, privileges, target.on, grantee)
        self.s.execute(statement, what)


def privilege_statement(action: str, privileges: tuple, on, grantee: str):
    """GRANT/REVOKE of `privileges` ON `on` for `grantee`; action as `plan` names it."""
    privs = sql.SQL(", ").join(sql.SQL(priv) for priv in privileges)
    who = grantee_sql(grantee)
    if action == "grant":
        return sql.SQL("GRANT {} ON {} TO {}").format(privs, on, who)
    if action == "grant_option":
        return sql.SQL("GRANT {} ON {} TO {} WITH GRANT OPTION").format(privs, on, who)
    if action == "revoke":
        return sql.SQL("REVOKE {} ON {} FROM {}").format(privs, on, who)
    return sql.SQL("REVOKE GRANT OPTION FOR {} ON {} FROM {}").format(privs, on, who)
