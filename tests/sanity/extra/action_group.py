# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's `postgres` action group lists exactly the collection's modules, and every module
that says it belongs to the group (the attributes.actiongroup doc fragment) is in it: module_defaults
for the group must reach each of them. Prints each problem and exits 1 when there is one."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from report import run

GROUP = "postgres"
FRAGMENT = "pgdock.postgres.attributes.actiongroup"


def check(collection: Path) -> list[str]:
    """The problems of the action group in a collection tree, as text."""
    runtime = yaml.safe_load((collection / "meta" / "runtime.yml").read_text(encoding="utf-8")) or {}
    listed = (runtime.get("action_groups") or {}).get(GROUP) or []
    modules = sorted(p.stem for p in (collection / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    messages = [f"meta/runtime.yml: module {name} is not in the {GROUP!r} action group"
                for name in modules if name not in listed]
    messages += [f"meta/runtime.yml: the {GROUP!r} action group names {name}, which is not a module"
                 for name in listed if name not in modules]
    messages += [f"meta/runtime.yml: {name} is listed twice" for name in sorted(set(listed)) if listed.count(name) > 1]
    for name in modules:
        text = (collection / "plugins" / "modules" / f"{name}.py").read_text(encoding="utf-8")
        if FRAGMENT not in text:
            messages.append(f"plugins/modules/{name}.py: does not extend {FRAGMENT} although it is in the group")
    return messages


if __name__ == "__main__":
    sys.exit(run(check))
