# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import rule of plugins/module_utils (docs/design.md): a file's folder says what it may import.

    base      errors.py, contract.py, addresses.py   nothing but base
    docker/   the Docker engine                      base, docker
    pg/       PostgreSQL access                      base, docker, pg
    runner.py what every engine run shares           base, docker, pg
    features  one folder each                        base, docker, pg, runner, their own folder, and of
                                                     another feature only the modules SEAMS names

Modules (plugins/modules) may import any of it. Prints each violation and exits 1 when there is one;
also refuses an import cycle."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from report import run

PREFIX = "ansible_collections.pgdock.postgres.plugins.module_utils."
BASE = ("errors", "contract", "addresses")
ORDER = {"base": 0, "docker": 1, "pg": 2, "runner": 3, "feature": 4}
# importer feature -> the modules of other features it may use (its seams)
SEAMS = {
    "replication": {"container.engine", "container.options", "container.spec", "hba.server_file",
                    "role.engine"},
    "switchover": {"pooler.handle", "pooler.auth", "replication.engine", "replication.options"},
    "restore": {"container.engine", "container.options", "backup.extract", "backup.repository", "backup.server"},
    "backup": {"hba.server_file"},
    "pooler": {"hba.rules", "hba.server_file"},
    "monitor": {"hba.rules", "hba.server_file", "role.engine"},
    "migrate": {"container.engine", "container.options", "container.spec", "hba.rules", "hba.server_file", "pooler.handle",
                "pooler.auth", "replication.basebackup", "replication.engine", "replication.setup", "role.engine",
                "switchover.promotion"},
    "upgrade": {"container.engine", "container.options", "container.spec"},
}


def kind_of(module: str) -> str:
    """base, docker, pg, runner or feature for a dotted module_utils name ('pg.sql')."""
    top = module.split(".")[0]
    if top in BASE:
        return "base"
    if top in ("docker", "pg", "runner"):
        return top
    return "feature"


def collection_imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module_utils name) of every collection import in a file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.append((node.lineno, node.module[len(PREFIX):]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name[len(PREFIX):]) for a in node.names if a.name.startswith(PREFIX)]
    return found


def module_name(root: Path, path: Path) -> str:
    """'pg/sql.py' -> 'pg.sql' (a package's __init__ is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def problems_of(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    mine, theirs = kind_of(importer), kind_of(imported)
    if mine != "feature":
        return f"{mine} may not import {theirs} ({imported})" if ORDER[theirs] > ORDER[mine] else None
    if theirs != "feature" or imported.split(".")[0] == importer.split(".")[0]:
        return None
    target = imported if imported.count(".") else f"{imported}.__init__"
    if target not in SEAMS.get(importer.split(".")[0], set()):
        return (f"feature {importer.split('.')[0]} may import {imported} only through a seam "
                f"(add it to SEAMS in {Path(__file__).name} and to docs/design.md if it is one)")
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles among module_utils files (each once, as a path)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def check(collection: Path) -> list[str]:
    """Every violation of the rule in a collection tree, as text."""
    root = collection / "plugins" / "module_utils"
    messages, graph = [], {}
    for path in sorted(root.rglob("*.py")):
        importer = module_name(root, path)
        graph[importer] = set()
        for line, imported in collection_imports(path):
            graph[importer].add(imported)
            why = problems_of(importer, imported)
            if why:
                messages.append(f"{path.relative_to(collection)}:{line}: {why}")
    for cycle in cycles(graph):
        messages.append("import cycle: " + " -> ".join(cycle))
    return messages


if __name__ == "__main__":
    sys.exit(run(check))
