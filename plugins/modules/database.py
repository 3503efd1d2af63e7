#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: database
short_description: A PostgreSQL database with its extensions and schemas
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Creates or drops a database, with its owner, encoding, locale and template, and manages its
    extensions and schemas.
  - The owner of an existing database is changed in place. Its encoding and locale cannot be
    changed by PostgreSQL; a difference fails the task with a message and the database is left as
    it is (never dropped).
  - A database with open connections is not dropped unless O(force=true), which terminates them
    (the C(FORCE) option of C(DROP DATABASE)).
  - Extension and schema changes run in one transaction in the database, so all of them happen or none.
  - Names are quoted as SQL identifiers, so any name works, including ones with spaces or quotes.
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
options:
  name:
    description: Name of the database.
    type: str
    required: true
  state:
    description: V(present) creates the database when needed; V(absent) drops it.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: Role that owns the database; it must exist. Defaults to the login role at creation.
    type: str
  encoding:
    description: Encoding at creation, for example V(UTF8). Checked against an existing database.
    type: str
  locale:
    description: Sets both O(lc_collate) and O(lc_ctype), for example V(en_US.utf8).
    type: str
  lc_collate:
    description: Collation order at creation (C(LC_COLLATE)). Checked against an existing database.
    type: str
  lc_ctype:
    description: Character classification at creation (C(LC_CTYPE)). Checked against an existing database.
    type: str
  template:
    description:
      - Template database to copy at creation. Defaults to V(template0) when O(encoding) or a
        locale is given (other encodings and locales need it), else to the server's default V(template1).
    type: str
  force:
    description: With O(state=absent), terminate open connections to the database and drop it (PostgreSQL 13+).
    type: bool
    default: false
  extensions:
    description: Extensions of the database; extensions not listed are left alone.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Extension name, for example V(pgcrypto), V(pg_trgm) or V(pg_stat_statements).
        type: str
        required: true
      state:
        description:
          - V(present) creates the extension (at O(extensions[].version) when given, and updates to it).
          - V(latest) creates it or updates it to the default version of the files in the image.
          - V(absent) drops it.
        type: str
        choices: [present, absent, latest]
        default: present
      version:
        description: Version to create or update to; it must be available in the image.
        type: str
      schema:
        description: Schema the extension's objects go to (moved there when installed elsewhere).
        type: str
      cascade:
        description: Create the extensions it requires too; when dropping, drop the objects that depend on it.
        type: bool
        default: false
  schemas:
    description: Schemas of the database; schemas not listed are left alone.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Schema name.
        type: str
        required: true
      owner:
        description: Role that owns the schema; it must exist. Defaults to the database owner at creation.
        type: str
      state:
        description: V(present) or V(absent).
        type: str
        choices: [present, absent]
        default: present
      cascade:
        description: When dropping, drop the objects in the schema too.
        type: bool
        default: false
notes:
  - C(pg_stat_statements) can be created in any database, but collects statistics only when it is in
    C(shared_preload_libraries) (see P(pgdock.postgres.config#module)), which needs a restart.
  - Extensions are created in the order listed, schemas to create before them and schemas to drop after them.
seealso:
  - module: pgdock.postgres.config
  - module: pgdock.postgres.container
"""

EXAMPLES = r"""
- name: The application's database, with extensions and a schema
  pgdock.postgres.database:
    container: pg-main
    name: app
    owner: app
    encoding: UTF8
    locale: en_US.utf8
    extensions:
      - name: pgcrypto
      - name: pg_trgm
        state: latest
    schemas:
      - name: reporting
        owner: reporting

- name: Drop a database even while clients are connected
  pgdock.postgres.database:
    container: pg-main
    name: scratch
    state: absent
    force: true
"""

RETURN = r"""
database:
  description: The database after the run (predicted in check mode); empty when it does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Database name.
      type: str
    owner:
      description: Owner role.
      type: str
    encoding:
      description: Encoding.
      type: str
    lc_collate:
      description: Collation order.
      type: str
    lc_ctype:
      description: Character classification.
      type: str
    extensions:
      description: Installed extensions, each with its version and schema.
      type: dict
    schemas:
      description: Schemas (not the system ones), each with its owner.
      type: dict
  sample:
    name: app
    owner: app
    encoding: UTF8
    lc_collate: en_US.utf8
    lc_ctype: en_US.utf8
    extensions: {plpgsql: {version: "1.0", schema: pg_catalog}, pgcrypto: {version: "1.3", schema: public}}
    schemas: {public: pg_database_owner, reporting: reporting}
queries:
  description: The SQL run (or that would run in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ['CREATE DATABASE "app" OWNER "app" TEMPLATE "template0" ENCODING ''UTF8''', 'CREATE EXTENSION "pgcrypto"']
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.database.engine import ensure_database
from ansible_collections.pgdock.postgres.plugins.module_utils.database.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_database)


if __name__ == "__main__":
    main()
