"""A stack on the test bed's hosts, deployed by playbooks/deploy.yml: the primary on h1, its
replica on h2 and PgBouncer on h3 (docs/multihost.md), under names of its own (pgmh-<token>-*),
and what the tests read of it: playbook stats, SQL through `docker exec` on a host, its removal."""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ansible_runner import BIN, REPO

PLAYBOOKS = REPO / "playbooks"


@dataclass
class Stack:
    testbed: object
    token: str
    inventory: Path
    passwords: dict = field(default_factory=dict)

    def __post_init__(self):
        # the stack's Docker objects on the hosts: pgmh-<token>-primary, -replica, -pooler, -net
        self.primary, self.replica, self.pooler, self.network = (
            f"pgmh-{self.token}-{part}" for part in ("primary", "replica", "pooler", "net"))

    def address(self, host: str) -> str:
        return self.testbed.hosts[host].address

    def playbook(self, name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """ansible-playbook playbooks/<name> on this stack's inventory (json callback)."""
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(PLAYBOOKS / name), *args]
        return subprocess.run(cmd, cwd=REPO, env=self.testbed.env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def psql(self, host: str, container: str, query: str, dbname: str = "postgres", check: bool = True) -> str:
        """`query` by psql in `container` of `host`'s engine, as postgres over the socket (peer)."""
        proc = self.testbed.docker(host, "exec", "-u", "postgres", container, "psql", "-X", "-v", "ON_ERROR_STOP=1",
                                   "-d", dbname, "-AtF", "|", "-c", query, check=check)
        return proc.stdout.strip() if check else proc

    def remove(self) -> None:
        """Everything of this stack on every host: containers, volumes, network, its files."""
        for host in self.testbed.hosts:
            names = self.testbed.docker(host, "ps", "-aq", "--filter", f"name=pgmh-{self.token}-",
                                        check=False).stdout.split()
            if names:
                self.testbed.docker(host, "rm", "-f", "-v", *names, check=False)
            volumes = self.testbed.docker(host, "volume", "ls", "-q", "--filter", f"name=pgmh-{self.token}-",
                                          check=False).stdout.split()
            if volumes:
                self.testbed.docker(host, "volume", "rm", "-f", *volumes, check=False)
            self.testbed.docker(host, "network", "rm", self.network, check=False)
            subprocess.run(["docker", "exec", self.testbed.hosts[host].container, "sh", "-c",
                            f"rm -rf /var/lib/pgdock/pgmh-{self.token}-*"], check=False, capture_output=True)


def make_stack(testbed, directory: Path) -> Stack:
    """The inventory of a new stack: the test bed's hosts in pgdock_docker_hosts, with the stack's
    variables (primary h1, replica h2, pooler h3; the test images loaded into each host)."""
    token = secrets.token_hex(3)
    source = yaml.safe_load(testbed.inventory.read_text())["all"]["children"]["pgdock_testbed"]
    stack = Stack(testbed, token, directory / "inventory.yml",
                  {name: f"{name}-{secrets.token_hex(8)}" for name in ("superuser", "replication", "app")})
    variables = dict(source["vars"])
    variables.update({
        "ansible_pipelining": True,
        "pgdock_server_host": "h1",
        "pgdock_pooler_host": "h3",
        "pgdock_networks": [{"name": stack.network}],
        "pgdock_server_name": stack.primary,
        "pgdock_server_image": "pgdock-test/postgres:18",
        "pgdock_server_pull": "never",
        "pgdock_server_superuser_password": stack.passwords["superuser"],
        "pgdock_replication_password": stack.passwords["replication"],
        "pgdock_server_networks": [{"name": stack.network, "aliases": ["primary"]}],
        "pgdock_server_published_port": 5432,
        "pgdock_server_settings": {"wal_keep_size": "256MB"},
        "pgdock_roles": [{"name": "app", "login": True, "password": stack.passwords["app"]}],
        "pgdock_databases": [{"name": "app", "owner": "app"}],
        "pgdock_replicas": [{"name": stack.replica, "host": "h2", "published_port": 5432}],
        "pgdock_pooler": True,
        "pgdock_pooler_name": stack.pooler,
        "pgdock_pooler_image": "pgdock-test/pgbouncer:latest",
        "pgdock_pooler_pull": "never",
        "pgdock_pooler_published_port": 6432,
        "pgdock_pooler_databases": [{"name": "app"}],
    })
    inventory = {"all": {"children": {"pgdock_docker_hosts": {"hosts": source["hosts"], "vars": variables}}}}
    stack.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return stack


def stats(proc: subprocess.CompletedProcess) -> dict:
    """{host: stats} of a json-callback run; an AssertionError with the output when it has none."""
    try:
        return json.loads(proc.stdout)["stats"]
    except (ValueError, KeyError) as exc:
        raise AssertionError(f"no playbook stats (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}") from exc


def failures(proc: subprocess.CompletedProcess) -> list[str]:
    """The failed tasks' messages of a json-callback run."""
    found = []
    for play in json.loads(proc.stdout).get("plays", []):
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("failed") or res.get("unreachable"):
                    found.append(f"{host} {task['task']['name']}: {res.get('msg', '')}"[:1500])
    return found
