# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration's target: made new and empty with its superuser's password (dump, logical),
removed with its volumes (only when it carries the migration's label), where clients reach it
after the cutover, and the first step of an abort (every method)."""

from __future__ import annotations

import datetime
import secrets

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MIGRATED_LABEL, PASSWORD_FILE_NAME
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import docker_action, get_or_none
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import read_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.fence import is_fenced, unfence


def fresh_target(run, phase: str, volumes=()) -> None:
    """A new, empty, started target (an earlier attempt's container and `volumes` are removed first);
    the migration's state says `phase` from then on."""
    if run.target_container() is not None or get_or_none(run.client.volumes, run.data_volume(), "volume") is not None:
        remove_target(run, volumes)
    run.save_state(phase=phase)
    with run.progress.phase("target"):
        run.ensure_target(superuser_password=superuser_password(run))


def superuser_password(run) -> str:
    """The target superuser's password: the option, the one kept in its secrets directory, or new."""
    return run.p.get("superuser_password") or read_secret(f"{run.secrets_dir}/{PASSWORD_FILE_NAME}") \
        or secrets.token_urlsafe(24)


def remove_target(run, volumes=()) -> None:
    """The target container (when it is a migration's) and its data volume and `volumes` removed."""
    container = run.target_container()
    if container is not None:
        if MIGRATED_LABEL not in container.labels:
            raise PgdockError(f"container {run.name!r} is not the target of a migration; not removed")
        run.log.do(f"remove the target container {run.name}", remove_container, container)
    for volume in (run.data_volume(), *volumes):
        if get_or_none(run.client.volumes, volume, "volume") is not None:
            run.log.do(f"remove volume {volume}", remove_volume, run.client, volume)


def target_connection(run) -> dict:
    """Where clients reach the target on the Docker host: container, host, port."""
    container = run.target_container()
    binding = ((container.attrs.get("HostConfig") or {}).get("PortBindings") or {}).get("5432/tcp") or [{}]
    return {"container": run.name, "host": binding[0].get("HostIp") or "127.0.0.1",
            "port": int(binding[0]["HostPort"]) if binding[0].get("HostPort") else None}


def prepare_abort(run) -> dict | None:
    """The state of a migration being aborted, with the source let take writes again if it was
    fenced; a migration cut over already is refused (the target is the primary)."""
    state = run.state()
    if state is not None and state.get("phase") == "cut_over":
        raise PgdockError(f"the migration into {run.name!r} was cut over already: the target is the "
                          "primary now and the source is read-only; nothing to abort (with reverse_replication, "
                          "state reverted switches back to the source and state finalized ends the reverse "
                          "replication)")
    if state is not None and state.get("fenced"):
        with run.source.session() as source:
            if is_fenced(source):
                run.log.do("let the source take writes again", unfence, source)
    return state


def remove_container(container) -> None:
    with docker_action(f"removing container {container.name}"):
        container.remove(force=True)


def remove_volume(client, name: str) -> None:
    with docker_action(f"removing volume {name}"):
        client.volumes.get(name).remove(force=True)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
