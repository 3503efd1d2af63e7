# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a PostgreSQL server, by section: what operators watch (role, WAL
positions, standbys and their lag, connections, sizes, cache hits, TLS, pending restarts,
top queries). Every query only reads."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session

SECTIONS = ("server", "replication", "connections", "databases", "tls", "settings", "statements")
QUERY_TEXT_LIMIT = 200


def gather_info(module) -> dict:
    """Entry point of the `info` module."""
    p = module.params
    sections = SECTIONS if "all" in p["gather"] else tuple(s for s in SECTIONS if s in p["gather"])
    with Session(params=p) as session:
        info = {section: GATHERERS[section](session, p) for section in sections}
    return {"changed": False, "info": info}


def server_facts(session, params) -> dict:
    """Role, version, timeline and WAL positions (current on a primary, received/replayed on a standby)."""
    facts = (session.row("""
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
        receiver = (session.row("""select received_tli, status, sender_host, sender_port, slot_name
                                from pg_stat_wal_receiver""", dicts=True) or {})
        facts["wal_receiver"] = receiver or None
        if receiver.get("received_tli"):
            facts["timeline"] = receiver["received_tli"]
    return facts


def replication_facts(session, params) -> dict:
    """Standbys streaming from this server, with their lag, and its replication slots."""
    standbys = session.rows("""
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
    slots = session.rows("""
        select slot_name, slot_type, active, restart_lsn::text as restart_lsn,
               case when pg_is_in_recovery() or restart_lsn is null then null
                    else pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint end as retained_bytes
        from pg_replication_slots order by slot_name""", dicts=True)
    return {"standbys": standbys, "slots": slots,
            "synchronous_standby_names": (session.row("show synchronous_standby_names", dicts=True) or {})["synchronous_standby_names"]}


def connection_facts(session, params) -> dict:
    """Connections by state and as a share of max_connections; longest query; idle in transaction."""
    by_state = {r["state"] or "background": r["count"] for r in session.rows("""
        select state, count(*)::int as count from pg_stat_activity
        where backend_type = 'client backend' group by state""", dicts=True)}
    total = sum(by_state.values())
    max_connections = int((session.row("show max_connections", dicts=True) or {})["max_connections"])
    longest = (session.row("""
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


def database_facts(session, params) -> dict:
    """Size and cache hit ratio of every database that accepts connections."""
    rows = session.rows("""
        select d.datname as name, pg_database_size(d.oid)::bigint as size_bytes,
               case when s.blks_hit + s.blks_read = 0 then null
                    else round(s.blks_hit::numeric / (s.blks_hit + s.blks_read), 4)::float end as cache_hit_ratio,
               s.xact_commit::bigint as commits, s.xact_rollback::bigint as rollbacks
        from pg_database d left join pg_stat_database s on s.datid = d.oid
        where d.datallowconn order by d.datname""", dicts=True)
    return {r.pop("name"): r for r in rows}


def tls_facts(session, params) -> dict:
    """Whether TLS is on, and client connections with and without it (pg_stat_ssl)."""
    rows = session.rows("""
        select s.ssl, s.version, count(*)::int as count
        from pg_stat_ssl s join pg_stat_activity a using (pid)
        where a.backend_type = 'client backend' group by s.ssl, s.version""", dicts=True)
    return {"ssl": (session.row("show ssl", dicts=True) or {})["ssl"] == "on",
            "connections_with_tls": sum(r["count"] for r in rows if r["ssl"]),
            "connections_without_tls": sum(r["count"] for r in rows if not r["ssl"]),
            "versions": {r["version"]: r["count"] for r in rows if r["ssl"]}}


def settings_facts(session, params) -> dict:
    """Settings whose new value waits for a restart."""
    return {"pending_restart": [r["name"] for r in session.rows("select name from pg_settings where pending_restart order by name", dicts=True)]}


def statement_facts(session, params) -> dict:
    """Top queries by total execution time from pg_stat_statements, or why there are none."""
    installed = (session.row("select extversion from pg_extension where extname = 'pg_stat_statements'", dicts=True) or {})
    if not installed:
        return {"available": False, "reason": "pg_stat_statements is not installed in database "
                f"{params.get('login_db') or 'postgres'!r} (CREATE EXTENSION, and shared_preload_libraries)"}
    loaded = "pg_stat_statements" in (session.row("show shared_preload_libraries", dicts=True) or {})["shared_preload_libraries"]
    if not loaded:
        return {"available": False, "reason": "pg_stat_statements is installed but not in shared_preload_libraries"}
    top = session.rows("""
        select left(query, %s) as query, calls::bigint as calls,
               round(total_exec_time::numeric, 3)::float as total_ms,
               round(mean_exec_time::numeric, 3)::float as mean_ms, rows::bigint as rows
        from pg_stat_statements order by total_exec_time desc limit %s""", (QUERY_TEXT_LIMIT, params["top_queries"]), dicts=True)
    return {"available": True, "top": top}


GATHERERS = {
    "server": server_facts,
    "replication": replication_facts,
    "connections": connection_facts,
    "databases": database_facts,
    "tls": tls_facts,
    "settings": settings_facts,
    "statements": statement_facts,
}
