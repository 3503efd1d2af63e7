# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every engine run shares: the one call a module makes (check the Python requirements, run
its engine, report the result), a module's parameters built from its argument spec when one engine
drives another, the action log (each change recorded, and run unless in check mode), and the diff
a user asked for."""

from __future__ import annotations

import contextlib
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_IMPORT_ERROR, HAS_DOCKER
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError


def run_engine(module, engine, needs_docker: bool = True) -> None:
    """Run `engine(module) -> dict` and exit; a PgdockError becomes fail_json with its message."""
    if needs_docker and not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    try:
        result = engine(module)
    except PgdockError as exc:
        details = getattr(exc, "details", {}) or {}
        module.fail_json(msg=str(exc), **details)
    module.exit_json(**result)


def combine_specs(*specs: dict) -> dict:
    """One argument spec from several, the later ones winning: the module's own options last. An
    alias of an earlier spec that a later one uses as a name or alias is dropped from the earlier
    one (the role module's `login` is its LOGIN attribute, not login_user)."""
    combined: dict = {}
    for spec in specs:
        taken = set(spec) | {alias for entry in spec.values() for alias in entry.get("aliases", ())}
        for name, entry in list(combined.items()):
            if name in taken:
                del combined[name]
            elif taken & set(entry.get("aliases", ())):
                kept = [alias for alias in entry["aliases"] if alias not in taken]
                combined[name] = {**entry, "aliases": kept} if kept else {k: v for k, v in entry.items() if k != "aliases"}
        combined.update(spec)
    return combined


def spec_params(spec: dict, options: dict, what: str) -> dict:
    """Parameters as AnsibleModule would give them: `options` over the spec's defaults (suboptions
    too); an option the spec lacks is an error naming `what`."""
    options = dict(options)
    params = {}
    for key, entry in spec.items():
        value = options.pop(key, entry.get("default"))
        if entry.get("options") and isinstance(value, dict):
            value = {k: value.get(k, sub.get("default")) for k, sub in entry["options"].items()}
        params[key] = value
    if options:
        raise PgdockError(f"unknown {what} options: {sorted(options)}")
    return params


class ActionLog:
    """The changes of one run, in order, as text for the result's `actions`.

    `do` records a change and runs it unless in check mode; `guard(description)` (a context manager
    factory, such as docker.client.docker_action) wraps each one, so that a failure names it."""

    def __init__(self, check_mode: bool, guard=None):
        self.check_mode = check_mode
        self.actions: list[str] = []
        self._guard = guard or (lambda _description: contextlib.nullcontext())

    @property
    def changed(self) -> bool:
        """Whether anything was (or, in check mode, would be) changed."""
        return bool(self.actions)

    def do(self, description: str, action, *args, **kwargs):
        """Record `description`; outside check mode run `action(*args, **kwargs)` and return its result
        (None in check mode)."""
        self.actions.append(description)
        if self.check_mode:
            return None
        with self._guard(description):
            return action(*args, **kwargs)

    def add(self, description: str) -> None:
        """Record a change made (or planned) by the caller itself."""
        self.actions.append(description)

    def extend(self, descriptions, prefix: str = "") -> None:
        """Record the changes another engine or helper reported, each after `prefix`."""
        self.actions.extend(prefix + description for description in descriptions)

    def result(self, **extra) -> dict:
        """`changed` and `actions`, with the engine's own result keys."""
        return dict({"changed": self.changed, "actions": self.actions}, **extra)


def timed(timings: dict, name: str, action, *args):
    """`action(*args)`, its seconds recorded in `timings[name]` (also when it fails)."""
    start = time.monotonic()
    try:
        return action(*args)
    finally:
        timings[name] = round(time.monotonic() - start, 3)


def with_diff(result: dict, wanted: bool, before, after, header: str | None = None) -> dict:
    """`result` with Ansible's diff (what it was, what it is or would be) when the user asked for it;
    `header` names what is compared (a file) for a text diff."""
    if wanted:
        result["diff"] = {"before": before, "after": after}
        if header is not None:
            result["diff"].update(before_header=header, after_header=header)
    return result
