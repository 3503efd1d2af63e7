"""Role pgdock.postgres.docker_host for real, over SSH, on a bare Docker host: a container of the
test bed's host image without the engine and without the modules' Python libraries
(tests/multihost/docker_host/Dockerfile). The role installs them from the Debian mirror, starts the
engine through its init script (no systemd in a container), writes daemon.json, makes the
directories and sets the interpreter; modules of the collection then run on that host. A second run
changes nothing; the deploy playbook runs the role first; the venv mode makes its own interpreter.

Everything here is named pgdock-dh-* (apart from the test bed's pgdock-tb-* hosts)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ansible_runner import BIN, REPO, ansible_env
from conftest import run

HOST_IMAGE = "pgdock-test/host:latest"
BARE_IMAGE = "pgdock-dh-host-bare:latest"
NAME = "pgdock-dh-h1"
NET = "pgdock-dh-net"
VOLUME = f"{NAME}-docker"
SERVER_IMAGE = "pgdock-test/postgres:18"
# a pure-Python wheel of the machine's local package index, for the venv mode without a registry
DOCKER_WHEEL = Path("/opt/pypi/files/docker-7.2.0-py3-none-any.whl")
# the engine's settings the test gives: its containers' cgroups apart from the outer engine's, and
# a log driver that `docker info` shows
DAEMON_OPTIONS = {"cgroup-parent": f"/{NAME}", "log-driver": "local"}

ROLE_PLAY = """
- name: Prepare the Docker host
  hosts: pgdock_docker_hosts
  gather_facts: false
  roles:
    - role: pgdock.postgres.docker_host
"""
# a later play of the same run: a module of the collection, and the interpreter it ran with
MODULE_PLAY = """
- name: The collection's modules on the prepared host
  hosts: pgdock_docker_hosts
  gather_facts: false
  tasks:
    - name: A network
      pgdock.postgres.network:
        name: pgdock-dh-probe
    - name: The interpreter the modules run with
      ansible.builtin.setup:
        gather_subset: ["!all"]
        filter: ansible_python
"""


@dataclass
class BareHost:
    address: str
    inventory: Path
    env: dict

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess:
        """A shell script in the host container (docker exec, from this machine)."""
        return run(["docker", "exec", NAME, "sh", "-c", script], check=check)

    def playbook(self, text: str, extra_vars: dict | None = None, check: bool = False,
                 path: Path | None = None, timeout: float = 900) -> dict:
        """ansible-playbook over SSH on this host (it must succeed); its JSON result."""
        if path is None:
            path = self.inventory.parent / "playbook.yml"
            path.write_text(text)
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(path)]
        if extra_vars:
            vars_file = self.inventory.parent / "vars.json"
            vars_file.write_text(json.dumps(extra_vars))
            cmd += ["-e", f"@{vars_file}"]
        if check:
            cmd.append("--check")
        proc = run(cmd, timeout=timeout, check=False, cwd=REPO, env=self.env)
        try:
            result = json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(f"no JSON from ansible-playbook (rc={proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
        assert proc.returncode == 0, json.dumps(failures(result), indent=1)[-6000:]
        return result


def task_name(task: dict) -> str:
    """A task's name without its role's prefix (pgdock.postgres.docker_host : ...)."""
    return task["task"]["name"].split(" : ", 1)[-1]


def failures(result: dict) -> list:
    return [(task_name(t), r) for p in result["plays"] for t in p["tasks"]
            for r in t["hosts"].values() if r.get("failed") or r.get("unreachable")]


def tasks(result: dict) -> dict[str, dict]:
    """Each task's result on the host, by task name (the last one of a name wins)."""
    return {task_name(t): r for p in result["plays"] for t in p["tasks"] for r in t["hosts"].values()}


def changed_tasks(result: dict) -> list[str]:
    return [task_name(t) for p in result["plays"] for t in p["tasks"]
            for r in t["hosts"].values() if r.get("changed")]


def remove_host() -> None:
    run(["docker", "rm", "-f", "-v", NAME], check=False)
    run(["docker", "volume", "rm", VOLUME], check=False)
    # the inner engine's cgroup folders (daemon.json's cgroup-parent), deepest first, when empty
    for root in Path("/sys/fs/cgroup").glob(f"*/{NAME}"):
        run(["find", str(root), "-depth", "-type", "d", "-exec", "rmdir", "{}", "+"], check=False)


def wait_for_ssh(key: Path, address: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    cmd = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{address}", "true"]
    while run(cmd, check=False, timeout=30).returncode != 0:
        assert time.monotonic() < deadline, f"sshd of {NAME} did not let the key in within {seconds} s"
        time.sleep(1)


@pytest.fixture(scope="module")
def bare_host(tmp_path_factory) -> BareHost:
    """A running bare host reached over SSH, with an inventory that names no interpreter."""
    # the test bed's host image, built as hosts.sh builds it (cached by recipe)
    run(["bash", str(REPO / "testbed" / "build-images.sh"), "host"], timeout=900)
    run(["docker", "build", "-q", "--build-arg", f"HOST={HOST_IMAGE}", "-t", BARE_IMAGE,
         str(Path(__file__).parent / "docker_host")], timeout=300, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    remove_host()
    if run(["docker", "network", "inspect", NET], check=False).returncode != 0:
        run(["docker", "network", "create", NET])
    tmp = tmp_path_factory.mktemp("docker_host")
    key = tmp / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", NAME, "-f", str(key)])
    # as testbed/hosts.sh runs a host (docs/testbed.md): a nested dockerd without --privileged
    run(["docker", "run", "-d", "--name", NAME, "--hostname", NAME, "--network", NET,
         "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE",
         "--security-opt", "apparmor=unconfined", "--security-opt", "seccomp=unconfined",
         "--security-opt", "systempaths=unconfined",
         "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", f"{VOLUME}:/var/lib/docker",
         "--tmpfs", "/run:rw,size=64m", "--tmpfs", "/tmp:rw,size=256m",
         "--memory", "1g", "--memory-swap", "1g", BARE_IMAGE])
    try:
        run(["docker", "exec", "-i", NAME, "sh", "-c",
             "umask 077; mkdir -p /root/.ssh; cat >/root/.ssh/authorized_keys"], input=key.with_suffix(".pub").read_text())
        address = run(["docker", "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NET}").IPAddress}}}}',
                       NAME]).stdout.strip()
        wait_for_ssh(key, address)
        inventory = tmp / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"pgdock_docker_hosts": {"hosts": {"dh1": {
            "ansible_host": address, "ansible_user": "root", "ansible_ssh_private_key_file": str(key),
            "ansible_host_key_checking": False,
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        }}}}}}))
        env = ansible_env(json_output=True)
        # what the role sets; nothing else may name the interpreter
        env.pop("ANSIBLE_PYTHON_INTERPRETER", None)
        env["ANSIBLE_PYTHON_INTERPRETER"] = "auto_silent"
        yield BareHost(address, inventory, env)
    finally:
        remove_host()
        run(["docker", "network", "rm", NET], check=False)
        run(["docker", "rmi", BARE_IMAGE], check=False)


ROLE_VARS = {"pgdock_docker_host_daemon_options": DAEMON_OPTIONS}


def test_check_mode_on_the_bare_host_says_what_it_would_install_and_changes_nothing(bare_host):
    # bare indeed: no engine, no libraries, no directories
    assert bare_host.sh("command -v dockerd docker", check=False).returncode != 0
    assert bare_host.sh("python3 -c 'import docker'", check=False).returncode != 0
    assert bare_host.sh("python3 -c 'import psycopg2'", check=False).returncode != 0
    result = bare_host.playbook(ROLE_PLAY, ROLE_VARS, check=True)
    would = tasks(result)["Packages that would be installed"]
    assert would["changed"], would
    for package in ("docker.io", "python3-docker", "python3-psycopg2", "python3-cryptography"):
        assert package in would["msg"], would
    assert "Engine settings /etc/docker/daemon.json" in changed_tasks(result)
    # nothing happened
    assert bare_host.sh("command -v dockerd", check=False).returncode != 0
    assert bare_host.sh("test -e /var/lib/pgdock || test -e /etc/docker", check=False).returncode != 0


def test_the_role_installs_the_engine_and_libraries_and_modules_run(bare_host):
    start = time.monotonic()
    result = bare_host.playbook(ROLE_PLAY + MODULE_PLAY, ROLE_VARS)
    seconds = time.monotonic() - start
    results = tasks(result)
    installed = results["Docker engine and Python libraries from the distribution"]
    assert installed["changed"], installed
    assert results["Docker CLI (docker-cli)"]["changed"] is False  # a Recommends of trixie's docker.io
    facts = results["What the interpreter has"]["ansible_facts"]["pgdock_docker_host_facts"]
    assert facts["python"] == "/usr/bin/python3", facts
    assert facts["docker_path"].startswith("/usr/lib/python3/dist-packages/"), facts
    assert facts["engine"].startswith("26."), facts   # trixie's docker.io
    assert results["The interpreter of the modules, /usr/bin/python3"]["ansible_facts"] == {
        "ansible_python_interpreter": "/usr/bin/python3"}
    assert results["A network"]["changed"], results["A network"]
    python = results["The interpreter the modules run with"]["ansible_facts"]["ansible_python"]
    assert python["executable"] == "/usr/bin/python3", python
    # the engine runs in the host, with the settings of daemon.json (the restart took them)
    assert bare_host.sh("docker info -f '{{.LoggingDriver}}'").stdout.strip() == "local"
    assert json.loads(bare_host.sh("cat /etc/docker/daemon.json").stdout) == DAEMON_OPTIONS
    assert "pgdock-dh-probe" in bare_host.sh("docker network ls --format '{{.Name}}'").stdout.split()
    # the directories and their modes
    stat = bare_host.sh("stat -c '%n %a %U:%G' /var/lib/pgdock /var/lib/pgdock/locks").stdout.splitlines()
    assert stat == ["/var/lib/pgdock 755 root:root", "/var/lib/pgdock/locks 700 root:root"], stat
    print(f"first run on the bare host: {seconds:.0f} s")


def test_second_run_changes_nothing(bare_host):
    result = bare_host.playbook(ROLE_PLAY + MODULE_PLAY, ROLE_VARS)
    assert changed_tasks(result) == [], changed_tasks(result)
    assert result["stats"]["dh1"]["changed"] == 0
    # dpkg found every package: apt did not even run
    assert tasks(result)["Docker engine and Python libraries from the distribution"].get("skipped"), result
    # and check mode on the prepared host agrees
    result = bare_host.playbook(ROLE_PLAY, ROLE_VARS, check=True)
    assert changed_tasks(result) == [], changed_tasks(result)


def test_deploy_playbook_prepares_the_host_first(bare_host):
    # the server image into the host's engine (no registry here)
    saved = subprocess.Popen(["docker", "save", SERVER_IMAGE], stdout=subprocess.PIPE)
    run(["docker", "exec", "-i", NAME, "docker", "load", "-q"], stdin=saved.stdout, timeout=300)
    assert saved.wait(timeout=60) == 0
    secrets = bare_host.inventory.parent / "superuser_password"
    secrets.write_text("dh-" + os.urandom(8).hex())
    result = bare_host.playbook("", path=REPO / "playbooks" / "deploy.yml", extra_vars={
        "pgdock_prepare_hosts": True, **ROLE_VARS,
        "pgdock_networks": [{"name": "pgdock-dh-db"}],
        "pgdock_server_name": "pgdock-dh-pg", "pgdock_server_image": SERVER_IMAGE, "pgdock_server_pull": "never",
        "pgdock_server_superuser_password": secrets.read_text(),
        "pgdock_server_networks": [{"name": "pgdock-dh-db", "aliases": ["primary"]}],
    })
    play = result["plays"][0]["tasks"]
    names = [task_name(t) for t in play]
    # the role ran first (its argument check, then its tasks), and changed nothing on a prepared host
    first_server_task = next(i for i, t in enumerate(play) if task_name(t).startswith("Networks"))
    assert "Packages installed already" in names[:first_server_task], names
    role_changes = [task_name(t) for t in play[:first_server_task]
                    for r in t["hosts"].values() if r.get("changed")]
    assert role_changes == [], role_changes
    summary = tasks(result)["Summary of the deployment"]["msg"]
    assert summary[0].startswith("pgdock-dh-pg: primary, PostgreSQL 18"), summary
    assert bare_host.sh("docker inspect -f '{{.State.Running}}' pgdock-dh-pg").stdout.strip() == "true"
    # the server's processes live under the cgroup parent that daemon.json names
    cgroups = bare_host.sh("cat /proc/$(docker inspect -f '{{.State.Pid}}' pgdock-dh-pg)/cgroup").stdout
    assert f":/{NAME}/" in cgroups, cgroups


@pytest.mark.skipif(not DOCKER_WHEEL.exists(), reason=f"{DOCKER_WHEEL} (a wheel for the venv) is missing")
def test_venv_mode_makes_the_interpreter_of_the_modules(bare_host):
    # the machine's package index has psycopg2-binary, cffi and charset-normalizer for CPython 3.11
    # only (the host has 3.13): the venv sees the distribution's packages for those, and pip
    # installs docker 7.2.0 (newer than trixie's 7.1.0) from a wheel directory
    run(["docker", "exec", NAME, "mkdir", "-p", "/root/wheels"])
    run(["docker", "cp", str(DOCKER_WHEEL), f"{NAME}:/root/wheels/"])
    venv_vars = {**ROLE_VARS, "pgdock_docker_host_python": "venv", "pgdock_docker_host_venv_site_packages": True,
                 "pgdock_docker_host_pip_requirements": ["docker==7.2.0", "psycopg2>=2.9", "cryptography>=42.0.0"],
                 "pgdock_docker_host_pip_extra_args": "--no-index --find-links /root/wheels"}
    result = bare_host.playbook(ROLE_PLAY + MODULE_PLAY, venv_vars)
    results = tasks(result)
    assert results["Python libraries in the venv /opt/pgdock/venv"]["changed"]
    facts = results["What the interpreter has"]["ansible_facts"]["pgdock_docker_host_facts"]
    assert facts["python"] == "/opt/pgdock/venv/bin/python", facts
    assert (facts["docker"], facts["docker_path"].startswith("/opt/pgdock/venv/")) == ("7.2.0", True), facts
    python = results["The interpreter the modules run with"]["ansible_facts"]["ansible_python"]
    assert python["executable"] == "/opt/pgdock/venv/bin/python", python
    assert results["A network"]["changed"] is False
    result = bare_host.playbook(ROLE_PLAY + MODULE_PLAY, venv_vars)
    assert changed_tasks(result) == [], changed_tasks(result)
