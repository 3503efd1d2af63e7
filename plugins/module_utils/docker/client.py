# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker engine access: a client from the module's options or the environment, and errors turned
into messages an operator can act on."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import traceback

try:
    import docker
    import docker.constants
    import docker.errors
    import docker.tls
    import requests.adapters
    import requests.exceptions
    from docker.utils import parse_bytes
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported through fail_json
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MANAGED_LABEL, MANAGED_VALUE
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import CONNECTION_ARGS, client_arguments
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError


DOCKER_COMMON_ARGS = CONNECTION_ARGS


def networks_option(**extra) -> dict:
    """The argument spec of a server's `networks` option (name, aliases), the same in every module;
    `extra` suboptions for a module that takes more (the container module's ipv4_address)."""
    return dict(type="list", elements="dict", options=dict(
        name=dict(type="str", required=True),
        aliases=dict(type="list", elements="str", default=[]),
        **extra,
    ))


class DockerAccessError(PgdockError):
    """An engine call failed; the message says what was being done and why it failed."""


def connect(params: dict):
    """Return a docker.DockerClient for the module's connection options (docker.endpoint), checked with a ping."""
    if not HAS_DOCKER:
        raise DockerAccessError("the Python 'docker' SDK is required on the Docker host: pip install docker")
    arguments = client_arguments(params)
    tls, hostname = arguments.pop("tls"), arguments.pop("tls_hostname")
    try:
        if tls:  # every request, the version probe too, uses exactly the TLS files and name of the options
            arguments["tls"] = docker.tls.TLSConfig(**tls)
            if arguments["version"] == "auto":
                probe = docker.APIClient(**dict(arguments, version=docker.constants.MINIMUM_DOCKER_API_VERSION))
                _pin_tls(probe, hostname)
                arguments["version"] = probe.version(api_version=False)["ApiVersion"]
                probe.close()
        client = docker.DockerClient(**arguments)
        if tls:
            _pin_tls(client.api, hostname)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerAccessError(f"cannot reach the Docker engine at {arguments['base_url']}: {exc}") from exc
    return client


def _pin_tls(api, hostname: str | None) -> None:
    """The engine's certificate checked against the CA of the options, not a CA bundle of the environment
    (REQUESTS_CA_BUNDLE would replace it), and for `hostname` when given instead of the URL's host."""
    api.trust_env = False
    if hostname:
        api.mount("https://", HostnameAdapter(hostname))


if HAS_DOCKER:
    class HostnameAdapter(requests.adapters.HTTPAdapter):
        """HTTPS to the engine, its certificate checked for `hostname` instead of the URL's host (tls_hostname)."""

        def __init__(self, hostname: str, **kwargs):
            self.hostname = hostname
            super().__init__(**kwargs)

        def init_poolmanager(self, *args, **kwargs):
            kwargs["assert_hostname"] = self.hostname
            super().init_poolmanager(*args, **kwargs)


@contextlib.contextmanager
def docker_action(what: str):
    """Turn an engine error raised while doing `what` into a DockerAccessError naming it."""
    try:
        yield
    except docker.errors.APIError as exc:
        detail = exc.explanation or str(exc)
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise DockerAccessError(f"{what}: {detail}") from exc
    except docker.errors.DockerException as exc:
        raise DockerAccessError(f"{what}: {exc}") from exc


def ensure_image(client, name: str, pull: str, log, warn):
    """The image `name` under a pull policy (missing, always, never), pulled when missing or always;
    a pull that brings no new image is not a change. With `always`, a failed pull keeps the local copy
    (with a warning). `log` (runner.ActionLog) records the pull; in check mode nothing is pulled and
    the local image, or None when there is none yet, is returned."""
    image = get_or_none(client.images, name, "image")
    if image is not None and pull != "always":
        return image
    if image is None and pull == "never":
        raise DockerAccessError(f"image {name!r} is not present on the Docker host and pull is 'never'; "
                                "load or build it first")
    if log.check_mode:
        log.add(f"pull image {name}")
        return image
    try:
        pulled = client.images.pull(name)
    except docker.errors.DockerException as exc:
        if image is not None:  # pull: always with a local copy: keep using it
            warn(f"could not pull {name!r} ({exc}); using the local image")
            return image
        raise DockerAccessError(
            f"image {name!r} is not present on the Docker host and could not be pulled: {exc}. "
            "Load it (docker load) or build it; without a registry, testbed/build-images.sh builds "
            "compatible images from Debian packages"
        ) from None
    if image is None or pulled.id != image.id:
        log.add(f"pull image {name}")
    return pulled


def get_or_none(collection, name: str, what: str):
    """Fetch a container, network, volume or image by name; None when it does not exist."""
    with docker_action(f"looking up {what} {name!r}"):
        try:
            return collection.get(name)
        except docker.errors.NotFound:
            return None


def mount_source(container_attrs: dict, destination: str, kind: str | None = None) -> str | None:
    """What a container mounts at `destination` (of type `kind` when given): the host path of a bind
    mount, the name of a volume; None when nothing is mounted there."""
    for mount in container_attrs.get("Mounts") or []:
        if mount.get("Destination") == destination and kind in (None, mount.get("Type")):
            return mount.get("Name") if mount.get("Type") == "volume" else mount.get("Source")
    return None


def managed_labels(extra: dict | None = None) -> dict:
    """Labels that mark an object as created by this collection, plus the user's own."""
    labels = dict(extra or {})
    labels[MANAGED_LABEL] = MANAGED_VALUE
    return labels


def sidecar_networks(client, server, wanted: list | None, what: str) -> list[str]:
    """The networks of a container beside `server` (a pooler, an exporter): `wanted`, or the
    server's; one must be shared with the server and each must exist. Without a `server` (one that
    is no container of this host) `wanted` is required."""
    if server is None and not wanted:
        raise PgdockError(f"networks: give the networks of the {what} (among them one on which it reaches its server)")
    attached = list((server.attrs.get("NetworkSettings") or {}).get("Networks") or {}) if server is not None else []
    wanted = wanted or attached
    if server is not None and not set(wanted) & set(attached):
        raise PgdockError(f"networks: the {what} must share a network with {server.name!r} (on "
                          f"{', '.join(attached) or 'none'}); given {', '.join(wanted)}")
    for name in wanted:
        if get_or_none(client.networks, name, "network") is None:
            raise PgdockError(f"networks: network {name!r} does not exist; create it first (pgdock.postgres.network)")
    return wanted


def spec_digest(spec: dict) -> str:
    """A short digest of a sidecar container's spec (JSON), kept in a label: a different digest
    means the container must be recreated."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def is_managed(labels: dict | None) -> bool:
    """Whether an object's labels say this collection created it."""
    return (labels or {}).get(MANAGED_LABEL) == MANAGED_VALUE


def user_aliases(aliases: list | None, container_name: str, container_id: str) -> list[str]:
    """The aliases a user set on an endpoint (Docker adds the short id, and some versions the name)."""
    implicit = {container_name.lstrip("/"), container_id[:12]}
    return sorted({a for a in aliases or [] if a not in implicit})


def attachment_plan(wanted: dict, attached: dict) -> dict:
    """How to go from `attached` to `wanted` (both: name -> aliases), names sorted:
    {'disconnect': [...], 'reconnect': [...] (aliases differ), 'connect': [...]}."""
    return {
        "disconnect": sorted(set(attached) - set(wanted)),
        "reconnect": sorted(n for n in wanted if n in attached and sorted(attached[n]) != sorted(wanted[n])),
        "connect": sorted(set(wanted) - set(attached)),
    }


def check_static_address(network_attrs: dict, address: str, container: str) -> None:
    """Refuse a fixed IPv4 address outside the network's configured subnets, or held by another container."""
    name = network_attrs.get("Name")
    subnets = [c["Subnet"] for c in (network_attrs.get("IPAM") or {}).get("Config") or [] if c.get("Subnet")]
    ip = ipaddress.ip_address(address)
    if not any(ip.version == ipaddress.ip_network(s, strict=False).version and ip in ipaddress.ip_network(s, strict=False)
               for s in subnets):
        raise PgdockError(f"networks: ipv4_address {address} is not in a subnet configured on network {name!r} "
                          f"({', '.join(subnets) or 'none: create the network with a subnet'})")
    for holder in ((network_attrs.get("Containers") or {}).values()):
        if (holder.get("IPv4Address") or "").split("/")[0] == address and holder.get("Name") != container:
            raise PgdockError(f"networks: ipv4_address {address} on network {name!r} is in use by container "
                              f"{holder.get('Name')!r}")


def size_in_bytes(value, option: str) -> int | None:
    """Parse a size such as '512m' or '2g' (Docker's units); ValueError names the option."""
    if value is None or value == "":
        return None
    try:
        return int(parse_bytes(value))
    except (docker.errors.DockerException, ValueError, TypeError) as exc:
        raise ValueError(
            f"{option}: {value!r} is not a size; use a number with an optional unit b, k, m or g (e.g. 512m, 2g)"
        ) from exc
