"""pg.connection: where a module connects when it is given a pgdock container, and libpq's keywords."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import (
    ServerTarget,
    checked_connect_params,
    container_binding,
    container_login,
    container_secrets_dir,
    reachable_address,
    resolve_target,
)


def container(ports=None, mounts=None):
    return SimpleNamespace(name="pg1", attrs={"HostConfig": {"PortBindings": ports or {}}, "Mounts": mounts or []})


def test_the_published_port_and_where_this_host_reaches_it():
    assert container_binding(container({"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "15432"}]})) == ("127.0.0.1", 15432)
    assert container_binding(container({"5432/tcp": [{"HostIp": "0.0.0.0", "HostPort": "5"}]})) == ("127.0.0.1", 5)
    assert container_binding(container({"6432/tcp": [{"HostIp": "10.1.2.3", "HostPort": "6"}]}), "6432/tcp") == ("10.1.2.3", 6)
    assert reachable_address("::") == reachable_address(None) == "127.0.0.1"


def test_a_container_without_a_published_port_is_refused_with_the_way_out():
    with pytest.raises(PgdockError, match="publishes no port for 5432; publish one"):
        container_binding(container())


def test_the_secrets_directory_is_what_the_container_mounts():
    mounted = container(mounts=[{"Type": "bind", "Source": "/srv/pg1/secrets", "Destination": "/run/secrets/pgdock"}])
    assert container_secrets_dir(mounted) == "/srv/pg1/secrets"
    assert container_secrets_dir(container()) is None


def test_a_container_login_clears_the_login_options():
    params = container_login({"login_host": "db", "login_user": "u", "login_password": "p", "x": 1}, "pg2", "app")
    assert params == {"login_host": None, "login_port": None, "login_user": None, "login_password": None,
                      "login_db": "app", "container": "pg2", "x": 1, "login_unix_socket": None,
                      "session_role": None}


def test_libpq_keywords_carry_the_password_only_when_there_is_one():
    target = ServerTarget(host="127.0.0.1", port=5, user="u", ssl_rootcert="/ca.crt")
    params = target.dsn_params("app")
    assert "password" not in params and params["dbname"] == "app" and params["sslrootcert"] == "/ca.crt"
    assert "sslcert" not in params and params["application_name"] == "pgdock.postgres"
    assert ServerTarget(host="h", port=1, user="u", password="s3cret").dsn_params()["password"] == "s3cret"
    assert "s3cret" not in repr(ServerTarget(host="h", port=1, user="u", password="s3cret"))


def test_connect_params_reach_libpq_and_own_keywords_are_refused_with_their_option():
    assert checked_connect_params({"target_session_attrs": "read-write", "keepalives": 1, "sslcompression": False}) == {
        "target_session_attrs": "read-write", "keepalives": "1", "sslcompression": "false"}
    with pytest.raises(PgdockError, match="connect_params: 'password' has an option of its own: give it as login_password"):
        checked_connect_params({"password": "s3cret"})
    with pytest.raises(PgdockError, match="'port' has an option of its own: give it as login_port"):
        checked_connect_params({"port": 5})
    with pytest.raises(PgdockError, match="is not a libpq connection keyword"):
        checked_connect_params({"a b": 1})
    target = ServerTarget(host="h", port=1, user="u", connect_params={"options": "-c work_mem=8MB"})
    assert target.dsn_params()["options"] == "-c work_mem=8MB"


def test_a_unix_socket_directory_takes_the_place_of_the_host():
    target = resolve_target({"login_host": "127.0.0.1", "login_unix_socket": "/run/pg", "login_port": 5433,
                             "login_user": "app", "session_role": "owner"})
    assert (target.host, target.port, target.session_role) == ("/run/pg", 5433, "owner")
    assert target.dsn_params()["host"] == "/run/pg"
