"""The collection builds with ansible-galaxy, installs, and its modules and playbooks run from the
installed copy (not from this checkout)."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tarfile

from ansible_runner import BIN, REPO, ansible_env

# Only for developing this checkout (galaxy.yml's build_ignore; README, "What the tarball carries")
DEVELOPMENT_ONLY = [".demo", ".ansible", ".testbed", ".pytest_cache", ".venv", ".collections", ".ci", ".git",
                    ".gitignore", ".ansible-lint", "Makefile", "lint.mk", "pytest.ini", "requirements-dev.txt",
                    "benchmarks", "testbed", "demo", "molecule", "tests/output", "build"]
# Stays, as in community collections
SHIPPED = ["README.md", "LICENSE", "meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt",
           "bindep.txt", "CHANGELOG.rst", "changelogs/changelog.yaml", "changelogs/config.yaml", "docs/backup.md",
           "plugins/modules/container.py", "roles/server/tasks/main.yml", "roles/common/defaults/main.yml",
           "playbooks/deploy.yml", "tests/unit", "tests/integration/targets"]


def galaxy(*args: str, env: dict, cwd=REPO) -> str:
    proc = subprocess.run([str(BIN / "ansible-galaxy"), *args], cwd=cwd, env=env,
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


def demo_password_files() -> list[str]:
    """The files `make demo` writes its generated passwords to (the password lookups of demo/vars.yml)."""
    names = re.findall(r"/\.\./(\.demo/[\w.-]+)'", (REPO / "demo" / "vars.yml").read_text())
    assert names, "demo/vars.yml writes no password file any more: update this test"
    return names


def test_tarball_carries_no_secret_and_no_development_tooling(tmp_path):
    """A copy of the checkout as `make demo`, molecule, ansible-lint, pytest and ansible-test leave it:
    the tarball built from it holds none of their files, nor the tooling that only serves this
    repository, and no byte of the demo's passwords."""
    tree = tmp_path / "checkout"
    shutil.copytree(REPO, tree, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".collections", ".ansible", ".demo", ".testbed", "build", "__pycache__", ".pytest_cache"))
    secret = "demo-secret-" + secrets.token_hex(12)
    generated = demo_password_files() + [
        ".ansible/collections/ansible_collections/pgdock/postgres/.demo/superuser_password",  # molecule's copy
        ".testbed/state", ".pytest_cache/v/cache/lastfailed", "tests/unit/.pytest_cache/README.md",
        "tests/output/junit/result.xml", ".venv/pyvenv.cfg", "build/pgdock-postgres-0.0.1.tar.gz"]
    for name in generated:
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secret + "\n")
        path.chmod(0o600)
    (tree / ".git").write_text("gitdir: /nowhere\n")

    out = tmp_path / "out"
    galaxy("collection", "build", "--output-path", str(out), str(tree), env=ansible_env(json_output=False),
           cwd=tmp_path)
    with tarfile.open(next(out.glob("pgdock-postgres-*.tar.gz"))) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        contents = b"".join(tar.extractfile(m).read() for m in members.values() if m.isfile())
    names = set(members)
    leaked = secret.encode() in contents
    assert not leaked, "a password file of the demo is in the tarball"
    for path in DEVELOPMENT_ONLY:
        assert not any(n == path or n.startswith(path + "/") for n in names), path
    assert not [n for n in names if ".pytest_cache" in n or "__pycache__" in n or n.endswith(".pyc")]
    for path in SHIPPED:
        assert path in names, path
