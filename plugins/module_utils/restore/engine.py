# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `restore` module's engine: a physical backup (or a full + incremental chain) into a new
container and volume, verified before (sha256, pg_verifybackup) and after (consistency, a query);
or databases of a logical backup into a running server."""

from __future__ import annotations

import os

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import (
    check_backup,
    PHYSICAL_KINDS,
    Repository,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.server import Server
from ansible_collections.pgdock.postgres.plugins.module_utils.container.engine import ContainerEngine
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import container_params
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    progress_file_for,
    REPO_MOUNT,
    RESTORED_LABEL,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import connect, docker_action, get_or_none
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import connection_options
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import Progress
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import secret_needs_write, write_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import lsn_to_int, parse_lsn, parse_time
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.volume import (
    backed_up_password,
    chain_ids,
    check_chain,
    check_major,
    default_target,
    fill_volume,
    finish_recovery,
    recovery_settings,
)


def restore(module) -> dict:
    """Entry point of the `restore` module."""
    engine = RestoreEngine(module.params, module.check_mode, module.warn)
    return engine.run()


class RestoreEngine:
    """One run of the restore module."""

    def __init__(self, params: dict, check_mode: bool, warn):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.repo = Repository(params["repository"])
        self.actions: list[str] = []
        self.client = None
        self.layout = None
        self.progress = None
        # checked before anything else: a bad target is refused before any container is touched
        self.target_time = parse_time(params["target_time"]) if params.get("target_time") else None
        self.target_lsn = parse_lsn(params["target_lsn"]) if params.get("target_lsn") else None

    def run(self) -> dict:
        label = self._chosen_backup()
        if label["kind"] == "logical":
            if self.p["list_databases"]:
                return {"changed": False, "backup": label, "databases": label.get("databases") or []}
            return self._logical(label)
        if self.p["list_databases"]:
            raise PgdockError(f"list_databases: backup {label['id']} is a {label['kind']} backup, not logical")
        return self._physical(label)

    def _chosen_backup(self) -> dict:
        if self.p.get("backup"):
            label = self.repo.find(self.p["backup"])
            self._check_target_after(label)
            return label
        kinds = ("logical",) if self.p["kind"] == "logical" else PHYSICAL_KINDS
        label = self.repo.latest(kinds, self.target_time, self.target_lsn)
        if label is None:
            when = ""
            if self.target_time is not None:
                when = f" finished before {self.p['target_time']}"
            elif self.target_lsn is not None:
                when = f" whose WAL ends before {self.p['target_lsn']}"
            raise PgdockError(f"repository {self.repo.root} holds no {self.p['kind']} backup{when}")
        return label

    def _check_target_after(self, label: dict) -> None:
        """Recovery cannot stop before the backup is consistent: the target must follow its end."""
        if label["kind"] == "logical":
            return
        if self.target_lsn is not None and label.get("stop_lsn") and lsn_to_int(label["stop_lsn"]) > self.target_lsn:
            raise PgdockError(f"target_lsn: {self.p['target_lsn']} is before the end of backup {label['id']} "
                              f"(its WAL ends at {label['stop_lsn']}); recovery cannot stop before the backup "
                              "is consistent: pick an earlier backup, or leave backup out to get the newest that fits")
        if self.target_time is not None and parse_time(label["stop_time"]) > self.target_time:
            raise PgdockError(f"target_time: {self.p['target_time']} is before the end of backup {label['id']} "
                              f"({label['stop_time']}); pick an earlier backup, or leave backup out to get the "
                              "newest that fits")

    # -- physical --------------------------------------------------------------------------------
    def _physical(self, label: dict) -> dict:
        if not self.p.get("name"):
            raise PgdockError("name: the new container to restore into is required for a physical restore")
        chain = self.repo.chain(label["id"])
        self._start_progress(f"restore {self.p['name']}", self.p["name"])
        with self.progress.phase("checksums") as checksums:
            check_chain(self.repo, chain)
            checksums["bytes"] = sum(b.get("bytes") or 0 for b in chain)
        self.client = connect(self.p)
        image_name = self.p.get("image") or label["image"]
        image = get_or_none(self.client.images, image_name, "image")
        if image is None:
            raise PgdockError(f"image {image_name!r} is not on the Docker host; load it or give image")
        layout = self.layout = layout_of_image(image_name, image.attrs)
        check_major(label, layout, image_name)
        volume_name = self.p.get("data_volume") or f"{self.p['name']}-data"
        self._check_destination(volume_name)
        recovery = self._recovery_settings(layout, label)
        self.actions.append(f"restore backup {chain_ids(chain)} into volume {volume_name}")
        if self.check_mode:
            self.actions.append(f"create and start container {self.p['name']}")
            return {"changed": True, "actions": self.actions, "backup": label}
        password = self._superuser_password(label)
        archiving = bool((self.p.get("container_options") or {}).get("wal_archive_dir"))
        fill_volume(self.client, self.repo, image.id, layout, volume_name, self.p["name"], chain, recovery,
                    clear=True, archiving=archiving, progress=self.progress)
        with self.progress.phase("container"):
            container = self._start(image_name, volume_name, label, password)
        return self._verify(container, label, chain, recovery)

    def _start_progress(self, task: str, owner: str) -> None:
        """The phases of this run, and its progress file (none in check mode)."""
        path = self.p.get("progress_file") or progress_file_for(owner)
        self.progress = Progress(None if self.check_mode else path, task)

    def _with_phases(self, result: dict) -> dict:
        if not self.check_mode:
            result.update(phases=self.progress.phases, progress_file=self.progress.path)
        return result

    def _check_destination(self, volume_name: str) -> None:
        existing = get_or_none(self.client.containers, self.p["name"], "container")
        if existing is not None:
            raise PgdockError(f"name: container {self.p['name']!r} already exists; a restore creates a new "
                              "container (remove it first, or pick another name)")
        volume = get_or_none(self.client.volumes, volume_name, "volume")
        if volume is None:
            return
        with docker_action(f"listing the containers that use volume {volume_name!r}"):
            users = self.client.containers.list(all=True, filters={"volume": volume_name})
        running = [c.name for c in users if c.status in ("running", "restarting")]
        if running:
            raise PgdockError(f"data_volume: {volume_name!r} is in use by running container(s) "
                              f"{', '.join(running)}; a restore never writes over a running server")
        if not self.p["force"]:
            raise PgdockError(f"data_volume: {volume_name!r} already exists; refusing to write over it "
                              "(force: true replaces its content)")
        if users:
            raise PgdockError(f"data_volume: {volume_name!r} is used by container(s) "
                              f"{', '.join(c.name for c in users)}; remove them first")
        self.actions.append(f"replace the content of existing volume {volume_name}")

    def _recovery_settings(self, layout, label: dict) -> dict | None:
        """Recovery settings for a point in time, or None to stop at the backup's consistency."""
        target = default_target(self.p.get("target"), self.p.get("backup"))
        return recovery_settings(self.repo, layout, label, target, self.target_time, self.target_lsn,
                                 self.p.get("target_time") or self.p.get("target_lsn"), self.actions)

    def _superuser_password(self, label: dict) -> str | None:
        if self.p.get("superuser_password") is not None:
            return self.p["superuser_password"]
        password = backed_up_password(self.client, label)
        if password is None and not self.p.get("secrets_dir"):
            raise PgdockError("superuser_password: the restored cluster keeps the backed-up server's "
                              f"passwords; give that superuser password (server {label.get('server')!r} "
                              "is gone, its password file cannot be copied)")
        return password

    def _start(self, image_name: str, volume_name: str, label: dict, password) -> object:
        # the restore sets these itself; any other container option comes from container_options
        options = dict(initdb_args="")
        options.update(self.p.get("container_options") or {})
        options.update(
            name=self.p["name"], image=image_name, data_volume=volume_name, superuser=label["superuser"],
            superuser_password=password, secrets_dir=self.p.get("secrets_dir"), networks=self.p["networks"],
            published_port=self.p.get("published_port"), published_host_ip=self.p["published_host_ip"],
            wait_timeout=self.p["wait_timeout"])
        params = container_params(**options)
        params.update(connection_options(self.p))
        params["labels"] = dict(params.get("labels") or {}, **{RESTORED_LABEL: label["id"]})
        if password is not None:  # written here: the engine would warn that the cluster already exists
            engine = ContainerEngine(params, False, False, self.warn)
            if secret_needs_write(engine.password_path, password, params["postgres_uid"], params["postgres_uid"]):
                self.actions.append(f"write superuser password file {engine.password_path} (0600)")
                write_secret(engine.password_path, password, params["postgres_uid"], params["postgres_uid"])
            params["superuser_password"] = None
        result = ContainerEngine(params, False, False, self.warn).run()
        self.actions += result["actions"]
        return self.client.containers.get(self.p["name"])

    def _verify(self, container, label: dict, chain: list[dict], recovery) -> dict:
        """Wait for the end of recovery, then a sanity query; the facts of the restored server."""
        with self.progress.phase("recovery") as phase:
            restored = finish_recovery(container, label["superuser"], self.layout, recovery, self.p["wait_timeout"])
            if label.get("stop_lsn"):  # the WAL replayed after the backup's end (the end of its own WAL too)
                phase["bytes"] = max(0, lsn_to_int(restored["lsn"]) - lsn_to_int(label["stop_lsn"]))
        return self._with_phases({"changed": True, "actions": self.actions, "backup": label,
                                  "chain": [b["id"] for b in chain], "container": self.p["name"],
                                  "restored": restored})

    # -- logical ---------------------------------------------------------------------------------
    def _logical(self, label: dict) -> dict:
        if not self.p.get("container"):
            raise PgdockError("container: the running server to restore the logical backup into is required")
        check_backup(self.repo, label)
        available = label.get("databases") or []
        wanted = self.p.get("databases") or available
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise PgdockError(f"databases: {', '.join(missing)} not in logical backup {label['id']} "
                              f"(it has: {', '.join(available)})")
        into = self.p.get("into_database")
        if into and len(wanted) != 1:
            raise PgdockError("into_database: give exactly one database in databases to restore under a new name")
        self.client = connect(self.p)
        server = Server(self.client, self.p)
        existing = {r[0] for r in server.sql.rows("SELECT datname FROM pg_database")}
        plan = [(db, into or db) for db in wanted]
        clash = [target for _db, target in plan if target in existing]
        if clash and not self.p["force"]:
            raise PgdockError(f"database(s) {', '.join(clash)} already exist on {server.name!r}; drop them, "
                              "restore into_database a new name, or force: true to replace them")
        for db, target in plan:
            if target in clash:
                self.actions.append(f"drop database {target} on {server.name}")
            self.actions.append(f"restore database {db} of backup {label['id']} as {target} on {server.name}")
        if self.check_mode:
            return {"changed": True, "actions": self.actions, "backup": label}
        self._start_progress(f"restore of backup {label['id']} on {server.name}", server.name)
        for db, target in plan:
            with self.progress.phase(f"restore {db} as {target}" if target != db else f"restore {db}") as phase:
                phase["bytes"] = os.path.getsize(os.path.join(self.repo.backup_dir("logical", label["id"]),
                                                              label["files"][db]))
                self._logical_one(server, label, db, target, target in clash)
        return self._with_phases({"changed": True, "actions": self.actions, "backup": label,
                                  "databases": [target for _db, target in plan]})

    def _logical_one(self, server: Server, label: dict, db: str, target: str, replace: bool) -> None:
        """Database `db` of the logical backup as `target` (dropped first when `replace`); a partly
        restored database is dropped again."""
        name = {"db": target}
        if replace:
            server.sql.run('DROP DATABASE :"db" WITH (FORCE)', name, what=f"dropping database {target}")
        server.sql.run('CREATE DATABASE :"db" TEMPLATE template0', name, what=f"creating database {target}")
        script = ""
        if self.p["restore_globals"]:
            script += f'psql -X --no-password -q -d postgres -f {REPO_MOUNT}/logical/{label["id"]}/globals.sql; '
        script += 'pg_restore --no-password --exit-on-error -d "$1" "$2"'
        dump = f"{REPO_MOUNT}/logical/{label['id']}/{label['files'][db]}"
        try:
            server.run_helper(script, self.repo.root, f"restoring database {db} as {target}", [target, dump],
                              repo_read_only=True)
        except PgdockError as exc:
            server.sql.run('DROP DATABASE IF EXISTS :"db" WITH (FORCE)', name, what=f"dropping database {target}")
            raise PgdockError(f"{exc}; the partly restored database {target} was dropped", **exc.details) from None
