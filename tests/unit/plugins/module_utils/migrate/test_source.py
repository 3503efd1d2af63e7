"""migrate.source: the route from containers and the passfile lookup."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.source import (
    SOCKET_MOUNT,
    Source,
    passfile_password,
    split_pgpass_line,
)


def source(**options):
    base = dict(login_port=5432, login_user="postgres", login_db="postgres")
    return Source(dict(base, **options))


def test_a_remote_host_is_reached_as_it_is():
    route = source(login_host="db1.example.com").route()
    assert (route.host, route.port, route.network, route.mounts) == ("db1.example.com", 5432, None, [])


def test_container_host_and_port_override_the_docker_hosts_view():
    route = source(login_host="127.0.0.1", login_port=15432, container_host="src", container_port=5432,
                   network="legacy").route()
    assert (route.host, route.port, route.network) == ("src", 5432, "legacy")


def test_this_host_is_reached_through_its_socket_directory():
    route = source(login_host="127.0.0.1", login_unix_socket="/run/pg").route()
    assert route.host == SOCKET_MOUNT
    assert route.mount_specs() == [dict(source="/run/pg", target=SOCKET_MOUNT, type="bind", read_only=False)]


def test_this_host_without_a_way_in_is_an_error():
    with pytest.raises(PgdockError, match="container_host"):
        source(login_host="127.0.0.1").route()
    with pytest.raises(PgdockError, match="login_host"):
        source()


def test_passfile_lines_match_as_libpq_does(tmp_path):
    path = tmp_path / "pgpass"
    path.write_text("# comment\nother:5432:*:postgres:no\n*:5432:*:postgres:pa\\:ss\\\\word\n")
    assert passfile_password(str(path), dict(login_host="db1", login_port=5432)) == "pa:ss\\word"
    assert passfile_password(str(path), dict(login_host="db1", login_port=5433)) is None
    assert split_pgpass_line("h:1:d:u:a:b") == ["h", "1", "d", "u", "a:b"]


def test_a_password_is_needed_for_containers():
    with pytest.raises(PgdockError, match="login_password"):
        source(login_host="db1").pgpass()
    assert source(login_host="db1", login_password="p:w").pgpass() == "*:*:*:postgres:p\\:w\n"
