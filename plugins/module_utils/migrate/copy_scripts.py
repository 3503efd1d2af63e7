# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the methods that copy the catalog (dump, logical) share: the passfiles and conninfos of the
helpers that run beside the target, the roles copied with pg_dumpall --globals-only (their password
verifiers, never cleartext; the target superuser keeps its own password), and a schema script loaded
through psql without the column option an older major's newest minor stamps (17.12's pg_attver,
which 18 rejects as an unrecognized parameter)."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import PASSWORD_FILE_NAME, SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import pgpass_line, read_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.source import SOURCE_PGPASS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conninfo
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.scram import scram_verifier

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

TARGET_PGPASS = "target.pgpass"   # the target superuser's passfile, for the helpers beside it
# $1 source conninfo, $2 target conninfo, $3 the target's superuser, $4 its password's SCRAM verifier:
# the globals may carry another password for that role, so in the same session (the password changes
# under it) the superuser gets its own back. Errors other than an existing role stop it.
GLOBALS_SCRIPT = (
    'pg_dumpall -d "$1" --globals-only --no-tablespaces -f /tmp/globals.sql; '
    'printf "%s\\n" "ALTER ROLE :\\"su\\" PASSWORD :\'ver\';" > /tmp/keep.sql; '
    'psql -X -q -d "$2" -v ON_ERROR_STOP=0 -v su="$3" -v ver="$4" -f /tmp/globals.sql -f /tmp/keep.sql '
    '2>/tmp/errors || true; '
    'cat /tmp/errors; grep -v -E \'role ".*" already exists\' /tmp/errors | grep -q "ERROR:" && exit 3; exit 0')
# /tmp/pre.sql (a schema script written before) loaded into the database named by $into, without
# the pg_attver column options; psql stops at the first error
LOAD_SCHEMA = (
    'grep -v -E \'^ALTER TABLE ONLY .* ALTER COLUMN .* SET \\(pg_attver=[0-9]+\\);$\' /tmp/pre.sql '
    '> /tmp/schema.sql || true; '
    'psql -X -q -v ON_ERROR_STOP=1 -d "$into" -f /tmp/schema.sql')
# $1 the target's postgres database, $2 the database, $5 "create" (CREATE DATABASE from the script,
# run in $1) or "into" ($2 exists): sets $c (the pg_dump/pg_restore flag) and $into
CREATE_OR_INTO = 'if [ "$5" = create ]; then c=--create; into=$1; else c=; into=$2; fi; '


@dataclass
class HelperLogins:
    """How a helper beside the target logs in: the target's superuser through its passfile, the
    source through its own; both files in the target's secrets directory, mounted read-only."""

    superuser: str
    password: str
    target_login: dict
    mounts: list

    @classmethod
    def write(cls, run) -> "HelperLogins":
        """Write both passfiles (0600) and return the logins."""
        superuser = run.target_options()["superuser"]
        password = read_secret(f"{run.secrets_dir}/{PASSWORD_FILE_NAME}")
        run.write_file(SOURCE_PGPASS, run.source.pgpass())
        run.write_file(TARGET_PGPASS, pgpass_line(superuser, password, host="127.0.0.1", port="5432"))
        login = dict(host="127.0.0.1", port=5432, user=superuser, passfile=f"{SECRETS_MOUNT}/{TARGET_PGPASS}",
                     sslmode="disable")
        return cls(superuser, password, login, [Mount(SECRETS_MOUNT, run.secrets_dir, type="bind", read_only=True)])

    def target(self, dbname: str = "postgres") -> str:
        """The target's conninfo for a helper beside it."""
        return conninfo(dbname=dbname, **self.target_login)


def copy_globals(run, logins: HelperLogins) -> None:
    """The source's roles, their password verifiers and memberships onto the target; roles that
    exist there already are kept as they are (a warning names them)."""
    with run.progress.phase("globals"):
        output = run.helper(GLOBALS_SCRIPT, [run.source.conninfo(run.route), logins.target(), logins.superuser,
                                             scram_verifier(logins.password)],
                            "copying the source's roles", mounts=logins.mounts, beside_target=True)
    run.log.add("copied roles and memberships (pg_dumpall --globals-only)")
    kept = [line.split("ERROR:", 1)[1].strip() for line in output.splitlines()
            if "ERROR:" in line and f'role "{logins.superuser}"' not in line]
    if kept:
        run.warn("roles that exist on the target already were kept as they are: " + "; ".join(kept)[:500])


def create_or_into(database: str) -> str:
    """The $5 argument of a schema script: every database but postgres is created from the script."""
    return "create" if database != "postgres" else "into"
