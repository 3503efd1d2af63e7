#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: monitor
short_description: Prometheus' postgres_exporter beside a PostgreSQL server in Docker
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Runs Prometheus' postgres_exporter in the container O(name) beside the server container
    O(server) (made by P(pgdock.postgres.container#module)), on the server's networks (or
    O(networks)), its port 9187 published on O(published_host_ip):O(published_port), so that
    C(http://127.0.0.1:<published_port>/metrics) serves the server's metrics.
  - The exporter logs in as O(role), a LOGIN role the module makes that is a member of the predefined
    role C(pg_monitor) only (no superuser, no other attribute or membership). Its password is
    generated once and kept in C(<secrets_dir>/password) on the Docker host (0600, owned by O(uid));
    it is set on the server as a SCRAM-SHA-256 verifier computed by the module, never as cleartext
    SQL. The directory is mounted read-only into the exporter, which reads the file
    (C(DATA_SOURCE_PASS_FILE)); the password is in no environment variable, command line or result.
  - When no rule of the server's C(pg_hba.conf) lets O(role) into O(dbname) with a password from
    the server's networks, a C(scram-sha-256) rule is put first (checked before it is loaded).
  - The container is recreated only when its spec (image, networks, port, uid, directory,
    connection) changes; a second run with the same options changes nothing.
  - The server must be a primary (the role is made there and replicated to its standbys).
  - To collect C(pg_stat_statements), load it with the server role's
    C(pgdock_server_pg_stat_statements) (or P(pgdock.postgres.config#module) and
    P(pgdock.postgres.database#module)); postgres_exporter 0.11 exports it only through a custom
    queries file (C(--extend.query-path)).
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the digest of the exporter container's spec (label C(org.pgdock.exporter-spec)).
options:
  server:
    description:
      - The server container to watch, made by P(pgdock.postgres.container#module) and running.
        Required with O(state=present) and with O(remove_role=true).
    type: str
  name:
    description: Name of the exporter container; defaults to C(<server>-exporter).
    type: str
  state:
    description:
      - V(present) or V(absent). V(absent) removes the container; with O(remove_role=true) also the
        role and its password file.
    type: str
    choices: [present, absent]
    default: present
  image:
    description:
      - postgres_exporter image (0.11 or later, reading C(DATA_SOURCE_URI), C(DATA_SOURCE_USER) and
        C(DATA_SOURCE_PASS_FILE)). The test bed builds one from Debian's package.
    type: str
    default: quay.io/prometheuscommunity/postgres-exporter:latest
  pull:
    description: V(missing) pulls the image when absent, V(always) every run, V(never) not at all.
    type: str
    choices: [missing, always, never]
    default: missing
  role:
    description: The monitoring role the exporter logs in as (LOGIN, member of C(pg_monitor) only).
    type: str
    default: pgdock_monitor
  dbname:
    description: Database the exporter connects to (the statistics of every database are read from there).
    type: str
    default: postgres
  sslmode:
    description:
      - TLS mode of the exporter's connection to the server (its lib/pq driver knows no C(prefer)).
        V(auto) is V(require) when the server has TLS on, else V(disable).
    type: str
    choices: [auto, disable, require]
    default: auto
  networks:
    description: Networks of the exporter; defaults to the server's. One must be shared with the server.
    type: list
    elements: str
  published_port:
    description: Host port publishing the exporter's 9187.
    type: int
    default: 9187
  published_host_ip:
    description: Host address the port is published on.
    type: str
    default: 127.0.0.1
  secrets_dir:
    description:
      - Host directory of the password file, mounted read-only into the exporter; defaults to
        C(monitor) beside the server's secrets directory (C(/var/lib/pgdock/<server>/monitor)).
    type: path
  uid:
    description: User id the exporter runs as and that owns the password file (65534, nobody, as in the upstream image).
    type: int
    default: 65534
  remove_role:
    description: With O(state=absent), also drop O(role) on O(server) and remove O(secrets_dir).
    type: bool
    default: false
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.config
"""

EXAMPLES = r"""
- name: postgres_exporter beside pg-primary, metrics on http://127.0.0.1:9187/metrics
  pgdock.postgres.monitor:
    server: pg-primary

- name: On another port, from a local image
  pgdock.postgres.monitor:
    server: pg-primary
    name: pg-primary-metrics
    image: pgdock-test/postgres-exporter:latest
    pull: never
    published_port: 19187

- name: Remove the exporter and its role
  pgdock.postgres.monitor:
    server: pg-primary
    state: absent
    remove_role: true
"""

RETURN = r"""
monitor:
  description: The exporter as configured.
  returned: when O(state=present)
  type: dict
  contains:
    name:
      description: Exporter container name.
      type: str
    server:
      description: The server it watches.
      type: str
    role:
      description: The role it logs in as.
      type: str
    password_file:
      description: Where the role's password is kept on the Docker host (the password is never returned).
      type: str
    url:
      description: Where the metrics are served.
      type: str
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.monitor.engine import ensure_monitor
from ansible_collections.pgdock.postgres.plugins.module_utils.monitor.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_monitor)


if __name__ == "__main__":
    main()
