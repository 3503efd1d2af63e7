# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment for the options that say how to reach PostgreSQL."""

from __future__ import annotations


class ModuleDocFragment(object):
    """SQL connection options shared by the modules that talk to the server."""

    DOCUMENTATION = r"""
options:
  container:
    description:
      - A running container made by P(pgdock.postgres.container#module). Its published port, superuser
        and superuser password file (read on the Docker host) fill in the login options not given.
    type: str
  login_host:
    description: Address of the server; with O(container), the address its port is published on.
    type: str
    default: 127.0.0.1
  login_port:
    description: Port of the server; with O(container), its published port.
    type: int
  login_user:
    description: Role to connect as; with O(container), its superuser.
    type: str
  login_password:
    description: Password of O(login_user); with O(container) and its superuser, read from its password file.
    type: str
  login_db:
    description: Database to connect to.
    type: str
    default: postgres
  ssl_mode:
    description: libpq sslmode of the connection.
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
    default: prefer
  ssl_rootcert:
    description: CA certificate that verifies the server (libpq sslrootcert).
    type: path
  ssl_cert:
    description: Client certificate (libpq sslcert).
    type: path
  ssl_key:
    description: Key of the client certificate (libpq sslkey).
    type: path
  connect_timeout:
    description: Seconds to wait for the connection.
    type: int
    default: 10
requirements:
  - psycopg2 (psycopg2-binary) >= 2.9
"""
