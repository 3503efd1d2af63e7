# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a postgres_exporter container beside a server is made of (pure): its checked options, the
environment it reads (the password only as a file name: DATA_SOURCE_PASS_FILE), its spec and the
pg_hba.conf rule its role needs."""

from __future__ import annotations

import re

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MONITOR_MOUNT, MONITOR_PASSWORD_FILE, SERVER_PORT
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import (
    HbaRule,
    first_match,
    name_token,
    normalise_address,
)

CONTAINER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DBNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_$-]*$")
PASSWORD_METHODS = ("scram-sha-256", "md5", "password")


def exporter_name(params: dict) -> str:
    """The exporter container's name: `name`, or `<server>-exporter`."""
    return params.get("name") or f"{params['server']}-exporter"


def validate(params: dict) -> None:
    """Refuse bad input before anything is asked of Docker; each message names the option."""
    for option in ("server", "name"):
        value = params.get(option)
        if value is not None and not CONTAINER_NAME_RE.match(value):
            raise PgdockError(f"{option}: {value!r} is not a container name ([A-Za-z0-9][A-Za-z0-9_.-]*)")
    if params.get("server") and exporter_name(params) == params["server"]:
        raise PgdockError("name: the exporter needs a container name of its own, not the server's")
    if not 1 <= params["published_port"] <= 65535:
        raise PgdockError(f"published_port: {params['published_port']} is not a TCP port (1-65535)")
    if not DBNAME_RE.match(params["dbname"]):
        raise PgdockError(f"dbname: {params['dbname']!r} is not a database name the exporter's URI can carry "
                          "(letters, digits, _, $ and -)")
    if params["uid"] < 0:
        raise PgdockError(f"uid: must be a user id (0 or more), not {params['uid']}")


def resolved_sslmode(option: str, server_ssl: bool) -> str:
    """The exporter's sslmode (lib/pq knows no `prefer`): `auto` is require when the server has TLS on."""
    if option == "auto":
        return "require" if server_ssl else "disable"
    if option == "require" and not server_ssl:
        raise PgdockError("sslmode: the server has ssl=off; turn TLS on (pgdock.postgres.tls) or use sslmode auto or disable")
    return option


def exporter_environment(server: str, dbname: str, user: str, sslmode: str) -> dict:
    """postgres_exporter's (0.11+) connection settings: host, database and TLS mode in
    DATA_SOURCE_URI, the role in DATA_SOURCE_USER, the password in a file (DATA_SOURCE_PASS_FILE)."""
    return {"DATA_SOURCE_URI": f"{server}:{SERVER_PORT}/{dbname}?sslmode={sslmode}",
            "DATA_SOURCE_USER": user,
            "DATA_SOURCE_PASS_FILE": f"{MONITOR_MOUNT}/{MONITOR_PASSWORD_FILE}"}


def exporter_spec(params: dict, server: str, networks: list[str], directory: str, sslmode: str) -> dict:
    """What the exporter container is made of; its digest decides whether it is recreated."""
    return {"image": params["image"], "networks": networks, "port": params["published_port"],
            "host_ip": params["published_host_ip"], "uid": params["uid"], "secrets_dir": directory,
            "env": exporter_environment(server, params["dbname"], params["role"], sslmode)}


def monitor_rule(kind: str, subnet: str, dbname: str, user: str) -> HbaRule:
    """`<kind> <dbname> <user> <subnet> scram-sha-256` for the monitoring role."""
    return HbaRule(kind, (name_token(dbname),), (name_token(user),), normalise_address(subnet), "scram-sha-256")


def rule_lets_in(rules: list[HbaRule], subnet: str, dbname: str, user: str, tls: bool) -> bool:
    """Whether the first rule the exporter's connection matches takes its password (a hostssl rule
    only when the connection uses TLS)."""
    rule = first_match(rules, dbname, user, subnet)
    return rule is not None and rule.method in PASSWORD_METHODS and (rule.type == "host" or tls)
