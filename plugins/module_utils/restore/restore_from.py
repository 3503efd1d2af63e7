# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container module's `restore_from`: the volume filler the container engine is given when a
new container's data volume holds no cluster yet. It restores the newest usable physical backup of
the image's major version (or the one named) from a repository, with the same checks and steps as
the restore module (restore.volume), and says so when there is nothing to restore."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import PHYSICAL_KINDS, Repository
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import PASSWORD_FILE_NAME, SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_in
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
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


@dataclass
class RestorePlan:
    """The chain to restore (full first) and how its recovery ends."""

    repo: Repository
    chain: list
    recovery: dict | None
    superuser: str
    replay: list = field(default_factory=list)  # what the WAL replay does, as action text

    @property
    def label(self) -> dict:
        """The label of the backup restored (the last of the chain)."""
        return self.chain[-1]


class BackupVolumeFiller:
    """Fills a container's new, empty data volume from a backup repository (see the module docstring).

    The container engine calls plan, then (when the plan is not None) superuser_password, describe,
    fill and, once the server runs, finish; it passes itself so that the filler reads its options,
    Docker client, warnings and actions."""

    def __init__(self, spec: dict):
        self.spec = spec

    def plan(self, engine, layout) -> RestorePlan | None:
        """The backup chain to restore; None when the repository holds no physical backup of the
        image's major version (an empty cluster is initialised, and the engine says so)."""
        p, repo = engine.p, Repository(self.spec["repository"])
        if self.spec.get("backup"):
            label = repo.find(self.spec["backup"])
            if label["kind"] not in PHYSICAL_KINDS:
                raise PgdockError(f"restore_from: backup {label['id']} is a {label['kind']} backup; only a "
                                  "physical backup (full or incremental) can fill a data volume")
            check_major(label, layout, p["image"], "restore_from: ", ", or leave backup out")
            chain = repo.chain(label["id"])
        else:
            chain = repo.latest_chain(layout.major)
            if chain is None:
                why = "does not exist" if not repo.exists() else f"holds no physical backup of PostgreSQL {layout.major}"
                engine.warn(f"restore_from: repository {repo.root} {why}; an empty cluster is initialised in "
                            f"data volume {p['data_volume']}")
                engine.log.add(f"initialise an empty cluster (nothing to restore: repository {repo.root} {why})")
                return None
        label = chain[-1]
        if p["state"] != "started" or not p["wait"]:
            raise PgdockError(f"restore_from: restoring backup {label['id']} needs state: started and wait: true "
                              "(recovery is finished and checked on the running server)")
        check_chain(repo, chain)
        superuser = label.get("superuser") or p["superuser"]
        if superuser != p["superuser"]:
            engine.warn(f"restore_from: backup {label['id']} is of a cluster whose superuser is {superuser!r}, not "
                        f"{p['superuser']!r}; set superuser: {superuser} (the restored cluster keeps its roles)")
        replay: list[str] = []
        target = default_target(self.spec.get("target"), self.spec.get("backup"))
        recovery = recovery_settings(repo, layout, label, target, actions=replay)
        return RestorePlan(repo, chain, recovery, superuser, replay)

    @staticmethod
    def superuser_password(engine, plan: RestorePlan) -> str:
        """The backed-up server's superuser password (the restored cluster keeps its passwords)."""
        password = backed_up_password(engine.client, plan.label)
        if password is None:
            raise PgdockError(
                f"superuser_password is required: backup {plan.label['id']} is restored into data volume "
                f"{engine.p['data_volume']!r} and the restored cluster keeps the passwords of server "
                f"{plan.label.get('server')!r}; give that server's superuser password (its password file cannot be "
                "read to copy it)")
        return password

    @staticmethod
    def describe(engine, plan: RestorePlan) -> str:
        """The action, as the engine reports it."""
        return (f"restore backup {chain_ids(plan.chain)} into volume {engine.p['data_volume']} "
                f"(from repository {plan.repo.root})")

    @staticmethod
    def fill(engine, plan: RestorePlan, image, layout) -> None:
        """Extract the chain into the engine's data volume (before the container is created)."""
        fill_volume(engine.client, plan.repo, image.id, layout, engine.p["data_volume"], engine.p["name"],
                    plan.chain, plan.recovery, archiving=bool(engine.p.get("wal_archive_dir")))

    @staticmethod
    def finish(engine, plan: RestorePlan, container, layout) -> dict:
        """End of recovery, recovery settings reset, a sanity query; then whether the password file
        opens the restored cluster (a warning when it does not)."""
        restored = finish_recovery(container, plan.superuser, layout, plan.recovery, engine.p["wait_timeout"])
        code, out = run_in(container, [
            "sh", "-c", 'PGPASSWORD="$(cat "$1")" exec psql -XAtqw -h 127.0.0.1 -p 5432 -U "$2" -d postgres '
            '-c "SELECT 1"', "pgdock-check", f"{SECRETS_MOUNT}/{PASSWORD_FILE_NAME}", engine.p["superuser"]])
        if code != 0 and "password authentication failed" in out:
            engine.warn(f"the superuser password in {engine.password_path} does not open the restored cluster: it "
                        f"keeps the passwords of the backed-up server {plan.label.get('server')!r}. Give "
                        "superuser_password that server's password (the file is rewritten), or set a new one "
                        "with pgdock.postgres.role (login_password the backed-up one)")
        return dict(restored, chain=[b["id"] for b in plan.chain])
