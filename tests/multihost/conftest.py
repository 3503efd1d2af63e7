"""Fixtures for the multihost family: the test bed of Docker hosts (testbed/hosts.sh), brought up
once per session (reused when it already runs), its inventory, and ways to reach each host: with
`docker exec` from this machine, and with the real `ansible` over SSH."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from ansible_runner import BIN, REPO, ansible_env

HOSTS_SH = REPO / "testbed" / "hosts.sh"
N_HOSTS = 3


def run(cmd: list[str], timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure (when check) an AssertionError that shows its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed (rc={proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def hosts_up(n: int = N_HOSTS) -> float:
    """`hosts.sh up n`; its duration in seconds."""
    start = time.monotonic()
    run(["bash", str(HOSTS_SH), "up", str(n)], timeout=1200)
    return time.monotonic() - start


@dataclass
class Host:
    name: str        # inventory name: h1
    container: str   # the host container on this machine: pgdock-tb-h1
    address: str     # its address on the test bed network


@dataclass
class Testbed:
    inventory: Path
    hosts: dict[str, Host]
    up_seconds: float
    env: dict = field(repr=False, default_factory=dict)

    def docker(self, host: str, *args: str, timeout: float = 120, check: bool = True,
               stdin: str | None = None) -> subprocess.CompletedProcess:
        """`docker ARGS` against the inner engine of `host` (through docker exec)."""
        cmd = ["docker", "exec"] + (["-i"] if stdin is not None else [])
        cmd += [self.hosts[host].container, "docker", *args]
        return run(cmd, timeout=timeout, check=check, input=stdin)

    def ansible(self, pattern: str, module: str, args: str = "", timeout: float = 180) -> dict:
        """The real `ansible` ad hoc over SSH with the test bed's inventory; {host: result}."""
        cmd = [str(BIN / "ansible"), "-i", str(self.inventory), pattern, "-m", module]
        if args:
            cmd += ["-a", args]
        proc = run(cmd, timeout=timeout, check=False, cwd=REPO, env=self.env)
        try:
            return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
        except (ValueError, KeyError, IndexError) as exc:
            raise AssertionError(f"ansible gave no JSON result (rc={proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    """The test bed's 3 hosts, up (started once, or reused), and their inventory."""
    seconds = hosts_up(N_HOSTS)
    inventory = REPO / ".testbed" / "inventory.yml"
    data = yaml.safe_load(inventory.read_text())
    group = data["all"]["children"]["pgdock_testbed"]
    hosts = {name: Host(name, hv["pgdock_testbed_container"], hv["ansible_host"])
             for name, hv in group["hosts"].items()}
    assert sorted(hosts) == [f"h{i}" for i in range(1, N_HOSTS + 1)], hosts
    env = ansible_env(json_output=True)
    # what the inventory itself must give: the hosts' interpreter, no host key checking for them
    env.pop("ANSIBLE_PYTHON_INTERPRETER", None)
    env.pop("ANSIBLE_HOST_KEY_CHECKING", None)
    return Testbed(inventory, hosts, seconds, env)


@pytest.fixture
def inner_containers(testbed):
    """Register (host, container name) pairs started in inner engines; removed after the test."""
    started: list[tuple[str, str]] = []
    yield started
    for host, name in started:
        testbed.docker(host, "rm", "-f", "-v", name, check=False)


@pytest.fixture
def unique():
    """unique(prefix) -> a name no other test uses, with the test bed's prefix: pgdock-tb-t-pg-3fa2c1."""
    token = secrets.token_hex(3)
    return lambda prefix: f"pgdock-tb-t-{prefix}-{token}"
