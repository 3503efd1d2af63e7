"""Unit tests of the container spec: options -> desired spec, inspect -> actual spec, differences."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.container.spec import (
    actual_spec,
    desired_spec,
    inherited_params,
    spec_differences,
    split_differences,
    validate_options,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

IMAGE_18 = {
    "Id": "sha256:img18",
    "Config": {
        "Env": ["PATH=/usr/bin", "PG_MAJOR=18", "PGDATA=/var/lib/postgresql/18/docker", "LANG=en_US.utf8"],
        "Volumes": {"/var/lib/postgresql": {}},
        "Labels": {"maintainer": "someone"},
    },
}


def options(**over) -> dict:
    p = dict(
        name="pg-main", image="postgres:18", data_volume="pg-main-data", superuser="postgres",
        database=None, initdb_args="--auth-host=scram-sha-256 --data-checksums", settings={},
        env={}, labels={}, init_scripts_dir=None, published_port=5432, published_host_ip="127.0.0.1",
        healthcheck=dict(interval=10, timeout=5, retries=5, start_period=30),
        restart_policy="unless-stopped", stop_timeout=120, memory="1g", cpus=1.5, shm_size="256m",
        log_max_size="10m", log_max_file=5, networks=[{"name": "pg-net", "aliases": ["primary"]}],
    )
    p.update(over)
    return p


def inspect_of(desired: dict, image: dict) -> dict:
    """What `docker inspect` shows for a container created from `desired` on `image`."""
    env = list(image["Config"]["Env"]) + [f"{k}={v}" for k, v in desired["env"].items()]
    labels = dict(image["Config"]["Labels"], **desired["labels"])
    mounts = []
    for item in desired["mounts"]:
        kind, source, target, mode = item.split(":")
        m = {"Type": kind, "Destination": target, "RW": mode == "rw"}
        m["Name" if kind == "volume" else "Source"] = source
        mounts.append(m)
    hc = desired["healthcheck"]
    ports = {}
    for port, bindings in desired["ports"].items():
        ports[port] = [dict(zip(("HostIp", "HostPort"), b.rsplit(":", 1))) for b in bindings]
    tmpfs = []
    for item in desired["tmpfs"]:
        target, size, mode = item.split(":")
        options = dict({"SizeBytes": int(size)} if int(size) else {}, **({"Mode": int(mode, 8)} if mode else {}))
        tmpfs.append({"Type": "tmpfs", "Target": target, "TmpfsOptions": options})
        mounts.append({"Type": "tmpfs", "Destination": target, "RW": True, "Source": ""})
    return {
        "Image": desired["image_id"],
        "Config": {"Image": desired["image"], "Cmd": desired["command"], "Env": env, "Labels": labels,
                   "Healthcheck": {"Test": hc["test"], "Interval": hc["interval"], "Timeout": hc["timeout"],
                                   "Retries": hc["retries"], "StartPeriod": hc["start_period"]},
                   "StopTimeout": desired["stop_timeout"], "User": desired["user"]},
        "Mounts": mounts,
        "HostConfig": {"PortBindings": ports, "RestartPolicy": {"Name": desired["restart_policy"]},
                       "Memory": desired["memory"], "NanoCpus": desired["nano_cpus"],
                       "ShmSize": desired["shm_size"], "SecurityOpt": desired["security_opt"],
                       "LogConfig": {"Type": desired["log_config"]["type"], "Config": desired["log_config"]["config"]},
                       "Ulimits": [dict(zip(("Name", "Soft", "Hard"), (u.split(":")[0], *map(int, u.split(":")[1:]))))
                                   for u in desired["ulimits"]] or None,
                       "Sysctls": desired["sysctls"] or None, "MemoryReservation": desired["memory_reservation"],
                       "CpusetCpus": desired["cpuset_cpus"], "CapAdd": [c.replace("CAP_", "") for c in desired["cap_add"]] or None,
                       "CapDrop": desired["cap_drop"] or None, "ReadonlyRootfs": desired["read_only"],
                       "Mounts": tmpfs},
    }


def desired_for(**over) -> dict:
    p = options(**over)
    layout = layout_of_image(p["image"], IMAGE_18)
    return desired_spec(p, layout, IMAGE_18, "/var/lib/pgdock/pg-main/secrets")


def test_desired_spec_is_production_shaped():
    d = desired_for(settings={"shared_buffers": "256MB", "log_connections": True})
    assert d["command"] == ["postgres", "-c", "log_connections=on", "-c", "shared_buffers=256MB"]
    assert d["env"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pgdock/superuser_password"
    assert "POSTGRES_PASSWORD" not in d["env"]
    assert d["ports"] == {"5432/tcp": ["127.0.0.1:5432"]}
    assert "volume:pg-main-data:/var/lib/postgresql:rw" in d["mounts"]
    assert "bind:/var/lib/pgdock/pg-main/secrets:/run/secrets/pgdock:ro" in d["mounts"]
    assert d["memory"] == 1024 ** 3 and d["nano_cpus"] == 1_500_000_000
    assert d["security_opt"] == ["no-new-privileges:true"]
    assert d["labels"]["org.pgdock.managed-by"] == "pgdock.postgres"
    # PGDATA equal to the image's own value is inherited, not an own setting
    assert "PGDATA" not in d["env"]


def test_same_container_has_no_differences():
    d = desired_for()
    assert spec_differences(d, actual_spec(inspect_of(d, IMAGE_18), IMAGE_18)) == []


def test_anonymous_volume_of_the_image_is_ignored():
    d = desired_for()
    attrs = inspect_of(d, IMAGE_18)
    attrs["Mounts"].append({"Type": "volume", "Name": "f" * 64, "Destination": "/var/lib/postgresql", "RW": True})
    assert spec_differences(d, actual_spec(attrs, IMAGE_18)) == []


@pytest.mark.parametrize("change, field", [
    (dict(settings={"work_mem": "8MB"}), "command"),
    (dict(image="postgres:18.1"), "image"),
    (dict(published_port=5433), "ports"),
    (dict(published_host_ip="0.0.0.0"), "ports"),
    (dict(memory="2g"), "memory"),
    (dict(env={"TZ": "UTC"}), "env"),
    (dict(labels={"team": "db"}), "labels"),
    (dict(stop_timeout=60), "stop_timeout"),
    (dict(init_scripts_dir="/srv/init"), "mounts"),
    (dict(data_volume="other"), "mounts"),
    (dict(healthcheck=dict(interval=5, timeout=5, retries=5, start_period=30)), "healthcheck"),
    (dict(log_max_file=3), "log_config"),
    (dict(log_driver="local"), "log_config"),
    (dict(log_options={"compress": "true"}), "log_config"),
    (dict(published_ports=["127.0.0.1:6000:5432"]), "ports"),
    (dict(mounts=[{"source": "extra", "target": "/srv/x"}]), "mounts"),
    (dict(mounts=[{"target": "/scratch", "type": "tmpfs"}]), "tmpfs"),
    (dict(read_only=True), "read_only"),
    (dict(read_only=True), "tmpfs"),
    (dict(user="999"), "user"),
    (dict(ulimits=["nofile:10"]), "ulimits"),
    (dict(sysctls={"net.core.somaxconn": 9}), "sysctls"),
    (dict(memory_reservation="256m"), "memory_reservation"),
    (dict(cpuset_cpus="0"), "cpuset_cpus"),
    (dict(cap_add=["SYS_NICE"]), "cap_add"),
    (dict(cap_drop=["NET_RAW"]), "cap_drop"),
    (dict(shm_size="1g"), "shm_size"),
])
def test_each_change_is_detected(change, field):
    running = desired_for()
    attrs = inspect_of(running, IMAGE_18)
    assert field in spec_differences(desired_for(**change), actual_spec(attrs, IMAGE_18))


def test_manual_drift_is_detected():
    d = desired_for()
    attrs = inspect_of(d, IMAGE_18)
    drifted = copy.deepcopy(attrs)
    drifted["HostConfig"]["RestartPolicy"]["Name"] = "no"
    assert spec_differences(d, actual_spec(drifted, IMAGE_18)) == ["restart_policy"]


@pytest.mark.parametrize("over, message", [
    (dict(name="bad name!"), "not a valid container name"),
    (dict(memory="lots"), "memory: 'lots' is not a size"),
    (dict(memory="1m"), "too small"),
    (dict(shm_size="1x"), "shm_size"),
    (dict(cpus=0.0), "cpus"),
    (dict(networks=[]), "at least one user-defined network"),
    (dict(networks=[{"name": "bridge"}]), "not a user-defined network"),
    (dict(settings={"bad name": 1}), "not a PostgreSQL parameter name"),
    (dict(settings={"work_mem": "1\nssl=off"}), "newline"),
    (dict(env={"POSTGRES_PASSWORD": "x"}), "POSTGRES_PASSWORD would put the password"),
    (dict(published_port=70000), "not a TCP port"),
    (dict(superuser_password="two\nlines"), "on one line"),
    (dict(superuser_password=""), "non-empty"),
])
def test_bad_options_are_refused_with_a_message(over, message):
    with pytest.raises(PgdockError, match=message):
        validate_options(options(**over))


def test_good_options_pass():
    validate_options(options())


TOPOLOGY = {"org.pgdock.role": "replica", "org.pgdock.replica-of": "pg-other", "org.pgdock.synchronous": "false"}


def test_topology_labels_are_ignored_unless_asked_for():
    """After a switchover and back, the server role must not recreate a server to drop them."""
    running = desired_for(labels=TOPOLOGY)
    actual = actual_spec(inspect_of(running, IMAGE_18), IMAGE_18)
    assert spec_differences(desired_for(), actual) == []
    # the replica engine, which sets them, sees a change of upstream
    moved = dict(TOPOLOGY, **{"org.pgdock.replica-of": "pg-main"})
    assert spec_differences(desired_for(labels=moved), actual) == ["labels"]
    # other labels still count
    assert spec_differences(desired_for(labels={"team": "db"}), actual) == ["labels"]


@pytest.mark.parametrize("over", [
    {},
    dict(database="app", env={"TZ": "UTC"}, stop_timeout=45, memory=None, cpus=None, shm_size="512m",
         healthcheck=dict(interval=3, timeout=2, retries=7, start_period=11), restart_policy="always",
         log_max_size="5m", log_max_file=2, published_host_ip="127.0.0.2"),
    dict(log_driver="local", log_options={"max-size": "5m"}, ulimits=["nofile:100:200"], sysctls={"net.core.somaxconn": 9},
         memory_reservation="512m", cpuset_cpus="0", cap_add=["SYS_NICE"], cap_drop=["ALL"], user="999:999",
         read_only=True, postgres_uid=999),
])
def test_inherited_params_rebuild_the_same_spec(over):
    """A container made from what another one shows has the same spec (but its own name, volume...)."""
    running = desired_for(**over)
    attrs = inspect_of(running, IMAGE_18)
    inherited = inherited_params(attrs, IMAGE_18)
    rebuilt = desired_for(**inherited)
    assert spec_differences(rebuilt, actual_spec(attrs, IMAGE_18)) == []
    assert inherited["stop_timeout"] == over.get("stop_timeout", 120)
    assert "POSTGRES_PASSWORD_FILE" not in inherited["env"] and "PGDATA" not in inherited["env"]


@pytest.mark.parametrize("differences, nano_cpus, expected", [
    (["restart_policy"], None, (["restart_policy"], [])),
    (["command", "nano_cpus"], 500_000_000, (["nano_cpus"], ["command"])),
    (["nano_cpus"], None, ([], ["nano_cpus"])),  # removing the CPU limit: an update would ignore it
    (["image", "memory"], None, ([], ["image", "memory"])),
])
def test_split_differences_in_place_or_new_container(differences, nano_cpus, expected):
    assert split_differences(differences, {"nano_cpus": nano_cpus}) == expected
