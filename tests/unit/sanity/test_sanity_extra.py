"""The extra sanity checks (tests/sanity/extra): they pass on this tree and catch what they are for."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PREFIX = "ansible_collections.pgdock.postgres.plugins.module_utils."


sys.path.insert(0, str(REPO / "tests" / "sanity" / "extra"))  # the checks import report.py beside them


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"sanity_{name}", REPO / "tests" / "sanity" / "extra" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


layers = load("layers")
action_group = load("action_group")


def tree(tmp_path: Path, files: dict) -> Path:
    """A collection tree with module_utils files {relative path: imported modules}."""
    for rel, imports in files.items():
        path = tmp_path / "plugins" / "module_utils" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"from {PREFIX}{module} import x\n" for module in imports))
    return tmp_path


def test_this_tree_keeps_the_layers():
    assert layers.check(REPO) == []


@pytest.mark.parametrize("importer, imported, broken", [
    ("errors.py", "docker.client", True),
    ("docker/client.py", "pg.sql", True),
    ("pg/sql.py", "runner", True),
    ("runner.py", "hba.engine", True),
    ("pg/sql.py", "docker.access", False),
    ("hba/engine.py", "hba.rules", False),
    ("hba/engine.py", "role.engine", True),          # a feature beside another, no seam
    ("pooler/auth.py", "hba.server_file", False),    # a named seam
    ("pooler/auth.py", "hba.engine", True),          # the same feature, not its seam
    ("container/engine.py", "restore.volume", True),
])
def test_a_wrong_import_is_refused(tmp_path, importer, imported, broken):
    messages = layers.check(tree(tmp_path, {importer: [imported]}))
    assert bool(messages) is broken, messages


def test_a_cycle_is_refused(tmp_path):
    messages = layers.check(tree(tmp_path, {"hba/engine.py": ["hba.rules"], "hba/rules.py": ["hba.engine"]}))
    assert any(m.startswith("import cycle: ") for m in messages), messages


def test_the_action_group_lists_every_module():
    assert action_group.check(REPO) == []


def test_a_module_missing_from_the_group_is_named(tmp_path):
    shutil.copytree(REPO / "meta", tmp_path / "meta")
    shutil.copytree(REPO / "plugins" / "modules", tmp_path / "plugins" / "modules")
    runtime = tmp_path / "meta" / "runtime.yml"
    runtime.write_text(runtime.read_text().replace("    - switchover\n", ""))
    assert action_group.check(tmp_path) == ["meta/runtime.yml: module switchover is not in the 'postgres' action group"]
