"""Unit tests of the container's host options: validation, their spec, the same read from inspect."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.container.host_options import (
    actual_host_fields,
    check_mount_targets,
    desired_host_fields,
    desired_log_config,
    desired_ports,
    extra_mounts,
    parse_published_port,
    parse_ulimit,
    validate_host_options,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import check_static_address
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

DEFAULTS = dict(ulimits=[], sysctls={}, memory_reservation=None, cpuset_cpus=None, cap_add=[], cap_drop=[],
                user=None, read_only=False, mounts=[], published_ports=[], log_driver="json-file",
                log_options=None, log_max_size="10m", log_max_file=5, postgres_uid=999, memory=None,
                published_port=5432, published_host_ip="127.0.0.1")


def opts(**over) -> dict:
    return dict(DEFAULTS, **over)


def test_defaults_match_what_inspect_shows_for_todays_containers():
    assert desired_host_fields(opts()) == actual_host_fields({"Config": {"User": ""}, "HostConfig": {
        "Ulimits": None, "Sysctls": None, "MemoryReservation": 0, "CpusetCpus": "", "CapAdd": None,
        "CapDrop": None, "ReadonlyRootfs": False}})
    assert desired_log_config(opts()) == {"type": "json-file", "config": {"max-size": "10m", "max-file": "5"}}
    assert desired_ports(opts()) == {"5432/tcp": ["127.0.0.1:5432"]}
    assert extra_mounts(opts()) == []


def test_host_fields_round_trip_through_inspect():
    p = opts(ulimits=["nofile:1024:2048", "core:0"], sysctls={"net.core.somaxconn": 1024}, memory_reservation="1g",
             cpuset_cpus="0", cap_add=["sys_nice"], cap_drop=["CAP_NET_RAW"], user="999:999", read_only=True,
             mounts=[{"target": "/scratch", "type": "tmpfs", "tmpfs_size": "16m", "tmpfs_mode": "1770"}])
    d = desired_host_fields(p)
    assert d["ulimits"] == ["core:0:0", "nofile:1024:2048"]
    assert d["cap_add"] == ["CAP_SYS_NICE"] and d["cap_drop"] == ["CAP_NET_RAW"]
    assert d["tmpfs"] == ["/scratch:16777216:1770", "/tmp:0:", "/var/run/postgresql:0:"]
    inspect = {"Config": {"User": "999:999"}, "HostConfig": {
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": 0, "Hard": 0}],
        "Sysctls": {"net.core.somaxconn": "1024"}, "MemoryReservation": 1 << 30, "CpusetCpus": "0",
        "CapAdd": ["SYS_NICE"], "CapDrop": ["CAP_NET_RAW"], "ReadonlyRootfs": True,
        "Mounts": [{"Type": "tmpfs", "Target": "/tmp"}, {"Type": "tmpfs", "Target": "/var/run/postgresql"},
                   {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 16 << 20, "Mode": 0o1770}},
                   {"Type": "volume", "Target": "/var/lib/postgresql"}]}}
    assert actual_host_fields(inspect) == d


def test_published_ports_follow_published_port():
    p = opts(published_ports=["127.0.0.1:6000:5432", "7000:5432", "[::1]:9187:9187/udp"])
    assert desired_ports(p) == {"5432/tcp": ["127.0.0.1:5432", "127.0.0.1:6000", "0.0.0.0:7000"],
                                "9187/udp": ["::1:9187"]}
    assert desired_ports(opts(published_port=None, published_ports=["6000:5432"])) == {"5432/tcp": ["0.0.0.0:6000"]}
    assert parse_published_port("1.2.3.4:1:2") == ("2/tcp", "1.2.3.4", 1)


def test_log_driver_other_than_json_file_takes_log_options_only():
    assert desired_log_config(opts(log_driver="local", log_options={"max-size": "5m"})) == \
        {"type": "local", "config": {"max-size": "5m"}}
    assert desired_log_config(opts(log_options={"compress": True}))["config"] == \
        {"max-size": "10m", "max-file": "5", "compress": "True"}


def test_ulimit_hard_defaults_to_soft():
    assert parse_ulimit("nofile:100") == ("nofile", 100, 100)
    assert parse_ulimit("memlock:-1:-1") == ("memlock", -1, -1)


@pytest.mark.parametrize("over, message", [
    (dict(ulimits=["nofile"]), "ulimits: 'nofile' is not name:soft[:hard]"),
    (dict(ulimits=["nofile:10:5"]), "soft limit"),
    (dict(ulimits=["files:10"]), "ulimits: 'files' in 'files:10' is not a limit"),
    (dict(published_ports=["127.0.0.1:5432:5432"]), "127.0.0.1:5432/tcp published twice"),
    (dict(mounts=[{"target": "/a", "source": "/abs"}]), "volume source '/abs'"),
    (dict(sysctls={"vm.swappiness": 1}), "sysctls: 'vm.swappiness'"),
    (dict(memory_reservation="lots"), "memory_reservation: 'lots' is not a size"),
    (dict(memory="1g", memory_reservation="2g"), "memory_reservation: '2g' is more than memory"),
    (dict(cpuset_cpus="0-"), "cpuset_cpus: '0-'"),
    (dict(cpuset_cpus="100000"), "cpuset_cpus: CPU 100000 does not exist"),
    (dict(cap_drop=["NOPE"]), "cap_drop: 'NOPE'"),
    (dict(user="postgres"), "user: 'postgres' must be a numeric uid[:gid]"),
    (dict(user="1000:1000"), "user: uid 1000 differs from postgres_uid 999"),
    (dict(log_driver="jsonfile"), "log_driver: 'jsonfile'"),
    (dict(published_ports=["5432"]), "published_ports: '5432'"),
    (dict(published_ports=["70000:5432"]), "published_ports: 70000"),
    (dict(mounts=[{"target": "rel", "source": "v"}]), "mounts: target 'rel' must be an absolute path"),
    (dict(mounts=[{"target": "/a", "source": "v"}, {"target": "/a/", "source": "w"}]), "listed twice"),
    (dict(mounts=[{"target": "/a", "type": "volume"}]), "needs a source"),
    (dict(mounts=[{"target": "/a", "type": "tmpfs", "source": "x"}]), "takes no source"),
    (dict(mounts=[{"target": "/a", "type": "tmpfs", "tmpfs_mode": "rwx"}]), "tmpfs_mode 'rwx'"),
    (dict(mounts=[{"target": "/a", "type": "tmpfs", "tmpfs_size": "big"}]), "tmpfs_size: 'big'"),
    (dict(mounts=[{"target": "/a", "source": "v", "tmpfs_size": "1m"}]), "are for type tmpfs"),
    (dict(mounts=[{"target": "/a", "source": "/no/such/dir", "type": "bind"}]), "bind source '/no/such/dir'"),
    (dict(mounts=[{"target": "/a", "source": "x", "type": "nfs"}]), "type 'nfs'"),
])
def test_bad_values_are_refused_naming_the_option(over, message):
    with pytest.raises(PgdockError) as exc:
        validate_host_options(opts(**over))
    assert message in str(exc.value)


def test_good_values_pass(tmp_path):
    sysctls = {"net.ipv4.ip_local_port_range": "1024 65000", "kernel.shmmax": 1}
    mounts = [{"target": "/a", "source": str(tmp_path), "type": "bind"},
              {"target": "/b", "type": "tmpfs", "tmpfs_mode": "700"}]
    validate_host_options(opts(ulimits=["nofile:1:2"], sysctls=sysctls, cpuset_cpus="0", cap_add=["ALL"], user="999",
                               log_driver="fluentd", published_ports=["1:2"], mounts=mounts))


@pytest.mark.parametrize("target, read_only, collides", [
    ("/var/lib/postgresql", False, "/var/lib/postgresql"),
    ("/var/lib/postgresql/18/docker/pg_wal", False, "/var/lib/postgresql"),
    ("/run/secrets/pgdock", False, "/run/secrets/pgdock"),
    ("/docker-entrypoint-initdb.d", False, "/docker-entrypoint-initdb.d"),
    ("/pgdock-wal-archive/x", False, "/pgdock-wal-archive"),
    ("/tmp", True, "/tmp"),
    ("/tmp", False, None),
    ("/var/lib", False, None),
])
def test_mount_targets_of_the_module_are_refused(target, read_only, collides):
    p = opts(read_only=read_only, mounts=[{"target": target, "source": "v"}])
    if collides is None:
        check_mount_targets(p, "/var/lib/postgresql")
        return
    with pytest.raises(PgdockError) as exc:
        check_mount_targets(p, "/var/lib/postgresql")
    assert f"collides with {collides}" in str(exc.value)


NET = {"Name": "n", "IPAM": {"Config": [{"Subnet": "10.231.5.0/24"}]},
       "Containers": {"abc": {"Name": "other", "IPv4Address": "10.231.5.7/24"},
                      "def": {"Name": "pg", "IPv4Address": "10.231.5.8/24"}}}


def test_static_address_in_subnet_and_free():
    check_static_address(NET, "10.231.5.9", "pg")
    check_static_address(NET, "10.231.5.8", "pg")  # its own address
    with pytest.raises(PgdockError, match="in use by container 'other'"):
        check_static_address(NET, "10.231.5.7", "pg")
    with pytest.raises(PgdockError, match="not in a subnet configured on network 'n' .10.231.5.0/24"):
        check_static_address(NET, "10.9.9.9", "pg")
    with pytest.raises(PgdockError, match="none: create the network with a subnet"):
        check_static_address(dict(NET, IPAM={"Config": []}), "10.9.9.9", "pg")
