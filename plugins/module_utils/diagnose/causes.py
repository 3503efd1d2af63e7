# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a client cannot reach a server, from what the probes saw: the client library's message,
the server's log lines of that attempt and the networks of both. Pure logic: each cause with its
SQLSTATE, evidence and the fix an operator would apply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# the client library's message -> cause and SQLSTATE; the first that matches wins
LOGIN_FAILURES = (
    (r"could not translate host name", "name_not_resolved", None),
    (r"Connection refused", "connection_refused", None),
    (r"timeout expired|timed out", "timeout", None),
    (r"No route to host|Network is unreachable", "no_route", None),
    (r"server does not support SSL", "tls_unavailable", None),
    (r"certificate verify failed|does not match host name|root certificate file|SSL error", "tls_failed", None),
    (r"no pg_hba\.conf entry for host", "no_hba_entry", "28000"),
    (r"pg_hba\.conf rejects connection", "hba_rejects", "28000"),
    (r"password authentication failed", "password_failed", "28P01"),
    (r"no password supplied", "password_missing", None),
    (r"is not permitted to log in", "login_not_allowed", "28000"),
    (r'role ".*" does not exist', "role_missing", "28000"),
    (r'database ".*" does not exist', "database_missing", "3D000"),
    (r"too many clients already|remaining connection slots are reserved", "too_many_clients", "53300"),
    (r"the database system is (starting up|shutting down|in recovery mode|not yet accepting)", "server_starting",
     "57P03"),
)
# the server's log DETAIL of a failed password login -> a more precise cause
PASSWORD_DETAILS = (
    (r'Role ".*" does not exist', "role_missing"),
    (r'User ".*" has no password assigned', "password_not_set"),
    (r'User ".*" has an expired password', "password_expired"),
)
DEFAULT_BRIDGE = "bridge"


@dataclass
class Diagnosis:
    """The answer: a cause (`ok` when the client got in), its SQLSTATE, the evidence and the fix."""

    cause: str
    message: str = ""
    sqlstate: str | None = None
    evidence: dict = field(default_factory=dict)
    fix: str = ""

    def as_result(self) -> dict:
        """The module's result keys."""
        return dict(reachable=self.cause == "ok", cause=self.cause, sqlstate=self.sqlstate, message=self.message,
                    evidence=self.evidence, fix=self.fix)


def login_failure(message: str) -> tuple[str, str | None]:
    """(cause, SQLSTATE) of a client library message; ("unknown", None) when none matches."""
    for pattern, cause, sqlstate in LOGIN_FAILURES:
        if re.search(pattern, message):
            return cause, sqlstate
    return "unknown", None


def failure_message(output: str) -> str:
    """The client library's message from psql's output: its lines after `psql: error:`, joined."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("psql: error:"):
            return " ".join([line[len("psql: error:"):].strip()] + lines[index + 1:])
    return " ".join(lines)


def server_log_evidence(lines: list[str]) -> dict:
    """The DETAIL and the matched pg_hba.conf rule the server logged for a refused login."""
    evidence = {}
    for line in lines:
        matched = re.search(r'Connection matched (?:file "[^"]*" )?(?:pg_hba\.conf )?line (\d+): "(.*)"', line)
        if matched:
            evidence["matched_rule"] = dict(line=int(matched.group(1)), rule=matched.group(2))
        detail = re.search(r"DETAIL:\s+(.*)", line)
        if detail and not detail.group(1).startswith("Connection matched"):
            evidence["server_detail"] = detail.group(1).strip()
    return evidence


def refine_password_failure(cause: str, evidence: dict) -> str:
    """A password failure made precise by the server's DETAIL (no such role, no password, expired)."""
    if cause != "password_failed":
        return cause
    for pattern, precise in PASSWORD_DETAILS:
        if re.search(pattern, evidence.get("server_detail", "")):
            return precise
    return cause


def network_cause(client: str, client_networks: dict, server: str, server_networks: dict, host: str) -> Diagnosis:
    """Why `host` does not resolve where the client stands. Networks: name -> names of the container
    on it (aliases, its name); the client's may be empty (a network with no client container)."""
    shared = sorted(set(client_networks) & set(server_networks))
    evidence = dict(client_networks=sorted(client_networks), server_networks=sorted(server_networks), host=host)
    join = sorted(server_networks)[0] if server_networks else None
    joining = (f"connect the client to {join!r}: pgdock.postgres.network with name: {join}, appends: true and "
               f"connected: [{{container: {client}}}] (or the client's own networks option)") if join else \
        "attach the server to a user-defined network first (the container module's networks)"
    if not shared:
        if set(client_networks) <= {DEFAULT_BRIDGE}:
            why = (f"{client} is only on Docker's default bridge, where container names do not resolve, and "
                   f"shares no network with {server}")
        else:
            why = f"{client} and {server} share no network"
        return Diagnosis("name_not_resolved", f"the name {host!r} does not resolve where the client stands: {why}",
                         evidence=evidence, fix=joining)
    names = sorted({name for net in shared for name in server_networks[net]})
    evidence.update(shared_networks=shared, server_names=names)
    if host not in names:
        return Diagnosis("name_not_resolved",
                         f"{host!r} is not a name of {server} on the network(s) they share ({', '.join(shared)})",
                         evidence=evidence,
                         fix=f"connect to one of {', '.join(names)}, or give {server} the alias {host!r} on "
                             f"{shared[0]} (the container module's networks: aliases)")
    return Diagnosis("name_not_resolved", f"{host!r} should resolve on {', '.join(shared)} but does not",
                     evidence=evidence, fix="check the client's DNS settings (--dns, /etc/resolv.conf)")


def explain_login(cause: str, message: str, want: dict, facts: dict) -> Diagnosis:
    """The fix for a login that failed with `cause`. `want`: host, port, database, user, ssl_mode,
    client; `facts`: what was read on the server (see the engine)."""
    user, database = want["user"], want["database"]
    if cause == "no_hba_entry" and re.search(r"no encryption|SSL off", message) and facts.get("hostssl_only"):
        cause = "tls_required"
    fixes = {
        "connection_refused": lambda: refused_fix(want, facts),
        "timeout": lambda: unreachable_fix(facts),
        "no_route": lambda: unreachable_fix(facts),
        "tls_unavailable": lambda: "the server has ssl=off: issue its certificate (pgdock.postgres.tls) or connect "
                                   "with ssl_mode prefer/disable",
        "tls_failed": lambda: "the client must trust the CA that signed the server's certificate (ssl_rootcert: the "
                              f"stack's ca.crt) and reach it by a name in the certificate ({want['host']!r} must be "
                              "among its SANs; pgdock.postgres.tls subject_alt_names)",
        "tls_required": lambda: f"the server's pg_hba.conf accepts {user!r} only over TLS (hostssl): connect with "
                                "ssl_mode require (or verify-full with the stack's CA)",
        "no_hba_entry": lambda: hba_fix(want, facts),
        "hba_rejects": lambda: hba_fix(want, facts),
        "password_failed": lambda: f"the password does not match the one of role {user!r}: set it with "
                                   "pgdock.postgres.role (name, password) or correct the client's password file",
        "password_missing": lambda: "the server asks for a password and the client gave none: give the password "
                                    "(a password file, PGPASSFILE, or this module's password option)",
        "password_not_set": lambda: f"role {user!r} has no password: set one with pgdock.postgres.role",
        "password_expired": lambda: f"the password of role {user!r} expired (VALID UNTIL): extend valid_until with "
                                    "pgdock.postgres.role",
        "login_not_allowed": lambda: f"role {user!r} is NOLOGIN: pgdock.postgres.role with login: true",
        "role_missing": lambda: f"there is no role {user!r}: create it with pgdock.postgres.role",
        "database_missing": lambda: f"there is no database {database!r}: create it with pgdock.postgres.database, or "
                                    "connect to one that exists",
        "too_many_clients": lambda: "every connection slot is taken: put PgBouncer in front (pgdock.postgres.pooler), "
                                    "close idle sessions, or raise max_connections (pgdock.postgres.config; a restart)",
        "server_starting": lambda: "the server is starting, stopping or recovering: wait and try again",
    }
    sqlstate = login_failure(message)[1]  # what the server sent, also when the cause was made precise
    fix = fixes.get(cause, lambda: "see the message and the server's log")()
    return Diagnosis(cause, message, sqlstate, evidence={k: v for k, v in facts.items() if k != "hostssl_only"}, fix=fix)


def refused_fix(want: dict, facts: dict) -> str:
    """Nothing listens where the client knocked: the wrong port, or listen_addresses."""
    if facts.get("server_port") and int(facts["server_port"]) != int(want["port"]):
        return (f"the server listens on port {facts['server_port']} inside its container, not {want['port']} "
                "(a published port is for the Docker host, containers use the server's own port)")
    if facts.get("listen_addresses") not in (None, "*", "0.0.0.0", "::"):
        return (f"listen_addresses is {facts['listen_addresses']!r}: set it to '*' (pgdock.postgres.config; a "
                "restart) so that the server listens on its networks")
    return "the server does not accept TCP connections on that address: check it is up and its port"


def unreachable_fix(facts: dict) -> str:
    """The address is on no network the client is on."""
    network = facts.get("address_network")
    if network:
        return (f"{facts.get('address')} is the server's address on {network!r}, a network the client is not on: "
                f"connect the client to {network!r} (pgdock.postgres.network connected, appends: true)")
    return "no path from the client's networks to that address: use the server's name on a network they share"


def hba_fix(want: dict, facts: dict) -> str:
    """A rule for this client, as the hba module writes it."""
    address = facts.get("client_address")
    rule_type = "hostssl" if facts.get("server_ssl") == "on" else "host"
    return (f"no pg_hba.conf rule lets {want['user']!r} reach {want['database']!r} from "
            f"{address or 'the client'}: add one with pgdock.postgres.hba extra_rules: "
            f"[{{type: {rule_type}, database: [{want['database']}], user: [{want['user']}], "
            f"address: {address + '/32' if address else '<client subnet>'}, method: scram-sha-256}}]")
