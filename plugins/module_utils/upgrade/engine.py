# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `upgrade` module's engine, method pg_upgrade: a server container's cluster upgraded in place
to the major of a new image, in its own data volume.

The new cluster is made (initdb, matching the old one) while the old server still runs, in the
directory the new image keeps PGDATA in, inside the same volume (for a volume of the pre-18 layout,
whose root is the old PGDATA, that directory lies inside the old cluster's: the files can then be
hard-linked). Then: clean stop, pg_upgrade --check and pg_upgrade in a helper container that holds
both majors' programs, the old cluster's configuration files carried over, the container recreated
on the new image through the container engine, statistics, and the marker removed. A failure
before the new server started gives the old cluster back and starts it again."""

from __future__ import annotations

import posixpath
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.container.engine import ContainerEngine
from ansible_collections.pgdock.postgres.plugins.module_utils.container.spec import settings_from_command
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import UPSTREAM_LABEL
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import (
    read_file,
    run_helper,
    run_in,
    run_script,
    wait_until_ready,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect,
    docker_action,
    ensure_image,
    get_or_none,
    is_managed,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import (
    container_pgdata,
    container_superuser,
    layout_of_image,
    major_of,
    parse_handed_over,
    parse_probe,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import Progress
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog
from ansible_collections.pgdock.postgres.plugins.module_utils.upgrade import helper_scripts as scripts
from ansible_collections.pgdock.postgres.plugins.module_utils.upgrade.cluster_facts import initdb_args, read_cluster_facts
from ansible_collections.pgdock.postgres.plugins.module_utils.upgrade.options import server_params
from ansible_collections.pgdock.postgres.plugins.module_utils.upgrade.settings_carry import (
    carried_auto_conf,
    carried_conf,
    refused_settings,
)

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

COLLATION_QUERY = ("SELECT datname, datcollversion, pg_database_collation_actual_version(oid) FROM pg_database "
                   "WHERE datallowconn AND datcollversion IS DISTINCT FROM pg_database_collation_actual_version(oid) "
                   "ORDER BY datname")
# transfer modes after which the old cluster's files belong to the new one
HANDING_OVER = ("link", "swap")


def ensure_upgrade(module) -> dict:
    """Entry point of the `upgrade` module."""
    return InPlaceUpgrade(module.params, module.check_mode, module.warn).run()


class InPlaceUpgrade:
    """One run of the module (see the module docstring)."""

    def __init__(self, params: dict, check_mode: bool, warn):
        self.p, self.check_mode, self.warn = params, check_mode, warn
        self.name = params["name"]
        self.server = server_params(params)
        self.volume = self.server["data_volume"]
        self.log = ActionLog(check_mode, guard=docker_action)
        self.progress = Progress(params.get("progress_file"), f"upgrade {self.name}")
        self.client = self.layout = None

    # -- entry ---------------------------------------------------------------------------------------
    def run(self) -> dict:
        self.client = connect(self.p)
        container = get_or_none(self.client.containers, self.name, "container")
        if container is None or not is_managed(container.labels):
            raise PgdockError(f"container {self.name!r} " + ("does not exist" if container is None else
                              "was not created by pgdock.postgres") + ": the upgrade works on a server "
                              "container of this collection, in its data volume")
        image = ensure_image(self.client, self.p["image"], self.server["pull"], self.log, self.warn)
        ensure_image(self.client, self.p["helper_image"], self.server["pull"], self.log, self.warn)
        if image is None or get_or_none(self.client.images, self.p["helper_image"], "image") is None:
            return self.log.result(upgrade={"state": "images to pull"})  # check mode: nothing to compare yet
        self.layout = layout_of_image(self.p["image"], image.attrs, self.server.get("pgdata"))
        old_rel = self._old_pgdata_in_volume(container)
        new_rel = self.layout.pgdata_in_volume
        probe = self._probe(new_rel)
        found, handed_over, marker = parse_probe(probe), parse_handed_over(probe), scripts.marker_of(probe)
        new_version = found.get(new_rel)
        if new_version is not None and major_of(new_version) == self.layout.major and marker != "initdb":
            return self._already_upgraded(container, marker)
        old_version = found.get(old_rel)
        if old_version is None:
            raise PgdockError(f"data volume {self.volume!r} holds no cluster at {old_rel!r} (the PGDATA of container "
                              f"{self.name!r}); found: {found or 'nothing'}")
        old_major = major_of(old_version)
        if old_rel in handed_over:
            raise PgdockError(f"the PostgreSQL {old_version} cluster in {self.volume!r} was handed over by an "
                              f"earlier pg_upgrade, but there is no finished PostgreSQL {self.layout.major} cluster "
                              f"at {new_rel!r}: restore the server from a backup")
        self._check_plan(old_major, old_rel, new_rel)
        if new_version is not None and marker != "initdb":
            raise PgdockError(f"data volume {self.volume!r} holds a PostgreSQL {new_version} cluster at {new_rel!r} "
                              "that this module did not make; remove it or use another volume")
        plan = self._checks(container, old_major)
        if self.p["state"] == "checked" or self.check_mode:
            if self.p["state"] == "upgraded":
                self.log.extend(plan["actions"])
            return self.log.result(upgrade=self._summary(old_major, plan), plan=plan["actions"])
        return self._upgrade(container, old_major, old_rel, new_rel, plan)

    # -- what is there -------------------------------------------------------------------------------
    def _old_pgdata_in_volume(self, container) -> str:
        """The container's PGDATA relative to its data volume's mount point."""
        pgdata = container_pgdata(container)
        for mount in container.attrs.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name") == self.volume:
                return posixpath.relpath(pgdata, mount["Destination"])
        raise PgdockError(f"container {self.name!r} does not mount data volume {self.volume!r} "
                          "(set data_volume to the volume it uses)")

    def _probe(self, new_rel: str) -> str:
        mount = Mount(target="/probe", source=self.volume, type="volume", read_only=True)
        return run_script(self.client, self.p["helper_image"], scripts.PROBE, [mount],
                          f"looking into data volume {self.volume}", args=[new_rel], user="0")

    def _check_plan(self, old_major: int, old_rel: str, new_rel: str) -> None:
        if old_major >= self.layout.major:
            raise PgdockError(f"data volume {self.volume!r} holds a PostgreSQL {old_major} cluster and image "
                              f"{self.p['image']!r} is PostgreSQL {self.layout.major}: nothing to upgrade "
                              "(a major version cannot go down)")
        if old_rel == new_rel:
            raise PgdockError(f"image {self.p['image']!r} keeps PGDATA at the same place in the volume as the "
                              f"PostgreSQL {old_major} cluster ({old_rel!r}): the new cluster needs its own "
                              "directory; use the image's own PGDATA (leave pgdata unset; from 18 on it is "
                              f"/var/lib/postgresql/{self.layout.major}/docker)")
        if self.p["transfer_mode"] == "swap" and self.layout.major < 18:
            raise PgdockError("transfer_mode: swap needs pg_upgrade of PostgreSQL 18 or later; this target is "
                              f"PostgreSQL {self.layout.major}")

    def _bindirs(self, old_major: int) -> tuple[str, str]:
        return (self.p.get("old_bindir") or f"/usr/lib/postgresql/{old_major}/bin",
                self.p.get("new_bindir") or f"/usr/lib/postgresql/{self.layout.major}/bin")

    def _checks(self, container, old_major: int) -> dict:
        """Everything that would block the upgrade, reported together; the plan when nothing does."""
        with self.progress.phase("checks"):
            if container.status != "running":
                raise PgdockError(f"container {self.name!r} is {container.status}: start it first (the checks read "
                                  "the old cluster's catalogs, and pg_upgrade needs a cleanly stopped cluster, "
                                  "which this module makes itself)")
            old_bin, new_bin = self._bindirs(old_major)
            missing, helper_old, helper_new = scripts.binaries_facts(run_script(
                self.client, self.p["helper_image"], scripts.BINARIES, [], f"looking into {self.p['helper_image']}",
                args=[old_bin, new_bin], user="0"))
            known, extensions = scripts.new_image_facts(run_script(
                self.client, self.p["image"], scripts.NEW_IMAGE, [], f"looking into {self.p['image']}",
                args=[f"/usr/share/postgresql/{self.layout.major}/extension"], user=str(self.server["postgres_uid"])))
            facts = read_cluster_facts(container)
        problems = [f"helper image {self.p['helper_image']!r} lacks {path}" for path in missing]
        if not missing and (helper_old, helper_new) != (old_major, self.layout.major):
            problems.append(f"helper image {self.p['helper_image']!r} has PostgreSQL {helper_old} in {old_bin} and "
                            f"{helper_new} in {new_bin}; this upgrade needs {old_major} and {self.layout.major}")
        for database, installed in sorted(facts.extensions.items()):
            for extension, version in sorted(installed.items()):
                if extension not in extensions:
                    problems.append(f"database {database!r}: extension {extension!r} ({version}) is not in image "
                                    f"{self.p['image']!r}; install it there (or drop it) first")
        for database, (count, names, columns) in sorted(facts.attribute_options.items()):
            problems.append(f"database {database!r}: {count} columns carry column options that PostgreSQL has not "
                            f"({names}; {columns}...); pg_upgrade would fail restoring them into the new cluster: "
                            "remove them first (ALTER TABLE ... ALTER COLUMN ... RESET (...))")
        refused = refused_settings(self.server["settings"], known)
        if refused:
            problems.append(f"settings: PostgreSQL {self.layout.major} has no setting {', '.join(refused)}; the new "
                            "server would not start (remove or rename them)")
        if problems:
            raise PgdockError(f"the upgrade of {self.name!r} to PostgreSQL {self.layout.major} is blocked (nothing "
                              "was changed):\n- " + "\n- ".join(problems), blockers=problems)
        actions = [f"initdb a PostgreSQL {self.layout.major} cluster at {self.layout.pgdata} in {self.volume}",
                   f"stop {self.name}", f"pg_upgrade --check, then pg_upgrade --{self.p['transfer_mode']}",
                   f"recreate {self.name} on {self.p['image']}"]
        if self.p["analyze"] != "none":
            actions.append("vacuumdb --analyze-in-stages" + (" --missing-stats-only" if self._missing_only() else ""))
        return {"facts": facts, "known": known, "bins": (old_bin, new_bin), "actions": actions}

    def _missing_only(self) -> bool:
        """Whether only the statistics pg_upgrade did not carry are to be made (it carries them from 18 on)."""
        return self.p["analyze"] == "missing" and self.layout.major >= 18

    # -- the upgrade ---------------------------------------------------------------------------------
    def _upgrade(self, container, old_major: int, old_rel: str, new_rel: str, plan: dict) -> dict:
        root = self.layout.volume_path
        old_dir, new_dir = posixpath.normpath(posixpath.join(root, old_rel)), posixpath.join(root, new_rel)
        old_pgdata = container_pgdata(container)
        conf, dropped = carried_conf(read_file(container, f"{old_pgdata}/postgresql.conf") or "", plan["known"], old_major)
        auto, dropped_auto = carried_auto_conf(read_file(container, f"{old_pgdata}/postgresql.auto.conf") or "",
                                               plan["known"])
        dropped = sorted(set(dropped) | set(dropped_auto) | set(self._carry_container_settings(container, plan["known"])))
        if dropped:
            self.warn(f"settings of the PostgreSQL {old_major} configuration files that PostgreSQL "
                      f"{self.layout.major} does not have were left out: {', '.join(dropped)}")
        mounts = [Mount(target=root, source=self.volume, type="volume")]
        old_bin, new_bin = plan["bins"]
        with self.progress.phase("initdb"):
            self.log.do(plan["actions"][0], run_script, self.client, self.p["helper_image"], scripts.INITDB, mounts,
                        f"initdb of the PostgreSQL {self.layout.major} cluster", user=str(self.server["postgres_uid"]),
                        args=[new_dir, new_bin] + initdb_args(plan["facts"], self.layout.major))
        down = time.monotonic()
        with self.progress.phase("stop"):
            self.log.do(f"stop {self.name}", self._stop, container)
        with self.progress.phase("pg_upgrade") as entry:
            code, output = self.log.do(plan["actions"][2], run_helper, self.client, self.p["helper_image"],
                                       ["sh", "-c", scripts.UPGRADE, "pgdock-upgrade", old_dir, new_dir, old_bin,
                                        new_bin, plan["facts"].bootstrap_user, self.p["transfer_mode"],
                                        str(self.p["jobs"]), conf, auto],
                                       mounts, f"pg_upgrade of {self.name}", None, str(self.server["postgres_uid"]),
                                       None, self.p["upgrade_timeout"])
            entry.update(scripts.phase_times(output))
        if code != 0:
            self._give_back(container, mounts, old_dir, new_dir, code, output)
        try:
            with self.progress.phase("start"):
                started = ContainerEngine(self.server, False, False, self.warn, volume_filled=True).run()
                self.log.extend(started["actions"], "server: ")
        except PgdockError as exc:
            raise PgdockError(f"pg_upgrade finished, but the PostgreSQL {self.layout.major} server of {self.name!r} "
                              f"did not start: {exc}. " + self._old_cluster_note(), **exc.details) from None
        downtime = round(time.monotonic() - down, 3)
        server = self._new_server_started()
        summary = self._summary(old_major, plan, downtime=downtime, dropped=dropped)
        summary["collation_changed"] = self._collation_changes(server)
        return self.log.result(upgrade=summary, phases=self.progress.phases, container=started.get("container"),
                               progress_file=self.p.get("progress_file"))

    def _collation_changes(self, server) -> list[dict]:
        """Databases whose default collation's version differs on the new image (its C library sorts
        text another way): their indexes on text may be out of order until rebuilt."""
        rows = ContainerSession(server).rows(COLLATION_QUERY)
        changes = [{"database": name, "from": before, "to": after} for name, before, after in rows]
        if changes:
            self.warn(f"the C library of {self.p['image']!r} has another collation version than the old image's for "
                      f"{', '.join(c['database'] for c in changes)}: indexes on text columns may be out of order. "
                      "In each database run REINDEX DATABASE (or reindex the affected indexes), then ALTER DATABASE "
                      "... REFRESH COLLATION VERSION")
        return changes

    def _carry_container_settings(self, container, known: set | None = None) -> list[str]:
        """The container's own settings (its `-c` arguments: TLS files, archiving...) kept under
        `server.settings` for the new one, so that the server's tasks find it as they made it; the
        names the new major lacks (`known`: those it has; None: all) are left out and returned."""
        old = settings_from_command((container.attrs.get("Config") or {}).get("Cmd"))
        dropped = refused_settings(old, known) if known is not None else []
        kept = {name: value for name, value in old.items() if name not in dropped}
        self.server["settings"] = dict(kept, **(self.server.get("settings") or {}))
        return dropped

    def _stop(self, container) -> None:
        container.stop(timeout=self.server["stop_timeout"])
        container.reload()
        if container.status == "running":
            raise PgdockError(f"container {self.name!r} did not stop within stop_timeout ({self.server['stop_timeout']} s)")

    def _give_back(self, container, mounts, old_dir: str, new_dir: str, code: int, output: str) -> None:
        """After pg_upgrade failed: the old cluster given back and started again; the error raised."""
        lines = scripts.report_lines(output)
        what = "pg_upgrade --check" if code == scripts.CHECK_FAILED else "pg_upgrade"
        moved = code != scripts.CHECK_FAILED and self.p["transfer_mode"] == "swap"
        if moved:
            raise PgdockError(f"{what} failed (exit code {code}) while it moved the old cluster's files (--swap): "
                              f"the PostgreSQL cluster of {self.name!r} cannot be started; restore it from a backup. "
                              "pg_upgrade said: " + " / ".join(lines[-6:]), logs=lines[-60:])
        self.log.do("give the old cluster back and start it again", run_script, self.client, self.p["helper_image"],
                    scripts.HAND_BACK, mounts, "giving the old cluster back", user=str(self.server["postgres_uid"]),
                    args=[old_dir, new_dir])
        with docker_action(f"starting container {self.name!r} again"):
            container.start()
        wait_until_ready(container, container_superuser(container), self.server["wait_timeout"])
        raise PgdockError(f"{what} failed (exit code {code}); the old server of {self.name!r} runs again, unchanged. "
                          "pg_upgrade said: " + " / ".join(lines[-8:]), logs=lines[-60:])

    def _old_cluster_note(self) -> str:
        if self.p["transfer_mode"] in HANDING_OVER:
            return (f"The old cluster's files belong to the new one now (--{self.p['transfer_mode']}): it cannot be "
                    "started; see the logs, fix the cause and run the module again (it starts the new server).")
        return ("The old cluster is unchanged (--" + self.p["transfer_mode"] + "): run the container module with the "
                "old image to go back, or fix the cause and run this module again.")

    def _new_server_started(self):
        """After the new server's first start: the upgrade's marker removed, statistics made; the container."""
        server = self.client.containers.get(self.name)
        run_in(server, ["rm", "-f", f"{self.layout.pgdata}/{scripts.MARKER}"])
        self._analyze(server)
        return server

    def _analyze(self, server) -> None:
        if self.p["analyze"] == "none":
            return
        argv = ["vacuumdb", "-U", container_superuser(server), "--all", "--analyze-in-stages", "-j", str(self.p["jobs"])]
        if self._missing_only():
            argv.append("--missing-stats-only")
        with self.progress.phase("analyze"):
            code, output = self.log.do("make the planner statistics", run_in, server, argv)
        if code != 0:
            self.warn(f"vacuumdb on {self.name!r} failed (the server runs; run it again): {output.strip()[-300:]}")

    # -- already upgraded ----------------------------------------------------------------------------
    def _already_upgraded(self, container, marker: str) -> dict:
        """The volume holds the new major's cluster: the container made to run it (a change only when an
        earlier run stopped between pg_upgrade and the new server's start)."""
        if self.check_mode and marker == "upgraded":
            self.log.add(f"start the upgraded cluster on {self.p['image']}")
            return self.log.result(upgrade={"state": "upgraded, new server not started yet"})
        if self.p["state"] == "checked":
            return self.log.result(upgrade={"state": "upgraded", "to_major": self.layout.major})
        self._carry_container_settings(container)
        result = ContainerEngine(self.server, self.check_mode, False, self.warn).run()
        self.log.extend(result["actions"], "server: ")
        if marker == "upgraded" and not self.check_mode:
            self._new_server_started()
        return self.log.result(upgrade={"state": "upgraded", "to_major": self.layout.major},
                               container=result.get("container"))

    def _summary(self, old_major: int, plan: dict, downtime: float | None = None, dropped=()) -> dict:
        summary = {"from_major": old_major, "to_major": self.layout.major, "method": "pg_upgrade",
                   "transfer_mode": self.p["transfer_mode"], "size_bytes": plan["facts"].size_bytes,
                   "replicas_to_rebuild": self._replicas()}
        if downtime is not None:
            summary.update(state="upgraded", downtime_seconds=downtime, dropped_settings=list(dropped),
                           old_cluster=("handed over to the new cluster" if self.p["transfer_mode"] in HANDING_OVER
                                        else "unchanged beside the new one"))
        else:
            summary["state"] = "checked"
        return summary

    def _replicas(self) -> list[str]:
        with docker_action("listing the replicas"):
            found = self.client.containers.list(all=True, filters={"label": f"{UPSTREAM_LABEL}={self.name}"})
        return sorted(c.name for c in found)
