"""Integration tests of the container module's host options (issue 12) on real containers: mounts,
read-only root filesystem, user, limits, capabilities, several published ports, a fixed address
and the log driver. Every Docker object made here is named pgdock-c-*."""

from __future__ import annotations

import secrets

import docker
import psycopg2
import pytest

from ansible_runner import run_module
from pgclient import unused_port

PASSWORD = "opt-pw"


@pytest.fixture
def cname():
    """cname(prefix) -> a name starting with pgdock-c-, unique to this test."""
    token = secrets.token_hex(3)
    return lambda prefix: f"pgdock-c-{prefix}-{token}"


@pytest.fixture
def network(docker_client, cname, cleanup):
    """network(prefix, subnet=None) -> the name of a new bridge network (with that /24 subnet), removed after the test."""
    def _create(prefix: str, subnet: str | None = None) -> str:
        name = cname(prefix)
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]) if subnet else None
        docker_client.networks.create(name, driver="bridge", ipam=ipam)
        cleanup["networks"].append(name)
        return name
    return _create


@pytest.fixture
def pg(cname, cleanup, network, tmp_path, pg_image):
    """pg(**overrides) -> the module's args for a fresh container, registered for cleanup."""
    name = cname("pg")
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    base = dict(name=name, image=pg_image(18), pull="never", superuser_password=PASSWORD,
                networks=[{"name": network("net")}], published_port=unused_port(),
                secrets_dir=str(tmp_path / "secrets"), stop_timeout=30, wait_timeout=90)
    return lambda **over: dict(base, **over)


def query(port: int, sql: str):
    with psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=PASSWORD, dbname="postgres",
                          connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else None


def attrs_of(docker_client, name: str) -> dict:
    return docker_client.containers.get(name).attrs


def test_limits_capabilities_ports_mounts_and_log_driver(pg, docker_client, cname, cleanup, tmp_path):
    bind_dir = tmp_path / "conf"
    bind_dir.mkdir()
    (bind_dir / "hello.txt").write_text("hello\n")
    volume = cname("extra")
    cleanup["volumes"].append(volume)
    second_port = unused_port()
    args = pg(ulimits=["nofile:8192:16384", "core:0"], sysctls={"net.ipv4.tcp_keepalive_time": "120"},
              memory="512m", memory_reservation="256m", cpuset_cpus="0", cap_add=["SYS_NICE"], cap_drop=["net_raw"],
              shm_size="128m", log_driver="local", log_options={"max-size": "5m"},
              published_ports=[f"127.0.0.1:{second_port}:5432"],
              mounts=[{"source": str(bind_dir), "target": "/etc/pgdock-extra", "type": "bind", "read_only": True},
                      {"source": volume, "target": "/srv/extra"},
                      {"target": "/scratch", "type": "tmpfs", "tmpfs_size": "16m", "tmpfs_mode": "1770"}])
    first = run_module("container", args)
    assert first.changed and not first.failed, first
    attrs = attrs_of(docker_client, args["name"])
    host = attrs["HostConfig"]
    assert sorted((u["Name"], u["Soft"], u["Hard"]) for u in host["Ulimits"]) == [("core", 0, 0), ("nofile", 8192, 16384)]
    assert host["Sysctls"] == {"net.ipv4.tcp_keepalive_time": "120"}
    assert host["MemoryReservation"] == 256 * 1024 * 1024 and host["CpusetCpus"] == "0"
    assert host["ShmSize"] == 128 * 1024 * 1024
    assert [c.replace("CAP_", "") for c in host["CapAdd"]] == ["SYS_NICE"]
    assert [c.replace("CAP_", "") for c in host["CapDrop"]] == ["NET_RAW"]
    assert host["LogConfig"] == {"Type": "local", "Config": {"max-size": "5m"}}
    assert [b["HostPort"] for b in host["PortBindings"]["5432/tcp"]] == [str(args["published_port"]), str(second_port)]
    tmpfs = [m for m in host["Mounts"] if m["Type"] == "tmpfs"]
    assert tmpfs == [{"Type": "tmpfs", "Target": "/scratch",
                      "TmpfsOptions": {"SizeBytes": 16 * 1024 * 1024, "Mode": 0o1770}}]
    container = docker_client.containers.get(args["name"])
    code, out = container.exec_run(["sh", "-c", "cat /etc/pgdock-extra/hello.txt; ulimit -n; "
                                    "cat /proc/sys/net/ipv4/tcp_keepalive_time"])
    assert code == 0 and out.decode().split() == ["hello", "8192", "120"], out
    code, out = container.exec_run(["touch", "/etc/pgdock-extra/x"])
    assert code != 0 and b"Read-only" in out, out
    code, out = container.exec_run(["touch", "/srv/extra/x", "/scratch/x"])
    assert code == 0, out
    # the server works on both published ports; the module's own view is the first one
    assert query(args["published_port"], "select 1") == [(1,)]
    assert query(second_port, "select 1") == [(1,)]
    assert first["container"]["published_port"] == args["published_port"]
    second = run_module("container", args)
    assert not second.changed and second["actions"] == [], second
    # check mode: a changed ulimit would recreate; nothing changes
    changed = dict(args, ulimits=["nofile:4096:16384", "core:0"])
    check = run_module("container", changed, check=True, diff=True)
    assert check.changed and check["restart_changes"] == ["ulimits"], check
    assert attrs_of(docker_client, args["name"])["Id"] == attrs["Id"]
    refused = run_module("container", dict(changed, allow_restart=False))
    assert not refused.changed and refused["pending_changes"] == ["ulimits"], refused
    assert attrs_of(docker_client, args["name"])["Id"] == attrs["Id"]
    # a changed value of each group recreates, and says which field changed
    for over, field in ((dict(ulimits=["nofile:4096:16384", "core:0"]), "ulimits"),
                        (dict(published_ports=[]), "ports"),
                        (dict(log_driver="json-file", log_options=None), "log_config")):
        args = dict(args, **over)
        res = run_module("container", args)
        assert res.changed and res["restart_changes"] == [field], res
        assert attrs_of(docker_client, args["name"])["Id"] != attrs["Id"]
        attrs = attrs_of(docker_client, args["name"])
    assert query(args["published_port"], "select 1") == [(1,)]
    assert run_module("container", args).changed is False


def test_read_only_root_and_user_take_writes(pg, docker_client):
    args = pg(read_only=True)
    first = run_module("container", args)
    assert first.changed and not first.failed, first
    attrs = attrs_of(docker_client, args["name"])
    assert attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert sorted(m["Target"] for m in attrs["HostConfig"]["Mounts"] if m["Type"] == "tmpfs") == ["/tmp", "/var/run/postgresql"]
    query(args["published_port"], "create table t (v int); insert into t select generate_series(1, 1000); checkpoint")
    assert query(args["published_port"], "select count(*) from t") == [(1000,)]
    code, out = docker_client.containers.get(args["name"]).exec_run(["touch", "/etc/x"])
    assert code != 0 and b"Read-only" in out, out
    assert not run_module("container", args).changed
    # the same cluster as uid 999 without any capability, still read-only: recreated, and writes go on
    args = dict(args, user="999:999", cap_drop=["ALL"])
    check = run_module("container", args, check=True)
    assert check.changed and check["restart_changes"] == ["cap_drop", "user"], check
    res = run_module("container", args)
    assert res.changed and res["restart_changes"] == ["cap_drop", "user"], res
    attrs = attrs_of(docker_client, args["name"])
    assert attrs["Config"]["User"] == "999:999" and attrs["HostConfig"]["CapDrop"] == ["ALL"]
    query(args["published_port"], "insert into t values (0)")
    assert query(args["published_port"], "select count(*) from t") == [(1001,)]
    code, out = docker_client.containers.get(args["name"]).exec_run(["id", "-u"])
    assert out.decode().strip() == "999"
    assert not run_module("container", args).changed


def test_fixed_address_on_a_network_reattaches(pg, docker_client, network):
    subnet = f"10.{230 + secrets.randbelow(20)}.{secrets.randbelow(250)}"
    name = network("ipnet", f"{subnet}.0/24")
    args = pg(networks=[{"name": name, "ipv4_address": f"{subnet}.10"}])
    first = run_module("container", args)
    assert first.changed and not first.failed, first
    attrs = attrs_of(docker_client, args["name"])
    endpoint = attrs["NetworkSettings"]["Networks"][name]
    assert endpoint["IPAMConfig"]["IPv4Address"] == endpoint["IPAddress"] == f"{subnet}.10"
    assert first["container"]["networks"][name]["ip_address"] == f"{subnet}.10"
    assert not run_module("container", args).changed
    moved = dict(args, networks=[{"name": name, "ipv4_address": f"{subnet}.11"}])
    check = run_module("container", moved, check=True)
    assert check.changed and check["restart_changes"] == [], check
    assert attrs_of(docker_client, args["name"])["NetworkSettings"]["Networks"][name]["IPAddress"] == f"{subnet}.10"
    res = run_module("container", moved)
    assert res.changed and res["restart_changes"] == [] and any("reconnect" in a for a in res["actions"]), res
    after = attrs_of(docker_client, args["name"])
    assert after["Id"] == attrs["Id"] and after["State"]["StartedAt"] == attrs["State"]["StartedAt"]
    assert after["NetworkSettings"]["Networks"][name]["IPAddress"] == f"{subnet}.11"
    assert query(args["published_port"], "select 1") == [(1,)]
    assert not run_module("container", moved).changed
    outside = run_module("container", dict(args, networks=[{"name": name, "ipv4_address": "10.255.255.9"}]))
    assert outside.failed and "ipv4_address 10.255.255.9 is not in a subnet" in outside["msg"], outside
    assert attrs_of(docker_client, args["name"])["NetworkSettings"]["Networks"][name]["IPAddress"] == f"{subnet}.11"
    # without the option: re-attached with an address Docker picks, still no restart
    dynamic = run_module("container", dict(args, networks=[{"name": name}]))
    assert dynamic.changed and dynamic["restart_changes"] == [], dynamic
    after = attrs_of(docker_client, args["name"])
    assert not (after["NetworkSettings"]["Networks"][name].get("IPAMConfig") or {}).get("IPv4Address")
    assert after["State"]["StartedAt"] == attrs["State"]["StartedAt"]


@pytest.mark.parametrize("over, message", [
    (dict(mounts=[{"source": "/tmp", "target": "/run/secrets/pgdock", "type": "bind"}]), "collides with /run/secrets/pgdock"),
    (dict(mounts=[{"source": "v", "target": "/var/lib/postgresql/18"}]), "collides with /var/lib/postgresql"),
    (dict(mounts=[{"source": "/nonexistent/pgdock-c", "target": "/x", "type": "bind"}]), "bind source '/nonexistent/pgdock-c'"),
    (dict(read_only=True, mounts=[{"target": "/tmp", "type": "tmpfs"}]), "collides with /tmp"),
    (dict(log_driver="no-such-driver"), "log_driver: 'no-such-driver'"),
    (dict(user="1000"), "user: uid 1000 differs from postgres_uid 999"),
    (dict(log_driver="pgdock-c/nolog:latest"), "the Docker engine has no log driver 'pgdock-c/nolog:latest'"),
    (dict(ulimits=["nofile:10:5"]), "ulimits: the soft limit"),
    (dict(sysctls={"vm.swappiness": "1"}), "sysctls: 'vm.swappiness'"),
    (dict(cap_add=["NO_SUCH"]), "cap_add: 'NO_SUCH'"),
    (dict(published_ports=["127.0.0.1:5432"]), "published_ports: '127.0.0.1:5432'"),
    (dict(networks=[{"name": "x", "ipv4_address": "10.1.2"}]), "ipv4_address '10.1.2'"),
])
def test_bad_input_fails_clearly_and_creates_nothing(pg, docker_client, over, message):
    args = pg(**over)
    res = run_module("container", args)
    assert res.failed and message in res["msg"], res
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]


def test_read_only_root_with_the_pre_18_layout(pg, pg_image, docker_client):
    """Up to 17 the volume is PGDATA itself; the entrypoint and server write nowhere else either."""
    args = pg(image=pg_image(15), read_only=True)
    res = run_module("container", args)
    assert res.changed and not res.failed, res
    assert docker_client.containers.get(args["name"]).attrs["HostConfig"]["ReadonlyRootfs"] is True
    query(args["published_port"], "create table t as select 1 as v; checkpoint")
    assert query(args["published_port"], "select v from t") == [(1,)]
    assert not run_module("container", args).changed


def test_user_other_than_the_images_gets_the_existing_cluster(pg, docker_client):
    """A cluster made as 999 runs as uid 1001 once the module gave it the files (the entrypoint cannot)."""
    args = pg()
    assert run_module("container", args).changed
    query(args["published_port"], "create table t as select 1 as v")
    args = dict(args, user="1001:1001", postgres_uid=1001)
    check = run_module("container", args, check=True)
    assert check.changed and any("give the cluster" in a for a in check["actions"]), check
    res = run_module("container", args)
    assert res.changed and res["restart_changes"] == ["user"], res
    assert any("give the cluster in data volume" in a for a in res["actions"]), res
    container = docker_client.containers.get(args["name"])
    assert container.exec_run(["id", "-u"]).output.decode().strip() == "1001"
    query(args["published_port"], "insert into t values (2)")
    assert query(args["published_port"], "select count(*) from t") == [(2,)]
    assert not run_module("container", args).changed
