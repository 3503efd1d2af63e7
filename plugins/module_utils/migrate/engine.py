# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `migrate` module's engine: what every method shares (the source and its route, the checks
before anything changes, the target container through the container engine, files in the target's
secrets directory, helpers beside the target, the migration's state file, the verification, the
pooler) and the dispatch to the method (dump.py, physical.py, logical.py)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.container.engine import ContainerEngine
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import container_params, list_with_defaults
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    MIGRATED_LABEL,
    POSTGRES_UID,
    migration_file_for,
    progress_file_for,
    secrets_dir_for,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_script
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect as docker_connect,
    ensure_image,
    get_or_none,
    is_managed,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import connection_options
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import Progress
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    read_secret,
    secret_needs_write,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate import preflight, verify
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.options import TARGET_EXCLUDED, TARGET_OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.source import Source
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import container_login
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.handle import PoolerHandle
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog


def ensure_migration(module) -> dict:
    """Entry point of the `migrate` module."""
    return MigrateRun(module.params, module.check_mode, module.warn).run()


def method_class(method: str):
    """The class that carries out `method` (imported when used: each method is a file of its own)."""
    if method == "dump":
        from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.dump import DumpMethod
        return DumpMethod
    if method == "physical":
        from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.physical import PhysicalMethod
        return PhysicalMethod
    from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.logical import LogicalMethod
    return LogicalMethod


class MigrateRun:
    """One run of the migrate module. A method object (`method_class`) gets this run and uses its
    services; it implements plan() -> [descriptions], synced() -> dict, cutover() -> dict and
    aborted() -> dict, and the logical method reverted() and finalized() (the dicts go into the
    result's `migration`)."""

    def __init__(self, params: dict, check_mode: bool, warn):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.name = params["name"]
        self.log = ActionLog(check_mode)
        target = dict(params.get("target") or {})
        self.secrets_dir = target.get("secrets_dir") or secrets_dir_for(self.name)
        self.progress_file = params.get("progress_file") or progress_file_for(self.name)
        self.progress = Progress(None if check_mode else self.progress_file, f"migrate {self.name}")
        self.state_file = migration_file_for(self.name)
        self.source = Source(params["source"], check_mode)
        self.route = self.source.route()
        self.client = self.image = self.layout = self.facts = self.pooler = None
        self.started = time.monotonic()

    # -- entry -------------------------------------------------------------------------------------
    def run(self) -> dict:
        self._check_options()
        self.client = docker_connect(self.p)
        target = self.target_options()
        image = ensure_image(self.client, target["image"], target["pull"], self.log, self.warn)
        if image is None:
            raise PgdockError(f"target.image: {target['image']!r} is not on the Docker host (check mode "
                              "cannot pull it to learn its major version); pull it first")
        self.image = target["image"]
        self.layout = layout_of_image(self.image, image.attrs, target.get("pgdata"))
        self._check_target_is_ours()
        if self.p.get("pooler"):
            self.pooler = PoolerHandle.find(self.client, self.p["pooler"])
        method = method_class(self.p["method"])(self)
        if self.p["state"] == "aborted":
            return self._result(method.aborted())
        self.facts = self._source_facts()
        if self.p["state"] in ("reverted", "finalized"):  # after a cutover: the method checks what it needs
            return self._result(getattr(method, self.p["state"])())
        found = preflight.problems(self.p["method"], self.facts, self.layout.major, self.p.get("databases"))
        found += method.problems()
        if found:
            raise PgdockError("the migration cannot start; nothing was changed. " + " ".join(
                f"({i}) {text}" for i, text in enumerate(found, 1)), problems=found)
        if self.check_mode:
            self.log.extend(method.plan())
            return self._result({"state": "planned"})
        if self.p["state"] == "cutover":
            return self._result(method.cutover())
        return self._result(method.synced())

    def _check_options(self) -> None:
        for key, low in (("jobs", 1), ("pause_timeout", 1), ("catchup_timeout", 1), ("copy_timeout", 1),
                         ("wait_timeout", 1), ("exact_count_max_bytes", 0)):
            if self.p[key] < low:
                raise PgdockError(f"{key}: {self.p[key]} is below {low}")
        if self.p["method"] != "logical" and (self.p["reverse_replication"]
                                              or self.p["state"] in ("reverted", "finalized")):
            raise PgdockError(f"reverse_replication and the states reverted and finalized are for method logical "
                              f"only; method {self.p['method']} leaves the source as it was at the switch")

    def _check_target_is_ours(self) -> None:
        """The target container and volume are this migration's, or do not exist yet."""
        existing = get_or_none(self.client.containers, self.name, "container")
        state = self.state()
        if existing is not None and (not is_managed(existing.labels) or MIGRATED_LABEL not in existing.labels):
            raise PgdockError(f"name: container {self.name!r} exists and is not the target of a migration; "
                              "give the name of a new container (a migration never writes into a server "
                              "that holds data)")
        volume = get_or_none(self.client.volumes, self.data_volume(), "volume")
        if volume is not None and existing is None and state is None:
            raise PgdockError(f"target: the data volume {self.data_volume()!r} exists already and no migration "
                              "into it is recorded; a migration fills a new volume only. Remove the volume "
                              "or give target.data_volume another name; nothing was changed")

    def _source_facts(self) -> dict:
        with self.source.session() as session:
            facts = preflight.read_facts(session)
        facts["user"] = self.source.user
        return facts

    def _result(self, migration: dict) -> dict:
        extra = {"migration": dict(migration, method=self.p["method"], source=self.source.describe(),
                                   target=self.name)}
        if self.progress.phases:
            extra.update(phases=self.progress.phases, progress_file=self.progress_file)
        return self.log.result(**extra)

    # -- the target --------------------------------------------------------------------------------
    def target_options(self) -> dict:
        """The target's container parameters: the `target` options, the name, started, on the source's
        network too (helpers beside it reach the source), with the route's mounts, labelled."""
        target = dict(self.p.get("target") or {})
        for key in TARGET_EXCLUDED:
            if key in target:
                raise PgdockError(f"target.{key}: not a target option (the target is the container `name`, "
                                  "started; its superuser password is the module's superuser_password)")
        unknown = sorted(set(target) - set(TARGET_OPTIONS))
        if unknown:
            raise PgdockError(f"target: unknown options {unknown}; the target takes the options of "
                              "pgdock.postgres.container")
        networks = list_with_defaults(target.get("networks"), "networks", "target")
        if self.route.network and self.route.network not in [n["name"] for n in networks]:
            networks.append({"name": self.route.network, "aliases": [], "ipv4_address": None})
        mounts = list_with_defaults(target.get("mounts"), "mounts", "target")
        mounts += [dict(m, tmpfs_size=None, tmpfs_mode=None) for m in self.route.mount_specs()
                   if m["target"] not in [t["target"] for t in mounts]]
        labels = dict(target.get("labels") or {}, **{MIGRATED_LABEL: self.source.describe()})
        settings = dict(target.get("settings") or {})
        if self.p.get("reverse_replication"):  # the target publishes back to the source after the cutover
            settings.setdefault("wal_level", "logical")
        params = container_params(**dict(target, name=self.name, state="started", networks=networks,
                                         settings=settings, mounts=mounts, labels=labels, secrets_dir=self.secrets_dir,
                                         superuser_password=self.p.get("superuser_password")))
        params.update(connection_options(self.p))
        return params

    def data_volume(self) -> str:
        return (self.p.get("target") or {}).get("data_volume") or f"{self.name}-data"

    def ensure_target(self, filled: bool = False, **overrides) -> dict:
        """The target container through the container engine (`filled`: the volume holds a cluster
        just written, no probe); the engine's result."""
        params = dict(self.target_options(), **overrides)
        result = ContainerEngine(params, self.check_mode, False, self.warn, volume_filled=filled).run()
        self.log.extend(result["actions"], "target: ")
        return result

    def target_container(self):
        return get_or_none(self.client.containers, self.name, "container")

    def target_session(self, dbname: str = "postgres") -> Session:
        """A session on the target as its superuser (through its published port)."""
        return Session(params=container_login(dict(self.p, login_db=dbname, connect_params={}, ssl_mode="prefer",
                                                   ssl_rootcert=None, ssl_cert=None, ssl_key=None,
                                                   connect_timeout=10), self.name, dbname))

    def write_file(self, name: str, content: str) -> str:
        """A 0600 file in the target's secrets directory (seen in its containers at the secrets mount),
        owned by the postgres uid; its host path."""
        path = os.path.join(self.secrets_dir, name)
        uid = (self.p.get("target") or {}).get("postgres_uid") or POSTGRES_UID
        if secret_needs_write(path, content, uid, uid):
            self.log.do(f"write {path} (0600)", write_secret, path, content, uid, uid)
        return path

    def helper(self, script: str, args: list, what: str, mounts: list | None = None, environment: dict | None = None,
               timeout: int | None = None, on_output=None, network: str | None = None,
               beside_target: bool = False) -> str:
        """`script` in a helper of the target's image with the route's mounts, on `network` (default:
        the route's network, or the target's first) or, `beside_target`, in the running target's
        network namespace (the target at 127.0.0.1:5432, the source on the target's networks); its
        output (a failure raises)."""
        if not beside_target:
            network = network or self.route.network or self.first_target_network()
        return run_script(self.client, self.image, script, self.source.docker_mounts(self.route) + list(mounts or []),
                          what, network=None if beside_target else network, environment=environment, args=args,
                          user=f"{POSTGRES_UID}", timeout=timeout or self.p["copy_timeout"], on_output=on_output,
                          network_of=self.name if beside_target else None)

    def first_target_network(self) -> str | None:
        networks = (self.p.get("target") or {}).get("networks") or []
        return networks[0]["name"] if networks else None

    # -- the migration's state on the Docker host --------------------------------------------------
    def state(self) -> dict | None:
        """What earlier runs recorded (method, source, phase...), or None."""
        text = read_secret(self.state_file)
        return json.loads(text) if text else None

    def save_state(self, **changes) -> None:
        """Record the migration's phase (not in check mode)."""
        if self.check_mode:
            return
        state = dict(self.state() or {}, method=self.p["method"], source=self.source.describe(), **changes)
        write_secret(self.state_file, json.dumps(state, sort_keys=True, indent=1) + "\n", 0, 0)

    def forget_state(self) -> None:
        if not self.check_mode and os.path.exists(self.state_file):
            os.remove(self.state_file)

    # -- after the copy ----------------------------------------------------------------------------
    def databases(self) -> list[str]:
        """The databases to migrate: the option, or every database of the source that takes connections."""
        return list(self.p.get("databases") or self.facts["databases"])

    def verification(self, databases: list[str], target=None) -> dict:
        """Compare both sides (roles, databases, owners, extensions, tables); differences fail the task.
        `target`: dbname -> Session on the target (default target_session)."""
        if self.p["verify"] == "none":
            return {"skipped": True}
        checksum = self.p["verify"] == "checksum"
        with self.progress.phase("verify"):
            ours = ("pgdock_pooler_lookup", self.p["replication_user"])
            # both sides at once: counting (and hashing) rows is most of a verification's time
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                sides = [pool.submit(verify.inventory, server, databases, self.p["exact_count_max_bytes"], checksum,
                                     ignore_roles=ours)
                         for server in (self.source.session, target or self.target_session)]
                source, target = (side.result() for side in sides)
        found = verify.differences(source, target, databases)
        if found:
            raise PgdockError(f"the target differs from the source after the copy ({len(found)} differences): "
                              + "; ".join(found[:20]), differences=found, actions=self.log.actions)
        return dict(verify.summary(source), method=self.p["verify"], differences=[])

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)
