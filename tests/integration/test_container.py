"""Integration tests of pgdock.postgres.container on the real Docker engine and real PostgreSQL."""

from __future__ import annotations

import json

import psycopg2
import pytest

from ansible_runner import run_module, run_playbook

PASSWORD = "p'w\"d \\ $HOME `id` nø-ascii"


@pytest.fixture
def net(docker_client, unique, cleanup):
    name = unique("cnet")
    docker_client.networks.create(name, driver="bridge")
    cleanup["networks"].append(name)
    return name


@pytest.fixture
def pg(unique, cleanup, net, tmp_path, pg_image, free_port):
    """pg(**overrides) -> the container module's args for a fresh container, registered for cleanup."""
    name = unique("pg")
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")

    def _args(**over):
        args = dict(name=name, image=pg_image(18), pull="never", superuser_password=PASSWORD,
                    networks=[{"name": net, "aliases": ["primary"]}], published_port=free_port,
                    secrets_dir=str(tmp_path / "secrets"), stop_timeout=30, wait_timeout=90)
        args.update(over)
        return args
    return _args


def connect(port: int, password: str = PASSWORD, dbname: str = "postgres"):
    return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=password,
                            dbname=dbname, connect_timeout=5)


def sql(port: int, query: str, params=None):
    with connect(port) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else None


@pytest.mark.parametrize("major, pgdata", [(15, "/var/lib/postgresql/data"), (18, "/var/lib/postgresql/18/docker")])
def test_create_is_ready_and_idempotent(pg, pg_image, docker_client, major, pgdata):
    args = pg(image=pg_image(major))
    first = run_module("container", args)
    assert first.changed and not first.failed, first
    info = first["container"]
    assert (info["major"], info["pgdata"]) == (major, pgdata)
    assert info["server_version"].startswith(f"{major}.")
    assert info["published_host_ip"] == "127.0.0.1"
    assert info["networks"][args["networks"][0]["name"]]["aliases"] == ["primary"]
    # ready when the module returns: the first connection works, no retry
    assert sql(args["published_port"], "select current_setting('data_checksums'), "
               "current_setting('password_encryption')") == [("on", "scram-sha-256")]
    attrs = docker_client.containers.get(args["name"]).attrs
    assert attrs["HostConfig"]["SecurityOpt"] == ["no-new-privileges:true"]
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert attrs["Config"]["StopTimeout"] == 30
    assert attrs["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "5", "max-size": "10m"}}
    second = run_module("container", args)
    assert not second.changed and second["actions"] == [], second


def test_check_mode_creates_nothing_and_diff_shows_it(pg, docker_client):
    args = pg()
    res = run_module("container", args, check=True, diff=True)
    assert res.changed and not res.failed, res
    assert f"create container {args['name']}" in res["actions"]
    assert res["diff"]["before"] == {} and res["diff"]["after"]["image"] == args["image"]
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]
    assert not [v for v in docker_client.volumes.list() if v.name == f"{args['name']}-data"]


def test_data_survives_recreate_for_a_setting_and_an_image_tag(pg, pg_image, docker_client, cleanup):
    args = pg()
    assert run_module("container", args).changed
    sql(args["published_port"], "create table kept(i int); insert into kept select generate_series(1, 1000)")
    started = docker_client.containers.get(args["name"]).attrs["State"]["StartedAt"]

    res = run_module("container", dict(args, settings={"work_mem": "8MB"}), diff=True)
    assert res.changed, res
    assert any(a.startswith("recreate container") and "command" in a for a in res["actions"]), res["actions"]
    assert res["diff"]["before"]["command"] != res["diff"]["after"]["command"]
    assert res["container"]["started_at"] != started
    assert sql(args["published_port"], "select count(*), current_setting('work_mem') from kept") == [(1000, "8MB")]

    alt_tag = f"pgdock-test/postgres:18-{args['name']}"
    docker_client.images.get(pg_image(18)).tag(alt_tag)
    try:
        res = run_module("container", dict(args, image=alt_tag, settings={"work_mem": "8MB"}))
        assert res.changed and any("image" in a for a in res["actions"]), res
        assert sql(args["published_port"], "select count(*) from kept") == [(1000,)]
    finally:
        docker_client.containers.get(args["name"]).remove(force=True)
        docker_client.images.remove(alt_tag)


def test_networks_change_without_recreate(pg, docker_client, unique, cleanup):
    args = pg()
    assert run_module("container", args).changed
    started = docker_client.containers.get(args["name"]).attrs["State"]["StartedAt"]
    extra = unique("cnet2")
    docker_client.networks.create(extra)
    cleanup["networks"].append(extra)
    nets = args["networks"] + [{"name": extra, "aliases": ["db"]}]
    res = run_module("container", dict(args, networks=nets))
    assert res.changed and res["actions"] == [f"connect to network {extra}"], res
    assert res["container"]["networks"][extra]["aliases"] == ["db"]
    assert res["container"]["started_at"] == started
    # resolve the alias from another container on that network
    out = docker_client.containers.run(args["image"], ["getent", "hosts", "db"], entrypoint=[],
                                       network=extra, remove=True)
    assert res["container"]["networks"][extra]["ip_address"] in out.decode()
    assert not run_module("container", dict(args, networks=nets)).changed


def test_networks_attached_outside_are_kept_unless_purged(pg, docker_client, unique, cleanup):
    args = pg()
    assert run_module("container", args).changed
    extra = unique("cside")
    docker_client.networks.create(extra)
    cleanup["networks"].append(extra)
    docker_client.networks.get(extra).connect(args["name"], aliases=["side"])
    assert not run_module("container", args).changed, "a network attached by someone else is kept"

    # a recreation (a setting changed) keeps it too, with its alias
    res = run_module("container", dict(args, settings={"work_mem": "8MB"}))
    assert res.changed and any(a.startswith("recreate container") for a in res["actions"]), res
    assert res["container"]["networks"][extra]["aliases"] == ["side"], res["container"]["networks"]
    assert not run_module("container", dict(args, settings={"work_mem": "8MB"})).changed

    res = run_module("container", dict(args, settings={"work_mem": "8MB"}, purge_networks=True))
    assert res.changed and res["actions"] == [f"disconnect from network {extra}"], res
    assert set(res["container"]["networks"]) == {args["networks"][0]["name"]}
    assert not run_module("container", dict(args, settings={"work_mem": "8MB"}, purge_networks=True)).changed


def test_allow_restart_false_restarts_nothing(pg, docker_client):
    args = pg()
    assert run_module("container", args).changed

    def started_at():
        return docker_client.containers.get(args["name"]).attrs["State"]["StartedAt"]
    started = started_at()

    # cpus and the restart policy change in place: no restart, allowed or not
    res = run_module("container", dict(args, cpus=0.5, restart_policy="always", allow_restart=False))
    assert res.changed and res["actions"] == [
        f"update container {args['name']} in place (restart_policy, nano_cpus; no restart)"], res
    attrs = docker_client.containers.get(args["name"]).attrs
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000 and attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert started_at() == started
    args.update(cpus=0.5, restart_policy="always")
    assert not run_module("container", args).changed

    # a setting on the command line needs a new container: refused, reported, nothing restarts
    wanted = dict(args, settings={"max_locks_per_transaction": 128})
    res = run_module("container", dict(wanted, allow_restart=False))
    assert not res.changed and not res.failed, res
    assert res["pending_restart"] is True and res["pending_changes"] == ["command"], res
    assert any("allow_restart is false" in w for w in res.get("warnings", [])), res
    assert started_at() == started
    assert sql(args["published_port"], "show max_locks_per_transaction") == [("64",)]

    res = run_module("container", wanted)
    assert res.changed and "pending_changes" not in res, res
    assert started_at() != started
    assert sql(args["published_port"], "show max_locks_per_transaction") == [("128",)]


def test_password_only_in_a_0600_file(pg, docker_client, tmp_path):
    args = pg()
    res = run_playbook(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - pgdock.postgres.container: {json.dumps(args)}
""", verbosity=3, json_output=False)
    assert res.returncode == 0, res.stdout[-3000:]
    for text in (res.stdout, res.stderr):
        assert "p'w" not in text and "nø-ascii" not in text
    attrs = docker_client.containers.get(args["name"]).attrs
    env = "\n".join(attrs["Config"]["Env"])
    assert "POSTGRES_PASSWORD=" not in env and "nø-ascii" not in json.dumps(attrs, ensure_ascii=False)
    password_file = tmp_path / "secrets" / "superuser_password"
    st = password_file.stat()
    assert (st.st_mode & 0o777, st.st_uid) == (0o600, 999)
    assert password_file.read_text() == PASSWORD
    assert sql(args["published_port"], "select 1") == [(1,)]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(args["published_port"], password="wrong")


def test_stop_start_and_absent_keeps_the_volume(pg, docker_client):
    args = pg()
    assert run_module("container", args).changed
    sql(args["published_port"], "create table t(i int); insert into t values (42)")
    stopped = run_module("container", dict(args, state="stopped"))
    assert stopped.changed and docker_client.containers.get(args["name"]).status == "exited"
    assert not run_module("container", dict(args, state="stopped")).changed
    assert run_module("container", args).changed
    assert sql(args["published_port"], "select i from t") == [(42,)]
    gone = run_module("container", {"name": args["name"], "state": "absent"})
    assert gone.changed and not gone.failed, gone
    assert docker_client.volumes.get(f"{args['name']}-data")
    assert run_module("container", args).changed
    assert sql(args["published_port"], "select i from t") == [(42,)]
    gone = run_module("container", {"name": args["name"], "state": "absent", "remove_volume": True,
                                    "secrets_dir": args["secrets_dir"]})
    assert gone.changed and f"remove data volume {args['name']}-data" in gone["actions"]
    assert not [v for v in docker_client.volumes.list() if v.name == f"{args['name']}-data"]
    assert not run_module("container", {"name": args["name"], "state": "absent"}).changed


@pytest.mark.parametrize("over, message", [
    (dict(name="no spaces allowed"), "is not a valid container name"),
    (dict(memory="two gigs"), "memory: 'two gigs' is not a size"),
    (dict(networks=[{"name": "pgdt-no-such-network"}]), "network 'pgdt-no-such-network' does not exist"),
    (dict(image="pgdock-test/no-such-image:1", pull="missing"), "is not present on the Docker host and could not be pulled"),
    (dict(superuser_password=None), "superuser_password is required"),
    (dict(env={"POSTGRES_PASSWORD": "x"}), "would put the password in the container's environment"),
    (dict(superuser_password="first\nsecond"), "initdb reads only the first line"),
])
def test_bad_input_is_refused_and_nothing_created(pg, docker_client, over, message):
    args = {k: v for k, v in pg(**over).items() if v is not None}
    res = run_module("container", args)
    assert res.failed and message in res["msg"], res
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]


def test_volume_of_another_major_is_refused_before_anything_changes(pg, pg_image, docker_client):
    args = pg(image=pg_image(15))
    assert run_module("container", args).changed
    sql(args["published_port"], "create table t(i int)")
    container_id = docker_client.containers.get(args["name"]).id
    res = run_module("container", dict(args, image=pg_image(17)))
    assert res.failed and "holds a PostgreSQL 15 cluster but image" in res["msg"], res
    assert "pg_upgrade" in res["msg"]
    # the running 15 container was not touched
    assert docker_client.containers.get(args["name"]).id == container_id
    assert sql(args["published_port"], "select count(*) from t") == [(0,)]


def test_18_image_on_a_pre_18_volume_says_how_to_migrate(pg, pg_image, docker_client):
    args = pg(image=pg_image(17))
    assert run_module("container", args).changed
    assert run_module("container", {"name": args["name"], "state": "absent"}).changed
    res = run_module("container", dict(args, image=pg_image(18)))
    assert res.failed and "laid out the pre-18 way" in res["msg"], res
    assert "pg_upgrade" in res["msg"] and "pgdata: /var/lib/postgresql/data" in res["msg"]
    assert not [c for c in docker_client.containers.list(all=True) if c.name == args["name"]]


def test_server_that_cannot_start_is_reported_with_its_logs(pg):
    res = run_module("container", pg(settings={"shared_buffers": "not-a-size"}, wait_timeout=60))
    assert res.failed and "stopped while PostgreSQL was starting" in res["msg"], res
    assert any("shared_buffers" in line for line in res["logs"]), res["logs"]


def test_a_container_not_made_by_the_collection_is_left_alone(pg, pg_image, docker_client):
    args = pg()
    docker_client.containers.create(pg_image(18), name=args["name"])
    res = run_module("container", args)
    assert res.failed and "was not created by pgdock.postgres" in res["msg"], res
    res = run_module("container", {"name": args["name"], "state": "absent"})
    assert res.failed and docker_client.containers.get(args["name"])
