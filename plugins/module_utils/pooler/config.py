# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PgBouncer's configuration as the pooler module writes it: pgbouncer.ini from the module's
options, the auth file of SCRAM verifiers, which changed settings need a restart (the rest is
applied with RELOAD, TLS files included), and how the module's admin connection meets the TLS the
pooler asks of its clients."""

from __future__ import annotations

import os
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POOLER_CONFIG_MOUNT, POOLER_PORT
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

INI_NAME = "pgbouncer.ini"
USERLIST_NAME = "userlist.txt"
CA_NAME = "server-ca.crt"
CLIENT_CERT_NAME, CLIENT_KEY_NAME = "server-client.crt", "server-client.key"
# what the pooler presents to its clients, and the CA their certificates must come from
LISTEN_CERT_NAME, LISTEN_KEY_NAME, CLIENT_CA_NAME = "listen.crt", "listen.key", "client-ca.crt"
ADMIN_USER = "pgdock_admin"
# the admin connection's client certificate, beside the admin password (outside the container)
ADMIN_CERT_NAME, ADMIN_KEY_NAME = "admin_tls.crt", "admin_tls.key"
CLIENT_TLS_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# client_tls_sslmode values that refuse a client without TLS, and those that also want its certificate
TLS_REQUIRED, CERT_REQUIRED = ("require", "verify-ca", "verify-full"), ("verify-ca", "verify-full")

# Settings PgBouncer reads only at start-up (its documentation: "can be changed only at startup").
RESTART_SETTINGS = frozenset({
    "listen_addr", "listen_port", "unix_socket_dir", "unix_socket_mode", "unix_socket_group",
    "user", "pidfile", "so_reuseport", "peer_id",
})
# Settings the module owns; a user's `settings` entry for them is refused.
OWNED_SETTINGS = frozenset({
    "listen_addr", "listen_port", "unix_socket_dir", "auth_type", "auth_file", "admin_users",
    "pidfile", "logfile", "server_tls_ca_file", "user", "auth_user", "auth_query", "auth_dbname",
    "server_tls_cert_file", "server_tls_key_file",
    "client_tls_sslmode", "client_tls_cert_file", "client_tls_key_file", "client_tls_ca_file",
})
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")  # \Z: `$` would accept a trailing newline
POOL_MODES = ("session", "transaction", "statement")


def check_name(value: str, option: str) -> None:
    """A database or role name PgBouncer's ini and auth file can carry without quoting surprises."""
    if not value or not NAME_RE.match(value) or len(value) > 63:
        raise PgdockError(f"{option}: {value!r} is not a name the pooler accepts (letters, digits, _ . -; "
                          "63 characters at most)")


def database_lines(databases: list[dict], host: str, auth_dbname: str | None = None, port: int = 5432) -> list[str]:
    """[databases] entries pointing at `host`:`port`; none listed means a `*` fallback to the same name.
    PgBouncer runs auth_query in a database of this section, so `auth_dbname` gets an entry too."""
    if not databases:
        return [f"* = host={host} port={int(port)}"]
    if auth_dbname and auth_dbname not in [entry["name"] for entry in databases]:
        databases = list(databases) + [{"name": auth_dbname}]
    lines = []
    for entry in databases:
        check_name(entry["name"], "databases.name")
        parts = [f"host={host}", f"port={int(port)}", f"dbname={entry.get('dbname') or entry['name']}"]
        if entry.get("pool_size") is not None:
            parts.append(f"pool_size={int(entry['pool_size'])}")
        if entry.get("pool_mode"):
            parts.append(f"pool_mode={entry['pool_mode']}")
        lines.append(f"{entry['name']} = {' '.join(parts)}")
    return lines


def pgbouncer_settings(p: dict, has_ca: bool, auth_query: str | None = None) -> dict:
    """The [pgbouncer] section as a dict: the module's fixed entries, its options, then `settings`.
    With `auth_query`, PgBouncer looks passwords up as p['auth_user'] (logged in with the client
    certificate it presents to the server)."""
    extra = {str(k): v for k, v in (p.get("settings") or {}).items()}
    owned = sorted(OWNED_SETTINGS & set(extra))
    if owned:
        raise PgdockError(f"settings: {', '.join(owned)} are managed by the module; use its options")
    if p["pool_mode"] not in POOL_MODES:
        raise PgdockError(f"pool_mode: {p['pool_mode']!r} is not one of {', '.join(POOL_MODES)}")
    values = {
        "listen_addr": "0.0.0.0",
        "listen_port": POOLER_PORT,
        "unix_socket_dir": "",
        "auth_type": "scram-sha-256",
        "auth_file": f"{POOLER_CONFIG_MOUNT}/{USERLIST_NAME}",
        "admin_users": ADMIN_USER,
        "pool_mode": p["pool_mode"],
        "max_client_conn": p["max_client_conn"],
        "default_pool_size": p["default_pool_size"],
        "reserve_pool_size": p["reserve_pool_size"],
        "reserve_pool_timeout": p["reserve_pool_timeout"],
        "query_wait_timeout": p["query_wait_timeout"],
        "server_connect_timeout": p["server_connect_timeout"],
        "server_login_retry": 1,
        "ignore_startup_parameters": "extra_float_digits",
        "server_tls_sslmode": p["server_tls_sslmode"],
    }
    if has_ca:
        values["server_tls_ca_file"] = f"{POOLER_CONFIG_MOUNT}/{CA_NAME}"
    if auth_query:
        values.update(auth_user=p["auth_user"], auth_query=auth_query, auth_dbname=p["auth_dbname"],
                      server_tls_cert_file=f"{POOLER_CONFIG_MOUNT}/{CLIENT_CERT_NAME}",
                      server_tls_key_file=f"{POOLER_CONFIG_MOUNT}/{CLIENT_KEY_NAME}")
    values.update(client_tls_settings(p))
    values.update(extra)
    return values


def client_tls_settings(p: dict) -> dict:
    """TLS towards the clients; nothing (PgBouncer's default, disable) when it is off, so that an ini
    written before the option existed stays the same."""
    mode = p.get("client_tls_sslmode") or "disable"
    if mode not in CLIENT_TLS_MODES:
        raise PgdockError(f"client_tls_sslmode: {mode!r} is not one of {', '.join(CLIENT_TLS_MODES)}")
    if mode == "disable":
        return {}
    values = {"client_tls_sslmode": mode, "client_tls_cert_file": f"{POOLER_CONFIG_MOUNT}/{LISTEN_CERT_NAME}",
              "client_tls_key_file": f"{POOLER_CONFIG_MOUNT}/{LISTEN_KEY_NAME}"}
    if p.get("client_tls_ca_file"):
        values["client_tls_ca_file"] = f"{POOLER_CONFIG_MOUNT}/{CLIENT_CA_NAME}"
    return values


def admin_ssl(ini_text: str | None, root: str) -> dict:
    """libpq's TLS parameters of the module's admin connection to a pooler whose ini is `ini_text`
    (its admin files in `root`): plaintext unless the pooler refuses it, and then the admin client
    certificate when it wants one. The console is reached on 127.0.0.1."""
    mode = parse_ini(ini_text)["pgbouncer"].get("client_tls_sslmode", "disable")
    if mode not in TLS_REQUIRED:
        return {"sslmode": "disable"}
    params = {"sslmode": "require"}
    if mode in CERT_REQUIRED:
        params.update(sslcert=os.path.join(root, ADMIN_CERT_NAME), sslkey=os.path.join(root, ADMIN_KEY_NAME))
    return params


def render_ini(databases: list[dict], host: str, settings: dict, port: int = 5432) -> str:
    """The whole pgbouncer.ini."""
    lines = ["# Managed by pgdock.postgres.pooler: changes here are overwritten.", "[databases]"]
    lines += database_lines(databases, host, settings.get("auth_dbname"), port)
    lines += ["", "[pgbouncer]"]
    for key in settings:
        value = settings[key]
        if isinstance(value, bool):
            value = int(value)
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def parse_ini(text: str | None) -> dict:
    """{'databases': {name: value}, 'pgbouncer': {key: value}} of an ini the module wrote."""
    sections: dict = {"databases": {}, "pgbouncer": {}}
    current = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
            continue
        if current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return sections


def needs_restart(old_text: str | None, new_text: str) -> list[str]:
    """Start-up-only settings whose value differs between two ini files."""
    old, new = parse_ini(old_text)["pgbouncer"], parse_ini(new_text)["pgbouncer"]
    return sorted(k for k in RESTART_SETTINGS if old.get(k) != new.get(k))


def pointed_host(text: str | None) -> str | None:
    """The server host the ini's databases point at (the module points them all at one host)."""
    for value in parse_ini(text)["databases"].values():
        match = re.search(r"(?:^|\s)host=(\S+)", value)
        if match:
            return match.group(1)
    return None


def repointed_ini(text: str, new_host: str, new_port: int = 5432) -> str:
    """The same ini with every database's host and port replaced by `new_host` and `new_port`."""
    out, section = [], None
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section == "databases" and "=" in stripped and not stripped.startswith(("#", ";")):
            raw = re.sub(r"(^|\s)host=\S+", lambda m: f"{m.group(1)}host={new_host}", raw)
            raw = re.sub(r"(^|\s)port=\S+", lambda m: f"{m.group(1)}port={int(new_port)}", raw)
        out.append(raw)
    return "\n".join(out) + "\n"


def render_userlist(verifiers: dict) -> str:
    """The auth file: one `"role" "SCRAM-SHA-256$..."` line per role, sorted."""
    return "".join(f'"{name}" "{verifiers[name]}"\n' for name in sorted(verifiers))


def parse_userlist(text: str | None) -> dict:
    """{role: verifier} of an auth file the module wrote."""
    found = {}
    for line in (text or "").splitlines():
        match = re.match(r'^"([^"]+)"\s+"([^"]*)"', line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found
