# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.diagnose engine: from where a client stands (in its container's network
namespace, or on a Docker network), a helper container resolves the server's name and logs in with
psql as the client would; what failed is then explained from the server's side (its state,
settings, log lines of that attempt, pg_hba.conf rules, connections). Nothing is changed."""

from __future__ import annotations

import datetime
import os
import re
import tempfile
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.addresses import is_ip
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.diagnose.causes import (
    Diagnosis,
    explain_login,
    failure_message,
    login_failure,
    network_cause,
    refine_password_failure,
    server_log_evidence,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_helper
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import connect, get_or_none
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    make_private_dir,
    pgpass_line,
    remove_secret_dir,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

PROBE_MOUNT = "/run/pgdock-diagnose"
OK_MARK = "pgdock-diagnose-ok"
# resolve the name (for the evidence), then log in as the client would; values arrive as $1 and
# in the libpq environment, never in the script
PROBE_SCRIPT = ('getent hosts "$1"; echo "pgdock-resolve=$?"; '
                f"psql -X -At -c \"select '{OK_MARK}', current_setting('server_version'), "
                "coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false)\" 2>&1; "
                'echo "pgdock-psql=$?"')


def diagnose(module) -> dict:
    """Entry point of the `diagnose` module."""
    p = module.params
    client = connect(p)
    server = get_or_none(client.containers, p["server"], "container")
    if server is None:
        raise PgdockError(f"server: no container named {p['server']!r} on the Docker host")
    standpoint = client_container(client, p) if p.get("client") else None
    if p.get("network") and get_or_none(client.networks, p["network"], "network") is None:
        raise PgdockError(f"network: no Docker network named {p['network']!r}")
    want = dict(host=p.get("host") or server.name, port=p["port"], database=p["database"], user=p["user"],
                ssl_mode=p["ssl_mode"], client=p.get("client") or f"a container on {p['network']}")
    if server.status != "running":
        found = Diagnosis("server_down", f"{server.name} is {server.status}", evidence=dict(status=server.status),
                          fix=f"start it (pgdock.postgres.container name: {server.name}, state: started) and "
                              "look at its log (docker logs) for why it stopped")
        return dict(changed=False, **found.as_result())
    started = time.time()
    probe = run_probe(client, server, standpoint, p, want)
    found = explain(probe, server, standpoint, p, want, started)
    return dict(changed=False, probe=probe, **found.as_result())


def client_container(client, p: dict):
    """The running client container."""
    found = get_or_none(client.containers, p["client"], "container")
    if found is None:
        raise PgdockError(f"client: no container named {p['client']!r} on the Docker host")
    if found.status != "running":
        raise PgdockError(f"client: {p['client']!r} is {found.status}; start it, or give network to probe from a "
                          "network instead")
    return found


def run_probe(client, server, standpoint, p: dict, want: dict) -> dict:
    """The helper's view: the address the name resolves to, and psql's outcome; seconds it took."""
    workdir = tempfile.mkdtemp(prefix="pgdock-diagnose-")
    try:
        make_private_dir(workdir, POSTGRES_UID, POSTGRES_UID)
        env = dict(PGHOST=want["host"], PGPORT=str(want["port"]), PGDATABASE=want["database"], PGUSER=want["user"],
                   PGSSLMODE=want["ssl_mode"], PGCONNECT_TIMEOUT=str(p["connect_timeout"]),
                   PGAPPNAME="pgdock.postgres.diagnose", PGPASSFILE=f"{PROBE_MOUNT}/pgpass")
        # without a password the passfile stays empty, so the server's demand for one shows
        write_secret(os.path.join(workdir, "pgpass"), pgpass_line(want["user"], p["password"]) if p.get("password")
                     else "", POSTGRES_UID, POSTGRES_UID)
        mounts = [Mount(PROBE_MOUNT, workdir, type="bind", read_only=True)]
        if p.get("ssl_rootcert"):
            mounts.append(Mount(f"{PROBE_MOUNT}-ca/ca.crt", p["ssl_rootcert"], type="bind", read_only=True))
            env["PGSSLROOTCERT"] = f"{PROBE_MOUNT}-ca/ca.crt"
        began = time.monotonic()
        _code, output = run_helper(
            client, p.get("image") or server.attrs["Config"]["Image"], ["sh", "-c", PROBE_SCRIPT, "probe", want["host"]],
            mounts, f"probing {server.name} from {want['client']}", network=p.get("network"),
            network_of=standpoint.id if standpoint is not None else None, environment=env,
            timeout=p["connect_timeout"] * 4 + 30)
        probe = parse_probe(output, time.monotonic() - began)
        if probe["address"] is None and is_ip(want["host"]):
            probe["address"] = want["host"]  # an address needs no name service (getent may find no name for it)
        return probe
    finally:
        remove_secret_dir(workdir)


def parse_probe(output: str, seconds: float) -> dict:
    """The helper's output as address, psql's output and exit code, and whether the login worked."""
    resolved, _mark, rest = output.partition("pgdock-resolve=")
    resolve_code, _newline, rest = rest.partition("\n")
    psql_out, _mark, psql_code = rest.rpartition("pgdock-psql=")
    address = resolved.split()[0] if resolved.split() and resolve_code.strip() == "0" else None
    ok = OK_MARK in psql_out and psql_code.strip() == "0"
    fields = next((line.split("|") for line in psql_out.splitlines() if line.startswith(OK_MARK)), [])
    return dict(address=address, logged_in=ok, seconds=round(seconds, 3),
                server_version=fields[1] if ok and len(fields) > 1 else None,
                tls=fields[2] == "t" if ok and len(fields) > 2 else None,
                output=psql_out.strip())


def explain(probe: dict, server, standpoint, p: dict, want: dict, started: float) -> Diagnosis:
    """The cause behind the probe's outcome, with the server's side of the story."""
    if probe["logged_in"]:
        return Diagnosis("ok", f"{want['client']} logs in to {server.name} as {want['user']!r}",
                         evidence=dict(address=probe["address"], server_version=probe["server_version"],
                                       tls=probe["tls"]), fix="nothing to fix")
    message = failure_message(probe["output"])
    cause, _sqlstate = login_failure(message)
    if cause == "name_not_resolved" or probe["address"] is None and cause in ("timeout", "unknown"):
        client_nets = container_networks(standpoint) if standpoint is not None else {p["network"]: []}
        found = network_cause(want["client"] if standpoint is None else standpoint.name, client_nets,
                              server.name, container_networks(server), want["host"])
        found.message = f"{found.message} (the client library: {message})" if message else found.message
        return found
    facts = server_facts(server, cause, want, probe, message, started)
    cause = refine_password_failure(cause, facts)
    return explain_login(cause, message, want, facts)


def container_networks(container) -> dict:
    """network name -> the names the container answers to there (aliases, name, short id)."""
    networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return {name: sorted({*(info.get("Aliases") or []), *(info.get("DNSNames") or []), container.name})
            for name, info in networks.items()}


def server_facts(server, cause: str, want: dict, probe: dict, message: str, started: float) -> dict:
    """What the server says about a failed login: its settings, log lines of the attempt, and what
    the cause needs (rules, databases, connections, the network of the address)."""
    facts = dict(address=probe["address"])
    session = ContainerSession(server)
    settings = dict(session.rows("select name, setting from pg_settings where name in "
                                 "('port', 'listen_addresses', 'ssl', 'max_connections', "
                                 "'superuser_reserved_connections')"))
    facts.update(server_port=settings.get("port"), listen_addresses=settings.get("listen_addresses"),
                 server_ssl=settings.get("ssl"))
    facts.update(server_log_evidence(log_since(server, started)))
    address = re.search(r'no pg_hba\.conf entry for host "([^"]+)"|rejects connection for host "([^"]+)"', message)
    if address:
        facts["client_address"] = address.group(1) or address.group(2)
    if cause in ("no_hba_entry", "hba_rejects"):
        rules = session.rows("select line_number, type, array_to_string(database, ','), array_to_string(user_name, ','),"
                             " coalesce(address, ''), coalesce(netmask, ''), auth_method from pg_hba_file_rules "
                             "where error is null order by line_number")
        facts["hba_rules"] = [" ".join(part for part in row if part) for row in rules]
        host_rules = [row[1] for row in rules if row[1].startswith("host")]
        facts["hostssl_only"] = bool(host_rules) and all(kind == "hostssl" for kind in host_rules)
    elif cause == "database_missing":
        facts["databases"] = [row[0] for row in session.rows(
            "select datname from pg_database where datallowconn order by datname")]
    elif cause == "too_many_clients":
        facts["max_connections"] = int(settings.get("max_connections") or 0)
        facts["superuser_reserved_connections"] = int(settings.get("superuser_reserved_connections") or 0)
        facts["connections"] = [dict(user=user, application=app, state=state, count=int(count)) for user, app, state, count
                                in session.rows("select coalesce(usename, ''), coalesce(application_name, ''), "
                                                "coalesce(state, ''), count(*) from pg_stat_activity "
                                                "where backend_type = 'client backend' group by 1, 2, 3 "
                                                "order by 4 desc limit 10")]
    elif cause in ("timeout", "no_route"):
        facts["address_network"] = next((name for name, info in
                                         ((server.attrs.get("NetworkSettings") or {}).get("Networks") or {}).items()
                                         if info.get("IPAddress") == probe["address"]), None)
    return facts


def log_since(container, started: float) -> list[str]:
    """The server's log lines since the probe began."""
    since = datetime.datetime.fromtimestamp(started - 1, tz=datetime.timezone.utc)
    return container.logs(since=since, stdout=True, stderr=True).decode("utf-8", "replace").splitlines()
