"""Unit tests of the exporter's pure parts: names and checked options, the environment (the password
only as a file name), the sslmode lib/pq accepts, the spec and its digest, the pg_hba.conf rule."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import monitor_dir_for
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import spec_digest
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import HbaRule, parse_hba
from ansible_collections.pgdock.postgres.plugins.module_utils.monitor.exporter import (
    exporter_environment,
    exporter_name,
    exporter_spec,
    monitor_rule,
    resolved_sslmode,
    rule_lets_in,
    validate,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.monitor.options import ARGUMENT_SPEC, OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import spec_params

SUBNET = "172.18.0.0/16"


def params(**over) -> dict:
    return spec_params(OPTIONS, dict({"server": "pg-primary"}, **over), "monitor")


def test_name_defaults_to_the_servers_and_options_are_checked():
    assert exporter_name(params()) == "pg-primary-exporter"
    assert exporter_name(params(name="metrics")) == "metrics"
    validate(params())
    for over, option in ((dict(server="bad name"), "server:"), (dict(name="pg-primary"), "name:"),
                         (dict(published_port=0), "published_port:"), (dict(published_port=65536), "published_port:"),
                         (dict(dbname="a b"), "dbname:"), (dict(uid=-1), "uid:")):
        with pytest.raises(PgdockError, match=f"^{option}"):
            validate(params(**over))


def test_the_password_travels_only_as_a_file_name():
    env = exporter_environment("pg-primary", "postgres", "pgdock_monitor", "require")
    assert env == {"DATA_SOURCE_URI": "pg-primary:5432/postgres?sslmode=require",
                   "DATA_SOURCE_USER": "pgdock_monitor",
                   "DATA_SOURCE_PASS_FILE": "/run/secrets/pgdock-monitor/password"}
    assert "docker_host" in ARGUMENT_SPEC and "password" not in ARGUMENT_SPEC


def test_sslmode_is_one_lib_pq_knows():
    assert resolved_sslmode("auto", True) == "require"
    assert resolved_sslmode("auto", False) == "disable"
    assert resolved_sslmode("disable", True) == "disable"
    with pytest.raises(PgdockError, match="^sslmode: the server has ssl=off"):
        resolved_sslmode("require", False)


def test_spec_digest_follows_every_option():
    base = exporter_spec(params(), "pg-primary", ["net"], "/d", "require")
    assert spec_digest(base) == spec_digest(dict(reversed(list(base.items()))))
    for changed in (exporter_spec(params(published_port=1), "pg-primary", ["net"], "/d", "require"),
                    exporter_spec(params(), "pg-primary", ["net", "other"], "/d", "require"),
                    exporter_spec(params(), "pg-primary", ["net"], "/d", "disable"),
                    exporter_spec(params(image="other"), "pg-primary", ["net"], "/d", "require")):
        assert spec_digest(changed) != spec_digest(base)


def test_monitor_dir_is_beside_the_servers_secrets():
    assert monitor_dir_for("/var/lib/pgdock/pg/secrets/", "pg") == "/var/lib/pgdock/pg/monitor"
    assert monitor_dir_for(None, "pg") == "/var/lib/pgdock/pg/monitor"


def test_rule_needed_only_where_no_password_rule_lets_the_role_in():
    rules, _others = parse_hba(f"hostssl all all {SUBNET} scram-sha-256\nhost all all all reject\n")
    assert rule_lets_in(rules, SUBNET, "postgres", "pgdock_monitor", tls=True)
    assert not rule_lets_in(rules, SUBNET, "postgres", "pgdock_monitor", tls=False)
    assert not rule_lets_in(rules, "10.0.0.0/24", "postgres", "pgdock_monitor", tls=True)
    cert, _others = parse_hba(f"hostssl all all {SUBNET} cert\n")
    assert not rule_lets_in(cert, SUBNET, "postgres", "pgdock_monitor", tls=True)
    rule = monitor_rule("host", SUBNET, "postgres", "pgdock_monitor")
    assert rule == HbaRule("host", ("postgres",), ("pgdock_monitor",), SUBNET, "scram-sha-256")
    assert rule_lets_in([rule] + rules, SUBNET, "postgres", "pgdock_monitor", tls=False)
