#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: info
short_description: Facts about a PostgreSQL server that operators watch
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Reads, never writes. Safe in check mode.
  - Role (primary or standby), server version, timeline and WAL positions (current, received, replayed).
  - On a primary, every standby with its state, sync state and write/flush/replay lag in bytes and
    seconds.
  - Every replication slot with the WAL it retains; inactive slots are reported as warnings (an
    inactive slot keeps WAL until the disk is full).
  - Transaction ID wraparound per database (age of C(datfrozenxid) and C(datminmxid) against
    C(autovacuum_freeze_max_age) and the hard limit), with a warning above 50% of the hard limit.
  - Roles with their attributes, memberships and the kind of password (never the verifier),
    tablespaces, and per database the extensions (and their available updates), publications and
    subscriptions (the connection string only with its password masked).
  - Connections by state and as a share of C(max_connections), the longest running query, the
    number of sessions idle in a transaction.
  - Size and cache hit ratio of each database, TLS use (C(pg_stat_ssl)), settings pending a restart,
    and the top queries from C(pg_stat_statements) when that extension is installed and loaded (the
    result says why not otherwise).
  - With O(container), the Docker side of the server (image, volume, PGDATA and layout, mounts,
    networks, published ports, pgdock labels).
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
  - pgdock.postgres.postgres
  - pgdock.postgres.postgres.login_alias
  - pgdock.postgres.postgres.ca_cert_alias
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  gather:
    description:
      - Sections to gather, like the C(filter) of C(community.postgresql.postgresql_info).
      - V(all), or section names among V(server), V(replication), V(slots), V(connections),
        V(databases), V(wraparound), V(roles), V(extensions), V(tablespaces), V(publications),
        V(subscriptions), V(tls), V(settings), V(statements), V(container).
      - An entry C(!name) leaves a section out; a list of such entries alone starts from all
        sections (V(['!container']) is everything but the container).
      - Any other name fails the task with the list of valid names.
    type: list
    elements: str
    default: [all]
  top_queries:
    description: Number of top queries (by total execution time) to return from C(pg_stat_statements).
    type: int
    default: 10
notes:
  - Query texts are cut to 200 characters.
  - The per-database sections (V(extensions), V(publications), V(subscriptions)) open one session on
    every database that allows connections; a database the login cannot connect to is listed under
    C(errors) of the section.
  - The password kind of roles needs a login that may read C(pg_authid) (a superuser); otherwise it
    is null and C(password_kind_readable) is false.
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.replica
"""

EXAMPLES = r"""
- name: Facts of the primary, through its container
  pgdock.postgres.info:
    container: pg-primary
  register: pg

- name: Every standby streams with less than 16 MB of lag
  ansible.builtin.assert:
    that:
      - pg.info.replication.standbys | length == 2
      - pg.info.replication.standbys | map(attribute='replay_lag_bytes') | max < 16777216

- name: Day-one checks, without the statistics of pg_stat_statements
  pgdock.postgres.info:
    container: pg-primary
    gather: [all, "!statements"]
  register: day_one

- name: No inactive slot holds WAL, no database is near wraparound
  ansible.builtin.assert:
    that:
      - day_one.info.slots.inactive | length == 0
      - day_one.info.wraparound.closest.percent_of_hard_limit < 50
    fail_msg: "{{ day_one.info.slots.warnings + day_one.info.wraparound.warnings }}"

- name: No login role keeps an MD5 password
  ansible.builtin.assert:
    that:
      - day_one.info.roles.roles | dict2items | selectattr('value.password_kind', 'equalto', 'md5') | list | length == 0

- name: Only the slots, on a server reached by its address
  pgdock.postgres.info:
    login_host: db1.example.com
    login_port: 5432
    login_user: monitor
    login_password: "{{ monitor_password }}"
    gather: [slots]
"""

RETURN = r"""
info:
  description: One key per gathered section.
  returned: always
  type: dict
  contains:
    server:
      description: role (V(primary)/V(standby)), server_version, server_version_num, timeline,
        current_lsn, received_lsn, replayed_lsn, replay_delay_seconds, uptime_seconds,
        data_checksums, wal_level, and on a standby wal_receiver (status, sender_host, slot_name).
      type: dict
      returned: when gathered
    replication:
      description: standbys (application_name, client_addr, state, sync_state, LSNs,
        replay_lag_bytes, flush_lag_bytes, write/flush/replay_lag_seconds) and
        synchronous_standby_names. The slots are in RV(info.slots).
      type: dict
      returned: when gathered
    slots:
      description:
        - C(slots), a list of every replication slot, by name, with slot_name, slot_type, plugin,
          database, temporary, active, active_pid, wal_status, safe_wal_size, restart_lsn,
          confirmed_flush_lsn (logical slots), retained_bytes (the WAL it holds, against the current
          WAL position on a primary and the received or replayed one on a standby; null without a
          restart_lsn), and where the server has them two_phase (14+), conflicting (16+),
          inactive_since, invalidation_reason, failover, synced (17+).
        - C(inactive), the names of the inactive slots; C(inactive_retained_bytes), the WAL they
          retain together; C(warnings), one per inactive slot and per slot that lost WAL (also
          given as the task's warnings).
      type: dict
      returned: when gathered
    connections:
      description: by_state, total, max_connections, used_share, idle_in_transaction, longest_running.
      type: dict
      returned: when gathered
    databases:
      description: Per database, size_bytes, cache_hit_ratio, commits, rollbacks.
      type: dict
      returned: when gathered
    wraparound:
      description:
        - C(databases), per database allows_connections, xid_age (age of datfrozenxid), mxid_age
          (mxid_age of datminmxid), and each as a percentage of its autovacuum freeze age
          (xid_percent_of_freeze_max_age, mxid_percent_of_freeze_max_age) and of the hard limit
          (xid_percent_of_hard_limit, mxid_percent_of_hard_limit).
        - C(hard_limit), the age at which the server stops assigning IDs (2^31 minus 3 million);
          autovacuum_freeze_max_age, autovacuum_multixact_freeze_max_age, warn_percent (50).
        - C(closest), the database closest to the hard limit (database, percent_of_hard_limit,
          xid_age, mxid_age); C(warnings), one per database above warn_percent of the hard limit.
      type: dict
      returned: when gathered
    roles:
      description:
        - C(roles), per role (not the predefined pg_* roles) superuser, login, replication, createdb,
          createrole, bypassrls, inherit, connection_limit, valid_until (ISO 8601 UTC, V(infinity) or
          null), member_of (role names), password_kind (V(scram-sha-256), V(md5), V(none), or null
          when pg_authid is not readable).
        - C(password_kind_readable), whether the login could read pg_authid. No verifier is returned.
      type: dict
      returned: when gathered
    extensions:
      description:
        - C(databases), per database that allows connections, per extension version, schema,
          default_version (what the installed package offers), update_available.
        - C(updates_available), a list of database, name, version, default_version;
          C(errors), per database that could not be read, why.
      type: dict
      returned: when gathered
    tablespaces:
      description: C(tablespaces), per tablespace owner, location (null for pg_default and
        pg_global), options, size_bytes (null where the login may not measure it).
      type: dict
      returned: when gathered
    publications:
      description: C(databases), per database, per publication owner, all_tables, operations
        (insert, update, delete, truncate), via_root, table_count, tables (schema-qualified; null
        for a publication of all tables), schemas (TABLES IN SCHEMA); C(errors) as for extensions.
      type: dict
      returned: when gathered
    subscriptions:
      description: C(databases), per database, per subscription owner, enabled, publications,
        slot_name, synchronous_commit, worker_pid, relations (count per sync state, V(initialize),
        V(data_copy), V(finished_copy), V(synchronized), V(ready)), conninfo (with the password
        masked; null when the login may not read it or it does not parse); C(errors) as for extensions.
      type: dict
      returned: when gathered
    tls:
      description: ssl, connections_with_tls, connections_without_tls, versions.
      type: dict
      returned: when gathered
    settings:
      description: pending_restart, the settings waiting for a restart.
      type: dict
      returned: when gathered
    statements:
      description: available, and top (query, calls, total_ms, mean_ms, rows) or reason.
      type: dict
      returned: when gathered
    container:
      description: With O(container), name, id, image, image_id, repo_tags, repo_digests, created,
        started_at, status, health, restart_count, restart_policy, data_volume, pgdata, layout
        (major, pgdata, volume_path, pgdata_in_volume, style V(pre-18) or V(18+)), mounts (type,
        source, destination, read_only), networks (per network ip_address, ipv6_address, aliases,
        gateway), published_ports (container port to host address:port), labels (the org.pgdock.*
        ones), topology (role, upstream, synchronous from the labels). Empty without O(container)
        (see RV(notes)).
      type: dict
      returned: when gathered
  sample:
    server: {role: primary, server_version: "18.1", timeline: 1, current_lsn: 0/3000148}
    replication: {standbys: [{application_name: pg-replica1, state: streaming, replay_lag_bytes: 0}]}
    slots: {inactive: [old_standby], inactive_retained_bytes: 1073741824, warnings: ["replication slot 'old_standby' ..."]}
notes:
  description: Why a gathered section is empty (the container section without O(container)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.info.engine import gather_info
from ansible_collections.pgdock.postgres.plugins.module_utils.info.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, gather_info, needs_docker=bool(module.params.get("container")))


if __name__ == "__main__":
    main()
