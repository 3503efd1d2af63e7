#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: diagnose
short_description: Why a client cannot reach a PostgreSQL server in Docker, and what fixes it
version_added: 0.2.0
author: pgdock.postgres developers (@pgdock)
description:
  - From where a client stands - inside its container's network namespace (O(client)), or on a
    Docker network (O(network)) - a helper container resolves the server's name and logs in with psql
    as the client would. When that fails, the server's side is read (its state, settings, the log lines
    of that very attempt, its pg_hba.conf rules, its connections) and the module returns the cause,
    the evidence and the fix.
  - Causes (RV(cause)) - V(ok); V(server_down); V(name_not_resolved) (the client is on Docker's default
    bridge, shares no network with the server, or uses a name the server does not have there; the
    networks of both are named and the P(pgdock.postgres.network#module) call that joins them given);
    V(connection_refused) (nothing listens there - a published port used from a container, the wrong
    port, C(listen_addresses)); V(timeout) and V(no_route) (an address on a network the client is not
    on); V(tls_unavailable), V(tls_failed), V(tls_required); V(no_hba_entry) and V(hba_rejects) (SQLSTATE
    28000, with the rules and the one to add); V(password_failed) (28P01, with the rule that matched),
    V(password_missing), V(password_not_set), V(password_expired), V(role_missing), V(login_not_allowed);
    V(database_missing) (3D000, with the databases there are); V(too_many_clients) (53300, with
    C(max_connections) and the connections by user, application and state); V(server_starting); V(unknown).
  - Changes nothing; the helper container is removed afterwards. A password given is written to a
    0600 file that the helper mounts read-only, and removed with it.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  server:
    description:
      - The container the server runs in (made by this collection or not); its log and settings are
        read through C(docker exec) as its superuser.
    type: str
    required: true
  client:
    description:
      - The client's running container; the probe shares its network namespace, so it sees what the
        client sees (addresses, names, DNS).
      - Exactly one of O(client) and O(network).
    type: str
  network:
    description: A Docker network to probe from, for a client that is not running yet.
    type: str
  host:
    description: The name or address the client connects to. Defaults to the server container's name.
    type: str
  port:
    description: The port the client connects to (inside Docker networks, the server's own port).
    type: int
    default: 5432
  database:
    description: The database the client connects to.
    type: str
    default: postgres
  user:
    description: The role the client logs in as.
    type: str
    required: true
  password:
    description: The client's password; without it, a server that asks for one is reported as such.
    type: str
  ssl_mode:
    description: The client's libpq sslmode.
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
    default: prefer
  ssl_rootcert:
    description: CA certificate (on the Docker host) the client verifies the server with.
    type: path
  image:
    description: Image of the helper container (it needs psql and getent). Defaults to the server's image.
    type: str
  connect_timeout:
    description: Seconds the probe waits for the connection (libpq connect_timeout).
    type: int
    default: 5
notes:
  - The probe runs psql, so the libpq messages and the server's log lines it explains are those of
    the PostgreSQL version in the helper image and the server.
seealso:
  - module: pgdock.postgres.network
  - module: pgdock.postgres.hba
  - module: pgdock.postgres.role
"""

EXAMPLES = r"""
- name: Why can the application not reach the database?
  pgdock.postgres.diagnose:
    server: pg-main
    client: app-web-1
    host: db
    user: app
    password: "{{ vault_app_password }}"
    database: app
  register: why

- name: Say it
  ansible.builtin.debug:
    msg: "{{ why.cause }}: {{ why.message }} -> {{ why.fix }}"

- name: Before deploying a client on a network, check the server answers there
  pgdock.postgres.diagnose:
    server: pg-main
    network: backend
    user: app
"""

RETURN = r"""
reachable:
  description: Whether the probe logged in.
  returned: always
  type: bool
cause:
  description: What stands in the way (see the description), or V(ok).
  returned: always
  type: str
  sample: name_not_resolved
sqlstate:
  description: The SQLSTATE of the server's refusal, when the cause has one.
  returned: always
  type: str
  sample: 28P01
message:
  description: The client library's message (or a sentence when no login was attempted).
  returned: always
  type: str
evidence:
  description:
    - What the cause rests on, for example C(client_networks) and C(server_networks), C(address),
      C(matched_rule) (line and text of the pg_hba.conf rule that matched), C(server_detail), C(hba_rules),
      C(databases), C(max_connections) and C(connections).
  returned: always
  type: dict
fix:
  description: What an operator does about it, naming the module and options.
  returned: always
  type: str
probe:
  description: The probe - C(address) the name resolved to, C(logged_in), C(seconds), C(output) of psql.
  returned: when the server runs
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.diagnose.engine import diagnose
from ansible_collections.pgdock.postgres.plugins.module_utils.diagnose.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, diagnose)


if __name__ == "__main__":
    main()
