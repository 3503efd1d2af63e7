# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Continuous WAL archiving by a pg_receivewal sidecar (archive_method stream), and the check both
archiving methods end with: a switched segment arrives in the repository's wal/."""

from __future__ import annotations

import os
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import (
    WAL_DIR as WAL_DIR_NAME,
    Repository,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.server import PGPASS_SCRIPT, Server
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import ARCHIVER_LABEL, REPO_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import log_tail
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import get_or_none, managed_labels
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

ARCHIVER_SUFFIX = "-wal-archiver"
ARCHIVE_SLOT = "pgdock_wal_archive"
SLOT = {"slot": ARCHIVE_SLOT}
ARCHIVE_CHECK_TIMEOUT = 60


class WalArchiver:
    """Continuous WAL archiving into the repository's wal/: a pg_receivewal sidecar container of
    the server's image on its network, streaming through a replication slot (nothing is lost while
    it is down), restarted by Docker."""

    def __init__(self, client, server: Server, repo: Repository, log):
        self.client, self.server, self.repo, self.log = client, server, repo, log
        self.name = server.name + ARCHIVER_SUFFIX

    def ensure(self, wanted: bool) -> dict:
        existing = get_or_none(self.client.containers, self.name, "container")
        if not wanted:
            removed = existing is not None
            if existing is not None:
                self.log.do(f"remove WAL archiver container {self.name}", existing.remove, force=True, v=True)
            if self.server.sql.rows("SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot'", SLOT):
                removed = True
                self.log.do(f"drop replication slot {ARCHIVE_SLOT}", self.server.sql.run,
                            "SELECT pg_drop_replication_slot(:'slot')", SLOT)
            return {"enabled": False, "container": None, "removed": removed}
        if existing is not None and (existing.attrs.get("Image") != self.server.image_id
                                     or existing.status != "running"):
            self.log.do(f"remove outdated or stopped WAL archiver container {self.name}", existing.remove,
                        force=True, v=True)
            existing = None
        if existing is None:
            self.server.allow_replication(self.log)
            self.log.do(f"create replication slot {ARCHIVE_SLOT}", self.server.sql.run,
                        "SELECT pg_create_physical_replication_slot(:'slot') WHERE NOT EXISTS "
                        "(SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot')", SLOT)
            self.log.do(f"start WAL archiver container {self.name} (pg_receivewal into {self.repo.wal_dir})",
                        self._create)
        arrived = None if self.log.check_mode else check_arrival(self.server, self.repo.wal_dir, self._failure_details)
        return {"enabled": True, "container": self.name, "checked_segment": arrived}

    def _create(self) -> None:
        script = (PGPASS_SCRIPT + f"exec pg_receivewal --no-password -D {REPO_MOUNT}/{WAL_DIR_NAME} "
                  f"-S {ARCHIVE_SLOT} --synchronous -v")
        self.client.containers.run(
            self.server.image_id, name=self.name, entrypoint=["sh", "-c"], command=[script], user="0",
            network=self.server.network, mounts=self.server.helper_mounts(self.repo.root),
            environment=self.server.helper_env(), restart_policy={"Name": "unless-stopped"},
            labels=managed_labels({ARCHIVER_LABEL: self.server.name}), detach=True,
            log_config={"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}})

    def _failure_details(self) -> str:
        archiver = get_or_none(self.client.containers, self.name, "container")
        tail = log_tail(archiver) if archiver is not None else []
        return f"see 'docker logs {self.name}'" + (f" (last: {tail[-1]})" if tail else "")


def check_arrival(server: Server, wal_dir: str, failure_details) -> str:
    """Switch WAL and wait until the finished segment is in wal_dir; its name.

    failure_details() says why in the error message when it does not arrive in time."""
    # the segment of the record just written (pg_current_wal_lsn, the write position, can still
    # sit on the boundary of a switch and name the previous, already archived segment)
    segment = server.sql.value("SELECT pg_walfile_name(pg_logical_emit_message(false, 'pgdock', 'archive check'))")
    server.sql.run("SELECT pg_switch_wal()")
    path = os.path.join(wal_dir, segment)
    deadline = time.monotonic() + ARCHIVE_CHECK_TIMEOUT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise PgdockError(f"WAL segment {segment} did not arrive in {wal_dir} within "
                              f"{ARCHIVE_CHECK_TIMEOUT} s after a switch; {failure_details()}",
                              logs=log_tail(server.container))
        time.sleep(0.5)
    return segment


def adopt_files(directory: str) -> None:
    """Give the files of a directory to the directory's owner (what the root sidecar left behind,
    for the server's archive_command to compare)."""
    info = os.stat(directory)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        os.chown(path, info.st_uid, info.st_gid)
        os.chmod(path, 0o600)
