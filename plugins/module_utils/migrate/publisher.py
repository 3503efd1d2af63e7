# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source's side of the logical method: what blocks replication there, the role the target
subscribes as (its password set as a SCRAM verifier), REPLICA IDENTITY FULL where asked, one
publication per database, and the removal of all of it (publications, the slots of the
subscriptions, the role, the replica identities) so that nothing of the migration stays behind."""

from __future__ import annotations

import time

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.scram import scram_verifier
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

USER_SCHEMAS = "n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'"
# ordinary tables (partitions included: they are what is published), logged or unlogged
TABLES_SQL = f"""select n.nspname, c.relname, c.relpersistence = 'u',
       (c.relreplident = 'd' and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary))
       or c.relreplident = 'n'
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and c.relpersistence in ('p', 'u') and {USER_SCHEMAS} order by 1, 2"""
LARGE_OBJECTS_SQL = "select count(*) from pg_largeobject_metadata"
SCHEMAS_SQL = f"select n.nspname from pg_namespace n where {USER_SCHEMAS} order by 1"
# the slots of our subscriptions: theirs by name, and the table synchronisation slots the target's
# workers make (pg_<subscription oid>_sync_<table oid>_<system id>)
OUR_SLOTS_SQL = """select slot_name, active_pid from pg_replication_slots
                   where slot_name = any(%s) or slot_name like any(%s) order by 1"""
SLOT_DROP_TIMEOUT = 30


def writable_session(run, database: str | None = None):
    """A session on the source that may write while it is fenced (it turns the default off for itself)."""
    session = run.source.session(database)
    session.run("set default_transaction_read_only = off")
    return session


def read_tables(session) -> dict:
    """The database's tables as (schema, table) sets: all of them, those without a key (no primary key
    and no replica identity), the unlogged ones; and how many large objects it holds."""
    found = {"all": set(), "no_key": set(), "unlogged": set()}
    for schema, table, unlogged, no_key in session.rows(TABLES_SQL, what="reading the source's tables"):
        found["all"].add((schema, table))
        if unlogged:
            found["unlogged"].add((schema, table))
        elif no_key:
            found["no_key"].add((schema, table))
    found["large_objects"] = int(session.value(LARGE_OBJECTS_SQL) or 0)
    return found


def role_exists(session, role: str) -> bool:
    return bool(session.value("select count(*) from pg_roles where rolname = %s", [role]))


def ensure_role(run, session, role: str, password: str, databases: list[str], side: str = "source",
                open_db=None) -> bool:
    """The replication role with LOGIN REPLICATION, `password` (its verifier), and read access to every
    table (pg_read_all_data from 14 on, else USAGE and SELECT per schema, in sessions of
    `open_db(database)`, default the source's) on `side`; whether it was created."""
    created = not role_exists(session, role)
    verb = "create" if created else "alter"
    statement = sql.SQL(verb + " role {} with login replication password %s").format(sql.Identifier(role))
    run.log.do(f"{verb} role {role!r} on the {side} (LOGIN REPLICATION, password set as a verifier)",
               session.run, statement, [scram_verifier(password)], f"{verb} role {role}")
    if session.version >= 140000:
        session.run(sql.SQL("grant pg_read_all_data to {}").format(sql.Identifier(role)), what="granting read access")
        return created
    for database in databases:
        with (open_db or run.source.session)(database) as db:
            for (schema,) in db.rows(SCHEMAS_SQL):
                for grant in ("grant usage on schema {} to {}", "grant select on all tables in schema {} to {}"):
                    db.run(sql.SQL(grant).format(sql.Identifier(schema), sql.Identifier(role)), what="granting read access")
    return created


def set_identity_full(run, session, database: str, tables, side: str = "source") -> list:
    """REPLICA IDENTITY FULL on `tables` (on `side`); the [database, schema, table] entries changed."""
    changed = []
    for schema, table in sorted(tables):
        run.log.do(f"give {schema}.{table} in database {database!r} REPLICA IDENTITY FULL on the {side}",
                   session.run, sql.SQL("alter table {} replica identity full").format(sql.Identifier(schema, table)),
                   None, "setting a replica identity")
        changed.append([database, schema, table])
    return changed


def create_publication(run, session, database: str, name: str, tables, side: str = "source") -> None:
    """The publication of `database` (on `side`): FOR ALL TABLES, or FOR TABLE `tables` when some are
    left out."""
    if tables is None:
        statement = sql.SQL("create publication {} for all tables").format(sql.Identifier(name))
        what = "all tables"
    elif tables:
        statement = sql.SQL("create publication {} for table {}").format(
            sql.Identifier(name), sql.SQL(", ").join(sql.Identifier(s, t) for s, t in sorted(tables)))
        what = f"{len(tables)} tables"
    else:
        statement = sql.SQL("create publication {}").format(sql.Identifier(name))
        what = "no tables"
    run.log.do(f"create publication {name} ({what}) in database {database!r} on the {side}", session.run,
               statement, None, "creating the publication")


def remove_all(run, name: str, state: dict, databases: list[str]) -> None:
    """Everything the migration made on the source: the subscriptions' slots, the publications in
    `databases`, the replica identities it set, and the role when it made it."""
    with writable_session(run) as session:
        drop_slots(run, session, state.get("slots") or [], [f"pg_{oid}_sync_%" for oid in state.get("suboids") or []]
                   + [f"{name}\\_%"])
    for database in databases:
        with writable_session(run, database) as db:
            drop_publication(run, db, name, database)
            for entry in state.get("identity_full") or []:
                if entry[0] == database:
                    restore_identity(run, db, *entry)
    role = run.p["replication_user"]
    if state.get("created_role"):
        with writable_session(run) as session:
            if role_exists(session, role):
                drop_role(run, session, role, databases)


def restore_identity(run, db, database: str, schema: str, table: str) -> None:
    """REPLICA IDENTITY DEFAULT again where the migration set FULL."""
    full = db.value("""select c.relreplident = 'f' from pg_class c join pg_namespace n on n.oid = c.relnamespace
                       where n.nspname = %s and c.relname = %s""", [schema, table])
    if full:
        run.log.do(f"give {schema}.{table} in database {database!r} its default replica identity back", db.run,
                   sql.SQL("alter table {} replica identity default").format(sql.Identifier(schema, table)),
                   None, "restoring a replica identity")


def drop_role(run, session, role: str, databases: list[str], side: str = "source", open_db=None) -> None:
    """The replication role on `side`, with the privileges granted to it in `databases` (sessions of
    `open_db(database)`, default writable ones on the source)."""
    def drop():
        if session.version < 140000:
            for database in databases:
                with (open_db or (lambda name: writable_session(run, name)))(database) as db:
                    db.run(sql.SQL("drop owned by {}").format(sql.Identifier(role)), what="revoking the role's grants")
        session.run(sql.SQL("drop role {}").format(sql.Identifier(role)), what="dropping the replication role")
    run.log.do(f"drop role {role!r} on the {side}", drop)


def subscription_exists(session, name: str) -> bool:
    """Whether the session's database has the subscription `name`."""
    return bool(session.value("""select count(*) from pg_subscription where subname = %s and subdbid =
                                 (select oid from pg_database where datname = current_database())""", [name]))


def drop_subscription(run, session, name: str, database: str, side: str) -> None:
    """The subscription `name` of `database` on `side` disabled, let go of its slot (whose owner drops
    it) and dropped, when it exists."""
    if not subscription_exists(session, name):
        return
    ident = sql.Identifier(name)

    def drop():
        session.run(sql.SQL("alter subscription {} disable").format(ident))
        session.run(sql.SQL("alter subscription {} set (slot_name = none)").format(ident))
        session.run(sql.SQL("drop subscription {}").format(ident))
    run.log.do(f"drop subscription {name} in database {database!r} on the {side}", drop)


def drop_publication(run, session, name: str, database: str, side: str = "source") -> None:
    """The publication `name` of `database` on `side`, when it exists."""
    if session.value("select count(*) from pg_publication where pubname = %s", [name]):
        run.log.do(f"drop publication {name} in database {database!r} on the {side}", session.run,
                   sql.SQL("drop publication {}").format(sql.Identifier(name)), None, "dropping the publication")


def drop_slots(run, session, names: list[str], patterns: list[str], side: str = "source") -> None:
    """The replication slots named, or matching `patterns` (LIKE), on `side`, ended and dropped."""
    for slot, _pid in session.rows(OUR_SLOTS_SQL, [names, patterns]):
        run.log.do(f"drop replication slot {slot} on the {side}", drop_slot, session, slot, side)


def drop_slot(session, slot: str, side: str = "source") -> None:
    """End the walsender that holds `slot` (it may take a moment to let go), then drop it."""
    deadline = time.monotonic() + SLOT_DROP_TIMEOUT
    while True:
        session.run("select pg_terminate_backend(active_pid) from pg_replication_slots "
                    "where slot_name = %s and active_pid is not null", [slot])
        try:
            session.run("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s",
                        [slot], what=f"dropping replication slot {slot}")
            return
        except QueryError as exc:
            if exc.sqlstate != "55006" or time.monotonic() > deadline:  # object_in_use: still active
                raise PgdockError(f"replication slot {slot} on the {side} could not be dropped: {exc.reason}") from None
            time.sleep(0.2)
