"""The server role passes each item of pgdock_roles, pgdock_databases and pgdock_grants to its module
option by option (no templated args dict): the tasks, the role's argument spec (which refuses an
unknown key) and the modules' own options must list the same options."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from ansible_runner import BIN, REPO, ansible_env

ROLE = REPO / "roles" / "server"
ITEMS = {"role": "pgdock_roles", "database": "pgdock_databases", "grant": "pgdock_grants"}


@pytest.fixture(scope="module")
def module_options() -> dict[str, set[str]]:
    modules = [f"pgdock.postgres.{name}" for name in ITEMS]
    proc = subprocess.run([str(BIN / "ansible-doc"), "--json", *modules], env=ansible_env(json_output=False),
                          capture_output=True, text=True, check=True, timeout=120)
    docs = json.loads(proc.stdout)
    return {name: set(docs[f"pgdock.postgres.{name}"]["doc"]["options"]) for name in ITEMS}


def task_args(module: str) -> dict:
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    (task,) = [t for t in tasks if f"pgdock.postgres.{module}" in t]
    return task[f"pgdock.postgres.{module}"]


def spec_options(variable: str) -> dict:
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"][variable]["options"]


@pytest.mark.parametrize("module", list(ITEMS))
def test_tasks_pass_every_module_option_one_by_one(module, module_options):
    args = task_args(module)
    assert isinstance(args, dict)  # not "{{ item | combine(...) }}"
    assert set(args) == module_options[module]
    assert args["container"] == "{{ pgdock_server_name }}"


@pytest.mark.parametrize("module", list(ITEMS))
def test_argument_spec_lists_the_options_the_task_passes(module):
    options = spec_options(ITEMS[module])
    aliases = {alias for opt in options.values() for alias in opt.get("aliases", [])}
    assert set(options) == set(task_args(module))
    # an alias the spec accepts is one the task reads
    assert all(f"item.{alias}" in json.dumps(task_args(module)) for alias in aliases)
