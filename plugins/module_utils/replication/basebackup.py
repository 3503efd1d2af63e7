# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A streaming standby's data volume filled from its upstream: pg_basebackup in a helper
container of the standby's image, standby.signal and primary_conninfo (the password in a
passfile of the secrets mount), its progress reported; shared by the replica module (a pgdock
upstream) and the migrate module's physical method (a server this collection did not make)."""

from __future__ import annotations

import time

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import REPLICATION_PGPASS, SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import poll_intervals, run_helper
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conf_string, conninfo

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

# $1 upstream host, $2 its port, $3 replication user, $4 PGDATA, then pg_basebackup's slot flags;
# the standby's settings in $STANDBY_CONF
BASE_BACKUP_SCRIPT = (
    'set -e; host=$1; port=$2; user=$3; pgdata=$4; shift 4; '
    'pg_basebackup -h "$host" -p "$port" -U "$user" -D "$pgdata" -X stream -c fast --no-password --progress "$@"; '
    'touch "$pgdata/standby.signal"; printf "%s" "$STANDBY_CONF" >> "$pgdata/postgresql.auto.conf"')


def standby_conf_lines(upstream: str, user: str, application_name: str, slot: str | None, port: int = 5432,
                       passfile: str = f"{SECRETS_MOUNT}/{REPLICATION_PGPASS}", sslmode: str = "prefer",
                       sslrootcert: str | None = None) -> str:
    """postgresql.auto.conf lines that make a cluster stream from `upstream` (password from a passfile;
    with `sslrootcert`, the CA file in the container that verifies the upstream)."""
    value = conninfo(host=upstream, port=port, user=user, application_name=application_name,
                     passfile=passfile, sslmode=sslmode, sslrootcert=sslrootcert)
    lines = f"primary_conninfo = {conf_string(value)}\n"
    if slot:
        lines += f"primary_slot_name = {conf_string(slot)}\n"
    return lines


def run_base_backup(client, image: str, layout, volume: str, secrets_dir: str, upstream: tuple, user: str,
                    conf: str, slot: str | None, what: str, timeout: int, watch, network: str | None = None,
                    mounts: list | None = None, passfile: str = f"{SECRETS_MOUNT}/{REPLICATION_PGPASS}",
                    tls: dict | None = None) -> tuple:
    """pg_basebackup from `upstream` (host, port) as `user` into `volume` at the image's PGDATA, in
    a helper on `network` with `mounts` too, then standby.signal and `conf`; (exit code, output).
    `tls`: libpq's TLS variables for pg_basebackup's own connection ({"PGSSLMODE": "verify-full",
    "PGSSLROOTCERT": ...}). A timeout raises HelperTimeout (the caller removes what it made)."""
    host, port = upstream
    return run_helper(
        client, image, ["sh", "-c", BASE_BACKUP_SCRIPT, "pgdock-basebackup", host, str(port), user, layout.pgdata]
        + (["-S", slot] if slot else []),
        [Mount(layout.volume_path, volume, type="volume"),
         Mount(SECRETS_MOUNT, secrets_dir, type="bind", read_only=True)] + list(mounts or []),
        what, network=network, environment={"PGPASSFILE": passfile, "STANDBY_CONF": conf, **(tls or {})},
        timeout=timeout, on_output=watch)


def replication_row(conn, application_name: str) -> dict | None:
    """The upstream's view of the standby `application_name`: state, sync_state, lag in bytes and seconds."""
    row = conn.row("""
        select state, sync_state,
               pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
                                    else pg_current_wal_lsn() end, replay_lsn)::bigint as lag_bytes,
               coalesce(extract(epoch from replay_lag), 0)::float as lag_seconds
        from pg_stat_replication where application_name = %s
        order by backend_start desc limit 1""", (application_name,))
    return dict(zip(("state", "sync_state", "lag_bytes", "lag_seconds"), row)) if row else None


def slot_exists(conn, slot: str) -> bool:
    return conn.row("select 1 from pg_replication_slots where slot_name = %s", (slot,)) is not None


def create_physical_slot(conn, slot: str) -> None:
    conn.run("select pg_create_physical_replication_slot(%s)", (slot,), what=f"creating slot {slot}")


def drop_slot(conn, slot: str, wait: float = 30) -> None:
    """Drop `slot`, first waiting up to `wait` s for the walsender of a just-stopped standby to let it go."""
    deadline = time.monotonic() + wait
    delays = poll_intervals()
    while True:
        row = conn.row("select active from pg_replication_slots where slot_name = %s", (slot,))
        if row is None or not row[0] or time.monotonic() > deadline:
            break
        time.sleep(next(delays))
    conn.run("select pg_drop_replication_slot(%s)", (slot,), what=f"dropping slot {slot}")
