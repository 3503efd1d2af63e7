#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: grant
short_description: Privileges, default privileges and memberships of PostgreSQL roles
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Grants or revokes privileges on databases, schemas, tables, sequences and functions, on all
    tables, sequences or functions of a schema, default privileges for objects created later, and
    membership in roles, on a server typically run by P(pgdock.postgres.container#module).
  - Idempotent by reading the catalogs (the ACLs through C(aclexplode), the default ACL when an object
    has none). A statement runs only when it changes something, so a second run reports no change.
  - Presets give application roles what they usually need in one task (see O(preset)).
  - Privileges are compared as granted to each role itself, not as inherited through memberships.
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
    details:
      - The diff shows, per object and role, the privileges before and after; C(*) marks a grant option.
options:
  roles:
    description:
      - Roles that receive (or lose) the privileges. V(PUBLIC) (any case) means every role.
      - Each must exist.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) grants what is missing; V(absent) revokes what is held.
      - With O(preset) and V(absent), everything the preset grants is revoked (CONNECT included).
    type: str
    choices: [present, absent]
    default: present
  preset:
    description:
      - A bundle of privileges on database O(login_db) and schema O(schema); not combined with
        O(type), O(objs) or O(privileges).
      - V(readonly) is CONNECT on the database, USAGE on the schema, SELECT on all its tables (views
        included) and sequences, and default privileges that give SELECT on the tables and sequences
        O(target_role) creates there later.
      - V(readwrite) is V(readonly) plus INSERT, UPDATE, DELETE on tables and USAGE, UPDATE on
        sequences, now and by default privileges later. TRUNCATE, REFERENCES and TRIGGER are left
        out; they are for the owner.
      - V(monitor) is membership in C(pg_monitor) and CONNECT on the database.
    type: str
    choices: [readonly, readwrite, monitor]
  type:
    description:
      - Type of the objects in O(objs).
      - V(default_privileges) changes the privileges future objects of O(target_role) get
        (C(ALTER DEFAULT PRIVILEGES)); O(objs) then lists kinds of objects.
      - V(role) grants membership in the roles of O(objs) (no O(privileges)).
    type: str
    choices: [database, schema, table, sequence, function, default_privileges, role]
  objs:
    description:
      - Names of the objects, used as they are (case and any character kept).
      - Tables, sequences and functions are looked up in O(schema). V(ALL_IN_SCHEMA) alone means all
        of them in O(schema), granted with one C(GRANT ... ON ALL ... IN SCHEMA) statement.
      - A function is V(name) when the name is unique in the schema, or V(name(argument types)),
        e.g. V(add_order(integer, text)). Procedures are handled as functions.
      - For O(type=default_privileges), kinds of future objects - V(tables), V(sequences),
        V(functions), V(types), V(schemas).
    type: list
    elements: str
  privileges:
    description:
      - Privileges, case-insensitive; V(ALL) means every privilege of the object type.
      - database - V(CONNECT), V(CREATE), V(TEMPORARY) (V(TEMP)). schema - V(USAGE), V(CREATE).
        table - V(SELECT), V(INSERT), V(UPDATE), V(DELETE), V(TRUNCATE), V(REFERENCES), V(TRIGGER),
        V(MAINTAIN) (17+). sequence - V(USAGE), V(SELECT), V(UPDATE). function - V(EXECUTE).
        Default privileges take those of the kind of objects.
      - A privilege the object type does not have is an error.
    type: list
    elements: str
    aliases: [privs]
  schema:
    description:
      - Schema of the tables, sequences and functions, and of the presets. Defaults to V(public).
      - For O(type=default_privileges), limits them to objects created in this schema
        (C(IN SCHEMA)); when not given, they apply in every schema.
    type: str
  target_role:
    description:
      - For O(type=default_privileges) and the presets, the role whose future objects the default
        privileges are for (C(FOR ROLE)). Defaults to the role the module connects as.
      - Give the role that creates the application's tables (for example the one migrations run as);
        default privileges of another role do not apply to them.
    type: str
  with_grant_option:
    description:
      - With O(state=present), V(true) grants with the grant option, V(false) makes sure the roles do not
        hold it (it is revoked when they do), and no value leaves it as it is.
      - With O(state=absent), V(true) revokes only the grant option and keeps the privileges.
    type: bool
notes:
  - Statements run in the database O(login_db); databases and role memberships are server-wide.
  - Names are always quoted by psycopg2. Argument types of functions are written as the server's
    C(format_type) spells them.
  - A superuser's GRANT and REVOKE act as the object's owner; privileges another role granted with its
    grant option are not revoked by it.
seealso:
  - module: pgdock.postgres.role
  - name: Privileges
    description: Privileges and their ACL abbreviations in the PostgreSQL documentation.
    link: https://www.postgresql.org/docs/current/ddl-priv.html
"""

EXAMPLES = r"""
- name: Read-only access to the app database's public schema, now and for tables app_owner creates later
  pgdock.postgres.grant:
    container: pg-primary
    login_db: app
    roles: [app_ro]
    preset: readonly
    target_role: app_owner

- name: Read-write access for the application
  pgdock.postgres.grant:
    container: pg-primary
    login_db: app
    roles: [app_rw]
    preset: readwrite
    schema: public
    target_role: app_owner

- name: A monitoring agent
  pgdock.postgres.grant:
    container: pg-primary
    login_db: app
    roles: [metrics]
    preset: monitor

- name: Nobody but the granted roles may connect to the app database
  pgdock.postgres.grant:
    container: pg-primary
    roles: [PUBLIC]
    type: database
    objs: [app]
    privileges: [CONNECT, TEMPORARY]
    state: absent

- name: SELECT on two tables, with the grant option
  pgdock.postgres.grant:
    container: pg-primary
    login_db: app
    roles: [reporting]
    type: table
    schema: sales
    objs: [orders, customers]
    privileges: [SELECT]
    with_grant_option: true

- name: Execute a function
  pgdock.postgres.grant:
    container: pg-primary
    login_db: app
    roles: [app_rw]
    type: function
    objs: ["add_order(integer, text)"]
    privileges: [EXECUTE]

- name: Future sequences of app_owner in schema sales
  pgdock.postgres.grant:
    container: pg-primary
    login_db: app
    roles: [reporting]
    type: default_privileges
    objs: [sequences]
    schema: sales
    target_role: app_owner
    privileges: [SELECT]
"""

RETURN = r"""
privileges:
  description:
    - Per object, then per role of O(roles), the privileges held after the run (in check mode, as
      the run expects them); C(*) marks a grant option. Memberships show as C(MEMBER).
  returned: always
  type: dict
  sample:
    "database app": {"app_ro": ["CONNECT"]}
    "table public.orders": {"app_ro": ["SELECT"]}
    "default privileges of app_owner on tables in schema public": {"app_ro": ["SELECT"]}
queries:
  description: The statements run (in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample:
    - GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "app_ro"
    - ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner" IN SCHEMA "public" GRANT SELECT ON TABLES TO "app_ro"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.grant.engine import ensure_grant
from ansible_collections.pgdock.postgres.plugins.module_utils.grant.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_grant, needs_docker=bool(module.params["container"]))


if __name__ == "__main__":
    main()
