"""Unit tests of the container section from `docker inspect` output: layout, volume, networks, labels."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.info.container import describe_container

IMAGE_18 = {"Id": "sha256:img18", "RepoTags": ["pgdock-test/postgres:18"], "RepoDigests": [],
            "Config": {"Env": ["PG_MAJOR=18", "PGDATA=/var/lib/postgresql/18/docker"],
                       "Volumes": {"/var/lib/postgresql": {}}}}
IMAGE_15 = {"Id": "sha256:img15", "RepoTags": ["postgres:15"], "RepoDigests": ["postgres@sha256:abc"],
            "Config": {"Env": ["PG_MAJOR=15", "PGDATA=/var/lib/postgresql/data"],
                       "Volumes": {"/var/lib/postgresql/data": {}}}}


def inspect(image, env, mounts, labels=None):
    return {
        "Id": "c0ffee" * 10 + "abcd", "Name": "/pg1", "Image": image["Id"], "Created": "2026-12-03T10:00:00Z",
        "RestartCount": 2,
        "State": {"Status": "running", "StartedAt": "2026-12-03T10:00:01Z", "Health": {"Status": "healthy"}},
        "Config": {"Image": image["RepoTags"][0], "Env": env, "Labels": {
            "org.pgdock.managed-by": "pgdock.postgres", "org.pgdock.role": "replica",
            "org.pgdock.replica-of": "pg0", "com.example.other": "x", **(labels or {})}},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"},
                       "PortBindings": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "15432"}]}},
        "Mounts": mounts,
        "NetworkSettings": {"Networks": {"pgnet": {"IPAddress": "172.20.0.5", "GlobalIPv6Address": "",
                                                   "Aliases": ["pg1", "c0ffeec0ffee", "primary"], "Gateway": "172.20.0.1"}}},
    }


def test_18_layout_volume_networks_ports_and_labels():
    attrs = inspect(IMAGE_18, ["PG_MAJOR=18", "PGDATA=/var/lib/postgresql/18/docker"], [
        {"Type": "volume", "Name": "pg1-data", "Destination": "/var/lib/postgresql", "RW": True},
        {"Type": "bind", "Source": "/var/lib/pgdock/pg1/secrets", "Destination": "/run/secrets/pgdock", "RW": False}])
    facts = describe_container(attrs, IMAGE_18)
    assert facts["name"] == "pg1" and facts["image"] == "pgdock-test/postgres:18" and facts["image_id"] == "sha256:img18"
    assert facts["restart_count"] == 2 and facts["health"] == "healthy" and facts["restart_policy"] == "unless-stopped"
    assert facts["data_volume"] == "pg1-data" and facts["pgdata"] == "/var/lib/postgresql/18/docker"
    assert facts["layout"] == {"major": 18, "pgdata": "/var/lib/postgresql/18/docker", "volume_path": "/var/lib/postgresql",
                               "pgdata_in_volume": "18/docker", "style": "18+"}
    assert facts["mounts"][1] == {"type": "bind", "source": "/var/lib/pgdock/pg1/secrets",
                                  "destination": "/run/secrets/pgdock", "read_only": True}
    assert facts["networks"] == {"pgnet": {"ip_address": "172.20.0.5", "ipv6_address": None, "aliases": ["primary"],
                                           "gateway": "172.20.0.1"}}
    assert facts["published_ports"] == {"5432/tcp": ["127.0.0.1:15432"]}
    assert facts["labels"] == {"org.pgdock.managed-by": "pgdock.postgres", "org.pgdock.role": "replica",
                               "org.pgdock.replica-of": "pg0"}
    assert facts["topology"] == {"role": "replica", "upstream": "pg0", "synchronous": False}


def test_pre_18_layout_and_a_pgdata_override():
    volume = {"Type": "volume", "Name": "pg1-data", "Destination": "/var/lib/postgresql/data", "RW": True}
    old = describe_container(inspect(IMAGE_15, ["PGDATA=/var/lib/postgresql/data"], [volume]), IMAGE_15)
    assert old["layout"]["style"] == "pre-18" and old["data_volume"] == "pg1-data" and old["repo_digests"] == ["postgres@sha256:abc"]
    # an 18 image told to keep the old layout (pgdata option): the volume is PGDATA itself
    kept = describe_container(inspect(IMAGE_18, ["PGDATA=/var/lib/postgresql/data"], [volume]), IMAGE_18)
    assert kept["layout"] == {"major": 18, "pgdata": "/var/lib/postgresql/data", "volume_path": "/var/lib/postgresql/data",
                              "pgdata_in_volume": ".", "style": "pre-18"}
    assert kept["data_volume"] == "pg1-data"


def test_an_image_not_of_the_official_kind_has_no_layout():
    attrs = inspect(IMAGE_18, ["PGDATA=/data"], [], labels={"org.pgdock.synchronous": "true"})
    facts = describe_container(attrs, {"Config": {"Env": []}})
    assert facts["layout"] is None and facts["data_volume"] is None and facts["pgdata"] == "/data"
    assert facts["topology"]["synchronous"] is True
