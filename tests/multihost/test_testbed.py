"""The multi-host test bed itself (testbed/hosts.sh): real engines in each host, reached as real
hosts are (SSH, Ansible), with traffic between hosts on the test bed network."""

from __future__ import annotations

import json
import time

from conftest import N_HOSTS, hosts_up, run

TEST_IMAGES = ["pgdock-test/postgres:15", "pgdock-test/postgres:17", "pgdock-test/postgres:18",
               "pgdock-test/pgbouncer:latest"]


def test_ansible_reaches_every_host_over_ssh_with_debian_python(testbed):
    pings = testbed.ansible("all", "ansible.builtin.ping")
    assert sorted(pings) == sorted(testbed.hosts)
    for host, res in pings.items():
        assert res.get("ping") == "pong", (host, res)
    facts = testbed.ansible("all", "ansible.builtin.setup", "gather_subset=!all filter=ansible_python")
    for host, res in facts.items():
        python = res["ansible_facts"]["ansible_python"]
        assert python["executable"] == "/usr/bin/python3", (host, python)
        assert python["version"]["major"] == 3 and python["version"]["minor"] >= 13, (host, python)


def test_each_host_has_its_own_engine_and_data_root(testbed):
    # over SSH, with the host's python3-docker (as the modules will use it) and its other deps
    script = ("import json, docker, psycopg2, cryptography; i = docker.from_env().info(); "
              "print(json.dumps([i['ID'], i['DockerRootDir'], i['Driver']]))")
    results = testbed.ansible("all", "ansible.builtin.command", f'/usr/bin/python3 -c "{script}"')
    ids = {}
    for host, res in results.items():
        assert res.get("rc") == 0, (host, res)
        engine_id, root, driver = json.loads(res["stdout"])
        assert (root, driver) == ("/var/lib/docker", "overlay2"), (host, root, driver)
        ids[host] = engine_id
        # the same engine as the one docker exec reaches
        assert testbed.docker(host, "info", "-f", "{{.ID}}").stdout.strip() == engine_id
    assert len(set(ids.values())) == N_HOSTS, ids
    # each data root on its own volume of the outer engine
    volumes = set()
    for host in testbed.hosts.values():
        mounts = json.loads(run(["docker", "inspect", "-f", "{{json .Mounts}}", host.container]).stdout)
        (mount,) = [m for m in mounts if m["Destination"] == "/var/lib/docker"]
        assert mount["Type"] == "volume" and mount["Name"] == f"{host.container}-docker", mount
        volumes.add(mount["Name"])
    assert len(volumes) == N_HOSTS


def test_test_images_are_in_each_inner_engine(testbed):
    outer = {img: run(["docker", "image", "inspect", "-f", "{{.Id}}", img]).stdout.strip()
             for img in TEST_IMAGES}
    for host in testbed.hosts:
        for img in TEST_IMAGES:
            inner = testbed.docker(host, "image", "inspect", "-f", "{{.Id}}", img, check=False)
            assert inner.returncode == 0, f"{img} missing on {host}: {inner.stderr}"
            assert inner.stdout.strip() == outer[img], (host, img)


def test_postgres_on_h1_serves_a_client_on_h2_across_hosts(testbed, inner_containers, unique):
    h1, h2 = testbed.hosts["h1"], testbed.hosts["h2"]
    name, password = unique("pg"), "tb-secret"
    inner_containers.append(("h1", name))
    testbed.docker("h1", "run", "-d", "--name", name, "-e", f"POSTGRES_PASSWORD={password}",
                   "-p", f"{h1.address}:5432:5432", "pgdock-test/postgres:17")
    deadline = time.monotonic() + 60
    while True:
        ready = testbed.docker("h1", "exec", name, "pg_isready", "-q", "-h", "127.0.0.1", check=False)
        if ready.returncode == 0:
            break
        assert time.monotonic() < deadline, "postgres on h1 not ready within 60 s"
        time.sleep(0.5)
    # a client container on h2's engine, through h1's address on the test bed network
    client = unique("psql")
    inner_containers.append(("h2", client))
    query = "select inet_client_addr(), inet_server_port(), current_setting('server_version_num')::int / 10000"
    out = testbed.docker("h2", "run", "--rm", "--name", client, "-e", f"PGPASSWORD={password}",
                         "pgdock-test/postgres:17", "psql", "-h", h1.address, "-U", "postgres",
                         "-d", "postgres", "-AtF", " ", "-c", query).stdout.split()
    # the server saw h2's test bed address (h2's engine masquerades its containers' traffic)
    assert out == [h2.address, "5432", "17"], out
    # the server runs on h1 only
    assert name not in testbed.docker("h2", "ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_second_up_reuses_the_running_hosts(testbed):
    def snapshot():
        return {h.container: run(["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}}",
                                  h.container]).stdout.strip()
                for h in testbed.hosts.values()}
    before = snapshot()
    seconds = hosts_up(N_HOSTS)
    assert snapshot() == before, "hosts.sh up recreated or restarted a running host"
    assert seconds < 30, f"a reused test bed took {seconds:.1f} s to come up"
