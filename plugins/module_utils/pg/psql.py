# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL on a server that has no TCP path from the Docker host (no published port): psql inside its
container over the local socket, as the container's postgres user, behind the interface of
pg.sql.Session (rows, run, execute, probe_login; row, value, reload_and_wait from SessionReads).

Values come back as text (psql's unaligned output; NULL as an empty string). Parameters are psql
variables: the query names them `:'name'` (a quoted literal) or `:"name"` (a quoted identifier) and
they are given as a dict; psql quotes them itself, and the query reaches psql on its standard input
(variables are not interpolated in -c), so no value ever passes through a shell."""

from __future__ import annotations


from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_in_split
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import container_superuser
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError, SessionReads, mask

FIELD_SEPARATOR, RECORD_SEPARATOR = "\x1f", "\x1e"
# $1 the query, $2 the user, $3 the database, then psql's own -v name=value arguments
PSQL_SCRIPT = ('q=$1; u=$2; d=$3; shift 3; printf "%s\\n" "$q" | exec psql -XAtq -v ON_ERROR_STOP=1 '
               f'-F "$(printf "\\{ord(FIELD_SEPARATOR):03o}")" -R "$(printf "\\{ord(RECORD_SEPARATOR):03o}")" '
               '-U "$u" -d "$d" "$@"')


def psql_argv(query: str, user: str, dbname: str, variables: dict | None = None) -> list[str]:
    """The command that runs `query` with psql in a container, variables as -v arguments."""
    argv = ["sh", "-c", PSQL_SCRIPT, "pgdock-psql", query, user, dbname]
    for name, value in (variables or {}).items():
        argv += ["-v", f"{name}={value}"]
    return argv


def parse_output(output: str) -> list[list[str]]:
    """psql's unaligned output (the separators above; a newline after the last record, nothing at all
    for no rows) as rows of text."""
    if not output:
        return []
    if output.endswith("\n"):
        output = output[:-1]
    return [record.split(FIELD_SEPARATOR) for record in output.split(RECORD_SEPARATOR)]


class ContainerSession(SessionReads):
    """psql in a running server container (see the module docstring)."""

    def __init__(self, container, check_mode: bool = False, dbname: str = "postgres", secrets=(),
                 user: str | None = None):
        """`user`: the role to log in as; the container's superuser (POSTGRES_USER) by default."""
        self.container, self.check_mode, self.dbname, self.secrets = container, check_mode, dbname, list(secrets)
        self.user = user or container_superuser(container)
        self.queries: list[str] = []

    def run(self, query: str, params: dict | None = None, what: str = "query", dicts: bool = False):
        """Run `query`; its rows as lists of text (psql gives no column names here: no dicts)."""
        if dicts:
            raise ValueError("ContainerSession returns rows of text, not dicts")
        # the rows are psql's standard output only: a server WARNING (a collation version mismatch
        # after an upgrade across C libraries, say) goes to its standard error
        code, out, err = run_in_split(self.container, psql_argv(query, self.user, self.dbname, params))
        if code != 0:
            reason = mask((err.strip() or out.strip()), self.secrets)
            raise QueryError(f"{what}: {reason}", reason)
        return parse_output(out)

    def rows(self, query: str, params: dict | None = None, what: str | None = None) -> list[list[str]]:
        """Rows of a query; `what` names it in an error."""
        return self.run(query, params, what or f"query on {self.container.name!r} failed")

    def execute(self, query: str, params: dict | None = None, what: str | None = None) -> None:
        """A change: record it and run it unless in check mode."""
        self.queries.append(mask(query, self.secrets))
        if not self.check_mode:
            self.run(query, params, what or "statement")

    def probe_login(self) -> None:
        """Open a new session the way this one does; PgdockError when the server refuses it."""
        self.run("SELECT 1", what=f"logging in to {self.container.name!r} over its local socket")
