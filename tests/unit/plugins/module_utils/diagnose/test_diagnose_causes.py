"""diagnose.causes: libpq messages and server log lines to causes, networks to the fix."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.diagnose.causes import (
    explain_login,
    failure_message,
    login_failure,
    network_cause,
    refine_password_failure,
    server_log_evidence,
)

WANT = dict(host="db", port=5432, database="app", user="app", ssl_mode="prefer", client="web")


@pytest.mark.parametrize("message, cause, sqlstate", [
    ('could not translate host name "db" to address: Name or service not known', "name_not_resolved", None),
    ('connection to server at "db" (10.0.0.2), port 5433 failed: Connection refused', "connection_refused", None),
    ("connection to server at \"10.1.0.2\", port 5432 failed: timeout expired", "timeout", None),
    ('FATAL:  password authentication failed for user "app"', "password_failed", "28P01"),
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.3", user "app", database "app", no encryption', "no_hba_entry", "28000"),
    ('FATAL:  database "x" does not exist', "database_missing", "3D000"),
    ("FATAL:  sorry, too many clients already", "too_many_clients", "53300"),
    ("FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute", "too_many_clients", "53300"),
    ('FATAL:  role "ro" is not permitted to log in', "login_not_allowed", "28000"),
    ("server does not support SSL, but SSL was required", "tls_unavailable", None),
    ("fe_sendauth: no password supplied", "password_missing", None),
    ("something new", "unknown", None),
])
def test_libpq_messages_map_to_causes(message, cause, sqlstate):
    assert login_failure(message) == (cause, sqlstate)


def test_psql_output_gives_the_whole_message():
    out = 'psql: error: connection to server at "db" (10.0.0.2), port 5432 failed: FATAL:  password authentication failed\n'
    assert failure_message(out).endswith("FATAL:  password authentication failed")


def test_the_server_log_gives_the_matched_rule_and_the_detail():
    lines = ['2026-12-03 FATAL:  password authentication failed for user "nosuch"',
             '2026-12-03 DETAIL:  Role "nosuch" does not exist.',
             '\tConnection matched file "/var/lib/postgresql/18/docker/pg_hba.conf" line 128: "host all all all scram-sha-256"']
    evidence = server_log_evidence(lines)
    assert evidence == {"server_detail": 'Role "nosuch" does not exist.',
                        "matched_rule": {"line": 128, "rule": "host all all all scram-sha-256"}}
    assert refine_password_failure("password_failed", evidence) == "role_missing"
    assert server_log_evidence(['DETAIL:  Connection matched pg_hba.conf line 95: "host all all all md5"'])[
        "matched_rule"] == {"line": 95, "rule": "host all all all md5"}


def test_network_causes_name_the_networks_and_the_call_that_joins_them():
    bridged = network_cause("web", {"bridge": []}, "pg", {"backend": ["pg", "db"]}, "db")
    assert "default bridge" in bridged.message and "name: backend" in bridged.fix and "container: web" in bridged.fix
    apart = network_cause("web", {"front": []}, "pg", {"backend": ["pg"]}, "pg")
    assert "share no network" in apart.message
    misnamed = network_cause("web", {"backend": []}, "pg", {"backend": ["pg", "primary"]}, "db")
    assert misnamed.evidence["server_names"] == ["pg", "primary"] and "alias 'db'" in misnamed.fix


def test_login_fixes_name_the_module_and_the_rule():
    refused = explain_login("connection_refused", "Connection refused", dict(WANT, port=15432), {"server_port": "5432"})
    assert "listens on port 5432" in refused.fix
    listen = explain_login("connection_refused", "Connection refused", WANT,
                           {"server_port": "5432", "listen_addresses": "localhost"})
    assert "listen_addresses is 'localhost'" in listen.fix
    message = 'no pg_hba.conf entry for host "10.0.0.3", user "app", database "app", no encryption'
    hba = explain_login("no_hba_entry", message, WANT, {"client_address": "10.0.0.3", "server_ssl": "on"})
    assert "type: hostssl" in hba.fix and "address: 10.0.0.3/32" in hba.fix and hba.sqlstate == "28000"
    tls = explain_login("no_hba_entry", message, WANT, {"hostssl_only": True})
    assert tls.cause == "tls_required" and "ssl_mode require" in tls.fix and "hostssl_only" not in tls.evidence
    assert explain_login("role_missing", 'password authentication failed for user "x"', WANT, {}).sqlstate == "28P01"
