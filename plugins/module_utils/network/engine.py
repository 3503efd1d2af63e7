# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.network engine: a user-defined Docker network, its config compared with
what the engine has, and the containers attached to it with their aliases."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MANAGED_LABEL
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    attachment_plan,
    connect,
    docker_action,
    get_or_none,
    is_managed,
    managed_labels,
    user_aliases,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog, with_diff

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
RESERVED_NAMES = ("bridge", "host", "none", "default")
IPAM_FIELDS = ("subnet", "gateway", "ip_range")
# Docker cannot change any of these on an existing network: a change means a new network.
CONFIG_FIELDS = ("driver", "internal", "attachable") + IPAM_FIELDS + ("labels",)


# ---------------------------------------------------------------- pure logic (unit tested)

def validate_options(p: dict) -> None:
    """Reject bad input before the engine is asked anything; each message names the option."""
    name = p["name"]
    if name in RESERVED_NAMES:
        raise PgdockError(
            f"name: {name!r} is one of Docker's predefined networks ({', '.join(RESERVED_NAMES)}), which this "
            "module never creates, changes or removes; use a user-defined network with its own name "
            "(e.g. 'pg-backend'): it gives containers name resolution and isolation the default bridge lacks"
        )
    if not NAME_RE.match(name):
        raise PgdockError(
            f"name: {name!r} is not a valid network name (letters, digits, '_', '.', '-'; "
            "starting with a letter or digit)"
        )
    if p.get("state", "present") == "absent":
        return
    normalise_ipam(p.get("subnet"), p.get("gateway"), p.get("ip_range"))
    connected = p.get("connected") or []
    for entry in connected:
        for alias in entry.get("aliases") or []:
            if not NAME_RE.match(alias):
                raise PgdockError(
                    f"connected: alias {alias!r} of container {entry['container']!r} is not a valid host name "
                    "(letters, digits, '_', '.', '-'; starting with a letter or digit)"
                )
    if p.get("driver") == "overlay" and connected and not p.get("attachable"):
        raise PgdockError(
            "connected: standalone containers can join an overlay network only when it is attachable; "
            "set attachable: true"
        )


def normalise_ipam(subnet: str | None, gateway: str | None, ip_range: str | None) -> dict:
    """The IPv4 addressing asked for, in canonical form; None for what Docker should choose."""
    if subnet is None:
        if gateway is not None or ip_range is not None:
            raise PgdockError("gateway and ip_range need subnet: give the subnet they belong to")
        return dict.fromkeys(IPAM_FIELDS)
    net = _ipv4_network(subnet, "subnet")
    result = {"subnet": str(net), "gateway": None, "ip_range": None}
    if gateway is not None:
        try:
            gw = ipaddress.IPv4Address(gateway)
        except ValueError as exc:
            raise PgdockError(f"gateway: {gateway!r} is not an IPv4 address") from exc
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise PgdockError(f"gateway: {gateway} is not a host address of subnet {net}")
        result["gateway"] = str(gw)
    if ip_range is not None:
        pool = _ipv4_network(ip_range, "ip_range")
        if not pool.subnet_of(net):
            raise PgdockError(f"ip_range: {pool} is not inside subnet {net}")
        result["ip_range"] = str(pool)
    return result


def _ipv4_network(value: str, option: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        try:
            hint = f"; did you mean {ipaddress.IPv4Network(value, strict=False)}?"
        except ValueError:
            hint = " in CIDR form (e.g. 172.28.0.0/16)"
        raise PgdockError(f"{option}: {value!r} is not an IPv4 network{hint}") from exc


def string_labels(labels: dict | None) -> dict | None:
    """Labels as Docker stores them (string values); None stays None."""
    if labels is None:
        return None
    return {str(k): str(v) for k, v in labels.items()}


def desired_config(p: dict, managed: bool = True) -> dict:
    """The config the options ask for; None where the option leaves the choice open.

    `managed` adds the collection's label to the labels compared (an adopted network lacks it).
    """
    labels = string_labels(p.get("labels"))
    if labels is not None and managed:
        labels = managed_labels(labels)
    return {
        "driver": p.get("driver") or "bridge",
        "internal": bool(p.get("internal")),
        "attachable": bool(p.get("attachable")),
        **normalise_ipam(p.get("subnet"), p.get("gateway"), p.get("ip_range")),
        "labels": labels,
    }


def creation_config(p: dict) -> dict:
    """The config a newly created network gets (always labelled as managed)."""
    config = desired_config(p)
    config["labels"] = managed_labels(string_labels(p.get("labels")))
    return config


def actual_config(attrs: dict) -> dict:
    """The config of an existing network (from `docker network inspect`), in desired_config's shape."""
    return {
        "driver": attrs.get("Driver"),
        "internal": bool(attrs.get("Internal")),
        "attachable": bool(attrs.get("Attachable")),
        **ipv4_pool(attrs.get("IPAM") or {}),
        "labels": dict(attrs.get("Labels") or {}),
    }


def ipv4_pool(ipam: dict) -> dict:
    """subnet / gateway / ip_range of the first IPv4 pool of an IPAM section, canonicalised."""
    for pool in ipam.get("Config") or []:
        subnet = _parse(ipaddress.IPv4Network, pool.get("Subnet"))
        if subnet is not None:
            gateway = _parse(ipaddress.IPv4Address, (pool.get("Gateway") or "").split("/")[0])
            ip_range = _parse(ipaddress.IPv4Network, pool.get("IPRange"))
            return {"subnet": subnet, "gateway": gateway, "ip_range": ip_range}
    return dict.fromkeys(IPAM_FIELDS)


def _parse(kind, value: str | None) -> str | None:
    """`value` in canonical form (host bits of a network cleared); None when empty or not IPv4."""
    try:
        return str(kind(value, strict=False) if kind is ipaddress.IPv4Network else kind(value)) if value else None
    except ValueError:
        return None


def config_differences(desired: dict, actual: dict) -> list[str]:
    """Fields (CONFIG_FIELDS order) where the desired value is set and differs from the actual one."""
    return [f for f in CONFIG_FIELDS if desired.get(f) is not None and desired[f] != actual.get(f)]


def wanted_attachments(desired: dict | None, attached: dict, appends: bool) -> dict:
    """Container name -> aliases that should be attached once the run is done.

    `desired` is the resolved `connected` option (None: attachments are left alone), `attached`
    what is attached now; with `appends` the desired ones are added to (or updated among) the others.
    """
    if desired is None:
        return dict(attached)
    if appends:
        return {**attached, **desired}
    return dict(desired)


def state_view(config: dict | None, connected: dict | None) -> dict:
    """The network as shown in --diff: config plus attached containers and their aliases."""
    if config is None:
        return {}
    return {
        "driver": config["driver"],
        "internal": config["internal"],
        "attachable": config["attachable"],
        "ipam": {f: config[f] for f in IPAM_FIELDS},
        "labels": config["labels"],
        "connected": {name: sorted(aliases) for name, aliases in sorted((connected or {}).items())},
    }


def predicted_config(p: dict, actual: dict | None, recreate: bool) -> dict:
    """The config the network will have after the run (None fields: chosen by Docker)."""
    if actual is None or recreate:
        return creation_config(p)
    desired = desired_config(p, managed=is_managed(actual["labels"]))
    return {f: actual[f] if desired[f] is None else desired[f] for f in CONFIG_FIELDS}


def aliases_by_container(attachments: dict) -> dict:
    """Container name -> aliases, from NetworkRun.attachments()."""
    return {name: info["aliases"] for name, info in attachments.items()}


def describe_aliases(aliases: list) -> str:
    """Aliases as said in an action, e.g. 'aliases db, primary'."""
    return f"aliases {', '.join(sorted(aliases))}" if aliases else "no aliases"


# ---------------------------------------------------------------- engine calls

class NetworkRun:
    """One run of the module against the engine; every change goes through the action log (recorded,
    skipped in check mode)."""

    def __init__(self, client, params: dict, check_mode: bool):
        self.client = client
        self.p = params
        self.name = params["name"]
        self.check_mode = check_mode
        self.log = ActionLog(check_mode, guard=docker_action)
        self.network = find_network(client, self.name)

    # -- reading

    def attachments(self) -> dict:
        """Container name -> {'id', 'aliases', 'ipv4_address'} for running and stopped containers."""
        if self.network is None:
            return {}
        # The engine's own list (network inspect) omits stopped containers, and a filter by network
        # id misses containers never started: filter by name and check the endpoint's network id.
        with docker_action(f"listing the containers attached to network {self.name!r}"):
            containers = self.client.containers.list(all=True, filters={"network": self.name})
        found = {}
        for container in containers:
            endpoint = (container.attrs.get("NetworkSettings") or {}).get("Networks", {}).get(self.name)
            if endpoint is None or endpoint.get("NetworkID") not in ("", self.network.id):
                continue
            found[container.name] = {
                "id": container.id,
                "aliases": user_aliases(endpoint.get("Aliases"), container.name, container.id),
                "ipv4_address": endpoint.get("IPAddress") or None,
            }
        return found

    def resolve_connected(self) -> dict | None:
        """The `connected` option as container name -> sorted aliases; fails on a missing container."""
        if self.p.get("connected") is None:
            return None
        resolved = {}
        for entry in self.p["connected"]:
            container = get_or_none(self.client.containers, entry["container"], "container")
            if container is None:
                raise PgdockError(
                    f"connected: container {entry['container']!r} does not exist; create it first "
                    f"(or remove it from the list of containers of network {self.name!r})"
                )
            if container.name in resolved:
                raise PgdockError(f"connected: container {container.name!r} is listed more than once")
            resolved[container.name] = sorted(set(entry.get("aliases") or []))
        return resolved

    def require_swarm(self) -> None:
        """Overlay networks need a swarm manager; say so before the engine does, in plain words."""
        with docker_action("reading the engine's swarm state"):
            swarm = self.client.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise PgdockError(
                f"driver: overlay networks need the Docker engine to be a swarm manager, and this engine's "
                f"swarm state is {swarm.get('LocalNodeState') or 'unknown'!r}"
                f"{'' if swarm.get('LocalNodeState') != 'active' else ' (a worker node)'}; run "
                "`docker swarm init` on it first, or use driver: bridge for containers on one host"
            )

    # -- changing

    def create(self) -> None:
        config = creation_config(self.p)
        pool = {key: config[field] for key, field in
                (("Subnet", "subnet"), ("Gateway", "gateway"), ("IPRange", "ip_range")) if config[field]}
        ipam = {"Driver": "default", "Config": [pool]} if pool else None

        def _create():
            self.network = self.client.networks.create(
                self.name, driver=config["driver"], internal=config["internal"],
                attachable=config["attachable"], labels=config["labels"], ipam=ipam,
            )
        self.log.do(f"create network {self.name} ({config['driver']}"
                    f"{', internal' if config['internal'] else ''}"
                    f"{', subnet ' + config['subnet'] if config['subnet'] else ''})", _create)

    def remove(self, attached: dict) -> None:
        for name in sorted(attached):
            self.disconnect(name)
        self.log.do(f"remove network {self.name}", self.network.remove)

    def connect(self, container: str, aliases: list) -> None:
        self.log.do(f"connect container {container} to network {self.name} with {describe_aliases(aliases)}",
                    lambda: self.network.connect(container, aliases=aliases or None))

    def disconnect(self, container: str) -> None:
        self.log.do(f"disconnect container {container} from network {self.name}",
                    lambda: self.network.disconnect(container, force=True))

    def reconnect(self, container: str, before: list, after: list) -> None:
        """Aliases cannot be changed in place: disconnect and connect again with the new ones."""

        def _reconnect():
            self.network.disconnect(container, force=True)
            self.network.connect(container, aliases=after or None)
        self.log.do(f"reconnect container {container} to network {self.name} "
                    f"({describe_aliases(before)} -> {describe_aliases(after)})", _reconnect)

    # -- the two states

    def absent(self) -> tuple[dict | None, dict]:
        """Remove the network; returns its config and attachments before the run."""
        if self.network is None:
            return None, {}
        actual = actual_config(self.network.attrs)
        attached = self.attachments()
        force = self.p.get("force")
        if not is_managed(actual["labels"]) and not force:
            raise PgdockError(
                f"network {self.name!r} was not created by pgdock.postgres (it lacks the label "
                f"{MANAGED_LABEL}); set force: true to remove it anyway"
            )
        if attached and not force:
            raise PgdockError(
                f"network {self.name!r} still has containers attached: {', '.join(sorted(attached))}; "
                "remove or disconnect them first, or set force: true to disconnect them"
            )
        self.remove(attached)
        return actual, aliases_by_container(attached)

    def present(self) -> tuple[dict | None, dict, dict, dict]:
        """Create or bring the network in line; returns the config and attachments before the run,
        and those predicted for after it."""
        desired = self.resolve_connected()
        if self.network is None:
            if self.p["driver"] == "overlay":
                self.require_swarm()
            self.create()
            wanted = wanted_attachments(desired, {}, self.p["appends"])
            self.apply(attachment_plan(wanted, {}), {}, wanted)
            return None, {}, predicted_config(self.p, None, True), wanted

        actual = actual_config(self.network.attrs)
        managed = is_managed(actual["labels"])
        differences = config_differences(desired_config(self.p, managed), actual)
        attached = aliases_by_container(self.attachments())
        wanted = wanted_attachments(desired, attached, self.p["appends"])
        if differences:
            self.check_recreate(differences, managed, attached)
            if self.p["driver"] == "overlay":
                self.require_swarm()
            self.remove(attached)
            self.create()
            self.apply(attachment_plan(wanted, {}), {}, wanted)
        else:
            self.apply(attachment_plan(wanted, attached), attached, wanted)
        return actual, attached, predicted_config(self.p, actual, bool(differences)), wanted

    def check_recreate(self, differences: list, managed: bool, attached: dict) -> None:
        """Fail when the network may not be recreated to apply `differences`."""
        what = ", ".join(differences)
        if not managed:
            raise PgdockError(
                f"network {self.name!r} exists but was not created by pgdock.postgres (it lacks the label "
                f"{MANAGED_LABEL}) and differs in: {what}; Docker cannot change that in place and this module "
                "recreates only its own networks: remove it (state: absent, force: true) or choose another name"
            )
        if attached and not self.p.get("force"):
            raise PgdockError(
                f"network {self.name!r} must be recreated to change {what}, but containers are attached: "
                f"{', '.join(sorted(attached))}; set force: true to disconnect them, recreate the network "
                "and reconnect them with their aliases"
            )

    def apply(self, plan: dict, attached: dict, wanted: dict) -> None:
        """Carry out attachment_plan(wanted, attached): disconnect, then reconnect, then connect."""
        for name in plan["disconnect"]:
            self.disconnect(name)
        for name in plan["reconnect"]:
            self.reconnect(name, attached[name], wanted[name])
        for name in plan["connect"]:
            self.connect(name, wanted[name])

    def describe(self, attachments: dict) -> dict:
        """The network as returned to the user (empty when it does not exist)."""
        if self.network is None:
            return {}
        config = actual_config(self.network.attrs)
        return {
            "id": self.network.id,
            "name": self.network.name,
            "driver": config["driver"],
            "internal": config["internal"],
            "attachable": config["attachable"],
            "subnet": config["subnet"],
            "gateway": config["gateway"],
            "ip_range": config["ip_range"],
            "labels": config["labels"],
            "containers": {name: {"ipv4_address": info["ipv4_address"], "aliases": info["aliases"]}
                           for name, info in sorted(attachments.items())},
        }

    def refresh(self) -> None:
        """Read the network again after changes (it may have been created, recreated or removed)."""
        if not self.check_mode:
            self.network = find_network(self.client, self.name)


def find_network(client, name: str):
    """The network named exactly `name` (the engine also matches id prefixes), or None."""
    network = get_or_none(client.networks, name, "network")
    if network is None or network.name != name:
        return None
    return network


def ensure_network(module) -> dict:
    """Bring the network to the state the module's options describe; the module's result."""
    p = module.params
    validate_options(p)
    run = NetworkRun(connect(p), p, module.check_mode)
    if p["state"] == "absent":
        before, attached_before = run.absent()
        after, attached_after = None, {}
    else:
        before, attached_before, after, attached_after = run.present()
    result = run.log.result()
    run.refresh()
    attachments = run.attachments()
    if not run.check_mode and run.network is not None:
        # A real run reports what the engine now has (e.g. the subnet it chose).
        after, attached_after = actual_config(run.network.attrs), aliases_by_container(attachments)
    result["network"] = run.describe(attachments)
    return with_diff(result, module._diff, state_view(before, attached_before), state_view(after, attached_after))
