# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `physical` method (same major version): the target becomes a streaming standby of the
source (replication role and slot on the source, pg_basebackup into the target's volume, the
target started as a standby), then at cutover the source is fenced (it is not ours to shut down),
its last client writers are waited for, a CHECKPOINT marks the end of what it wrote, and once the
target has replayed past that checkpoint record it is promoted."""

from __future__ import annotations

import secrets
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MIGRATED_LABEL, SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import HelperTimeout, poll_intervals
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import docker_action, get_or_none, managed_labels
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import read_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate import preflight
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.cutover import Cutover
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.source import REPLICATION_PGPASS
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.target_lifecycle import (
    prepare_abort,
    remove_target,
    target_connection,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.basebackup import (
    create_physical_slot,
    drop_slot,
    replication_row,
    run_base_backup,
    slot_exists,
    standby_conf_lines,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.engine import slot_name_for
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.setup import ensure_replication_role
from ansible_collections.pgdock.postgres.plugins.module_utils.role.engine import ensure_login_role
from ansible_collections.pgdock.postgres.plugins.module_utils.switchover.promotion import promote, wait_replayed_past

REPLICATION_PASSWORD_NAME = "source-replication.password"  # generated replication password (0600)
# settings a hot standby must have at least as high as its primary, or it refuses to start
STANDBY_MINIMUMS = ("max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions",
                    "max_locks_per_transaction")
# client sessions of the source still holding a transaction id: writers a fence has not ended yet
WRITERS_SQL = """select count(*) from pg_stat_activity where pid <> pg_backend_pid()
                 and backend_type = 'client backend' and backend_xid is not null"""


# the walsenders of this migration's pg_basebackup (its replication role and application name)
COPY_WALSENDERS_SQL = """select count(pg_terminate_backend(pid)) from pg_stat_replication
                         where usename = %s and application_name = 'pg_basebackup'"""


class PhysicalMethod:
    """A streaming standby of the source, promoted at cutover; see the module's documentation."""

    def __init__(self, run):
        self.run = run
        self.p = run.p
        self.user = run.p["replication_user"]
        self.slot = slot_name_for(run.name) if run.p["slot"] else None

    # -- checks and plan ---------------------------------------------------------------------------
    def problems(self) -> list[str]:
        facts, found = self.run.facts, []
        with self.run.source.session() as source:
            role = source.row("select rolreplication and rolcanlogin from pg_roles where rolname = %s", (self.user,))
        recorded = (self.run.state() or {}).get("created_role")
        if facts["superuser"]:
            if role is not None and not recorded and self._given_password() is None:
                found.append(f"replication_user {self.user!r} exists on the source already and was not made by "
                             "this migration: give its replication_password, or name another replication_user "
                             "(the module then makes that role)")
        else:
            if role is None or not role[0]:
                found.append(f"replication_user {self.user!r} {'lacks LOGIN REPLICATION' if role else 'does not exist'} "
                             f"on the source, and source.login_user {self.run.source.user!r} is no superuser to make "
                             f"it: as a superuser of the source run CREATE ROLE \"{self.user}\" LOGIN REPLICATION "
                             "PASSWORD '...' (or log in as a superuser)")
            if self._given_password() is None:
                found.append("replication_password: give the password of replication_user (without a superuser "
                             "login the module cannot set it)")
            if self.p["state"] == "cutover":
                found.append("state=cutover with method physical needs a superuser login on the source: it ends "
                             "the client sessions, runs CHECKPOINT and reads pg_control_checkpoint()")
        kind, subnet = self._route_origin()
        if kind == "local" or subnet:
            rule = preflight.replication_rule_problem(facts["hba_text"], self.user, kind, subnet)
            if rule:
                found.append(rule)
        if self._superuser_password() is None:
            found.append(f"superuser_password: the target is a copy of the source, so its superuser "
                         f"{self._superuser()!r} has the password it has on the source: give that password "
                         "(it is kept in the target's password file)")
        return found

    def plan(self) -> list[str]:
        steps = []
        if self.run.facts["superuser"]:
            steps.append(f"create or update the role {self.user} (LOGIN REPLICATION) on the source")
        if self.slot:
            steps.append(f"create the physical replication slot {self.slot} on the source (unless it exists)")
        steps += [f"pg_basebackup from the source into volume {self.run.data_volume()}",
                  f"start {self.run.name} ({self.run.image}) as a streaming standby of the source",
                  f"wait until it lags {self.p['max_lag_bytes']} bytes or less"]
        if self.p["state"] == "cutover":
            if self.run.pooler is not None:
                steps.append(f"pause pooler {self.p['pooler']}")
            steps += ["make the source read-only for new transactions and end its client sessions",
                      "CHECKPOINT on the source; wait until the target replayed past it", f"promote {self.run.name}"]
            if self.run.pooler is not None:
                steps.append(f"repoint pooler {self.p['pooler']} to {self.run.name}:5432 and resume it")
            steps.append("drop the slot on the source; compare both sides")
        return steps

    # -- states ------------------------------------------------------------------------------------
    def synced(self) -> dict:
        """The target streaming from the source within max_lag_bytes; nothing done when it is."""
        state = self.run.state() or {}
        if state.get("phase") == "cut_over":
            return self._cut_over_result(state)
        with self.run.source.session() as source:
            row = self._streaming_row(source)
            if row is not None and row["lag_bytes"] is not None and row["lag_bytes"] <= self.p["max_lag_bytes"]:
                return self._synced_result(row)
            password = self._replication_password(state)
            self._prepare_source(source, password, state)
            filled = False
            if state.get("phase") not in ("copied", "streaming") or not self._volume_exists():
                self._base_backup()
                filled = True
            with self.run.progress.phase("target"):
                self.run.ensure_target(filled=filled, superuser=self._superuser(),
                                       superuser_password=self._superuser_password(), settings=self._settings(source))
            with self.run.progress.phase("catch-up"):
                row = self._wait_streaming(source)
        self.run.save_state(phase="streaming")
        return self._synced_result(row)

    def cutover(self) -> dict:
        state = self.run.state() or {}
        if state.get("phase") == "cut_over":
            return self._cut_over_result(state)
        synced = self.synced()
        target = self.run.target_session()
        source = self.run.source.session()
        try:
            source.run("checkpoint", what="a checkpoint on the source before the pause")  # the one at the switch is short
            checkpoint = {}

            def catch_up():
                checkpoint.update(self._catch_up_and_promote(source, target))

            began = time.monotonic()
            timings = Cutover(self.run, source).switch(catch_up)
            timings["switch_seconds"] = round(time.monotonic() - began, 3)
            self.run.log.add(f"promoted {self.run.name}: it replayed the source's final checkpoint {checkpoint['lsn']}")
            self._after_promotion(source, target)
        finally:
            source.close()
            target.close()
        verification = checkpoint["verification"]
        self.run.save_state(phase="cut_over", write_downtime_seconds=timings["write_downtime_seconds"],
                            verification=verification, final_checkpoint=checkpoint["lsn"])
        return {"state": "cut_over", "write_downtime_seconds": timings["write_downtime_seconds"],
                "timings": timings, "final_checkpoint": checkpoint["lsn"], "lag_bytes_before": synced.get("lag_bytes"),
                "connection": target_connection(self.run), "verification": verification,
                "note": "the source stays read-only (default_transaction_read_only); the target is the primary"}

    def aborted(self) -> dict:
        state = prepare_abort(self.run)
        remove_target(self.run)
        with self.run.source.session() as source:
            if self.slot and slot_exists(source, self.slot):
                self.run.log.do(f"drop the replication slot {self.slot} on the source", drop_slot, source, self.slot)
        if (state or {}).get("created_role"):
            self.run.log.extend(ensure_login_role(self.run.source.login_params(), dict(name=self.user),
                                                  self.run.check_mode, self.run.warn, state="absent"),
                                "source: ")
        if state is not None:
            self.run.log.do(f"forget the migration state {self.run.state_file}", self.run.forget_state)
        return {"state": "aborted"}

    # -- the source --------------------------------------------------------------------------------
    def _given_password(self) -> str | None:
        if self.p.get("replication_password"):
            return self.p["replication_password"]
        return self.run.source.password if self.user == self.run.source.user else None

    def _replication_password(self, state: dict) -> str:
        """The given password, or one generated once and kept in the target's secrets directory."""
        given = self._given_password()
        if given is not None:
            return given
        stored = read_secret(f"{self.run.secrets_dir}/{REPLICATION_PASSWORD_NAME}")
        if stored:
            return stored
        password = secrets.token_urlsafe(24)
        self.run.write_file(REPLICATION_PASSWORD_NAME, password)
        return password

    def _prepare_source(self, source, password: str, state: dict) -> None:
        """The replication role (made or updated with a superuser login), the slot, the passfile."""
        if self.run.facts["superuser"]:
            if not state.get("created_role") and source.row("select 1 from pg_roles where rolname = %s",
                                                            (self.user,)) is None:
                self.run.save_state(created_role=True)
            self.run.log.extend(ensure_replication_role(self.run.source.login_params(), self.user, password,
                                                        self.run.check_mode, self.run.warn), "source: ")
        if self.slot and not slot_exists(source, self.slot):
            self.run.log.do(f"create the physical replication slot {self.slot} on the source",
                            create_physical_slot, source, self.slot)
        self.run.write_file(REPLICATION_PGPASS, self.run.source.pgpass(self.user, password))

    def _route_origin(self) -> tuple[str, str | None]:
        """How the target reaches the source: ("local", None) through its socket, ("host", subnet)
        from the network the target joins (None when it is not known yet)."""
        if self.run.route.mounts:
            return "local", None
        name = self.run.route.network or self.run.first_target_network()
        network = get_or_none(self.run.client.networks, name, "network") if name else None
        configs = ((network.attrs.get("IPAM") or {}).get("Config") or []) if network is not None else []
        subnets = [c["Subnet"] for c in configs if c.get("Subnet") and ":" not in c["Subnet"]]
        return "host", subnets[0] if subnets else None

    def _streaming_row(self, source) -> dict | None:
        """The source's replication row of the target when the target runs and streams, else None."""
        container = self.run.target_container()
        if container is None or container.status != "running":
            return None
        row = replication_row(source, self.run.name)
        return row if row is not None and row["state"] == "streaming" else None

    def _wait_streaming(self, source) -> dict:
        deadline = time.monotonic() + self.p["wait_timeout"]
        delays = poll_intervals()
        while True:
            row = replication_row(source, self.run.name)
            # in sync once the standby reported a replay position within max_lag_bytes (not before)
            if row and row["state"] == "streaming" and row["lag_bytes"] is not None \
                    and row["lag_bytes"] <= self.p["max_lag_bytes"]:
                return row
            if time.monotonic() > deadline:
                raise PgdockError(f"the target {self.run.name!r} does not stream from the source within "
                                  f"max_lag_bytes after {self.p['wait_timeout']} s (the source reports "
                                  f"{row or 'no replication connection'}); see docker logs {self.run.name}")
            time.sleep(next(delays))

    # -- the copy ----------------------------------------------------------------------------------
    def _volume_exists(self) -> bool:
        return get_or_none(self.run.client.volumes, self.run.data_volume(), "volume") is not None

    def _abandon_copy(self) -> None:
        """After a failed copy: the incomplete volume removed and, with a superuser login, the copy's
        walsenders on the source ended (a walsender sending a base backup to a client that vanished
        with its container waits for TCP to give up, many minutes, holding a max_wal_senders slot)."""
        remove_target(self.run)
        if self.run.facts["superuser"]:
            with self.run.source.session() as source:
                ended = source.value(COPY_WALSENDERS_SQL, (self.user,), what="ending the failed copy's walsenders")
            if ended:
                self.run.log.add(f"ended {ended} walsender(s) of the failed copy on the source")

    def _base_backup(self) -> None:
        """A new data volume filled by pg_basebackup from the source (an earlier incomplete one is
        replaced); a failure removes it again and leaves the source as it was (the role and slot,
        which a rerun reuses, aside)."""
        if self.run.target_container() is not None or self._volume_exists():
            remove_target(self.run)
        self.run.save_state(phase="copying")
        route, volume = self.run.route, self.run.data_volume()
        self.run.log.do(f"create volume {volume}", self._create_volume, volume)
        conf = standby_conf_lines(route.host, self.user, self.run.name, self.slot, port=route.port,
                                  passfile=f"{SECRETS_MOUNT}/{REPLICATION_PGPASS}",
                                  sslmode=self.run.source.o.get("ssl_mode") or "prefer")
        what = f"pg_basebackup from the source into {volume}"
        with self.run.progress.phase("base backup") as phase:
            watch = self.run.progress.pg_progress_watcher(phase)
            try:
                code, output = run_base_backup(
                    self.run.client, self.run.image, self.run.layout, volume, self.run.secrets_dir,
                    (route.host, route.port), self.user, conf, self.slot, what, self.p["copy_timeout"], watch,
                    network=route.network or self.run.first_target_network(),
                    mounts=self.run.source.docker_mounts(route), passfile=f"{SECRETS_MOUNT}/{REPLICATION_PGPASS}")
            except HelperTimeout as exc:
                self._abandon_copy()
                raise PgdockError(f"{what} did not finish within copy_timeout ({self.p['copy_timeout']} s); the "
                                  "incomplete volume was removed", **exc.details) from None
            watch(output)
        if code != 0:
            self._abandon_copy()
            raise PgdockError(f"{what} failed (exit {code}); the incomplete volume was removed and the source is "
                              f"as it was (a rerun starts the copy again): {output.strip()[-1200:]}")
        self.run.log.add(f"copied the source into {volume} (pg_basebackup, {phase.get('bytes') or 0} bytes)")
        self.run.save_state(phase="copied")

    def _create_volume(self, volume: str) -> None:
        """A new named volume (Docker fills it with the image's empty PGDATA, owned by postgres)."""
        with docker_action(f"creating volume {volume}"):
            self.run.client.volumes.create(volume, labels=managed_labels({MIGRATED_LABEL: self.run.source.describe()}))

    def _settings(self, source) -> dict:
        """The target's settings: its own, with listen_addresses '*' (its port is published) and at
        least the source's values of what a hot standby needs as high as its primary."""
        settings = dict((self.p.get("target") or {}).get("settings") or {})
        settings.setdefault("listen_addresses", "*")
        for name, value in source.rows("select name, setting::int from pg_settings where name = any(%s)",
                                       (list(STANDBY_MINIMUMS),)):
            if name not in settings or int(settings[name]) < value:
                settings[name] = value
        return settings

    # -- the target --------------------------------------------------------------------------------
    def _superuser(self) -> str:
        return self.run.target_options()["superuser"]

    def _superuser_password(self) -> str | None:
        """The target superuser's password: the option, or the source login's when it is that role."""
        if self.p.get("superuser_password"):
            return self.p["superuser_password"]
        return self.run.source.password if self.run.source.user == self._superuser() else None

    def _catch_up_and_promote(self, source, target) -> dict:
        """With the source fenced: wait until no client session holds a transaction id, CHECKPOINT
        (every acknowledged commit is before its record), wait until the target replayed past it,
        compare both sides (neither changes now: `verify: none` makes the pause shortest), promote
        the target. A promotion that finished late is taken, not rolled back."""
        deadline = time.monotonic() + self.p["catchup_timeout"]
        while int(source.value(WRITERS_SQL) or 0):
            if time.monotonic() > deadline:
                raise PgdockError(f"client sessions of the source still held write transactions "
                                  f"{self.p['catchup_timeout']} s after they were ended")
            time.sleep(0.01)
        source.run("checkpoint", what="the final checkpoint on the source")
        lsn = source.value("select checkpoint_lsn::text from pg_control_checkpoint()")
        seconds = wait_replayed_past(target, lsn, self.run.name, self.p["catchup_timeout"], "source's final checkpoint")
        verification = self.run.verification(self.run.databases())  # both sides still: fenced, replayed
        try:
            promote(target, self.run.name, self.p["catchup_timeout"])
        except PgdockError:
            if target.value("select pg_is_in_recovery()"):
                raise
        return {"lsn": lsn, "replay_seconds": seconds, "verification": verification}

    def _after_promotion(self, source, target) -> None:
        """The target forgets its upstream; the source's slot (it would keep WAL for no one) goes."""
        target.run("alter system reset primary_conninfo")
        target.run("alter system reset primary_slot_name")
        target.run("select pg_reload_conf()")
        self.run.log.add(f"reset primary_conninfo and primary_slot_name on {self.run.name}")
        if self.slot and slot_exists(source, self.slot):
            self.run.log.do(f"drop the replication slot {self.slot} on the source", drop_slot, source, self.slot)

    # -- results -----------------------------------------------------------------------------------
    def _synced_result(self, row: dict) -> dict:
        return {"state": "synced", "streaming": row["state"] == "streaming", "lag_bytes": row["lag_bytes"],
                "lag_seconds": row["lag_seconds"], "slot": self.slot}

    def _cut_over_result(self, state: dict) -> dict:
        return {"state": "cut_over", "write_downtime_seconds": state.get("write_downtime_seconds"),
                "final_checkpoint": state.get("final_checkpoint"), "connection": target_connection(self.run),
                "verification": state.get("verification")}
