#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: query
short_description: Run one SQL statement, with parameters, and return its result
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Runs exactly one SQL statement on a PostgreSQL server and returns its rows, row count and status.
  - Values are passed as parameters (O(positional_args) for C(%s), O(named_args) for C(%(name\)s)), quoted
    by the client library, never pasted into the text; a name with quotes, spaces, C($(\)) or backticks is
    just a value.
  - C(changed) follows the kind of statement. A read (C(SELECT) without C(INTO) or C(FOR UPDATE/SHARE),
    C(SHOW), C(VALUES), C(TABLE), C(EXPLAIN) without C(ANALYZE), or C(EXPLAIN ANALYZE) of a read) reports
    no change; C(INSERT), C(UPDATE), C(DELETE), C(MERGE) and C(COPY) report a change when they counted
    rows; anything else (C(CREATE), C(ALTER), C(GRANT), C(VACUUM)...) reports a change. Refine it with
    C(changed_when) and RV(rowcount).
  - The statement runs in a transaction that is committed, unless O(autocommit=true).
  - Several statements are refused (a C(;) inside quotes, dollar quotes or comments does not count); run
    them with P(pgdock.postgres.script#module), in one transaction, or one task each.
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
      - A read runs in a read-only transaction and returns its rows (a read that writes, such as
        C(nextval(\)), in a transaction that is rolled back).
      - Any other statement runs in a transaction that is rolled back, and reports the rows it would have
        counted. Sequences it advances stay advanced (PostgreSQL does not roll them back).
      - A statement that runs only outside a transaction block (O(autocommit=true)) is not run; RV(not_run)
        says so and C(changed) is true.
  diff_mode:
    support: none
options:
  query:
    description:
      - One SQL statement; a trailing C(;) and comments are allowed.
      - With O(positional_args) or O(named_args), every C(%) in the text is a placeholder or C(%%), a literal
        C(%) (for example C(LIKE 'a%%')); without them C(%) is plain text.
    type: str
    required: true
  positional_args:
    description:
      - Values of the C(%s) placeholders, in order.
      - The task's arguments are shown in its result (C(invocation)), so set C(no_log) to V(true) on a task
        that passes a secret here.
    type: list
    elements: raw
  named_args:
    description:
      - Values of the C(%(name\)s) placeholders, by name.
      - The task's arguments are shown in its result (C(invocation)), so set C(no_log) to V(true) on a task
        that passes a secret here.
    type: dict
  autocommit:
    description:
      - Run the statement outside a transaction block. C(VACUUM), C(CREATE DATABASE), C(CREATE INDEX
        CONCURRENTLY) and C(ALTER SYSTEM) need it; without it the task fails and says so.
    type: bool
    default: false
  search_path:
    description: Schemas to set as C(search_path) for the statement, in order.
    type: list
    elements: str
  encoding:
    description: Client encoding of the session, for example V(UTF8) or V(LATIN1).
    type: str
notes:
  - C(COPY) works with files on the server (C(COPY t FROM '/path'\)); C(COPY ... FROM STDIN) and C(TO STDOUT)
    need a client stream this module does not have.
  - The login password never appears in the result, nor in a failure message; the statement text is
    returned with its placeholders, never with the values of its arguments.
seealso:
  - module: pgdock.postgres.script
  - module: pgdock.postgres.info
"""

EXAMPLES = r"""
- name: Rows of a table, with a parameter
  pgdock.postgres.query:
    container: pg-main
    login_db: app
    query: SELECT id, name, created_at FROM customers WHERE country = %(country)s
    named_args:
      country: FR
  register: customers

- name: An update; changed when it touched rows
  pgdock.postgres.query:
    container: pg-main
    login_db: app
    query: UPDATE jobs SET state = 'queued' WHERE state = %s
    positional_args: [stale]

- name: VACUUM runs outside a transaction block
  pgdock.postgres.query:
    container: pg-main
    login_db: app
    query: VACUUM (ANALYZE) customers
    autocommit: true

- name: A secret as a parameter; no_log keeps it out of the output
  pgdock.postgres.query:
    container: pg-main
    query: SELECT count(*) AS n FROM tokens WHERE token = %s
    positional_args: ["{{ api_token }}"]
  no_log: true
"""

RETURN = r"""
query:
  description: The statement as given, with its placeholders (never the values of its arguments).
  returned: always
  type: str
  sample: SELECT id, name FROM customers WHERE country = %(country)s
kind:
  description: V(read), V(dml) (its row count says whether it changed anything) or V(other) (a change).
  returned: always
  type: str
  sample: read
query_result:
  description:
    - Its rows, each a dict by column name; empty for a statement without rows.
    - Numerics are integers, or floats when a float holds them exactly, else text; dates and times are
      ISO 8601; intervals and other types are text; bytea is C(\\x) hex; arrays and json are lists and
      dicts; ranges are dicts with C(lower), C(upper), C(bounds) and C(empty).
  returned: always
  type: list
  elements: dict
  sample: [{"id": 1, "name": "Ada", "created_at": "2024-05-01T10:00:00+00:00"}]
rowcount:
  description: Rows returned or counted by the statement (would have been, in check mode); -1 when it counts none.
  returned: always
  type: int
  sample: 1
statusmessage:
  description: The server's command status, for example C(INSERT 0 1); null when it was not run.
  returned: always
  type: str
  sample: SELECT 1
not_run:
  description: Why the statement was not run (check mode, a statement that needs O(autocommit=true)).
  returned: when the statement was not run
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.query.engine import run_query
from ansible_collections.pgdock.postgres.plugins.module_utils.query.options import QUERY_ARGUMENT_SPEC, QUERY_MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=QUERY_ARGUMENT_SPEC, **QUERY_MODULE_KWARGS)
    run_engine(module, run_query)


if __name__ == "__main__":
    main()
