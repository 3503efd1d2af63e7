# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info module's sections read from each database's own catalogs: `extensions` (with the
updates the installed packages offer), `publications` and `subscriptions` (their relations' sync
states; the connection string only with its password masked). One session per database, shared by
the sections of a run."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import masked_conninfo

EXTENSIONS_QUERY = """
    select e.extname as name, e.extversion as version, n.nspname as schema, a.default_version,
           coalesce(a.default_version <> e.extversion, false) as update_available
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
         left join pg_available_extensions a on a.name = e.extname
    order by e.extname"""
PUBLICATIONS_QUERY = """
    select p.pubname as name, pg_get_userbyid(p.pubowner) as owner, p.puballtables as all_tables,
           array_remove(array[case when p.pubinsert then 'insert' end, case when p.pubupdate then 'update' end,
                              case when p.pubdelete then 'delete' end, case when p.pubtruncate then 'truncate' end],
                        null) as operations,
           p.pubviaroot as via_root,
           (select count(*) from pg_publication_tables t where t.pubname = p.pubname)::int as table_count,
           case when not p.puballtables then
                array(select format('%I.%I', t.schemaname, t.tablename) from pg_publication_tables t
                      where t.pubname = p.pubname order by 1) end as tables{schemas}
    from pg_publication p order by p.pubname"""
# PostgreSQL 15+: FOR TABLES IN SCHEMA
PUBLICATION_SCHEMAS = """,
           array(select n.nspname from pg_publication_namespace s join pg_namespace n on n.oid = s.pnnspid
                 where s.pnpubid = p.oid order by 1) as schemas"""
# pg_subscription is shared by the cluster; subconninfo is readable only by superusers
SUBSCRIPTIONS_QUERY = """
    select s.oid, s.subname as name, d.datname as database, pg_get_userbyid(s.subowner) as owner,
           s.subenabled as enabled, s.subpublications as publications, s.subslotname as slot_name,
           s.subsynccommit as synchronous_commit,
           (select w.pid from pg_stat_subscription w where w.subid = s.oid and w.relid is null limit 1) as worker_pid{conninfo}
    from pg_subscription s join pg_database d on d.oid = s.subdbid
    order by d.datname, s.subname"""
RELATION_STATES_QUERY = "select srsubid as oid, srsubstate::text as state, count(*)::int as count from pg_subscription_rel group by 1, 2"
RELATION_STATES = {"i": "initialize", "d": "data_copy", "f": "finished_copy", "s": "synchronized", "r": "ready"}


class DatabaseSessions:
    """A session on each database that allows connections, opened when first needed and closed at
    the end of the run; a database this login cannot connect to stands as its PgdockError."""

    def __init__(self, session):
        self.session, self._names, self._open = session, None, {}

    def names(self) -> list:
        """The databases that allow connections."""
        if self._names is None:
            self._names = [r[0] for r in self.session.rows("select datname from pg_database where datallowconn order by datname")]
        return self._names

    def get(self, name: str):
        """The session on database `name`, or the PgdockError that refused it."""
        if name == self.session.dbname:
            return self.session
        if name not in self._open:
            try:
                self._open[name] = self.session.other_database(name)
            except PgdockError as exc:
                self._open[name] = exc
        return self._open[name]

    def each(self, query: str, names=None) -> tuple[dict, dict]:
        """({database: rows of `query` as dicts}, {database: why it could not be read})."""
        found, errors = {}, {}
        for name in self.names() if names is None else names:
            session = self.get(name)
            try:
                if isinstance(session, PgdockError):
                    raise session
                found[name] = session.rows(query, dicts=True)
            except PgdockError as exc:
                errors[name] = str(exc)
        return found, errors

    def close(self) -> None:
        """Close every session this opened."""
        for session in self._open.values():
            if not isinstance(session, PgdockError):
                session.close()


def by_name(rows: list) -> dict:
    """Rows keyed by their `name` (taken out of each row)."""
    return {row.pop("name"): row for row in rows}


def extension_facts(g) -> dict:
    """Per database the installed extensions, with the default version the server's packages offer."""
    found, errors = g.databases.each(EXTENSIONS_QUERY)
    updates = [{"database": db, "name": r["name"], "version": r["version"], "default_version": r["default_version"]}
               for db, rows in found.items() for r in rows if r["update_available"]]
    return {"databases": {db: by_name(rows) for db, rows in found.items()},
            "updates_available": updates, "errors": errors}


def publication_facts(g) -> dict:
    """Per database the publications: owner, all tables or which ones (and schemas), operations."""
    query = PUBLICATIONS_QUERY.format(schemas=PUBLICATION_SCHEMAS if g.session.version >= 150000 else "")
    found, errors = g.databases.each(query)
    return {"databases": {db: by_name(rows) for db, rows in found.items()}, "errors": errors}


def subscription_facts(g) -> dict:
    """Per database the subscriptions: enabled, publications, slot, worker, relations by sync state,
    and the connection string with its password masked (None when unreadable or unparsable)."""
    readable = bool(g.session.value("select has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')"))
    subscriptions = g.session.rows(SUBSCRIPTIONS_QUERY.format(
        conninfo=", s.subconninfo as conninfo" if readable else ", null::text as conninfo"), dicts=True)
    states, errors = g.databases.each(RELATION_STATES_QUERY, sorted({s["database"] for s in subscriptions}))
    return {"databases": subscriptions_by_database(subscriptions, states), "errors": errors}


def subscriptions_by_database(subscriptions: list, states: dict) -> dict:
    """{database: {subscription: facts}}, each with `relations` (sync state name -> count, None when
    its database could not be read) and `conninfo` masked (pure)."""
    result = {}
    for sub in subscriptions:
        sub = dict(sub)
        oid, database = sub.pop("oid"), sub.pop("database")
        rows = states.get(database)
        sub["relations"] = None if rows is None else {
            RELATION_STATES.get(r["state"], r["state"]): r["count"] for r in rows if r["oid"] == oid}
        sub["conninfo"] = masked_conninfo(sub.get("conninfo"))
        result.setdefault(database, {})[sub.pop("name")] = sub
    return result
