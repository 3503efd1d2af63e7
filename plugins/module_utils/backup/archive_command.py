# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WAL archiving by the server itself: archive_mode, archive_command and archive_timeout set with
ALTER SYSTEM so that the server copies each finished segment into the backup repository's wal/,
which the container mounts at WAL_ARCHIVE_MOUNT (the container module's wal_archive_dir)."""

from __future__ import annotations

import os

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import WAL_ARCHIVE_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import restart_server
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import mount_source
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

# Copy under a temporary name, flush, rename: a segment is in the archive whole or not at all. A
# segment already archived (a retry after a crash between copy and report) is accepted only when it
# is identical; a different one is an error PostgreSQL retries and logs (pg_stat_archiver).
ARCHIVE_COMMAND = (
    f"f={WAL_ARCHIVE_MOUNT}/%f; if [ -f $f ]; then cmp -s %p $f; "
    f"else cp %p $f.tmp && sync $f.tmp && mv $f.tmp $f && sync {WAL_ARCHIVE_MOUNT}; fi"
)
ARCHIVE_SETTINGS = ("archive_mode", "archive_command", "archive_timeout", "archive_library")
# psql quotes the variables itself (:"name" as an identifier, :'value' as a literal)
SET_STATEMENT = "ALTER SYSTEM SET :\"name\" = :'value';"
RESET_STATEMENT = "ALTER SYSTEM RESET :\"name\";"


def archive_settings(server) -> dict:
    """name -> (setting, source) of the archiving parameters the server has."""
    rows = server.sql.rows("SELECT name, setting, source FROM pg_settings WHERE name = ANY (string_to_array(:'names', ','))",
                           {"names": ",".join(ARCHIVE_SETTINGS)})
    return {row[0]: (row[1], row[2]) for row in rows}


def alter_system(server, name: str, value: str | None) -> None:
    """ALTER SYSTEM SET name = value (RESET when value is None) through psql's own quoting."""
    statement = RESET_STATEMENT if value is None else SET_STATEMENT
    server.sql.run(statement, {"name": name, "value": value or ""}, what=f"ALTER SYSTEM for {name} on {server.name!r} failed")


class CommandArchiver:
    """archive_command archiving of one server into one repository."""

    def __init__(self, server, repo, log, timeout: int, allow_restart: bool,
                 wait_timeout: int = 180):
        self.server, self.repo, self.log = server, repo, log
        self.timeout, self.allow_restart, self.wait_timeout = timeout, allow_restart, wait_timeout

    # -- checks ------------------------------------------------------------------------------------
    def check_mount(self) -> None:
        """The server must mount the repository's wal/ at WAL_ARCHIVE_MOUNT."""
        source = mount_source(self.server.container.attrs, WAL_ARCHIVE_MOUNT, "bind")
        hint = (f"recreate it with pgdock.postgres.container wal_archive_dir: {self.repo.wal_dir} (role "
                "pgdock.postgres.server: pgdock_server_wal_archive_dir), or use archive_method: stream "
                "(a pg_receivewal sidecar needs no mount)")
        if source is None:
            raise PgdockError(f"archive_method=command: container {self.server.name!r} does not mount the "
                              f"repository's WAL directory at {WAL_ARCHIVE_MOUNT}; {hint}")
        if os.path.realpath(source) != os.path.realpath(self.repo.wal_dir):
            raise PgdockError(f"archive_method=command: container {self.server.name!r} archives into {source}, "
                              f"not into this repository's {self.repo.wal_dir}; {hint}")

    def ours(self, current: dict) -> bool:
        """Whether this module's archive_command is set (pg_settings shows "(disabled)" while
        archive_mode is off, so postgresql.auto.conf is asked too)."""
        if current.get("archive_command", ("", ""))[0] == ARCHIVE_COMMAND:
            return True
        return bool(self.server.sql.rows("SELECT 1 FROM pg_file_settings WHERE name = 'archive_command' "
                                         "AND setting = :'command'", {"command": ARCHIVE_COMMAND}))

    # -- on ----------------------------------------------------------------------------------------
    def enable(self) -> bool:
        """Set what differs; restart when archive_mode must change. Whether anything changed."""
        self.check_mount()
        current = archive_settings(self.server)
        if current.get("archive_library", ("", ""))[0]:
            raise PgdockError(f"{self.server.name!r} archives through archive_library = "
                              f"{current['archive_library'][0]!r}; reset it before archive: true")
        wanted = {"archive_command": ARCHIVE_COMMAND, "archive_timeout": str(self.timeout)}
        changes = {n: v for n, v in wanted.items() if current[n][0] != v}
        mode_off = current["archive_mode"][0] == "off"
        for name in list(changes) + (["archive_mode"] if mode_off else []):
            if current[name][1] == "command line":
                raise PgdockError(f"{name} of {self.server.name!r} is set on its command line (the "
                                  "container's settings), which ALTER SYSTEM cannot override; change it there")
        if mode_off and not self.allow_restart:
            raise PgdockError(f"archive_mode is off on {self.server.name!r} and turning it on takes a restart: "
                              "give allow_restart: true (the container is restarted once), or create the "
                              "container with settings archive_mode: on; nothing was changed")
        if mode_off:
            changes["archive_mode"] = "on"
        if not changes:
            return False
        self.log.add(f"set {', '.join(sorted(changes))} on {self.server.name} (ALTER SYSTEM) and "
                     + ("restart it" if mode_off else "reload"))
        if not self.log.check_mode:
            for name, value in sorted(changes.items()):
                alter_system(self.server, name, value)
            self._apply(mode_off)
        return True

    # -- off ---------------------------------------------------------------------------------------
    def disable(self) -> bool:
        """Reset the settings when they are this module's; restart when archive_mode was on."""
        current = archive_settings(self.server)
        if not self.ours(current):
            return False
        mode_on = current["archive_mode"][0] != "off"
        if mode_on and current["archive_mode"][1] == "command line":
            raise PgdockError(f"archive_mode of {self.server.name!r} is on from its command line (the container's "
                              "settings); remove it there (and wal_archive_dir) to stop archiving")
        if mode_on and not self.allow_restart:
            raise PgdockError(f"turning archive_mode off on {self.server.name!r} takes a restart: give "
                              "allow_restart: true; nothing was changed")
        self.log.add(f"reset archive_mode, archive_command, archive_timeout on {self.server.name} "
                     "(ALTER SYSTEM) and " + ("restart it" if mode_on else "reload"))
        if not self.log.check_mode:
            for name in ("archive_mode", "archive_command", "archive_timeout"):
                alter_system(self.server, name, None)
            self._apply(mode_on)
        return True

    def _apply(self, with_restart: bool) -> None:
        if with_restart:
            restart_server(self.server.container, self.wait_timeout)
        else:
            self.server.sql.run("SELECT pg_reload_conf()")

    def failure_details(self) -> str:
        """What pg_stat_archiver says about failed attempts, for an error message."""
        failed, last, when = self.server.sql.rows(
            "SELECT failed_count, coalesce(last_failed_wal, ''), coalesce(last_failed_time::text, '') "
            "FROM pg_stat_archiver")[0]
        if failed == "0":
            return "the server reports no failed archive attempt"
        return (f"the server failed {failed} archive attempt(s), last of {last} at {when}; is "
                f"{self.repo.wal_dir} writable by the server's uid, with free space?")
