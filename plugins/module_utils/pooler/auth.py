# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a server needs for PgBouncer's auth_query without a stored password: a lookup role with no
password and no privilege but EXECUTE on one SECURITY DEFINER function that returns the SCRAM
verifier of a login role (never a superuser's), and a pg_hba.conf rule that lets the lookup role in
with a TLS client certificate only."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import cert_login_rules, first_match
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.server_file import ensure_first_rules

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - run_engine reports the missing library
    pass

LOOKUP_SCHEMA = "pgdock_pooler"
LOOKUP_FUNCTION = "lookup"
AUTH_QUERY = f"SELECT usename, passwd FROM {LOOKUP_SCHEMA}.{LOOKUP_FUNCTION}($1)"
LOOKUP_BODY = """
    SELECT rolname, rolpassword FROM pg_catalog.pg_authid
    WHERE rolname = p_usename AND rolcanlogin AND NOT rolsuper
      AND (rolvaliduntil IS NULL OR rolvaliduntil > pg_catalog.now())
"""

STATE_QUERY = """
SELECT (SELECT rolcanlogin AND NOT rolsuper AND rolpassword IS NULL FROM pg_authid WHERE rolname = %(user)s),
       (SELECT p.prosrc = %(body)s AND p.prosecdef
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = %(schema)s AND p.proname = %(function)s),
       has_function_privilege(%(user)s, %(signature)s, 'EXECUTE')
         AND NOT has_function_privilege('public', %(signature)s, 'EXECUTE')
"""


def lookup_ready(session, user: str) -> bool:
    """Whether the lookup role, function and grants are as they should be."""
    signature = f"{LOOKUP_SCHEMA}.{LOOKUP_FUNCTION}(text)"
    if not session.value("SELECT to_regprocedure(%s) IS NOT NULL", (signature,)):
        return False
    return all(session.row(STATE_QUERY, dict(user=user, body=LOOKUP_BODY, schema=LOOKUP_SCHEMA,
                                             function=LOOKUP_FUNCTION, signature=signature)))


def ensure_lookup(session, user: str, check_mode: bool) -> list[str]:
    """The lookup role (LOGIN, no password), its schema, function and the one grant; the action."""
    if lookup_ready(session, user):
        return []
    if not check_mode:
        role, schema = sql.Identifier(user), sql.Identifier(LOOKUP_SCHEMA)
        function = sql.SQL("{}.{}(p_usename text)").format(schema, sql.Identifier(LOOKUP_FUNCTION))
        what = f"setting up the lookup role {user}"
        if session.row("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)) is None:
            session.run(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(role), what=what)
        for statement in (
            sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "NOBYPASSRLS PASSWORD NULL").format(role),
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema),
            sql.SQL("CREATE OR REPLACE FUNCTION {} RETURNS TABLE (usename name, passwd text) "
                    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS {}")
            .format(function, sql.Literal(LOOKUP_BODY)),
            sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(function),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role),
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(function, role),
        ):
            session.run(statement, what=what)
    return [f"lookup role {user} (no password) with EXECUTE on {LOOKUP_SCHEMA}.{LOOKUP_FUNCTION}(text) only"]


def ensure_lookup_hba(session, database: str, user: str, check_mode: bool) -> list[str]:
    """`hostssl <database> <user> <subnet> cert` first in the server's pg_hba.conf, for each network."""
    if session.value("SELECT current_setting('ssl')") != "on":
        raise PgdockError(f"auth: auth_query logs the lookup role in with a TLS client certificate, but "
                          f"{session.container.name!r} has ssl=off; turn TLS on (pgdock.postgres.tls) or use "
                          "auth: userlist")

    def satisfied(rules, subnet):
        rule = first_match(rules, database, user, subnet)
        return rule is not None and rule.type == "hostssl" and rule.method == "cert"
    return ensure_first_rules(session, lambda kind, subnet: cert_login_rules([subnet], database, user)[0],
                              satisfied, check_mode)
