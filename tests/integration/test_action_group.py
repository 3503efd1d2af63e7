"""module_defaults for the collection's action group reach every module: a playbook sets the Docker
connection options for `group/pgdock.postgres.postgres` only, and each module's failure names the
engine address it was given that way (nothing else points at it)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ansible_runner import run_playbook, task_results
from backup_fixtures import add_backup

REPO = Path(__file__).resolve().parents[2]
NOWHERE = "unix:///run/pgdock-test-no-engine-here.sock"


def module_args(repository: str) -> dict:
    """Arguments that make each module reach the Docker engine early (names no test uses)."""
    server = "pgdt-group-none"
    return {
        "network": {"name": "pgdt-group-net"},
        "container": {"name": server, "networks": [{"name": "pgdt-group-net"}]},
        "tls": {"container": server},
        "role": {"name": "r", "container": server},
        "grant": {"roles": ["r"], "preset": "readonly", "container": server},
        "database": {"name": "d", "container": server},
        "hba": {"container": server, "default_rules": True},
        "config": {"container": server},
        "info": {"container": server},
        "replica": {"name": "pgdt-group-replica", "primary": server},
        "backup": {"repository": repository, "container": server, "kind": "full"},
        "restore": {"repository": repository, "name": "pgdt-group-restored", "networks": [{"name": "pgdt-group-net"}]},
        "pooler": {"name": "pgdt-group-pooler", "state": "absent"},
        "monitor": {"name": "pgdt-group-exporter", "state": "absent"},
        "switchover": {"pooler": "pgdt-group-pooler", "target": server},
        "query": {"query": "SELECT 1", "container": server},
        "script": {"content": "SELECT 1", "container": server},
        "diagnose": {"server": server, "user": "app", "network": "pgdt-group-net"},
        "migrate": {"name": "pgdt-group-migrated", "method": "dump",
                    "source": {"login_host": "127.0.0.1", "login_port": 1, "network": "pgdt-group-net",
                               "container_host": "pgdt-group-source"},
                    "target": {"image": "pgdock-test/postgres:18"}},
        "upgrade": {"name": server, "image": "pgdock-test/postgres:18", "helper_image": "pgdock-test/postgres-upgrade",
                    "server": {"networks": [{"name": "pgdt-group-net"}]}},
    }


def test_every_module_takes_the_groups_module_defaults(tmp_path):
    repo = tmp_path / "repo"
    from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import Repository
    repository = Repository(str(repo))
    repository.ensure_layout()
    add_backup(repository, "F18", "2025-01-01T00:00:00+00:00", major=18, image="pgdock-test/postgres:18",
               superuser="postgres")  # a physical restore reaches Docker
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["postgres"]
    args = module_args(str(repo))
    assert sorted(args) == sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))
    tasks = [{"name": name, f"pgdock.postgres.{name}": args[name], "ignore_errors": True} for name in sorted(args)]
    playbook = yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/pgdock.postgres.postgres": {"docker_host": NOWHERE, "docker_timeout": 5}},
        "tasks": tasks,
    }])
    proc = run_playbook(playbook)
    results = {r["_task"]: r for r in task_results(proc)}
    missed = {name: results[name].get("msg") for name in args if NOWHERE not in (results[name].get("msg") or "")}
    assert not missed, json.dumps(missed, indent=1)
    assert sorted(group) == sorted(args)
