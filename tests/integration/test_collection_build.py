"""The collection builds with ansible-galaxy, installs, and its modules and playbooks run from the
installed copy (not from this checkout)."""

from __future__ import annotations

import json
import subprocess

from ansible_runner import BIN, REPO, ansible_env


def galaxy(*args: str, env: dict) -> str:
    proc = subprocess.run([str(BIN / "ansible-galaxy"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_build_install_and_run_from_the_installed_copy(tmp_path, unique, cleanup):
    installed = tmp_path / "collections"
    # only the installed copy is on the collections path: the checkout's link must not satisfy it
    env = ansible_env(json_output=False, extra={"ANSIBLE_COLLECTIONS_PATH": str(installed)})
    galaxy("collection", "build", "--output-path", str(tmp_path), ".", env=env)
    tarball = next(tmp_path.glob("pgdock-postgres-*.tar.gz"))
    galaxy("collection", "install", str(tarball), "-p", str(installed), env=env)
    root = installed / "ansible_collections" / "pgdock" / "postgres"
    assert (root / "plugins" / "modules" / "container.py").is_file()
    assert (root / "playbooks" / "deploy.yml").is_file()
    assert (root / "meta" / "execution-environment.yml").is_file()
    assert not (root / ".venv").exists() and not (root / ".collections").exists()

    doc = subprocess.run([str(BIN / "ansible-doc"), "--json", "pgdock.postgres.container"], env=env,
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(doc.stdout)["pgdock.postgres.container"]["doc"]["filename"].startswith(str(root))

    name = unique("built")
    cleanup["networks"].append(name)
    run = subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                          "-m", "pgdock.postgres.network", "-a", f"name={name}"],
                         env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert run.returncode == 0 and "CHANGED" in run.stdout, run.stdout + run.stderr

    listed = subprocess.run([str(BIN / "ansible-playbook"), "pgdock.postgres.deploy", "-i", "localhost,",
                             "-e", "pgdock_hosts=localhost", "--list-tasks"],
                            env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "pgdock.postgres.server : PostgreSQL container" in listed.stdout
