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
    aliases: [host]
  login_port:
    description: Port of the server; with O(container), its published port.
    type: int
    aliases: [port]
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
    aliases: [db]
  login_unix_socket:
    description:
      - Directory of the server's unix socket, in place of O(login_host) (with O(container), in place of
        its published port); the socket file's name comes from O(login_port), 5432 by default.
    type: path
    aliases: [unix_socket]
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
  connect_params:
    description:
      - Further libpq connection keywords, for example C(target_session_attrs), C(keepalives_idle),
        C(sslcrl) or C(options).
      - A keyword that has an option of its own (C(host), C(port), C(user), C(dbname), C(password),
        C(sslmode)...) is refused with the option's name, so that a password never travels here.
    type: dict
    default: {}
  session_role:
    description:
      - Role to switch to (C(SET ROLE)) right after connecting; the work runs with its privileges
        and objects created belong to it. O(login_user) must be a member of it.
    type: str
requirements:
  - psycopg2 (psycopg2-binary) >= 2.9
"""

    # the alias `login` of login_user, for every module but role (where `login` is the LOGIN attribute)
    LOGIN_ALIAS = r"""
options:
  login_user:
    aliases: [login]
"""

    # the alias `ca_cert` of ssl_rootcert, for every module but tls (where it names the signing CA until 2.0.0)
    CA_CERT_ALIAS = r"""
options:
  ssl_rootcert:
    aliases: [ca_cert]
"""
