# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info module's `container` section: the Docker side of a server given by `container`, from
`docker inspect` of it and of its image (image, volume, PGDATA and layout, mounts, networks, ports,
pgdock labels)."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import ROLE_LABEL, SYNC_LABEL, UPSTREAM_LABEL
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import docker_action, get_or_none, mount_source, user_aliases
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import env_to_dict, image_env, layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

LABEL_PREFIX = "org.pgdock."
NO_CONTAINER_NOTE = "container: no container was given (option container), so there is no Docker side to report"


def container_facts(g) -> dict:
    """The server's container, or {} with a note when the module was not given one."""
    container = g.session.container
    if container is None:
        g.notes.append(NO_CONTAINER_NOTE)
        return {}
    with docker_action(f"inspecting container {container.name!r}"):
        container.reload()
    image = get_or_none(container.client.images, container.attrs.get("Image"), "image")
    return describe_container(container.attrs, image.attrs if image is not None else {})


def describe_container(attrs: dict, image_attrs: dict) -> dict:
    """What an operator checks of a server's container, from the inspect output of it and its image (pure)."""
    config, host, state = attrs.get("Config") or {}, attrs.get("HostConfig") or {}, attrs.get("State") or {}
    labels = config.get("Labels") or {}
    layout = data_layout(config, image_attrs)
    name = (attrs.get("Name") or "").lstrip("/")
    return {
        "name": name,
        "id": attrs.get("Id"),
        "image": config.get("Image"),
        "image_id": attrs.get("Image"),
        "repo_tags": list(image_attrs.get("RepoTags") or []),
        "repo_digests": list(image_attrs.get("RepoDigests") or []),
        "created": attrs.get("Created"),
        "started_at": state.get("StartedAt"),
        "status": state.get("Status"),
        "health": (state.get("Health") or {}).get("Status"),
        "restart_count": attrs.get("RestartCount", 0),
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name") or "no",
        "data_volume": mount_source(attrs, layout["volume_path"], "volume") if layout else None,
        "pgdata": layout["pgdata"] if layout else env_to_dict(config.get("Env")).get("PGDATA"),
        "layout": layout,
        "mounts": [{"type": m.get("Type"), "source": m.get("Name") if m.get("Type") == "volume" else m.get("Source"),
                    "destination": m.get("Destination"), "read_only": not m.get("RW", True)}
                   for m in attrs.get("Mounts") or []],
        "networks": {net: {"ip_address": ep.get("IPAddress") or None, "ipv6_address": ep.get("GlobalIPv6Address") or None,
                           "aliases": user_aliases(ep.get("Aliases"), name, attrs.get("Id") or ""),
                           "gateway": ep.get("Gateway") or None}
                     for net, ep in ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).items()},
        "published_ports": {port: [f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}" for b in bindings or []]
                            for port, bindings in (host.get("PortBindings") or {}).items()},
        "labels": {k: v for k, v in labels.items() if k.startswith(LABEL_PREFIX)},
        "topology": {"role": labels.get(ROLE_LABEL), "upstream": labels.get(UPSTREAM_LABEL),
                     "synchronous": labels.get(SYNC_LABEL) == "true"},
    }


def data_layout(config: dict, image_attrs: dict) -> dict | None:
    """PGDATA, where the data volume is mounted and which layout that is: `pre-18` (the volume is
    PGDATA) or `18+` (PGDATA below the volume, /var/lib/postgresql/<major>/docker); None for an
    image not of the official kind."""
    pgdata = env_to_dict(config.get("Env")).get("PGDATA")
    override = pgdata if pgdata and pgdata != image_env(image_attrs).get("PGDATA") else None
    try:
        layout = layout_of_image(config.get("Image") or "", image_attrs, override)
    except PgdockError:
        return None
    return {"major": layout.major, "pgdata": layout.pgdata, "volume_path": layout.volume_path,
            "pgdata_in_volume": layout.pgdata_in_volume,
            "style": "pre-18" if layout.pgdata_in_volume == "." else "18+"}
