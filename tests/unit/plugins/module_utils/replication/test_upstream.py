"""Unit tests of a replica's upstream on another Docker host: the checks and connection values."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conninfo
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.basebackup import standby_conf_lines
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.options import OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.upstream import (
    basebackup_tls_env,
    check_upstream_options,
    standby_tls,
    upstream_login,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import spec_params

UPSTREAM = {"host": "10.0.0.11", "port": 5432, "ca_file": "/var/lib/pgdock/pg/trusted-ca.crt",
            "sslmode": "verify-full", "login_user": "postgres", "login_password": "su-secret", "login_db": "postgres"}


def params(**overrides) -> dict:
    base = dict(name="pg-replica", primary="pg-primary", upstream=dict(UPSTREAM), image="postgres:18",
                replication_password="repl-secret", networks=[{"name": "pgdock-db"}])
    base.update(overrides)
    return spec_params(OPTIONS, base, "replica")


def test_a_complete_upstream_passes():
    check_upstream_options(params())


@pytest.mark.parametrize("missing", ["image", "replication_password", "networks"])
def test_what_the_primary_cannot_give_from_another_host_is_required(missing):
    with pytest.raises(PgdockError, match=f"{missing}.*required with upstream"):
        check_upstream_options(params(**{missing: None}))


def test_a_verifying_sslmode_needs_the_ca_file():
    with pytest.raises(PgdockError, match="upstream.ca_file is required with upstream.sslmode=verify-full"):
        check_upstream_options(params(upstream=dict(UPSTREAM, ca_file=None)))
    check_upstream_options(params(upstream=dict(UPSTREAM, ca_file=None, sslmode="require")))


@pytest.mark.parametrize("option", [dict(cascade_from="pg-replica2"), dict(synchronous=True), dict(state="rejoined")])
def test_what_needs_the_primarys_engine_is_refused(option):
    with pytest.raises(PgdockError, match="not available with upstream"):
        check_upstream_options(params(**option))


def test_a_port_out_of_range_is_refused():
    with pytest.raises(PgdockError, match="upstream.port: 70000"):
        check_upstream_options(params(upstream=dict(UPSTREAM, port=70000)))


def test_the_modules_login_verifies_the_primary_as_the_standby_does():
    login = upstream_login(UPSTREAM)
    assert (login["login_host"], login["login_port"], login["ssl_mode"], login["ssl_rootcert"]) == \
        ("10.0.0.11", 5432, "verify-full", "/var/lib/pgdock/pg/trusted-ca.crt")
    assert login["container"] is None


def test_the_standby_reads_the_ca_copy_in_its_secrets_mount():
    assert standby_tls(UPSTREAM) == ("verify-full", "/run/secrets/pgdock/upstream-ca.crt")
    assert basebackup_tls_env(UPSTREAM) == {"PGSSLMODE": "verify-full",
                                            "PGSSLROOTCERT": "/run/secrets/pgdock/upstream-ca.crt"}
    assert basebackup_tls_env(dict(UPSTREAM, ca_file=None, sslmode="require")) == {"PGSSLMODE": "require"}


def test_primary_conninfo_names_the_address_port_and_ca_never_the_password():
    sslmode, rootcert = standby_tls(UPSTREAM)
    lines = standby_conf_lines("10.0.0.11", "replicator", "pg-replica", "pg_replica", port=15432,
                               sslmode=sslmode, sslrootcert=rootcert)
    expected = conninfo(host="10.0.0.11", port=15432, user="replicator", application_name="pg-replica",
                        passfile="/run/secrets/pgdock/replication.pgpass", sslmode="verify-full",
                        sslrootcert="/run/secrets/pgdock/upstream-ca.crt")
    assert f"primary_conninfo = '{expected}'" in lines
    assert "primary_slot_name = 'pg_replica'" in lines
    assert "password=" not in lines and "su-secret" not in lines
    # without a CA, no sslrootcert (as before)
    assert "sslrootcert" not in standby_conf_lines("pg-primary", "replicator", "pg-replica", None)
