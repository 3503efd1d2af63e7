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
def module_docs() -> dict[str, dict]:
    """Each module's documented options (ansible-doc, doc fragments included)."""
    modules = [f"pgdock.postgres.{name}" for name in ITEMS]
    proc = subprocess.run([str(BIN / "ansible-doc"), "--json", *modules], env=ansible_env(json_output=False),
                          capture_output=True, text=True, check=True, timeout=120)
    docs = json.loads(proc.stdout)
    return {name: docs[f"pgdock.postgres.{name}"]["doc"]["options"] for name in ITEMS}


def aliases(options: dict) -> set[str]:
    return {alias for opt in options.values() for alias in opt.get("aliases", [])}


def task_args(module: str) -> dict:
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    (task,) = [t for t in tasks if f"pgdock.postgres.{module}" in t]
    return task[f"pgdock.postgres.{module}"]


def spec_options(variable: str) -> dict:
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"][variable]["options"]


@pytest.mark.parametrize("module", list(ITEMS))
def test_tasks_pass_every_module_option_one_by_one(module, module_docs):
    args = task_args(module)
    assert isinstance(args, dict)  # not "{{ item | combine(...) }}"
    assert set(args) == set(module_docs[module])
    assert args["container"] == "{{ pgdock_server_name }}"


@pytest.mark.parametrize("module", list(ITEMS))
def test_argument_spec_lists_the_options_the_task_passes(module, module_docs):
    """Role argument specs have no aliases: the module's aliases are options of their own in the
    spec, and the task reads them."""
    options = spec_options(ITEMS[module])
    assert set(options) == set(task_args(module)) | aliases(module_docs[module])
    assert all(f"item.{alias}" in json.dumps(task_args(module)) for alias in aliases(module_docs[module]))
