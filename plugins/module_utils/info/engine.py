# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a PostgreSQL server, by section: the entry point, and what operators watch
(role, WAL positions, standbys and their lag, connections, sizes, cache hits, TLS, pending restarts,
top queries). The other sections have files of their own; every query only reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.pgdock.postgres.plugins.module_utils.info.catalog import (
    DatabaseSessions,
    extension_facts,
    publication_facts,
    subscription_facts,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.info.cluster import role_facts, tablespace_facts
from ansible_collections.pgdock.postgres.plugins.module_utils.info.container import container_facts
from ansible_collections.pgdock.postgres.plugins.module_utils.info.gather import gathered_sections
from ansible_collections.pgdock.postgres.plugins.module_utils.info.slots import slot_facts
from ansible_collections.pgdock.postgres.plugins.module_utils.info.wraparound import wraparound_facts
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session

QUERY_TEXT_LIMIT = 200
WARNING_SECTIONS = ("slots", "wraparound")  # the sections with a `warnings` list


@dataclass
class Gathering:
    """What the sections of one run read from: the session, the module's params, a session per
    database (opened when a section needs it), and the notes they leave for the result."""

    session: Session
    params: dict
    databases: DatabaseSessions
    notes: list = field(default_factory=list)


def gather_info(module) -> dict:
    """Entry point of the `info` module: the sections `gather` asks for; their warnings also as the
    module's warnings."""
    sections = gathered_sections(module.params["gather"])
    with Session(params=module.params) as session:
        g = Gathering(session, module.params, DatabaseSessions(session))
        try:
            info = {section: GATHERERS[section](g) for section in sections}
        finally:
            g.databases.close()
    for section in WARNING_SECTIONS:
        for warning in info.get(section, {}).get("warnings", []):
            module.warn(warning)
    return {"changed": False, "info": info, "notes": g.notes}


def server_facts(g) -> dict:
    """Role, version, timeline and WAL positions (current on a primary, received/replayed on a standby)."""
    facts = (g.session.row("""
        select current_setting('server_version') as server_version,
               current_setting('server_version_num')::int as server_version_num,
               pg_is_in_recovery() as in_recovery,
               (select timeline_id from pg_control_checkpoint()) as checkpoint_timeline,
               case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as current_lsn,
               pg_last_wal_receive_lsn()::text as received_lsn,
               pg_last_wal_replay_lsn()::text as replayed_lsn,
               extract(epoch from now() - pg_last_xact_replay_timestamp())::float as replay_delay_seconds,
               extract(epoch from now() - pg_postmaster_start_time())::float as uptime_seconds,
               current_setting('data_checksums') = 'on' as data_checksums,
               current_setting('wal_level') as wal_level""", dicts=True) or {})
    facts["role"] = "standby" if facts.pop("in_recovery") else "primary"
    facts["timeline"] = facts.pop("checkpoint_timeline")
    if facts["role"] == "standby":
        receiver = (g.session.row("""select received_tli, status, sender_host, sender_port, slot_name
                                from pg_stat_wal_receiver""", dicts=True) or {})
        facts["wal_receiver"] = receiver or None
        if receiver.get("received_tli"):
            facts["timeline"] = receiver["received_tli"]
    return facts


def replication_facts(g) -> dict:
    """Standbys streaming from this server, with their lag (the slots are the `slots` section)."""
    standbys = g.session.rows("""
        select application_name, client_addr::text as client_addr, state, sync_state,
               sent_lsn::text as sent_lsn, write_lsn::text as write_lsn, flush_lsn::text as flush_lsn,
               replay_lsn::text as replay_lsn,
               case when pg_is_in_recovery() then null
                    else pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint end as replay_lag_bytes,
               case when pg_is_in_recovery() then null
                    else pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint end as flush_lag_bytes,
               extract(epoch from write_lag)::float as write_lag_seconds,
               extract(epoch from flush_lag)::float as flush_lag_seconds,
               extract(epoch from replay_lag)::float as replay_lag_seconds
        from pg_stat_replication order by application_name""", dicts=True)
    return {"standbys": standbys,
            "synchronous_standby_names": (g.session.row("show synchronous_standby_names", dicts=True) or {})["synchronous_standby_names"]}


def connection_facts(g) -> dict:
    """Connections by state and as a share of max_connections; longest query; idle in transaction."""
    by_state = {r["state"] or "background": r["count"] for r in g.session.rows("""
        select state, count(*)::int as count from pg_stat_activity
        where backend_type = 'client backend' group by state""", dicts=True)}
    total = sum(by_state.values())
    max_connections = int((g.session.row("show max_connections", dicts=True) or {})["max_connections"])
    longest = (g.session.row("""
        select pid, usename as user, datname as database, state,
               extract(epoch from now() - query_start)::float as seconds, left(query, %s) as query
        from pg_stat_activity
        where backend_type = 'client backend' and state <> 'idle' and pid <> pg_backend_pid()
        order by query_start limit 1""", (QUERY_TEXT_LIMIT,), dicts=True) or {})
    return {"by_state": by_state, "total": total, "max_connections": max_connections,
            "used_share": round(total / max_connections, 4) if max_connections else None,
            "idle_in_transaction": by_state.get("idle in transaction", 0)
            + by_state.get("idle in transaction (aborted)", 0),
            "longest_running": longest or None}


def database_facts(g) -> dict:
    """Size and cache hit ratio of every database that accepts connections."""
    rows = g.session.rows("""
        select d.datname as name, pg_database_size(d.oid)::bigint as size_bytes,
               case when s.blks_hit + s.blks_read = 0 then null
                    else round(s.blks_hit::numeric / (s.blks_hit + s.blks_read), 4)::float end as cache_hit_ratio,
               s.xact_commit::bigint as commits, s.xact_rollback::bigint as rollbacks
        from pg_database d left join pg_stat_database s on s.datid = d.oid
        where d.datallowconn order by d.datname""", dicts=True)
    return {r.pop("name"): r for r in rows}


def tls_facts(g) -> dict:
    """Whether TLS is on, and client connections with and without it (pg_stat_ssl)."""
    rows = g.session.rows("""
        select s.ssl, s.version, count(*)::int as count
        from pg_stat_ssl s join pg_stat_activity a using (pid)
        where a.backend_type = 'client backend' group by s.ssl, s.version""", dicts=True)
    return {"ssl": (g.session.row("show ssl", dicts=True) or {})["ssl"] == "on",
            "connections_with_tls": sum(r["count"] for r in rows if r["ssl"]),
            "connections_without_tls": sum(r["count"] for r in rows if not r["ssl"]),
            "versions": {r["version"]: r["count"] for r in rows if r["ssl"]}}


def settings_facts(g) -> dict:
    """Settings whose new value waits for a restart."""
    return {"pending_restart": [r["name"] for r in g.session.rows("select name from pg_settings where pending_restart order by name", dicts=True)]}


def statement_facts(g) -> dict:
    """Top queries by total execution time from pg_stat_statements, or why there are none."""
    installed = (g.session.row("select extversion from pg_extension where extname = 'pg_stat_statements'", dicts=True) or {})
    if not installed:
        return {"available": False, "reason": "pg_stat_statements is not installed in database "
                f"{g.params.get('login_db') or 'postgres'!r} (CREATE EXTENSION, and shared_preload_libraries)"}
    loaded = "pg_stat_statements" in (g.session.row("show shared_preload_libraries", dicts=True) or {})["shared_preload_libraries"]
    if not loaded:
        return {"available": False, "reason": "pg_stat_statements is installed but not in shared_preload_libraries"}
    top = g.session.rows("""
        select left(query, %s) as query, calls::bigint as calls,
               round(total_exec_time::numeric, 3)::float as total_ms,
               round(mean_exec_time::numeric, 3)::float as mean_ms, rows::bigint as rows
        from pg_stat_statements order by total_exec_time desc limit %s""", (QUERY_TEXT_LIMIT, g.params["top_queries"]), dicts=True)
    return {"available": True, "top": top}


GATHERERS = {
    "server": server_facts,
    "replication": replication_facts,
    "slots": slot_facts,
    "connections": connection_facts,
    "databases": database_facts,
    "wraparound": wraparound_facts,
    "roles": role_facts,
    "extensions": extension_facts,
    "tablespaces": tablespace_facts,
    "publications": publication_facts,
    "subscriptions": subscription_facts,
    "tls": tls_facts,
    "settings": settings_facts,
    "statements": statement_facts,
    "container": container_facts,
}
