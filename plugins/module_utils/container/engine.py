# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `container` module's engine: bring one PostgreSQL container to the asked state, keep its
data volume across recreations, and wait until the server accepts connections."""

from __future__ import annotations

import os

from ansible_collections.pgdock.postgres.plugins.module_utils.container.host_options import (
    host_config_arguments,
    tmpfs_mounts,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.container.spec import (
    actual_spec,
    desired_spec,
    settings_from_command,
    spec_differences,
    split_differences,
    validate_options,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    CONTAINER_LABEL,
    MANAGED_LABEL,
    PASSWORD_FILE_NAME,
    secrets_dir_for,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import wait_until_ready
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    attachment_plan,
    check_static_address,
    connect,
    docker_action,
    ensure_image,
    get_or_none,
    is_managed,
    managed_labels,
    user_aliases,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import (
    PROBE_SCRIPT,
    check_volume_fits,
    layout_of_image,
    parse_handed_over,
    parse_probe,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    make_private_dir,
    read_secret,
    remove_secret_dir,
    secret_needs_write,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog, with_diff

try:
    import docker.errors
    from docker.types import LogConfig, Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass


def ensure_container(module, volume_filler=None) -> dict:
    """Entry point of the `container` module; `volume_filler(spec)` makes the filler of its
    `restore_from` option (the module passes restore.restore_from.BackupVolumeFiller)."""
    spec = module.params.get("restore_from")
    filler = volume_filler(spec) if spec and volume_filler is not None else None
    return ContainerEngine(module.params, module.check_mode, module._diff, module.warn, filler=filler).run()


class ContainerEngine:
    """One run of the module: compare, plan, apply (unless check mode), report.

    `volume_filled`: the caller has just written a cluster for this image into the data volume
    (a base backup at the image's PGDATA), so the throw-away probe of the volume is skipped.
    `filler`: what fills a new, empty data volume before the first start instead of initdb (the
    seam through which the container module's restore_from reaches the restore code: this engine
    imports no backup code). Its methods get the engine: plan(engine, layout) -> plan or None,
    superuser_password(engine, plan), describe(engine, plan), fill(engine, plan, image, layout),
    finish(engine, plan, container, layout) -> dict."""

    def __init__(self, params: dict, check_mode: bool, want_diff: bool, warn, volume_filled: bool = False,
                 filler=None):
        self.volume_filled = volume_filled
        self.filler = filler
        self.p = dict(params)
        self.p["data_volume"] = self.p.get("data_volume") or f"{self.p['name']}-data"
        self.check_mode = check_mode
        self.want_diff = want_diff
        self.warn = warn
        self.log = ActionLog(check_mode, guard=docker_action)
        self.client = None
        self.secrets_dir = self.p.get("secrets_dir") or secrets_dir_for(self.p["name"])
        self.password_path = os.path.join(self.secrets_dir, PASSWORD_FILE_NAME)

    # -- entry -----------------------------------------------------------------------------------
    def run(self) -> dict:
        if self.p["state"] != "absent":
            validate_options(self.p)
        self.client = connect(self.p)
        existing = get_or_none(self.client.containers, self.p["name"], "container")
        if existing is not None and not is_managed(existing.labels):
            raise PgdockError(
                f"container {self.p['name']!r} exists but was not created by pgdock.postgres (it has no "
                f"{MANAGED_LABEL} label); refusing to change or remove it. Pick another name."
            )
        if self.p["state"] == "absent":
            return self._absent(existing)
        return self._present(existing)

    def _result(self, container, layout, before, after, extra=None) -> dict:
        result = self.log.result(**(extra or {}))
        if container is not None:
            result["container"] = self._describe(container, layout)
        return with_diff(result, self.want_diff, before, after)

    # -- absent ----------------------------------------------------------------------------------
    def _absent(self, existing) -> dict:
        before = {"state": existing.status} if existing is not None else {}
        if existing is not None:
            self.log.do(f"stop and remove container {self.p['name']}", self._stop_and_remove, existing)
        if self.p["remove_volume"]:
            volume = get_or_none(self.client.volumes, self.p["data_volume"], "volume")
            if volume is not None:
                self.log.do(f"remove data volume {self.p['data_volume']}", self._remove_volume, volume)
            if os.path.isdir(self.secrets_dir):
                self.log.do(f"remove secrets directory {self.secrets_dir}", remove_secret_dir, self.secrets_dir)
        return self._result(None, None, before, {})

    # -- present ---------------------------------------------------------------------------------
    def _present(self, existing) -> dict:
        image = ensure_image(self.client, self.p["image"], self.p["pull"], self.log, self.warn)
        if image is None:  # check mode, image to be pulled: nothing more can be compared
            return self._result(None, None, {}, {"image": self.p["image"]})
        layout = layout_of_image(self.p["image"], image.attrs, self.p.get("pgdata"))
        self._check_networks()
        self._check_log_driver()
        desired = desired_spec(self.p, layout, image.attrs, self.secrets_dir)
        before = self._current_view(existing)
        differences = []
        if existing is not None:
            old_image = get_or_none(self.client.images, existing.attrs.get("Image"), "image")
            differences = spec_differences(desired, actual_spec(existing.attrs, old_image.attrs if old_image else None))
        initialised = None
        if existing is None or differences:
            initialised = True if self.volume_filled else self._probe_volume(image, layout)
            if initialised and self.p.get("user"):
                self._ensure_volume_owner(image)
        restore = None
        if existing is None and initialised is False and self.filler is not None:
            restore = self.filler.plan(self, layout)
        self._ensure_password(initialised, restore)
        self._ensure_wal_archive_dir()
        container = existing
        in_place, recreate = split_differences(differences, desired)
        extra = {"restart_changes": recreate}
        if existing is None:
            if restore is not None:
                self.log.do(self.filler.describe(self, restore), self.filler.fill, self, restore, image, layout)
                self.log.extend(restore.replay)
            container = self.log.do(f"create container {self.p['name']}", self._create, desired, {})
        elif recreate and not self._restart_refused(existing):
            kept = self._kept_networks(existing)
            container = self.log.do(
                f"recreate container {self.p['name']} (changed: {', '.join(recreate)}; "
                f"data volume {self.p['data_volume']} kept)",
                self._recreate, existing, desired, kept) or existing  # check mode: the container as it is
        else:
            if recreate:  # refused: reported, and the diff shows the container as it stays
                extra.update(pending_restart=True, pending_changes=recreate)
                self.warn(f"container {self.p['name']} not recreated although {', '.join(recreate)} changed: "
                          "allow_restart is false and a new container restarts the server; the change "
                          "is pending (run again with allow_restart: true to apply it)")
                desired = dict(desired, **{f: before[f] for f in recreate})
            self._update_in_place(existing, desired, in_place)
            self._apply_network_plan(existing)
        container = self._ensure_run_state(container)
        if restore is not None:
            extra["restored_from"] = restore.label["id"]
            if not self.check_mode:
                extra["restored"] = self.filler.finish(self, restore, container, layout)
        after = dict(desired, networks=self._networks_after(existing), state=self._wanted_state(),
                     ipv4_addresses={n: ip for n, ip in self._wanted_addresses().items() if ip})
        return self._result(container, layout, before, after, extra)

    def _restart_refused(self, existing) -> bool:
        """Whether a new container is refused: it would restart a running server and allow_restart is false."""
        return not self.p["allow_restart"] and existing.status in ("running", "restarting")

    def _update_in_place(self, container, desired: dict, fields: list[str]) -> None:
        """Apply the changes `docker update` makes on the container as it runs (no restart)."""
        if not fields:
            return
        body = {}
        if "restart_policy" in fields:
            body["RestartPolicy"] = {"Name": desired["restart_policy"]}
        if "nano_cpus" in fields:
            body["NanoCpus"] = desired["nano_cpus"]
        self.log.do(f"update container {self.p['name']} in place ({', '.join(fields)}; no restart)",
                    self._update, container, body)

    def _update(self, container, body: dict) -> None:
        """POST /containers/{id}/update (the SDK's update_container has no NanoCpus)."""
        api = self.client.api
        api._result(api._post_json(api._url("/containers/{0}/update", container.id), data=body), True)

    def _check_networks(self) -> None:
        for net in self.p["networks"]:
            network = get_or_none(self.client.networks, net["name"], "network")
            if network is None:
                msg = (f"networks: network {net['name']!r} does not exist on the Docker host; create it "
                       "first (pgdock.postgres.network)")
                if not self.check_mode:
                    raise PgdockError(msg)
                self.warn(msg + " (check mode: assuming an earlier task creates it)")
            elif net.get("ipv4_address"):
                check_static_address(network.attrs, net["ipv4_address"], self.p["name"])

    def _check_log_driver(self) -> None:
        """Refuse a log driver the engine does not have (its creation would fail after the old container went)."""
        driver = self.p.get("log_driver") or "json-file"
        with docker_action("reading the engine's log drivers"):
            available = (self.client.info().get("Plugins") or {}).get("Log") or []
        if available and driver not in available and driver != "none":  # "none" is not listed
            raise PgdockError(f"log_driver: the Docker engine has no log driver {driver!r} (it has "
                              f"{', '.join(sorted(available))})")

    def _probe_volume(self, image, layout) -> bool:
        """Whether the data volume holds a cluster the image can run; raise when it cannot."""
        volume = get_or_none(self.client.volumes, self.p["data_volume"], "volume")
        if volume is None:
            return False
        output = self._in_volume_helper(image, PROBE_SCRIPT, read_only=True)
        return check_volume_fits(layout, self.p["data_volume"], self.p["image"], parse_probe(output),
                                 parse_handed_over(output))

    def _ensure_volume_owner(self, image) -> None:
        """With `user`, the cluster in the data volume belongs to its uid (the entrypoint, not root,
        cannot chown it; as root it gives PGDATA to the image's postgres user)."""
        uid = self.p["user"].split(":")[0]
        owner = self.p["user"] if ":" in self.p["user"] else f"{uid}:{uid}"
        found = self._in_volume_helper(image, f"find /probe \\! -user {uid} | head -n 1", read_only=True)
        if found.strip():
            self.log.do(f"give the cluster in data volume {self.p['data_volume']} to uid {owner} (user)",
                        self._in_volume_helper, image, f"find /probe \\! -user {uid} -exec chown -h {owner} {{}} +")

    def _in_volume_helper(self, image, script: str, read_only: bool = False) -> str:
        """Output of `script` in a throw-away root container of `image` with the data volume at /probe."""
        with docker_action(f"running a helper on volume {self.p['data_volume']!r}"):
            output = self.client.containers.run(
                image.id, entrypoint=["sh", "-c"], command=[script], user="0",
                network_mode="none", remove=True, labels=managed_labels(),
                mounts=[Mount("/probe", self.p["data_volume"], type="volume", read_only=read_only)],
            )
        return output.decode("utf-8", "replace")

    def _ensure_wal_archive_dir(self) -> None:
        """The wal_archive_dir on the host, owned by the server's uid (its archive_command writes there)."""
        path, uid = self.p.get("wal_archive_dir"), self.p["postgres_uid"]
        if not path:
            return
        if not os.path.isdir(path):
            self.log.do(f"create WAL archive directory {path} (owner uid {uid}, mode 0700)", make_private_dir, path, uid, uid)
        elif os.stat(path).st_uid != uid:
            self.log.do(f"give WAL archive directory {path} to uid {uid} (the server's archive_command writes there)",
                        os.chown, path, uid, uid)

    def _ensure_password(self, initialised: bool | None, restore=None) -> None:
        password = self.p.get("superuser_password")
        uid = gid = self.p["postgres_uid"]
        if password is None and restore is not None and read_secret(self.password_path) is None:
            password = self.filler.superuser_password(self, restore)
        if password is None:
            if initialised is False and read_secret(self.password_path) is None:
                raise PgdockError(
                    f"superuser_password is required: data volume {self.p['data_volume']!r} holds no "
                    "cluster yet and the superuser needs a password for initdb"
                )
            return
        if secret_needs_write(self.password_path, password, uid, gid):
            stored = read_secret(self.password_path)
            if initialised and stored is not None and stored != password:
                self.warn("superuser_password differs from the password file, but the cluster already "
                          "exists: the file is updated, the server's password is not (use "
                          "pgdock.postgres.role to change it)")
            self.log.do(f"write superuser password file {self.password_path} (0600)", write_secret,
                        self.password_path, password, uid, gid)

    # -- actions (run through the log, skipped in check mode) ----------------------------------
    def _create(self, desired: dict, kept_networks: dict):
        """A new container on the listed networks, then on `kept_networks` (name -> aliases)."""
        if get_or_none(self.client.volumes, self.p["data_volume"], "volume") is None:
            self.client.volumes.create(self.p["data_volume"], labels=managed_labels(
                {CONTAINER_LABEL: self.p["name"]}))
        first, *others = self.p["networks"]
        api = self.client.api
        mounts = []
        for item in desired["mounts"]:
            kind, source, target, mode = item.split(":")
            mounts.append(Mount(target, source, type=kind, read_only=(mode == "ro")))
        mounts += tmpfs_mounts(desired)
        bindings = {}
        for port, addresses in desired["ports"].items():
            bindings[port] = [(host_ip, int(host_port)) for host_ip, host_port in
                              (binding.rsplit(":", 1) for binding in addresses)]
        host_config = api.create_host_config(
            mounts=mounts, port_bindings=bindings, network_mode=first["name"],
            restart_policy={"Name": desired["restart_policy"]},
            mem_limit=desired["memory"] or None, nano_cpus=desired["nano_cpus"] or None,
            shm_size=desired["shm_size"] or None, security_opt=desired["security_opt"],
            log_config=LogConfig(type=desired["log_config"]["type"], config=desired["log_config"]["config"]),
            **host_config_arguments(desired),
        )
        created = api.create_container(
            self.p["image"], name=self.p["name"], command=desired["command"],
            environment=desired["env"], labels=desired["labels"], healthcheck=desired["healthcheck"],
            stop_timeout=desired["stop_timeout"], ports=[tuple(port.split("/")) for port in bindings], host_config=host_config,
            user=desired["user"] or None,
            networking_config=api.create_networking_config({
                first["name"]: api.create_endpoint_config(aliases=first.get("aliases") or None,
                                                          ipv4_address=first.get("ipv4_address") or None)}),
        )
        container = self.client.containers.get(created["Id"])
        for net in others:
            self._connect(container, net["name"], net.get("aliases") or None)
        for name, aliases in sorted(kept_networks.items()):
            self.client.networks.get(name).connect(container, aliases=aliases or None)
        container.reload()
        return container

    def _recreate(self, existing, desired: dict, kept_networks: dict):
        self._stop_and_remove(existing)
        return self._create(desired, kept_networks)

    def _stop(self, container) -> None:
        container.stop(timeout=self.p["stop_timeout"])

    def _stop_and_remove(self, container) -> None:
        container.reload()
        if container.status in ("running", "restarting"):
            self._stop(container)
        container.remove(v=False)

    def _remove_volume(self, volume) -> None:
        volume.remove()

    def _apply_network_plan(self, container) -> None:
        """Connect to the listed networks, with their aliases; disconnect from the others only
        with purge_networks (networks that others attached the container to are kept otherwise)."""
        plan = attachment_plan(self._wanted_networks(), self._attached_networks(container))
        addresses = self._attached_addresses(container)
        plan["reconnect"] = sorted(set(plan["reconnect"]) | {
            n for n, ip in self._wanted_addresses().items() if n in addresses and addresses[n] != ip})
        if not self.p["purge_networks"]:
            plan["disconnect"] = []
        wanted = {n["name"]: n.get("aliases") or None for n in self.p["networks"]}
        for name in plan["disconnect"]:
            self.log.do(f"disconnect from network {name}", self._disconnect, container, name)
        for name in plan["reconnect"]:
            address = self._wanted_addresses()[name]
            self.log.do(f"reconnect to network {name} with aliases {wanted[name]}"
                        + (f" and address {address}" if address else ""), self._reconnect,
                        container, name, wanted[name])
        for name in plan["connect"]:
            self.log.do(f"connect to network {name}", self._connect, container, name, wanted[name])

    def _connect(self, container, network: str, aliases) -> None:
        self.client.networks.get(network).connect(container, aliases=aliases,
                                                  ipv4_address=self._wanted_addresses().get(network) or None)

    def _disconnect(self, container, network: str) -> None:
        self.client.networks.get(network).disconnect(container)

    def _reconnect(self, container, network: str, aliases) -> None:
        self._disconnect(container, network)
        self._connect(container, network, aliases)

    def _ensure_run_state(self, container):
        if container is None:  # check mode, nothing created
            return None
        container.reload()
        running = container.status in ("running", "restarting")
        if self.p["state"] == "started":
            if not running:
                self.log.do(f"start container {self.p['name']}", container.start)
            if not self.check_mode and self.p["wait"]:
                wait_until_ready(container, self.p["superuser"], self.p["wait_timeout"])
        elif running:
            self.log.do(f"stop container {self.p['name']}", self._stop, container)
        if not self.check_mode:
            container.reload()
        return container

    # -- reporting -------------------------------------------------------------------------------
    def _attached_networks(self, container) -> dict:
        endpoints = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        return {name: user_aliases(ep.get("Aliases"), self.p["name"], container.id) for name, ep in endpoints.items()}

    def _attached_addresses(self, container) -> dict:
        """Network -> the fixed IPv4 address of the container's endpoint there ('' when Docker picks it)."""
        endpoints = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        return {name: (ep.get("IPAMConfig") or {}).get("IPv4Address") or "" for name, ep in endpoints.items()}

    def _wanted_addresses(self) -> dict:
        return {n["name"]: n.get("ipv4_address") or "" for n in self.p["networks"]}

    def _wanted_networks(self) -> dict:
        return {n["name"]: sorted(n.get("aliases") or []) for n in self.p["networks"]}

    def _kept_networks(self, existing) -> dict:
        """Networks the container is on but not listed, which it stays on (none with purge_networks)."""
        if existing is None or self.p["purge_networks"]:
            return {}
        wanted = self._wanted_networks()
        return {name: aliases for name, aliases in self._attached_networks(existing).items() if name not in wanted}

    def _networks_after(self, existing) -> dict:
        return {**self._kept_networks(existing), **self._wanted_networks()}

    def _wanted_state(self) -> str:
        return "running" if self.p["state"] == "started" else "exited"

    def _current_view(self, existing) -> dict:
        if existing is None:
            return {}
        image = get_or_none(self.client.images, existing.attrs.get("Image"), "image")
        view = actual_spec(existing.attrs, image.attrs if image else None)
        view["networks"] = self._attached_networks(existing)
        view["ipv4_addresses"] = {n: ip for n, ip in self._attached_addresses(existing).items() if ip}
        view["state"] = "running" if existing.status in ("running", "restarting") else "exited"
        return view

    def _describe(self, container, layout) -> dict:
        attrs = container.attrs
        endpoints = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        state = attrs.get("State") or {}
        binding = ((attrs.get("HostConfig") or {}).get("PortBindings") or {}).get("5432/tcp") or [{}]
        info = {
            "id": container.id,
            "name": self.p["name"],
            "image": self.p["image"],
            "image_id": attrs.get("Image"),
            "status": state.get("Status"),
            "started_at": state.get("StartedAt"),
            "health": (state.get("Health") or {}).get("Status"),
            "networks": {name: {"ip_address": ep.get("IPAddress"),
                                "aliases": user_aliases(ep.get("Aliases"), self.p["name"], container.id)}
                         for name, ep in endpoints.items()},
            "settings": settings_from_command((attrs.get("Config") or {}).get("Cmd")),
            "published_host_ip": binding[0].get("HostIp"),
            "published_port": int(binding[0]["HostPort"]) if binding[0].get("HostPort") else None,
            "data_volume": self.p["data_volume"],
            "pgdata": layout.pgdata,
            "major": layout.major,
            "secrets_dir": self.secrets_dir,
            "password_file": self.password_path,
            "server_version": None,
        }
        if state.get("Running"):
            info["server_version"] = self._server_version(container)
        return info

    def _server_version(self, container) -> str | None:
        try:
            code, out = container.exec_run(["postgres", "-V"], user="postgres")
        except docker.errors.APIError:
            return None
        # "postgres (PostgreSQL) 18.1 (Debian 18.1-1)"
        words = out.decode("utf-8", "replace").split()
        return words[2] if code == 0 and len(words) > 2 else None
