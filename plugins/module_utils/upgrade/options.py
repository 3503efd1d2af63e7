# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `upgrade` module's options (the server as it is to run on the new major: its container
options in `server`, the new image in `image`; and how the cluster is upgraded), and the container
engine's parameters built from them."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import OPTIONS as CONTAINER_OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import container_params, list_with_defaults
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import connection_options
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

TRANSFER_MODES = ["link", "clone", "copy", "copy-file-range", "swap"]
# the module's own options, or not the upgrade's to set (an upgraded server is a started one)
SERVER_EXCLUDED = ("name", "image", "state", "remove_volume", "restore_from")

OPTIONS = dict(
    name=dict(type="str", required=True),
    image=dict(type="str", required=True),
    server=dict(type="dict", default={}),
    state=dict(type="str", choices=["checked", "upgraded"], default="upgraded"),
    method=dict(type="str", choices=["pg_upgrade"], default="pg_upgrade"),
    helper_image=dict(type="str", required=True),
    transfer_mode=dict(type="str", choices=TRANSFER_MODES, default="link"),
    old_bindir=dict(type="path"),
    new_bindir=dict(type="path"),
    jobs=dict(type="int", default=2),
    analyze=dict(type="str", choices=["missing", "all", "none"], default="missing"),
    upgrade_timeout=dict(type="int", default=86400),
    progress_file=dict(type="path"),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(supports_check_mode=True)


def server_params(p: dict) -> dict:
    """The container engine's parameters: `server` with the module's name and image, started."""
    server = dict(p.get("server") or {})
    taken = sorted(key for key in server if key in SERVER_EXCLUDED)
    if taken:
        raise PgdockError(f"server: {', '.join(taken)} are not server options here (the container is `name`, "
                          "its new image `image`, and it is started)")
    unknown = sorted(set(server) - set(CONTAINER_OPTIONS))
    if unknown:
        raise PgdockError(f"server: unknown options {unknown}; it takes the options of pgdock.postgres.container")
    if not server.get("networks"):
        raise PgdockError("server.networks: the networks of the server are needed (as the container module takes them)")
    params = container_params(**dict(server, name=p["name"], image=p["image"], state="started",
                                     networks=list_with_defaults(server.get("networks"), "networks", "server"),
                                     mounts=list_with_defaults(server.get("mounts"), "mounts", "server")))
    params.update(connection_options(p))
    params["data_volume"] = params.get("data_volume") or f"{p['name']}-data"
    return params
