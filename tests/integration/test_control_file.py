"""Integration tests of the pg_control reader on real clusters (PostgreSQL 15, 17 and 18): the control file
read from the stopped server container's file system must say what pg_controldata says of the same
data volume, and the fast path (no helper container) must know the layout of every supported major."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.control import (
    HEADER,
    KNOWN_VERSIONS,
    parse_control_file,
    parse_controldata_output,
    read_control_file,
)
from pgclient import sql

PG_CONTROL_SIZE = 8192


def container_env(container) -> dict:
    return dict(item.split("=", 1) for item in container.attrs["Config"].get("Env") or [] if "=" in item)


def data_mount(container, pgdata: str) -> dict:
    """The server's mount holding PGDATA (the deepest destination that contains it)."""
    candidates = [m for m in container.attrs.get("Mounts") or []
                  if pgdata == m["Destination"] or pgdata.startswith(m["Destination"].rstrip("/") + "/")]
    assert candidates, f"no mount of {container.name} holds {pgdata}: {container.attrs.get('Mounts')}"
    return max(candidates, key=lambda m: len(m["Destination"]))


def pg_controldata(docker_client, image: str, mount: dict, pgdata: str, name: str) -> str:
    """pg_controldata's output in a throw-away container with the data volume mounted read-only."""
    source = mount["Name"] if mount["Type"] == "volume" else mount["Source"]
    output = docker_client.containers.run(
        image, [pgdata], entrypoint="pg_controldata", user="999:999", name=name, network_mode="none",
        environment={"LC_ALL": "C"}, volumes={source: {"bind": mount["Destination"], "mode": "ro"}},
        remove=True, stdout=True, stderr=True)
    return output.decode()


@pytest.mark.parametrize("major", [15, 17, 18])
def test_control_file_matches_pg_controldata(major, pg_server, docker_client, cleanup, unique):
    server = pg_server(major)
    container = docker_client.containers.get(server["name"])
    pgdata = container_env(container)["PGDATA"]
    assert pgdata

    # While it runs, the control file says so (and is read the same way).
    sql(server["port"], server["password"], "create table filler as select g from generate_series(1, 20000) g")
    sql(server["port"], server["password"], "checkpoint")
    running = parse_control_file(read_control_file(container, pgdata))
    assert running is not None
    assert running.state == "in production"
    assert running.timeline == 1

    container.stop(timeout=30)
    container.reload()
    assert container.status == "exited"

    data = read_control_file(container, pgdata)
    assert data is not None and len(data) == PG_CONTROL_SIZE
    version = HEADER.unpack_from(data)[1]
    assert version in KNOWN_VERSIONS, f"PostgreSQL {major} writes pg_control version {version}"
    fast = parse_control_file(data)
    assert fast is not None, f"the fast path does not know PostgreSQL {major}'s control file"
    assert fast.state == "shut down"
    assert fast.timeline == 1
    assert fast.checkpoint_lsn > running.checkpoint_lsn  # the shutdown checkpoint is a new one

    helper = unique(f"ctl{major}") + "-controldata"
    cleanup["containers"].append(helper)
    text = pg_controldata(docker_client, container.attrs["Config"]["Image"], data_mount(container, pgdata),
                          pgdata, helper)
    assert f"pg_control version number:            {version}" in text
    slow = parse_controldata_output(text)
    assert slow.state == fast.state == "shut down"
    assert slow.checkpoint_lsn == fast.checkpoint_lsn
    assert slow.checkpoint_text == fast.checkpoint_text
    assert f"Latest checkpoint location:           {fast.checkpoint_text}\n" in text
    assert slow.timeline == fast.timeline
    assert slow == fast


def test_read_control_file_absent(pg_server, docker_client):
    """No pg_control at the given path: None (the caller falls back to pg_controldata)."""
    server = pg_server(18)
    container = docker_client.containers.get(server["name"])
    assert read_control_file(container, "/nonexistent/pgdata") is None
