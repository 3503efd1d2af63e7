# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `replica` module's engine: a streaming standby of a pgdock primary (replication role,
slot, hba rule, pg_basebackup from a helper container on the primary's network, the standby
container, wait until it streams), its removal, and the rejoin of a former primary (pg_rewind).
With `upstream` the primary runs on another Docker host (replication.upstream): it is reached
at its address and published port over TLS, its pg_hba.conf is its own host's business."""

from __future__ import annotations

import os
import re
import secrets
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.container.engine import ContainerEngine
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import container_params
from ansible_collections.pgdock.postgres.plugins.module_utils.container.spec import inherited_params, settings_from_command
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    CONTAINER_LABEL,
    REPLICATION_PASSWORD_FILE,
    REPLICATION_PGPASS,
    ROLE_LABEL,
    SECRETS_MOUNT,
    SUPERUSER_PGPASS,
    SYNC_LABEL,
    UPSTREAM_LABEL,
    progress_file_for,
    secrets_dir_for,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import HelperTimeout, poll_intervals, run_helper
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import Progress
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect as docker_connect,
    docker_action,
    get_or_none,
    is_managed,
    managed_labels,
    mount_source,
    user_aliases,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import connection_options
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import env_to_dict, layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    owner_of,
    pgpass_line,
    read_secret,
    secret_needs_write,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.server_file import ensure_replication_rules
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conninfo
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import (
    container_login,
    container_secrets_dir,
    container_superuser_password,
    find_container,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.basebackup import (
    create_physical_slot,
    drop_slot,
    replication_row,
    run_base_backup,
    slot_exists,
    standby_conf_lines,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.setup import ensure_replication_role
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.upstream import (
    UPSTREAM_CA_NAME,
    basebackup_tls_env,
    check_upstream_options,
    standby_tls,
    upstream_login,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.options import OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog

try:
    from docker.types import Mount
    from psycopg2 import sql
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

SLOT_RE = re.compile(r"^[a-z0-9_]{1,63}$")
STANDBY_KEYS = ("primary_conninfo", "primary_slot_name")
# $1 PGDATA; the source server's conninfo in $SOURCE, the standby's settings in $STANDBY_CONF
REWIND_SCRIPT = (
    'set -e; pgdata=$1; pg_rewind --target-pgdata="$pgdata" --source-server="$SOURCE" --progress; '
    'grep -v -E "^(primary_conninfo|primary_slot_name)" "$pgdata/postgresql.auto.conf" > /tmp/auto.conf || true; '
    'cat /tmp/auto.conf > "$pgdata/postgresql.auto.conf"; '
    'printf "%s" "$STANDBY_CONF" >> "$pgdata/postgresql.auto.conf"; touch "$pgdata/standby.signal"')


# -- pure helpers ----------------------------------------------------------------------------------
def slot_name_for(name: str) -> str:
    """A physical slot name derived from a container name (slot names: [a-z0-9_], 63 at most)."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]


def synchronous_names_value(names: list[str]) -> str:
    """synchronous_standby_names for a set of synchronous standbys: ANY 1 of them, or '' for none."""
    if not names:
        return ""
    return "ANY 1 (" + ", ".join('"' + n.replace('"', '""') + '"' for n in sorted(names)) + ")"


# -- the engine ----------------------------------------------------------------------------------
def ensure_replica(module) -> dict:
    """Entry point of the `replica` module."""
    return ReplicaRun(module.params, module.check_mode, module.warn).run()


class ReplicaRun:
    """One run of the replica module: plan, apply (unless check mode), report."""

    def __init__(self, params: dict, check_mode: bool, warn):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.log = ActionLog(check_mode)
        self.client = self.primary = self.primary_sql = None
        self.remote = params.get("upstream")  # a primary on another Docker host (replication.upstream)
        self.pending_changes = []  # what the container engine did not apply (allow_restart false)
        self.slot = (params.get("slot_name") or slot_name_for(params["name"])) if params["slot"] else None
        self.secrets_dir = params.get("secrets_dir") or secrets_dir_for(params["name"])
        self.progress_file = params.get("progress_file") or progress_file_for(params["name"])
        self.progress = Progress(None if check_mode else self.progress_file, f"replica {params['name']}")

    # -- entry -------------------------------------------------------------------------------------
    def run(self) -> dict:
        if self.slot is not None and not SLOT_RE.match(self.slot):
            raise PgdockError(f"slot_name: {self.slot!r} is not a valid slot name (a-z, 0-9, _; 63 at most)")
        if self.p["name"] == self.p["primary"]:
            raise PgdockError("name: the replica cannot be the primary itself")
        if self.remote:
            check_upstream_options(self.p)
        self.client = docker_connect(self.p)
        self.primary = None if self.remote else self._running(self.p["primary"], "primary")
        existing = get_or_none(self.client.containers, self.p["name"], "container")
        if existing is not None and not is_managed(existing.labels):
            raise PgdockError(f"container {self.p['name']!r} exists but was not created by pgdock.postgres; "
                              "refusing to touch it")
        self.primary_sql = self._session(self.p["primary"])
        try:
            if self.primary_sql.value("select pg_is_in_recovery()"):
                raise PgdockError(f"primary: {self.p['primary']!r} is a standby, not a primary")
            if self.p["state"] == "absent":
                return self._absent(existing)
            if self.p["state"] == "rejoined":
                return self._rejoined(existing)
            return self._present(existing)
        finally:
            self.primary_sql.close()

    def _result(self, extra: dict | None = None) -> dict:
        extra = dict(extra or {})
        if self.progress.phases:
            extra.update(phases=self.progress.phases, progress_file=self.progress_file)
        return self.log.result(**extra)

    # -- present -----------------------------------------------------------------------------------
    def _present(self, existing) -> dict:
        image = self.p.get("image") or self.primary.attrs["Config"]["Image"]
        self._check_same_major(image)
        upstream_name = self.p.get("cascade_from") or self.p["primary"]
        if existing is not None:
            labels = existing.labels
            if labels.get(ROLE_LABEL) != "replica":
                raise PgdockError(f"name: container {self.p['name']!r} is already used by a non-replica "
                                  "container; pick another name")
            if labels.get(UPSTREAM_LABEL) != upstream_name and not self.p["rebuild"]:
                raise PgdockError(
                    f"replica {self.p['name']!r} follows {labels.get(UPSTREAM_LABEL)!r}, not "
                    f"{upstream_name!r}; set rebuild: true to rebuild it from {upstream_name!r} "
                    "(its data volume is replaced)")
        if self.remote:
            self._copy_upstream_ca()
        upstream = self.primary if upstream_name == self.p["primary"] else self._running(upstream_name, "cascade_from")
        upstream_sql = self.primary_sql if upstream_name == self.p["primary"] else self._session(upstream_name)
        try:
            password = self._replication_password()
            self._prepare_upstream(upstream, upstream_sql, password)
            self._write_client_files(self.secrets_dir, password)
            streaming = existing is not None and self._streams(upstream_sql)
            rebuilding = existing is not None and self.p["rebuild"] and not streaming
            if rebuilding:
                self.log.do(f"remove replica {self.p['name']} and its volume to rebuild it", self._remove, existing, True)
            # a standby streaming from this volume holds a cluster: no probe container needed
            has_cluster = (streaming and self._volume() in self._mounted_volumes(existing)) \
                or self._volume_has_cluster(image)
            if not has_cluster:
                self.log.do(f"pg_basebackup from {upstream_name} into volume {self._volume()}",
                            self._base_backup, image, upstream_name)
            with self.progress.phase("container"):
                self._ensure_container(image, upstream_name, "started", filled=not has_cluster)
            if not self.remote:
                self._sync_names()
            status = None
            if not self.check_mode:
                with self.progress.phase("catch-up"):
                    status = self._wait_streaming(upstream_sql, existing is not None and not rebuilding)
        finally:
            if upstream_sql is not self.primary_sql:
                upstream_sql.close()
        extra = {"replica": self._describe(upstream_name, status)}
        if self.pending_changes:
            extra.update(pending_restart=True, pending_changes=self.pending_changes)
        return self._result(extra)

    def _check_same_major(self, image: str) -> None:
        if self.remote:
            primary_major = self.primary_sql.value("select current_setting('server_version_num')::int / 10000")
        else:
            primary_major = self._major(self.primary.attrs["Config"]["Image"], self.primary.attrs["Image"])
        replica_major = self._major(image, image)
        if replica_major != primary_major:
            raise PgdockError(
                f"image: {image!r} is PostgreSQL {replica_major} but primary {self.p['primary']!r} runs "
                f"PostgreSQL {primary_major}; a streaming replica needs the same major version")

    def _major(self, name: str, ref: str) -> int:
        image = get_or_none(self.client.images, ref, "image")
        if image is None:
            raise PgdockError(f"image {name!r} is not present on the Docker host")
        return layout_of_image(name, image.attrs).major

    def _replication_password(self) -> str:
        """The given replication password, or one generated once and kept in the primary's secrets dir."""
        if self.p.get("replication_password"):
            return self.p["replication_password"]
        primary_secrets = container_secrets_dir(self.primary)
        if not primary_secrets:
            raise PgdockError(f"primary {self.p['primary']!r} has no secrets directory; give replication_password")
        path = os.path.join(primary_secrets, REPLICATION_PASSWORD_FILE)
        stored = read_secret(path)
        if stored:
            return stored
        password = secrets.token_urlsafe(24)
        uid = owner_of(primary_secrets)
        self.log.do(f"generate the replication password in {path} (0600)", write_secret, path, password, uid, uid)
        return password

    def _prepare_upstream(self, upstream, conn, password: str) -> None:
        """Replication role (on the primary), hba rule and slot (on the upstream). The pg_hba.conf of
        a primary on another host (upstream) is kept by that host's deployment."""
        self.log.extend(ensure_replication_role(self._login(self.p["primary"]), self.p["replication_user"],
                                                password, self.check_mode, self.warn))
        if not self.remote:
            self.log.extend(ensure_replication_rules(conn, self.p["replication_user"], self.check_mode))
        if self.slot and not self._slot_exists(conn):
            name = upstream.name if upstream is not None else self.p["primary"]
            self.log.do(f"create physical replication slot {self.slot} on {name}", self._create_slot, conn)

    def _write_client_files(self, directory: str, password: str) -> None:
        """replication.pgpass (and superuser.pgpass) in a secrets directory, 0600, owned by the uid that
        owns the primary's secrets directory (the image's postgres user)."""
        uid = self._secrets_uid()
        files = {REPLICATION_PGPASS: pgpass_line(self.p["replication_user"], password)}
        superuser, superuser_password = self._superuser()
        if superuser_password:
            files[SUPERUSER_PGPASS] = pgpass_line(superuser, superuser_password)
        for name, content in files.items():
            path = os.path.join(directory, name)
            if secret_needs_write(path, content, uid, uid):
                self.log.do(f"write {path} (0600)", write_secret, path, content, uid, uid)

    def _secrets_uid(self) -> int:
        """The image's postgres uid, as the owner of the primary's secrets directory shows it (of the
        replica's own with a primary on another host)."""
        return owner_of(self.secrets_dir if self.remote else container_secrets_dir(self.primary))

    def _superuser(self) -> tuple:
        """(name, password) of the primary's superuser, which the copy shares."""
        if self.remote:
            return self.remote["login_user"], self.remote["login_password"]
        env = env_to_dict(self.primary.attrs["Config"]["Env"])
        return env.get("POSTGRES_USER", "postgres"), container_superuser_password(self.primary)

    def _copy_upstream_ca(self) -> None:
        """The CA that verifies the upstream, copied into the replica's secrets directory, where the
        base backup helper and the standby read it."""
        if not self.remote.get("ca_file"):
            return
        try:
            with open(self.remote["ca_file"], encoding="utf-8") as handle:
                content = handle.read()
        except OSError as exc:
            raise PgdockError(f"upstream.ca_file: cannot read {self.remote['ca_file']}: {exc.strerror}") from None
        if "-----BEGIN CERTIFICATE-----" not in content:
            raise PgdockError(f"upstream.ca_file: {self.remote['ca_file']} holds no PEM certificate")
        path = os.path.join(self.secrets_dir, UPSTREAM_CA_NAME)
        uid = self._secrets_uid()
        if secret_needs_write(path, content, uid, uid):
            self.log.do(f"write {path} (the upstream's CA)", write_secret, path, content, uid, uid)

    def _volume(self) -> str:
        return self.p.get("data_volume") or f"{self.p['name']}-data"

    @staticmethod
    def _mounted_volumes(container) -> set:
        return {m.get("Name") for m in container.attrs.get("Mounts") or [] if m.get("Type") == "volume"}

    def _volume_has_cluster(self, image: str) -> bool:
        volume = get_or_none(self.client.volumes, self._volume(), "volume")
        if volume is None:
            return False
        layout = self._layout(image)
        code, _out = run_helper(self.client, image, ["test", "-s", f"/probe/{layout.pgdata_in_volume}/PG_VERSION"],
                                [Mount("/probe", self._volume(), type="volume", read_only=True)],
                                f"probing volume {self._volume()}", user="0")
        return code == 0

    def _layout(self, image: str):
        return layout_of_image(image, self.client.images.get(image).attrs)

    def _base_backup(self, image: str, upstream_name: str) -> None:
        layout = self._layout(image)
        if get_or_none(self.client.volumes, self._volume(), "volume") is None:
            self.client.volumes.create(self._volume(), labels=managed_labels({CONTAINER_LABEL: self.p["name"]}))
        conf = self._standby_conf(upstream_name)
        # every value is an argument ($1 upstream, $2 user, $3 PGDATA, then the slot flags), never
        # interpolated into the script
        timeout = self._helper_timeout()
        with self.progress.phase("base backup") as phase:
            watch = self.progress.pg_progress_watcher(phase)
            code, output = self._run_base_backup(image, upstream_name, layout, conf, timeout, watch)
            watch(output)  # the last step (100%) of a copy faster than the watcher's polling
            if code != 0:
                self._remove_incomplete_volume()
                raise PgdockError(f"pg_basebackup from {upstream_name!r} failed (exit {code}); the new volume "
                                  f"was removed: {output.strip()[-1500:]}")

    def _run_base_backup(self, image: str, upstream_name: str, layout, conf: str, timeout: int, watch):
        """pg_basebackup in a helper, its progress reported; (exit code, output)."""
        try:
            address = (self.remote["host"], self.remote["port"]) if self.remote else (upstream_name, 5432)
            return run_base_backup(self.client, image, layout, self._volume(), self.secrets_dir, address,
                                   self.p["replication_user"], conf, self.slot, f"pg_basebackup from {upstream_name}",
                                   timeout, watch, network=self._network(),
                                   tls=basebackup_tls_env(self.remote) if self.remote else None)
        except HelperTimeout as exc:
            self._remove_incomplete_volume()
            raise PgdockError(f"pg_basebackup from {upstream_name!r} did not finish within base_backup_timeout "
                              f"({timeout} s); it was stopped and the incomplete volume {self._volume()} removed. "
                              "Give a base_backup_timeout that fits the cluster's size and the network's speed.",
                              **exc.details) from None

    def _helper_timeout(self) -> int:
        """Seconds a pg_basebackup or pg_rewind helper may run (base_backup_timeout)."""
        timeout = self.p.get("base_backup_timeout", OPTIONS["base_backup_timeout"]["default"])
        if timeout < 1:
            raise PgdockError(f"base_backup_timeout: {timeout} is not a number of seconds (1 or more)")
        return timeout

    def _remove_incomplete_volume(self) -> None:
        with docker_action(f"removing the incomplete volume {self._volume()}"):
            self.client.volumes.get(self._volume()).remove(force=True)

    def _standby_conf(self, upstream_name: str) -> str:
        """primary_conninfo (and the slot) of the standby: the upstream container on a shared network,
        or a primary on another host at its address, over TLS verified against its CA."""
        if not self.remote:
            return standby_conf_lines(upstream_name, self.p["replication_user"], self.p["name"], self.slot)
        sslmode, rootcert = standby_tls(self.remote)
        return standby_conf_lines(self.remote["host"], self.p["replication_user"], self.p["name"], self.slot,
                                  port=self.remote["port"], sslmode=sslmode, sslrootcert=rootcert)

    def _network(self) -> str:
        if self.remote:
            return self.p["networks"][0]["name"]
        networks = list((self.primary.attrs.get("NetworkSettings") or {}).get("Networks") or {})
        if not networks:
            raise PgdockError(f"primary {self.p['primary']!r} is on no network")
        return self.p["networks"][0]["name"] if self.p.get("networks") else networks[0]

    def _ensure_container(self, image: str, upstream_name: str, state: str, keep_from=None,
                          filled: bool = False) -> None:
        """The standby container through the container engine: the primary's server settings,
        resources, timeouts and environment, so that it can take over as primary as it is.

        `keep_from`: an existing container (a rejoined former primary) whose own settings, published
        port and networks with aliases are kept unless the options say otherwise, so that the server
        role finds it unchanged after a switchover and back. `filled`: a base backup has just been
        written into the volume (no need to probe it again)."""
        source = keep_from or self.primary
        inherited = {}
        if source is not None:
            source_image = get_or_none(self.client.images, source.attrs["Image"], "image")
            inherited = inherited_params(source.attrs, source_image.attrs if source_image else None)
        superuser, superuser_password = self._superuser()
        networks = self.p.get("networks") or [
            {"name": n, "aliases": user_aliases(ep.get("Aliases"), source.name, source.id) if keep_from else []}
            for n, ep in (source.attrs["NetworkSettings"]["Networks"] or {}).items()]
        published_port = self.p.get("published_port")
        if published_port is None and keep_from is not None:
            binding = (keep_from.attrs["HostConfig"].get("PortBindings") or {}).get("5432/tcp") or [{}]
            published_port = int(binding[0]["HostPort"]) if binding[0].get("HostPort") else None
        if self.p.get("published_host_ip"):  # else the address of the container it copies
            inherited["published_host_ip"] = self.p["published_host_ip"]
        settings = settings_from_command(source.attrs["Config"].get("Cmd")) if source is not None else {}
        settings.update(self.p.get("settings") or {})
        self._check_secret_files(settings)
        params = container_params(
            **inherited, name=self.p["name"], image=image, pull="never", data_volume=self._volume(),
            superuser=superuser, superuser_password=superuser_password,
            secrets_dir=self.secrets_dir, networks=networks, settings=settings,
            allow_restart=self.p.get("allow_restart", True),
            published_port=published_port, wait_timeout=self.p["wait_timeout"], state=state,
            labels={ROLE_LABEL: "replica", UPSTREAM_LABEL: upstream_name,
                    SYNC_LABEL: "true" if self.p["synchronous"] else "false"},
        )
        params.update(connection_options(self.p))
        result = ContainerEngine(params, self.check_mode, False, self.warn,
                                 volume_filled=filled and not self.check_mode).run()
        self.log.extend(result["actions"], "container: ")
        self.pending_changes = result.get("pending_changes") or []

    def _check_secret_files(self, settings: dict) -> None:
        """Files the settings name in the secrets mount (a TLS certificate...) must be in this
        replica's own secrets directory, or its server would not start."""
        for key, value in sorted(settings.items()):
            value = str(value)
            if value.startswith(SECRETS_MOUNT + "/"):
                host_path = os.path.join(self.secrets_dir, value[len(SECRETS_MOUNT) + 1:])
                if not os.path.exists(host_path) and not self.check_mode:
                    raise PgdockError(
                        f"the primary's setting {key}={value} names a file the replica does not have: "
                        f"put it in {host_path} first (for TLS: pgdock.postgres.tls with dest_dir "
                        f"{self.secrets_dir} and the replica's name in subject_alt_names)")

    def _wait_streaming(self, conn, existed: bool) -> dict:
        """Wait until the upstream sees the standby streaming within max_lag_bytes; its row."""
        deadline = time.monotonic() + self.p["wait_timeout"]
        delays = poll_intervals()
        while True:
            row = self._replication_row(conn)
            if row and row["state"] == "streaming" and (row["lag_bytes"] or 0) <= self.p["max_lag_bytes"]:
                return row
            if time.monotonic() > deadline:
                what = "broken" if existed else "not streaming"
                raise PgdockError(
                    f"replica {self.p['name']!r} is {what}: after {self.p['wait_timeout']} s the upstream "
                    f"reports {row or 'no replication connection'}; check its logs (docker logs "
                    f"{self.p['name']}); set rebuild: true to rebuild it from a new base backup")
            time.sleep(next(delays))

    def _replication_row(self, conn) -> dict | None:
        return replication_row(conn, self.p["name"])

    def _streams(self, conn) -> bool:
        row = self._replication_row(conn)
        return bool(row and row["state"] == "streaming")

    # -- slots and synchronous names on the primary -------------------------------------------------
    def _slot_exists(self, conn) -> bool:
        return slot_exists(conn, self.slot)

    def _create_slot(self, conn) -> None:
        create_physical_slot(conn, self.slot)

    def _drop_slot(self, conn) -> None:
        drop_slot(conn, self.slot)

    def _sync_names(self) -> None:
        """synchronous_standby_names on the primary: ANY 1 of its replicas labelled synchronous."""
        names = []
        for container in self.client.containers.list(all=True, filters={"label": f"{UPSTREAM_LABEL}={self.p['primary']}"}):
            if container.labels.get(SYNC_LABEL) == "true" and container.name != self.p["name"]:
                names.append(container.name)
        if self.p["synchronous"] and self.p["state"] != "absent":
            names.append(self.p["name"])
        wanted = synchronous_names_value(names)
        current = self.primary_sql.value("show synchronous_standby_names")
        if current != wanted:
            self.log.do(f"set synchronous_standby_names = {wanted!r} on {self.p['primary']}", self._set_sync, wanted)

    def _set_sync(self, value: str) -> None:
        what = f"setting synchronous_standby_names on {self.p['primary']}"
        self.primary_sql.run(sql.SQL("alter system set synchronous_standby_names = {}").format(sql.Literal(value)),
                             what=what)
        self.primary_sql.run("select pg_reload_conf()", what=what)

    # -- absent --------------------------------------------------------------------------------------
    def _absent(self, existing) -> dict:
        if existing is not None:
            self.log.do(f"stop and remove replica {self.p['name']}"
                        + (" and its volume" if self.p["remove_volume"] else ""),
                        self._remove, existing, self.p["remove_volume"])
        upstream = (existing.labels.get(UPSTREAM_LABEL) if existing is not None else None) \
            or self.p.get("cascade_from") or self.p["primary"]
        if self.slot:
            self._drop_slot_on(upstream)
        if not self.remote:
            self._sync_names()
        return self._result()

    def _drop_slot_on(self, upstream: str) -> None:
        """Drop the replica's slot on its upstream (the primary, or the standby it cascades from)."""
        if upstream == self.p["primary"]:
            conn = self.primary_sql
        elif get_or_none(self.client.containers, upstream, "container") is not None:
            conn = self._session(upstream)
        else:
            return
        try:
            if self._slot_exists(conn):
                self.log.do(f"drop replication slot {self.slot} on {upstream}", self._drop_slot, conn)
        finally:
            if conn is not self.primary_sql:
                conn.close()

    def _remove(self, container, remove_volume: bool) -> None:
        container.reload()
        if container.status in ("running", "restarting"):
            self._stop(container)
        container.remove()
        if remove_volume:
            volume = get_or_none(self.client.volumes, self._volume(), "volume")
            if volume is not None:
                volume.remove(force=True)

    # -- rejoined ------------------------------------------------------------------------------------
    def _rejoined(self, existing) -> dict:
        if existing is None:
            raise PgdockError(f"name: there is no container {self.p['name']!r} to rejoin")
        if existing.labels.get(UPSTREAM_LABEL) == self.p["primary"] and existing.status == "running" \
                and self._streams(self.primary_sql):
            return self._result({"replica": self._describe(self.p["primary"], self._replication_row(self.primary_sql))})
        image = existing.attrs["Config"]["Image"]
        self._check_same_major(image)
        layout = self._layout(image)
        volume = mount_source(existing.attrs, layout.volume_path, "volume")
        if volume is None:
            raise PgdockError(f"name: container {self.p['name']!r} has no data volume at {layout.volume_path}")
        self.p = dict(self.p, data_volume=volume)
        old_secrets = container_secrets_dir(existing) or self.secrets_dir
        self.secrets_dir = old_secrets
        password = self._replication_password()
        self._prepare_upstream(self.primary, self.primary_sql, password)
        self._write_client_files(old_secrets, password)
        if self.p["rebuild"]:
            self.log.do(f"remove {self.p['name']} and its volume, to rebuild it from {self.p['primary']} "
                        "(its writes that never reached the new primary are discarded)",
                        self._remove, existing, True)
            self.log.do(f"pg_basebackup from {self.p['primary']} into volume {self._volume()}",
                        self._base_backup, image, self.p["primary"])
        else:
            self.log.do(f"stop {self.p['name']} (clean shutdown)", self._stop, existing)
            self.log.do(f"pg_rewind {self.p['name']} onto {self.p['primary']} and make it a standby",
                        self._rewind, existing, image)
        self._ensure_container(image, self.p["primary"], "started", keep_from=existing, filled=self.p["rebuild"])
        self._sync_names()
        status = None if self.check_mode else self._wait_streaming(self.primary_sql, True)
        return self._result({"replica": self._describe(self.p["primary"], status)})

    def _stop(self, container) -> None:
        container.stop(timeout=self.p["stop_timeout"])

    def _rewind(self, container, image: str) -> None:
        layout = self._layout(image)
        volume = self._volume()
        superuser = env_to_dict(self.primary.attrs["Config"]["Env"]).get("POSTGRES_USER", "postgres")
        source = conninfo(host=self.p["primary"], port=5432, user=superuser, dbname="postgres",
                          passfile=f"{SECRETS_MOUNT}/{SUPERUSER_PGPASS}")
        conf = standby_conf_lines(self.p["primary"], self.p["replication_user"], self.p["name"], self.slot)
        code, output = run_helper(
            self.client, image, ["sh", "-c", REWIND_SCRIPT, "pgdock-rewind", layout.pgdata],
            [Mount(layout.volume_path, volume, type="volume"),
             Mount(SECRETS_MOUNT, self.secrets_dir, type="bind", read_only=True)],
            f"pg_rewind of {self.p['name']}", network=self._network(),
            environment={"SOURCE": source, "STANDBY_CONF": conf}, timeout=self._helper_timeout())
        if code != 0:
            hint = ""
            if "could not find previous WAL record" in output or "No such file" in output:
                hint = (" The old primary no longer has the WAL back to the last checkpoint before the "
                        "timelines diverged: keep it with wal_keep_size (or a WAL archive) on primaries, "
                        "or set rebuild: true to clone it afresh from the new primary (its writes that "
                        "never reached the new primary are then discarded).")
            raise PgdockError(
                f"pg_rewind of {self.p['name']!r} onto {self.p['primary']!r} failed (exit {code}); the "
                f"container is stopped and its volume kept.{hint} Output: {output.strip()[-1200:]}")

    # -- helpers -------------------------------------------------------------------------------------
    def _running(self, name: str, option: str):
        params = dict(self.p, container=name)
        try:
            return find_container(params)
        except PgdockError as exc:
            raise PgdockError(f"{option}: {exc}") from None

    def _login(self, container_name: str) -> dict:
        if self.remote and container_name == self.p["primary"]:
            return upstream_login(self.remote)
        return container_login(self.p, container_name)

    def _session(self, container_name: str) -> Session:
        """A SQL session on a pgdock server of this host, as its superuser."""
        return Session(params=self._login(container_name))

    def _describe(self, upstream: str, status: dict | None) -> dict:
        timeline = self.primary_sql.value("select timeline_id from pg_control_checkpoint()")
        status = status or {}
        return {"name": self.p["name"], "upstream": upstream, "slot": self.slot,
                "state": status.get("state"), "sync_state": status.get("sync_state"),
                "lag_bytes": status.get("lag_bytes"), "lag_seconds": status.get("lag_seconds"),
                "timeline": timeline}
