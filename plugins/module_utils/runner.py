# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one call a module makes (check the Python requirements, run its engine, report the result),
and a module's parameters built from its argument spec when one engine drives another."""

from __future__ import annotations

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
