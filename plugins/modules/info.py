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
    seconds, and the replication slots with the WAL they retain.
  - Connections by state and as a share of C(max_connections), the longest running query, the
    number of sessions idle in a transaction.
  - Size and cache hit ratio of each database, TLS use (C(pg_stat_ssl)), settings pending a restart,
    and the top queries from C(pg_stat_statements) when that extension is installed and loaded (the
    result says why not otherwise).
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
    description: Sections to gather.
    type: list
    elements: str
    choices: [all, server, replication, connections, databases, tls, settings, statements]
    default: [all]
  top_queries:
    description: Number of top queries (by total execution time) to return from C(pg_stat_statements).
    type: int
    default: 10
notes:
  - Query texts are cut to 200 characters.
seealso:
  - module: pgdock.postgres.container
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
        replay_lag_bytes, flush_lag_bytes, write/flush/replay_lag_seconds), slots (slot_name,
        active, restart_lsn, retained_bytes) and synchronous_standby_names.
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
  sample:
    server: {role: primary, server_version: "18.1", timeline: 1, current_lsn: 0/3000148}
    replication: {standbys: [{application_name: pg-replica1, state: streaming, replay_lag_bytes: 0}]}
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
