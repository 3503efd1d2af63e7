#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: role
short_description: PostgreSQL roles, their attributes, passwords and memberships
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Creates, alters or drops a PostgreSQL role (a user when it can log in) on a server, typically one
    run by P(pgdock.postgres.container#module) (see O(container)).
  - Attributes and memberships are compared with the catalogs; only what differs is changed.
  - The server never receives a password in clear text. The module computes the SCRAM-SHA-256
    verifier itself on the host it runs on (SASLprep as PostgreSQL applies it, random salt, 4096 iterations) and sends
    C(ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'), so neither the network nor the server log ever
    carries the password.
  - The given password is compared with the stored verifier (recomputed with its salt and
    iterations), so a second run with the same password changes nothing. A stored md5 hash, or no
    password, is replaced by a SCRAM verifier.
  - Dropping a role first hands over (O(reassign_owned_to)) and/or drops (O(drop_owned)) what it
    owns in every database of the server where it owns objects or holds privileges.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
  - pgdock.postgres.postgres
  - pgdock.postgres.postgres.ca_cert_alias
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the role's attributes and memberships before and after; a password is shown
        only as V(changed) or V(unchanged).
options:
  name:
    description:
      - Name of the role, used as it is (case and any character kept; at most 63 bytes).
      - Names starting with V(pg_), and V(public), V(none), V(current_user), V(session_user),
        V(current_role) are refused.
    type: str
    required: true
    aliases: [role]
  state:
    description:
      - V(present) creates the role or brings it in line with the options.
      - V(absent) drops it. When it owns objects or holds privileges somewhere, O(reassign_owned_to)
        and/or O(drop_owned) say what happens to them; without either the module fails and lists the
        databases. The role the module is connected as is never dropped. A missing role is not an error.
    type: str
    choices: [present, absent]
    default: present
  password:
    description:
      - Password of the role. Sent to the server only as a SCRAM-SHA-256 verifier.
      - A value that already is a SCRAM-SHA-256 verifier (C(SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>))
        is stored as it is.
      - Comparing with the stored verifier needs a superuser connection (pg_authid); otherwise the
        password is set on every run, with a warning.
      - When not given, the stored password is left as it is.
    type: str
  update_password:
    description:
      - V(always) sets O(password) whenever it differs from the stored one.
      - V(on_create) sets it only when the role is created (for passwords that users change themselves).
    type: str
    choices: [always, on_create]
    default: always
  login:
    description:
      - Whether the role can log in (LOGIN).
      - For this and the other attributes, when not given an existing role keeps its value and a new
        role gets PostgreSQL's default (V(false) here, so give V(true) for an application user).
      - In this module C(login) is this attribute, so O(login_user) has no alias C(login) here.
    type: bool
  superuser:
    description: Whether the role is a superuser (SUPERUSER).
    type: bool
  createdb:
    description: Whether the role can create databases (CREATEDB).
    type: bool
  createrole:
    description: Whether the role can create, alter and drop roles (CREATEROLE).
    type: bool
  replication:
    description: Whether the role can start streaming replication and backups (REPLICATION).
    type: bool
  bypassrls:
    description: Whether the role bypasses row-level security policies (BYPASSRLS).
    type: bool
  inherit:
    description: Whether the role uses the privileges of the roles it is a member of (INHERIT; PostgreSQL's default V(true)).
    type: bool
  connection_limit:
    description: Concurrent connections the role may open; V(-1) is no limit.
    type: int
  valid_until:
    description:
      - Time after which the role's password no longer works, as PostgreSQL reads a C(timestamptz),
        e.g. V(2030-01-01T00:00:00Z); V(infinity) means it never expires.
      - Give a time zone; without one the server's time zone applies. Compared to the second.
    type: str
  member_of:
    description:
      - Roles (groups) this role is a member of. Each must exist.
      - With O(member_of_mode=exact), memberships not listed are revoked; V([]) revokes all.
        When not given, memberships are left as they are.
    type: list
    elements: str
  member_of_mode:
    description: Whether O(member_of) is the exact list of memberships (V(exact)) or only adds (V(append)).
    type: str
    choices: [exact, append]
    default: exact
  reassign_owned_to:
    description:
      - With O(state=absent), the role that takes over the objects the dropped role owns
        (C(REASSIGN OWNED BY ... TO ...) in each database where it owns objects).
    type: str
  drop_owned:
    description:
      - With O(state=absent), run C(DROP OWNED BY) in each database where the role owns objects or holds
        privileges; its remaining objects are dropped and its privileges revoked. After
        O(reassign_owned_to) only privileges and default privileges are left for it to remove.
    type: bool
    default: false
notes:
  - Role names and values are always quoted by psycopg2; any character is safe.
  - The server never receives the clear-text password, so C(password_encryption) and C(log_statement)
    settings cannot expose it. The SCRAM verifier itself is masked in the module's output.
  - Passwords of at most 1024 bytes; longer ones are refused, as libpq refuses them for SCRAM.
seealso:
  - module: pgdock.postgres.grant
  - name: CREATE ROLE
    description: Role attributes in the PostgreSQL documentation.
    link: https://www.postgresql.org/docs/current/sql-createrole.html
"""

EXAMPLES = r"""
- name: Application user with a password from the vault
  pgdock.postgres.role:
    container: pg-primary
    name: app
    login: true
    password: "{{ vault_app_password }}"
    connection_limit: 50

- name: A group role and a user in it (other memberships are revoked)
  pgdock.postgres.role:
    container: pg-primary
    name: "{{ item.name }}"
    login: "{{ item.login }}"
    member_of: "{{ item.member_of }}"
  loop:
    - {name: reporting, login: false, member_of: []}
    - {name: alice, login: true, member_of: [reporting]}

- name: Set a password only when the role is created
  pgdock.postgres.role:
    container: pg-primary
    name: bob
    login: true
    password: "{{ initial_password }}"
    update_password: on_create
    valid_until: "2030-01-01T00:00:00Z"

- name: Drop a user; its objects go to app, its privileges are revoked
  pgdock.postgres.role:
    container: pg-primary
    name: old_app
    state: absent
    reassign_owned_to: app
    drop_owned: true
"""

RETURN = r"""
role:
  description:
    - The role after the run; empty when it does not exist. In check mode, the role as the run expects it.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the role.
      type: str
      sample: app
    login:
      description: LOGIN.
      type: bool
      sample: true
    superuser:
      description: SUPERUSER.
      type: bool
      sample: false
    createdb:
      description: CREATEDB.
      type: bool
      sample: false
    createrole:
      description: CREATEROLE.
      type: bool
      sample: false
    replication:
      description: REPLICATION.
      type: bool
      sample: false
    bypassrls:
      description: BYPASSRLS.
      type: bool
      sample: false
    inherit:
      description: INHERIT.
      type: bool
      sample: true
    connection_limit:
      description: Connection limit, V(-1) for none.
      type: int
      sample: 50
    valid_until:
      description: Password expiry in UTC (ISO 8601), V(infinity), or null when never set.
      type: str
      sample: "2030-01-01T00:00:00Z"
    member_of:
      description: Roles it is a direct member of.
      type: list
      elements: str
      sample: [reporting]
    password_type:
      description: Kind of the stored password (V(scram-sha-256), V(md5)), null for none, V(unknown) when it cannot be read.
      type: str
      sample: scram-sha-256
    password:
      description: Whether the run changed the password (V(changed), V(unchanged)); only when O(password) is given.
      type: str
      sample: unchanged
queries:
  description: The statements run (in check mode, that would run), with the password verifier masked.
  returned: always
  type: list
  elements: str
  sample:
    - CREATE ROLE "app" WITH LOGIN CONNECTION LIMIT 50 PASSWORD '********'
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.role.engine import ensure_role
from ansible_collections.pgdock.postgres.plugins.module_utils.role.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_role, needs_docker=bool(module.params["container"]))


if __name__ == "__main__":
    main()
