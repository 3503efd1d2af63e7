#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pooler
short_description: A PgBouncer connection pooler in front of a PostgreSQL primary in Docker
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Runs PgBouncer in the container O(name), on the primary's networks (or O(networks)), its port
    6432 published on O(published_host_ip):O(published_port). Its databases point at the primary
    container O(primary) by its name on the shared network.
  - The module writes C(pgbouncer.ini) and the auth file into O(secrets_dir)/etc on the Docker host
    (0600, owned by O(uid)) and mounts that directory read-only at C(/etc/pgbouncer). A changed file
    is applied with the admin console's C(RELOAD); only settings PgBouncer reads at start-up
    (C(listen_addr), C(listen_port), C(unix_socket_dir)...) restart the container. A second run with
    the same options changes nothing.
  - "Authentication is SCRAM-SHA-256 and no cleartext password is ever written. With
    O(auth=auth_query) PgBouncer looks each client's SCRAM verifier up on the server as
    O(auth_user), a role with no password and no privilege but EXECUTE on one SECURITY DEFINER
    function (C(pgdock_pooler.lookup), in O(auth_dbname)) that returns the verifier of a login role
    that is not a superuser. That role logs in with a TLS client certificate (O(server_tls_cert_file),
    CN = O(auth_user)) through a C(hostssl ... cert) rule the module puts first in C(pg_hba.conf) of
    the primary and of its standbys. Password changes apply at once."
  - "With O(auth=userlist) (the default) the auth file holds the SCRAM verifiers of O(users), copied
    from the primary's C(pg_authid); re-run the module after a password change. In both cases clients
    authenticate with SCRAM and PgBouncer logs into the server with the keys of that exchange."
  - The module's own admin user C(pgdock_admin) exists only in PgBouncer (its verifier in the auth
    file, its password in O(secrets_dir)/admin_password, 0600 root, outside the container). It is
    what P(pgdock.postgres.switchover#module) uses to PAUSE, repoint and RESUME the pooler.
  - C(pool_mode=transaction) (the default) is what makes a switchover invisible to clients, since
    PAUSE then waits for running transactions only.
  - "TLS towards the clients (O(client_tls_sslmode), off by default): PgBouncer presents
    O(client_tls_cert_file), a server certificate for the names clients connect to (the container's
    name and aliases on its networks, C(localhost), C(127.0.0.1), the host's name); with
    V(verify-ca) or V(verify-full) it also asks every client for a certificate from
    O(client_tls_ca_file). The files are copied into the pooler's C(etc/); a new certificate or key
    (a renewal by P(pgdock.postgres.tls#module) at the same path) is copied on the next run and served
    after a C(RELOAD), without a restart: new connections get it, running ones keep theirs. Needs
    PgBouncer 1.16 or later (TLS settings changed by RELOAD)."
  - The module's own admin connection (and the switchover's) follows it, in plaintext while the
    pooler accepts it, with TLS from V(require) on, and with O(admin_tls_cert_file) as its client
    certificate under V(verify-ca) and V(verify-full). The switchover is not otherwise touched by client TLS.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows C(pgbouncer.ini) (it holds no secret).
options:
  name:
    description: Name of the pooler container.
    type: str
    required: true
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  primary:
    description:
      - The primary's container, made by P(pgdock.postgres.container#module), publishing its port.
        Required with O(state=present) unless O(server_host) is given. A standby is refused.
    type: str
  server_host:
    description:
      - Instead of O(primary), a PostgreSQL server that is not a pgdock container (a server on
        another machine, or one being migrated into Docker by P(pgdock.postgres.migrate#module)),
        its host name or address as the pooler container reaches it on one of O(networks).
      - The module reads the SCRAM verifiers of O(users) from its C(pg_authid) through O(login_host)
        (a superuser login), so O(auth=userlist) only.
      - At a cutover P(pgdock.postgres.migrate#module) repoints the pooler to the new container
        (port 5432 on the shared network); then give the pooler task O(primary) instead, or a later
        run points it back at O(server_host).
    type: str
  server_port:
    description: The port of O(server_host).
    type: int
    default: 5432
  login_host:
    description:
      - With O(server_host), where this module reaches that server from the Docker host. Required with O(server_host) (or O(login_unix_socket)).
      - With O(server_tls_sslmode) V(verify-ca) or V(verify-full), this login checks the server's certificate
        against O(server_tls_ca_file) as PgBouncer does (so that name must be in the certificate too).
    type: str
  login_port:
    description: With O(server_host), its port as the Docker host reaches it (default O(server_port)).
    type: int
  login_user:
    description: With O(server_host), the role this module logs in as (one that can read C(pg_authid), a superuser).
    type: str
    default: postgres
  login_password:
    description: With O(server_host), the password of O(login_user).
    type: str
  login_db:
    description: With O(server_host), the database this module logs in to.
    type: str
    default: postgres
  login_unix_socket:
    description: With O(server_host), the directory of its unix socket on the Docker host (instead of O(login_host)).
    type: path
  image:
    description:
      - PgBouncer image. Any image whose entrypoint runs the command it is given
        (C(pgbouncer /etc/pgbouncer/pgbouncer.ini)) works; the test bed builds one from Debian's package.
    type: str
    default: edoburu/pgbouncer:latest
  pull:
    description: V(missing) pulls the image when absent, V(always) every run, V(never) not at all.
    type: str
    choices: [missing, always, never]
    default: missing
  databases:
    description:
      - Databases the pooler serves. Empty means every database, by the same name (a C(*) entry).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name clients connect to.
        type: str
        required: true
      dbname:
        description: Database on the server; defaults to O(databases[].name).
        type: str
      pool_size:
        description: Server connections for this database; defaults to O(default_pool_size).
        type: int
      pool_mode:
        description: Pool mode of this database.
        type: str
        choices: [session, transaction, statement]
  users:
    description:
      - Roles whose verifiers go into the auth file; each needs LOGIN and a SCRAM-SHA-256 password.
        Required with O(auth=userlist).
    type: list
    elements: str
    default: []
  auth:
    description: How PgBouncer learns the verifiers, V(userlist) (copied by the module) or V(auth_query) (looked up on the server).
    type: str
    choices: [userlist, auth_query]
    default: userlist
  auth_user:
    description: With O(auth=auth_query), the lookup role; created by the module without a password.
    type: str
    default: pgdock_pooler_lookup
  auth_dbname:
    description: With O(auth=auth_query), the database that holds the lookup function.
    type: str
    default: postgres
  server_tls_cert_file:
    description: With O(auth=auth_query), the client certificate (PEM, CN = O(auth_user)) PgBouncer presents to the server.
    type: path
  server_tls_key_file:
    description: Its private key (PEM); copied into the pooler's configuration directory (0600).
    type: path
  pool_mode:
    description: Default pool mode.
    type: str
    choices: [session, transaction, statement]
    default: transaction
  max_client_conn:
    description: Client connections the pooler accepts.
    type: int
    default: 500
  default_pool_size:
    description: Server connections per database and user.
    type: int
    default: 20
  reserve_pool_size:
    description: Extra server connections when clients wait longer than O(reserve_pool_timeout).
    type: int
    default: 5
  reserve_pool_timeout:
    description: Seconds a client waits before the reserve pool is used.
    type: int
    default: 3
  query_wait_timeout:
    description: Seconds a client may wait for a server connection (also during a PAUSE) before it is disconnected.
    type: int
    default: 120
  server_connect_timeout:
    description: Seconds to wait for a server connection.
    type: int
    default: 5
  server_tls_sslmode:
    description: TLS towards the server (PgBouncer's C(server_tls_sslmode)).
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
    default: prefer
  server_tls_ca_file:
    description: CA certificate (PEM, on the Docker host) that signed the server certificates; required to verify them.
    type: path
  client_tls_sslmode:
    description:
      - TLS towards the pooler's clients (PgBouncer's C(client_tls_sslmode)). V(disable) offers none
        (as before this option existed); V(allow) and V(prefer) accept TLS and plaintext; V(require)
        refuses plaintext; V(verify-ca) and V(verify-full) also want a client certificate signed by
        O(client_tls_ca_file) (PgBouncer checks no name in it for either).
      - Anything but V(disable) needs O(client_tls_cert_file) and O(client_tls_key_file).
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
    default: disable
  client_tls_cert_file:
    description:
      - Certificate (PEM, on the Docker host) PgBouncer presents to its clients, with the names they
        connect to as SANs. Copied into the configuration directory; a changed file is copied and
        served after a RELOAD.
    type: path
  client_tls_key_file:
    description: Its private key (PEM); copied into the configuration directory (0600, owned by O(uid)).
    type: path
  client_tls_ca_file:
    description:
      - CA certificate (PEM, on the Docker host) that signs the certificates clients present.
        Required with O(client_tls_sslmode=verify-ca) or V(verify-full).
    type: path
  admin_tls_cert_file:
    description:
      - With O(client_tls_sslmode=verify-ca) or V(verify-full), the client certificate (PEM, signed by
        O(client_tls_ca_file)'s CA, for example CN C(pgdock_admin)) of the module's admin
        connection. Copied beside the admin password, outside the container (0600, root).
    type: path
  admin_tls_key_file:
    description: Its private key (PEM).
    type: path
  settings:
    description:
      - More C([pgbouncer]) settings, e.g. C(server_idle_timeout). Those the module manages
        (listen, auth, admin and file settings) are refused.
    type: dict
    default: {}
  networks:
    description:
      - Networks of the pooler (the application's and the database's); defaults to the primary's.
        One must be shared with the primary.
      - Required with O(server_host).
    type: list
    elements: str
  published_port:
    description: Host port publishing PgBouncer's 6432. Required with O(state=present).
    type: int
  published_host_ip:
    description: Host address the port is published on.
    type: str
    default: 127.0.0.1
  secrets_dir:
    description: Host directory for the configuration (C(etc/)) and the admin password; defaults to C(/var/lib/pgdock/<name>/pooler).
    type: path
  uid:
    description: User id PgBouncer runs as and that owns its files.
    type: int
    default: 999
  remove_config:
    description: With O(state=absent), also remove O(secrets_dir).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the admin console to answer after a start or reload.
    type: int
    default: 60
seealso:
  - module: pgdock.postgres.switchover
  - module: pgdock.postgres.container
"""

EXAMPLES = r"""
- name: Client certificate of the lookup role, from the CA that signed the server's certificate
  pgdock.postgres.tls:
    ca_dir: /var/lib/pgdock/pg-primary/ca
    client_certs: [pgdock_pooler_lookup]
    client_dir: /var/lib/pgdock/pg-pooler/client

- name: PgBouncer with auth_query (no password stored anywhere)
  pgdock.postgres.pooler:
    name: pg-pooler
    primary: pg-primary
    published_port: 6432
    auth: auth_query
    server_tls_sslmode: verify-full
    server_tls_ca_file: /var/lib/pgdock/pg-primary/ca/ca.crt
    server_tls_cert_file: /var/lib/pgdock/pg-pooler/client/pgdock_pooler_lookup.crt
    server_tls_key_file: /var/lib/pgdock/pg-pooler/client/pgdock_pooler_lookup.key

- name: The certificate PgBouncer presents to its clients, from the server's CA
  pgdock.postgres.tls:
    ca_dir: /var/lib/pgdock/pg-primary/ca
    dest_dir: /var/lib/pgdock/pg-pooler/tls
    container: pg-pooler
    common_name: pg-pooler
    subject_alt_names: [db.example.com]
    reload: false

- name: PgBouncer that refuses clients without TLS
  pgdock.postgres.pooler:
    name: pg-pooler
    primary: pg-primary
    published_port: 6432
    users: [app]
    client_tls_sslmode: require
    client_tls_cert_file: /var/lib/pgdock/pg-pooler/tls/server.crt
    client_tls_key_file: /var/lib/pgdock/pg-pooler/tls/server.key

- name: PgBouncer in front of pg-primary, transaction pooling
  pgdock.postgres.pooler:
    name: pg-pooler
    primary: pg-primary
    image: edoburu/pgbouncer:latest
    networks: [app, pgdata]
    published_port: 6432
    users: [app]
    databases:
      - name: app
        pool_size: 30

- name: PgBouncer in front of a server outside Docker's control (before its migration)
  pgdock.postgres.pooler:
    name: app-pooler
    server_host: db1.example.com
    login_host: db1.example.com
    login_password: "{{ vault_db1_password }}"
    networks: [app]
    published_port: 6432
    users: [app]
"""

RETURN = r"""
pooler:
  description: The pooler as configured.
  returned: when O(state=present)
  type: dict
  contains:
    name:
      description: Container name.
      type: str
    primary:
      description: Container its databases point at (none with O(server_host)).
      type: str
    server:
      description: Host and port its databases point at.
      type: str
    port:
      description: Published port.
      type: int
    pool_mode:
      description: Default pool mode.
      type: str
    users:
      description: Roles in the auth file.
      type: list
      elements: str
    databases:
      description: Database entries (V(*) for all).
      type: list
      elements: str
    client_tls_sslmode:
      description: TLS towards the clients (O(client_tls_sslmode)).
      type: str
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.engine import ensure_pooler
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_pooler)


if __name__ == "__main__":
    main()
