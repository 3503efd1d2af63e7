"""Every module's documentation renders with ansible-doc, as a user reads it (a stray ': ' in a
description breaks the YAML and leaves the module without any documentation)."""

from __future__ import annotations

import json
import subprocess

import pytest

from ansible_runner import BIN, REPO, ansible_env

MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))


def test_modules_are_found():
    assert "container" in MODULES and "migrate" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module):
    proc = subprocess.run([str(BIN / "ansible-doc"), "--json", f"pgdock.postgres.{module}"], env=ansible_env(),
                          capture_output=True, text=True, check=False, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and "ERROR" not in proc.stderr, proc.stderr[-2000:]
    entry = json.loads(proc.stdout)[f"pgdock.postgres.{module}"]
    assert entry["doc"]["short_description"] and entry["doc"]["options"], entry["doc"].keys()
    assert entry["examples"] and entry["return"], f"{module}: EXAMPLES or RETURN empty"
