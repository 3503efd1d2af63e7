"""Run real ansible / ansible-playbook against the local Docker engine and read their results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".collections"
BIN = Path(sys.executable).parent


def ensure_collection_link() -> Path:
    """Make .collections/ansible_collections/pgdock/postgres point at this checkout."""
    link = COLLECTIONS / "ansible_collections" / "pgdock" / "postgres"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)
    return COLLECTIONS


def ansible_env(json_output: bool = True, extra: dict | None = None) -> dict:
    """Environment for an ansible run from this checkout (json callback when asked)."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(ensure_collection_link()),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_HOST_KEY_CHECKING="false",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    if json_output:
        env.update(ANSIBLE_STDOUT_CALLBACK="pgdock_json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).parent / "callback_plugins"))
    if extra:
        env.update(extra)
    return env


class ModuleResult(dict):
    """A task's result (the module's return values) plus the raw run."""

    rc: int = 0
    stdout: str = ""
    stderr: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.get("failed"))

    @property
    def changed(self) -> bool:
        return bool(self.get("changed"))


def run_module(module: str, args: dict, check: bool = False, diff: bool = False,
               timeout: int = 600, extra_env: dict | None = None) -> ModuleResult:
    """Run one module on localhost with `ansible` (ad hoc) and return its result."""
    if "." not in module:
        module = f"pgdock.postgres.{module}"
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-m", module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO, env=ansible_env(extra=extra_env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    return _single_result(proc)


def run_playbook(playbook: str | Path, extra_vars: dict | None = None, check: bool = False,
                 diff: bool = False, verbosity: int = 0, json_output: bool = True,
                 inventory: str = "localhost,", timeout: int = 1200,
                 extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a playbook (a path, or YAML text) and return the finished process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(playbook) if isinstance(playbook, Path) else None
        if path is None:
            path = Path(tmp) / "playbook.yml"
            path.write_text(playbook)
        cmd = [str(BIN / "ansible-playbook"), "-i", inventory, str(path)]
        if inventory == "localhost,":
            cmd += ["-c", "local"]
        if extra_vars:
            vars_file = Path(tmp) / "vars.json"
            vars_file.write_text(json.dumps(extra_vars))
            cmd += ["-e", f"@{vars_file}"]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        return subprocess.run(cmd, cwd=REPO, env=ansible_env(json_output, extra_env),
                              capture_output=True, text=True, timeout=timeout, check=False)


def playbook_stats(proc: subprocess.CompletedProcess) -> dict:
    """Per-host stats (ok, changed, failures...) of a json-callback playbook run."""
    return json.loads(proc.stdout)["stats"]


def task_results(proc: subprocess.CompletedProcess, host: str = "localhost") -> list[dict]:
    """Each task's result for `host`, in order, with the task name under '_task'."""
    out = []
    for play in json.loads(proc.stdout)["plays"]:
        for task in play["tasks"]:
            if host in task["hosts"]:
                res = dict(task["hosts"][host])
                res["_task"] = task["task"]["name"]
                out.append(res)
    return out


def _single_result(proc: subprocess.CompletedProcess) -> ModuleResult:
    try:
        data = json.loads(proc.stdout)
        host = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(f"ansible gave no JSON result (rc={proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
    res = ModuleResult(host)
    res.rc, res.stdout, res.stderr = proc.returncode, proc.stdout, proc.stderr
    return res
