# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `switchover` module's engine: a planned switchover from the primary a PgBouncer pooler
points at to one of its streaming standbys, under load and without failed client transactions.

Pre-checks (nothing changes when one fails) -> CHECKPOINT -> PAUSE the pooler -> clean shutdown of
the old primary -> its shutdown checkpoint replayed by the target (pg_control vs the target's
replay LSN) -> pg_promote -> repoint the pooler (RELOAD) -> RESUME -> the old primary rejoins as a
standby of the new one (replica engine, state rejoined). A failure before the promotion rolls
back: the old primary is started again and the pooler resumes on it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import REPLICATION_PASSWORD_FILE, SYNC_LABEL
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_helper, wait_until_ready
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect as docker_connect,
    docker_action,
    get_or_none,
    is_managed,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import connection_options
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import env_to_dict
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import owner_of, read_secret, write_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import (
    container_login,
    container_secrets_dir,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.control import (
    parse_control_file,
    parse_controldata_output,
    read_control_file,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError, Session
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.auth import ensure_lookup_hba
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.handle import PoolerHandle
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.engine import ReplicaRun, slot_name_for
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.options import OPTIONS as REPLICA_OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog, spec_params, timed
from ansible_collections.pgdock.postgres.plugins.module_utils.switchover.promotion import promote, wait_replayed_past

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass


TIMELINE_SQL = ("select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")


def run_switchover(module) -> dict:
    """Entry point of the `switchover` module."""
    return Switchover(module.params, module.check_mode, module.warn).run()


class Switchover:
    """One run of the switchover module."""

    def __init__(self, params: dict, check_mode: bool, warn):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.log = ActionLog(check_mode)
        self.timings: dict[str, float] = {}
        self.client = self.pooler = None

    # -- entry -------------------------------------------------------------------------------------
    def run(self) -> dict:
        self.client = docker_connect(self.p)
        self.pooler = PoolerHandle.find(self.client, self.p["pooler"])
        self.pooler.admin.command("SHOW VERSION")  # the pooler answers
        current = self.pooler.pointed_host()
        target = self._container(self.p["target"], "target")
        target_conn = self._connect(target.name)
        try:
            target_is_primary = not target_conn.value("select pg_is_in_recovery()")
        finally:
            target_conn.close()
        if current == target.name:
            if target_is_primary:
                return self._result(target.name, None)
            raise PgdockError(f"the pooler points at {target.name!r}, which is a standby; point it at the "
                              "primary with pgdock.postgres.pooler first")
        old = self._container(current, "the pooler's current server")
        if target_is_primary:
            return self._finish_after_promotion(old, target)
        with self._lock(old):
            return self._switch(old, target)

    def _result(self, primary: str, former: str | None, extra: dict | None = None) -> dict:
        return self.log.result(primary=primary, former_primary=former, timings=self.timings, **(extra or {}))

    def _container(self, name: str, what: str):
        container = get_or_none(self.client.containers, name, "container") if name else None
        if container is None or not is_managed(container.labels):
            raise PgdockError(f"{what}: no container {name!r} made by pgdock.postgres")
        if container.status != "running":
            raise PgdockError(f"{what}: {name!r} is not running (status {container.status}); nothing was changed")
        return container

    def _login(self, name: str) -> dict:
        return dict(container_login(self.p, name), ssl_mode="prefer", connect_timeout=5)

    def _connect(self, name: str) -> Session:
        return Session(params=self._login(name))

    @contextlib.contextmanager
    def _lock(self, old):
        """One switchover at a time per cluster (the lock file is named after the system identifier)."""
        conn = self._connect(old.name)
        try:
            sysid = conn.value("select system_identifier from pg_control_system()")
        finally:
            conn.close()
        os.makedirs(self.p["lock_dir"], mode=0o700, exist_ok=True)
        path = os.path.join(self.p["lock_dir"], f"switchover-{sysid}.lock")
        with open(path, "a", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PgdockError(f"another switchover of this cluster is running (lock {path} is held); "
                                  "nothing was changed") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- pre-checks ---------------------------------------------------------------------------------
    def _prechecks(self, old_conn, target_conn, old, target) -> dict:
        """Refuse unless the target streams from the old primary, on its timeline, within max_lag_bytes."""
        if old_conn.value("select pg_is_in_recovery()"):
            raise PgdockError(f"the pooler points at {old.name!r}, which is not a primary; nothing was changed")
        if not target_conn.value("select pg_is_in_recovery()"):
            raise PgdockError(f"target: {target.name!r} is not a standby; nothing was changed")
        row = old_conn.row(
            """select state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
               from pg_stat_replication where application_name = %s order by backend_start desc limit 1""",
            (target.name,))
        if row is None or row[0] != "streaming":
            raise PgdockError(f"target: {target.name!r} is not streaming from {old.name!r} "
                              f"(state {row[0] if row else 'not connected'}); nothing was changed")
        if row[1] is None or row[1] > self.p["max_lag_bytes"]:
            raise PgdockError(f"target: {target.name!r} lags {row[1]} bytes behind {old.name!r}, more than "
                              f"max_lag_bytes ({self.p['max_lag_bytes']}); nothing was changed")
        old_tli = old_conn.value(TIMELINE_SQL)
        target_tli = target_conn.row("select received_tli from pg_stat_wal_receiver")
        if not target_tli or target_tli[0] != old_tli:
            raise PgdockError(f"target: {target.name!r} is on timeline {target_tli[0] if target_tli else None}, "
                              f"{old.name!r} on {old_tli}; nothing was changed")
        return {"lag_bytes": int(row[1]), "timeline": old_tli}

    # -- the switch ---------------------------------------------------------------------------------
    def _switch(self, old, target) -> dict:
        old_conn, target_conn = self._connect(old.name), self._connect(target.name)
        try:
            checks = self._prechecks(old_conn, target_conn, old, target)
            plan = [f"pause pooler {self.pooler.container.name}", f"stop {old.name} (clean shutdown)",
                    f"promote {target.name}", f"repoint pooler {self.pooler.container.name} to {target.name}",
                    "resume the pooler"]
            if self.p["rejoin"]:
                plan.append(f"rejoin {old.name} as a standby of {target.name}")
            if self.check_mode:
                self.log.extend(plan)
                return self._result(old.name, None, {"prechecks": checks})
            self._prepare_target(target_conn, target)
            timed(self.timings, "checkpoint", old_conn.run, "checkpoint")
        finally:
            old_conn.close()
        try:
            pause_start = time.monotonic()
            timed(self.timings, "pause", self.pooler.admin.pause, self.p["pause_timeout"])
            self.log.add(f"paused pooler {self.pooler.container.name}")
            try:
                self._stop_and_catch_up(old, target, target_conn)
                timed(self.timings, "promote", self._promote, target_conn, target)
            except Exception as exc:  # pylint: disable=broad-except  # every failure before promotion rolls back
                self._rollback(old, target_conn, exc)
            self._after_promotion(old, target, pause_start)
        finally:
            with contextlib.suppress(Exception):
                target_conn.close()
        return self._rejoin_and_report(old, target, checks)

    def _prepare_target(self, target_conn, target) -> None:
        """No synchronous standby names on the target when it is promoted: its standbys join later,
        and until then a synchronous setting (copied from the old primary by the base backup) would
        block every commit. The rejoin sets it again. With auth_query, the pooler's lookup role must
        be able to log in to the target too."""
        lookup = self.pooler.auth_query_login()
        if lookup is not None:
            self.log.extend(ensure_lookup_hba(target_conn, lookup[0], lookup[1], False))
        if target_conn.value("show synchronous_standby_names"):
            target_conn.run("alter system reset synchronous_standby_names")
            target_conn.run("select pg_reload_conf()")
            self.log.add(f"reset synchronous_standby_names on {target.name} (set again when standbys rejoin)")

    def _stop_and_catch_up(self, old, target, target_conn) -> None:
        """Clean shutdown of the old primary, then wait until the target replayed its shutdown checkpoint."""
        timed(self.timings, "stop_old_primary", self._stop, old)
        self.log.add(f"stopped {old.name} (clean shutdown)")
        control = timed(self.timings, "read_control_file", self._control_data, old)
        if control.state != "shut down":
            raise PgdockError(f"{old.name!r} did not shut down cleanly (pg_control says {control.state!r})")
        self.timings["catch_up"] = wait_replayed_past(target_conn, control.checkpoint_text, target.name,
                                                      self.p["catchup_timeout"], f"shutdown checkpoint of {old.name!r}")
        self.log.add(f"{target.name} replayed everything {old.name} wrote (shutdown checkpoint "
                     f"{control.checkpoint_text}, timeline {control.timeline})")

    def _stop(self, old) -> None:
        with docker_action(f"stopping {old.name}"):
            old.stop(timeout=self.p["stop_timeout"])
            old.reload()

    def _control_data(self, old):
        pgdata = env_to_dict(old.attrs["Config"].get("Env")).get("PGDATA")
        parsed = parse_control_file(read_control_file(old, pgdata) or b"")
        if parsed is not None:
            return parsed
        volume_mount = next(m for m in old.attrs["Mounts"] if m.get("Type") == "volume" and pgdata.startswith(m["Destination"]))
        code, output = run_helper(self.client, old.attrs["Config"]["Image"], ["pg_controldata", pgdata],
                                  [Mount(volume_mount["Destination"], volume_mount["Name"], type="volume", read_only=True)],
                                  f"pg_controldata of {old.name}")
        if code != 0:
            raise PgdockError(f"pg_controldata on {old.name!r}'s volume failed: {output.strip()[-500:]}")
        return parse_controldata_output(output)

    def _promote(self, target_conn, target) -> None:
        promote(target_conn, target.name, self.p["catchup_timeout"])
        self.log.add(f"promoted {target.name}")

    def _rollback(self, old, target_conn, cause: Exception) -> None:
        """Before the promotion: the old primary takes writes again and the pooler resumes on it."""
        reason = str(cause).strip() or type(cause).__name__
        if isinstance(cause, QueryError):
            reason = f"the target stopped answering ({cause.reason or 'connection lost'})"
        promoted = False
        with contextlib.suppress(Exception):
            promoted = not target_conn.value("select pg_is_in_recovery()")
        if promoted:  # pg_promote finished after its deadline: carry on rather than run two primaries
            return
        try:
            old.reload()
            if old.status != "running":
                with docker_action(f"starting {old.name} again"):
                    old.start()
                superuser = env_to_dict(old.attrs["Config"].get("Env")).get("POSTGRES_USER", "postgres")
                wait_until_ready(old, superuser, self.p["wait_timeout"])
            self.pooler.admin.resume()
        except PgdockError as exc:
            raise PgdockError(f"switchover aborted before promotion ({reason}) and the rollback failed too: {exc}. "
                              f"State: {old.name!r} should be primary; the pooler may still be paused "
                              f"(RESUME on its admin console)", actions=self.log.actions) from None
        raise PgdockError(f"switchover aborted before promotion: {reason}. Rolled back: {old.name!r} is the "
                          "primary again, the pooler resumed on it, no write was lost",
                          actions=self.log.actions, timings=self.timings) from None

    def _after_promotion(self, old, target, pause_start: float) -> None:
        """Repoint and resume the pooler; a failure now leaves the target as primary and says so."""
        try:
            timed(self.timings, "repoint", self.pooler.repoint, target.name)
            self.log.add(f"repointed pooler {self.pooler.container.name} to {target.name} (RELOAD)")
        finally:
            try:
                timed(self.timings, "resume", self.pooler.admin.resume)
                self.timings["pause_total"] = round(time.monotonic() - pause_start, 3)
                self.log.add(f"resumed pooler {self.pooler.container.name}")
            except PgdockError as exc:
                raise PgdockError(f"{target.name!r} is the new primary but the pooler could not be resumed: {exc}. "
                                  f"{old.name!r} is stopped. Run the switchover again to finish it",
                                  actions=self.log.actions) from None

    # -- after the promotion ------------------------------------------------------------------------
    def _finish_after_promotion(self, old, target) -> dict:
        """The target is primary already but the pooler points at the old one (an earlier run stopped
        after the promotion): repoint, resume, rejoin."""
        if self.check_mode:
            self.log.add(f"repoint pooler {self.pooler.container.name} to {target.name} and resume it")
            return self._result(target.name, old.name)
        self.pooler.repoint(target.name)
        self.pooler.admin.resume()
        self.log.add(f"repointed pooler {self.pooler.container.name} to the primary {target.name}")
        return self._rejoin_and_report(old, target, {})

    def _rejoin_and_report(self, old, target, checks: dict) -> dict:
        extra = {"prechecks": checks}
        if not self.p["rejoin"]:
            self.log.add(f"{old.name} left stopped (rejoin: false)")
            return self._result(target.name, old.name, extra)
        start = time.monotonic()
        try:
            replica = self._rejoin(old, target)
        except PgdockError as exc:
            raise PgdockError(f"{target.name!r} is the new primary and the pooler points at it, but {old.name!r} "
                              f"could not rejoin as its standby: {exc}. Rejoin it with pgdock.postgres.replica "
                              "(state rejoined)", actions=self.log.actions, timings=self.timings) from None
        self.timings["rejoin"] = round(time.monotonic() - start, 3)
        extra["replica"] = replica
        return self._result(target.name, old.name, extra)

    def _rejoin(self, old, target) -> dict:
        password = self._replication_password(old, target)
        params = spec_params(REPLICA_OPTIONS, dict(
            name=old.name, primary=target.name, state="rejoined",
            synchronous=target.labels.get(SYNC_LABEL) == "true", replication_user=self.p["replication_user"],
            replication_password=password, secrets_dir=container_secrets_dir(old),
            stop_timeout=self.p["stop_timeout"], wait_timeout=self.p["wait_timeout"]), "replica")
        params.update(connection_options(self.p))
        result = ReplicaRun(params, False, self.warn).run()
        self.log.extend(result["actions"], "rejoin: ")
        self._drop_stale_slot(old.name, slot_name_for(target.name))
        return result.get("replica")

    def _replication_password(self, old, target) -> str | None:
        """The cluster's replication password, kept in the old primary's secrets directory, copied to
        the new primary's so later runs of the replica module find it there."""
        old_dir, new_dir = container_secrets_dir(old), container_secrets_dir(target)
        password = read_secret(os.path.join(old_dir, REPLICATION_PASSWORD_FILE)) if old_dir else None
        if password and new_dir and read_secret(os.path.join(new_dir, REPLICATION_PASSWORD_FILE)) != password:
            uid = owner_of(new_dir)
            write_secret(os.path.join(new_dir, REPLICATION_PASSWORD_FILE), password, uid, uid)
        return password

    def _drop_stale_slot(self, standby: str, slot: str) -> None:
        """The old primary kept the slot its former standby used; as a standby it would hold WAL forever."""
        conn = self._connect(standby)
        try:
            row = conn.row("select active from pg_replication_slots where slot_name = %s", (slot,))
            if row is not None and not row[0]:
                conn.run("select pg_drop_replication_slot(%s)", (slot,), what=f"dropping slot {slot}")
                self.log.add(f"dropped the stale slot {slot} on {standby}")
        finally:
            conn.close()
