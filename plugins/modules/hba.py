#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hba
short_description: The pg_hba.conf of a PostgreSQL container, as an ordered list of rules
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Replaces the client authentication file (the server's C(hba_file), C($PGDATA/pg_hba.conf)) inside
    a container made by P(pgdock.postgres.container#module) with an exact, ordered list of rules,
    O(rules) as given, or the O(default_rules) of a production server plus O(extra_rules).
  - Rules are compared, not text, so comments and spacing do not count as a change.
  - The new file is checked by the server (C(pg_hba_file_rules)) before it is loaded. When the
    server finds an error, the previous file is put back and the task fails with the server's
    messages and the lines concerned; the server keeps running on the previous rules.
  - After the reload (C(pg_reload_conf)), the module opens a new connection. When the new rules
    refuse it, the previous file is put back and reloaded, and the task fails, so a wrong rule
    cannot lock the automation out.
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
    support: full
    details: The diff shows the rules before and after, one per line.
options:
  container:
    description:
      - The running container made by P(pgdock.postgres.container#module) whose pg_hba.conf is managed.
        Its published port, superuser and password file fill in the login options not given.
    type: str
    required: true
  rules:
    description:
      - The exact list of rules, in order. Required unless O(default_rules=true).
    type: list
    elements: dict
    suboptions: &rule
      type:
        description:
          - V(local) is the Unix socket in the container; V(host) any TCP connection; V(hostssl) only
            TLS; V(hostnossl) only without TLS; V(hostgssenc) and V(hostnogssenc) with or without GSSAPI encryption.
        type: str
        choices: [local, host, hostssl, hostnossl, hostgssenc, hostnogssenc]
        default: host
      database:
        description:
          - Database names, or V(all), V(sameuser), V(samerole), V(replication). Names that need
            quotes in the file are quoted. A string is split at commas; give a list for names with commas.
        type: list
        elements: str
        default: [all]
      user:
        description: Role names, V(all), or V(+group) for members of a role.
        type: list
        elements: str
        default: [all]
      address:
        description:
          - Client address for the host types, in CIDR form (V(10.0.0.0/8); a bare IP gets /32 or
            /128), V(all), V(samehost), V(samenet) or a host name. Not allowed for V(local).
        type: str
      method:
        description:
          - Authentication method, for example V(scram-sha-256), V(cert), V(peer), V(reject), V(trust).
            The server checks it; an unknown method fails the task and keeps the previous file.
        type: str
        required: true
      options:
        description: Method options by name, for example C(clientcert) set to V(verify-full), or C(map).
        type: dict
        default: {}
  default_rules:
    description:
      - Use the rules of a production server instead of O(rules), in this order.
      - C(hostssl <database> <user> <subnet> cert) for each of O(cert_logins) and each subnet, first.
      - Unix socket, C(local all postgres peer) first when the superuser is named C(postgres) (the
        image's OS user may then use psql in the container without a password), then C(local all all
        scram-sha-256). A superuser of another name has no OS user of its own, so it uses its password
        on the socket too.
      - TCP on the container's own loopback (127.0.0.1/32, ::1/128) with C(scram-sha-256).
      - C(hostssl all all <subnet> scram-sha-256) for each subnet of every Docker network the container
        is attached to. Connections from the Docker host through the port published on 127.0.0.1
        arrive from the network's gateway, inside the subnet, so they are covered.
      - C(hostssl replication <replication_user>,<superuser> <subnet> scram-sha-256) for each subnet;
        standbys stream as O(replication_user), physical backups connect as the superuser (which the
        rules above already let in for everything else).
      - O(extra_rules), at O(extra_rules_position).
      - C(hostnossl all all all reject) and C(host all all all reject), so everything else is refused.
    type: bool
    default: false
  require_ssl:
    description:
      - With O(default_rules), accept connections from the networks only over TLS (C(hostssl)). The
        server must have C(ssl=on) (see P(pgdock.postgres.tls#module)), otherwise the task fails
        before anything is written, as every client would be refused.
      - V(false) uses C(host) for the network rules, so clients may connect without TLS.
    type: bool
    default: true
  replication_user:
    description: With O(default_rules), the role that streaming replicas connect as (besides the superuser).
    type: str
  cert_logins:
    description:
      - With O(default_rules), roles that log in with a TLS client certificate (CN = role name) from
        the networks, before every other rule. P(pgdock.postgres.pooler#module) with O(pgdock.postgres.pooler#module:auth=auth_query)
        needs its lookup role here (the server role adds it).
    type: list
    elements: dict
    default: []
    suboptions:
      user:
        description: Role name.
        type: str
        required: true
      database:
        description: Database it may connect to.
        type: str
        default: postgres
  extra_rules:
    description: More rules, same keys as O(rules). With O(rules) they are appended.
    type: list
    elements: dict
    default: []
    suboptions: *rule
  extra_rules_position:
    description:
      - With O(default_rules), where O(extra_rules) go. V(before_reject) puts them after the default
        accept rules, just before the final reject rules; V(first) puts them before every default rule
        (to refuse something the defaults would accept).
    type: str
    choices: [before_reject, first]
    default: before_reject
  postgres_uid:
    description: Uid (and gid) of the postgres user in the image; owns the file (mode 0600).
    type: int
    default: 999
notes:
  - The whole file is replaced; include directives and comments of the previous file are not kept.
  - The server must be running; the module needs a superuser connection (to read C(pg_hba_file_rules)
    and to reload).
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.tls
"""

EXAMPLES = r"""
- name: Production rules; TLS-only from the container's networks, everything else refused
  pgdock.postgres.hba:
    container: pg-main
    default_rules: true
    replication_user: replicator

- name: Defaults plus client certificates for an administrators' network
  pgdock.postgres.hba:
    container: pg-main
    default_rules: true
    extra_rules:
      - type: hostssl
        address: 10.8.0.0/24
        user: [+admins]
        method: cert
        options:
          clientcert: verify-full

- name: An exact rule list
  pgdock.postgres.hba:
    container: pg-main
    rules:
      - {type: local, method: peer}
      - {type: hostssl, database: [app], user: [app], address: 172.20.0.0/16, method: scram-sha-256}
      - {type: host, address: all, method: reject}
"""

RETURN = r"""
hba_file:
  description: Path of pg_hba.conf inside the container.
  returned: always
  type: str
  sample: /var/lib/postgresql/18/docker/pg_hba.conf
rules:
  description: The rules wanted, in order, in the shape of O(rules) (names as written in the file).
  returned: always
  type: list
  elements: dict
  sample:
    - {type: local, database: [all], user: [all], address: null, method: scram-sha-256, options: {}}
    - {type: hostssl, database: [all], user: [all], address: 172.20.0.0/16, method: scram-sha-256, options: {}}
    - {type: host, database: [all], user: [all], address: all, method: reject, options: {}}
errors:
  description: The server's messages about the rejected file.
  returned: when the server rejected the new file
  type: list
  elements: str
  sample: ['invalid authentication method "scram-sha-257"']
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.hba.engine import ensure_hba
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_hba)


if __name__ == "__main__":
    main()
