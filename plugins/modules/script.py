#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: script
short_description: Run a file of SQL statements in one transaction
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Runs the statements of a SQL file (O(path), on the host the module runs on) or of O(content), in order,
    in one transaction; all of them take effect, or, when one fails, none.
  - Statements end at a C(;) outside quotes, dollar quotes, comments and parentheses, and outside the
    C(BEGIN ATOMIC ... END) body of a function or procedure, as psql splits them.
  - Transaction control (C(BEGIN), C(COMMIT), C(ROLLBACK), C(END), C(SAVEPOINT), C(RELEASE), C(PREPARE
    TRANSACTION)...) is refused before anything runs, as it would break the one transaction. Statements that
    run only outside a transaction block (C(VACUUM), C(CREATE DATABASE), C(CREATE INDEX CONCURRENTLY))
    belong in P(pgdock.postgres.query#module) with O(pgdock.postgres.query#module:autocommit=true).
  - A failure names the statement (its number, the line of the script it starts at and its first line,
    with the value after a C(PASSWORD) keyword masked) and the server's message.
  - C(changed) is true when the script ran.
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
    details:
      - The script runs in a transaction that is rolled back, so its errors show and nothing is kept, and
        C(changed) is false. Sequences it advances stay advanced (PostgreSQL does not roll them back).
  diff_mode:
    support: none
options:
  path:
    description: A SQL file on the host the module runs on.
    type: path
  content:
    description: The SQL text itself.
    type: str
  positional_args:
    description:
      - Values of the C(%s) placeholders, in order across the whole script.
      - Only with O(positional_args) or O(named_args) is C(%) interpreted; then write a literal C(%) as C(%%).
      - The task's arguments are shown in its result (C(invocation)), so set C(no_log) to V(true) on a task
        that passes a secret here.
    type: list
    elements: raw
  named_args:
    description:
      - Values of the C(%(name\)s) placeholders, by name; each statement may use any of them.
      - The task's arguments are shown in its result (C(invocation)), so set C(no_log) to V(true) on a task
        that passes a secret here.
    type: dict
  search_path:
    description: Schemas to set as C(search_path) for the script, in order.
    type: list
    elements: str
  encoding:
    description:
      - Client encoding of the session, for example V(UTF8) or V(LATIN1); the file at O(path) is read in
        that encoding too (UTF-8 by default).
    type: str
notes:
  - The login password never appears in the result, nor in a failure message.
seealso:
  - module: pgdock.postgres.query
"""

EXAMPLES = r"""
- name: The application's schema, all of it or nothing
  pgdock.postgres.script:
    container: pg-main
    login_db: app
    path: /srv/app/schema.sql

- name: Seed rows with named parameters
  pgdock.postgres.script:
    container: pg-main
    login_db: app
    content: |
      INSERT INTO settings (name, value) VALUES ('mode', %(mode)s);
      INSERT INTO audit (what) VALUES ('mode set to ' || %(mode)s);
    named_args:
      mode: production
"""

RETURN = r"""
statements:
  description: How many statements the script holds (and ran).
  returned: always
  type: int
  sample: 12
query_result:
  description: The rows of the last statement, as the query module returns them; empty when it returns none.
  returned: always
  type: list
  elements: dict
  sample: []
rowcount:
  description: Rows returned or counted by the last statement; -1 when it counts none.
  returned: always
  type: int
  sample: 3
statusmessage:
  description: The server's command status of the last statement.
  returned: always
  type: str
  sample: INSERT 0 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.query.engine import run_script
from ansible_collections.pgdock.postgres.plugins.module_utils.query.options import SCRIPT_ARGUMENT_SPEC, SCRIPT_MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=SCRIPT_ARGUMENT_SPEC, **SCRIPT_MODULE_KWARGS)
    run_engine(module, run_script)


if __name__ == "__main__":
    main()
