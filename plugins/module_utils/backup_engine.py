# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `backup` module's engine: full, incremental and logical backups of a running pgdock server,
taken by one-shot helper containers of the server's own image on the server's network, written into
the repository and catalogued only once complete."""

from __future__ import annotations

import os
import re
import shutil
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.backup_repository import (
    PHYSICAL_KINDS,
    WAL_DIR as WAL_DIR_NAME,
    Repository,
    iso,
    lsn_to_int,
    manifest_wal_range,
    new_backup_id,
    utc_now,
    write_label,
    write_sums,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup_retention import (
    RetentionPolicy,
    plan_retention,
    wal_to_prune,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.container_access import (
    log_tail,
    read_file,
    run_in,
    write_file,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.container_spec import PASSWORD_FILE_NAME, SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker_client import (
    connect,
    docker_action,
    get_or_none,
    managed_labels,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba_engine import container_subnets
from ansible_collections.pgdock.postgres.plugins.module_utils.hba_rules import name_token, parse_hba
from ansible_collections.pgdock.postgres.plugins.module_utils.pg_connection import (
    container_secrets_dir,
    find_container,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg_layout import env_to_dict, layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.replication_setup import allows_replication
from ansible_collections.pgdock.postgres.plugins.module_utils.wal_archive_command import (
    ARCHIVE_COMMAND,
    CommandArchiver,
)

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

REPO_MOUNT = "/pgdock-repo"
ARCHIVER_SUFFIX = "-wal-archiver"
ARCHIVER_LABEL = "org.pgdock.wal-archiver-of"
ARCHIVE_SLOT = "pgdock_wal_archive"
ARCHIVE_CHECK_TIMEOUT = 60
INCREMENTAL_MIN_MAJOR = 17
HBA_MARKER = "# pgdock.postgres backup"
# Builds a 0600 .pgpass inside the helper from the server's password file (mounted read-only), so
# the password is never in an environment variable or on a command line.
PGPASS_SCRIPT = (
    'umask 077; printf "*:*:*:%s:%s\\n" "$PGUSER" '
    '"$(head -n1 ' + SECRETS_MOUNT + '/' + PASSWORD_FILE_NAME + r' | sed -e "s/[\\:]/\\\\&/g")"'
    ' > /tmp/.pgpass; export PGPASSFILE=/tmp/.pgpass; '
)
# WAL records that change no data: checkpoints, switches, hint bits, snapshots, commits alone, and
# page maintenance that reads (or autovacuum) cause; matched as prefixes of pg_waldump's types.
QUIET_RECORDS = ("XLOG/", "Standby/", "Transaction/", "Heap2/PRUNE", "Heap2/VACUUM", "Heap2/FREEZE",
                 "Heap2/VISIBLE", "Heap2/CLEANUP", "Heap/INPLACE", "Heap/LOCK", "Btree/DELETE", "Btree/VACUUM")


class Server:
    """A running pgdock server seen by the backup and restore engines."""

    def __init__(self, client, params: dict):
        self.client = client
        self.container = find_container(params)
        self.name = self.container.name
        attrs = self.container.attrs
        self.env = env_to_dict((attrs.get("Config") or {}).get("Env"))
        self.superuser = self.env.get("POSTGRES_USER") or "postgres"
        self.image_name = (attrs.get("Config") or {}).get("Image")
        self.image_id = attrs.get("Image")
        image = client.images.get(self.image_id)
        self.layout = layout_of_image(self.image_name, image.attrs, self.env.get("PGDATA"))
        networks = list(((attrs.get("NetworkSettings") or {}).get("Networks") or {}))
        if not networks:
            raise PgdockError(f"container {self.name!r} is attached to no network")
        self.network = networks[0]
        self.secrets_dir = container_secrets_dir(self.container)
        if not self.secrets_dir:
            raise PgdockError(f"container {self.name!r} has no password file mount ({SECRETS_MOUNT})")

    def sql(self, query: str, dbname: str = "postgres") -> list[list[str]]:
        """Rows of a query run with psql inside the server container (local socket)."""
        code, out = run_in(self.container, ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\t",
                                            "-U", self.superuser, "-d", dbname, "-c", query])
        if code != 0:
            raise PgdockError(f"query on {self.name!r} failed: {out.strip()}")
        return [line.split("\t") for line in out.splitlines() if line]

    def value(self, query: str, dbname: str = "postgres") -> str:
        return self.sql(query, dbname)[0][0]

    def helper_mounts(self, repo_root: str, repo_read_only: bool = False) -> list:
        return [Mount(REPO_MOUNT, repo_root, type="bind", read_only=repo_read_only),
                Mount(SECRETS_MOUNT, self.secrets_dir, type="bind", read_only=True)]

    def helper_env(self) -> dict:
        return {"PGHOST": self.name, "PGPORT": "5432", "PGUSER": self.superuser,
                "PGAPPNAME": "pgdock.postgres", "PGCONNECT_TIMEOUT": "10"}


def run_helper(client, image: str, script: str, mounts: list, what: str, network: str | None = None,
               env: dict | None = None, args: list | None = None) -> str:
    """Run `script` with sh in a one-shot container of `image` (as root); its output.

    Fails with the helper's last log lines when it exits non-zero. `args` become $1, $2...
    """
    with docker_action(what):
        helper = client.containers.run(
            image, entrypoint=["sh", "-c"], command=["set -e; " + script, "pgdock-helper"] + list(args or []),
            user="0", network=network, network_mode=None if network else "none", mounts=mounts,
            environment=env or {}, labels=managed_labels({"org.pgdock.helper": what[:60]}), detach=True)
    try:
        status = helper.wait()
        output = helper.logs().decode("utf-8", "replace")
    finally:
        with docker_action(f"removing the helper container of {what}"):
            helper.remove(force=True, v=True)  # v: the image's anonymous VOLUME
    if status.get("StatusCode") != 0:
        lines = output.strip().splitlines()
        raise PgdockError(f"{what} failed (exit code {status.get('StatusCode')}): "
                          + " / ".join(lines[-3:]), logs=lines[-40:])
    return output


def backup(module) -> dict:
    """Entry point of the `backup` module."""
    return BackupEngine(module.params, module.check_mode).run()


class BackupEngine:
    """One run of the backup module."""

    def __init__(self, params: dict, check_mode: bool):
        self.p = params
        self.check_mode = check_mode
        self.repo = Repository(params["repository"])
        self.actions: list[str] = []

    def run(self) -> dict:
        if self.p["list"]:
            return {"changed": False, "catalogue": self.repo.catalogue(self.p.get("kind")),
                    "incomplete": self.repo.incomplete()}
        if not self.p.get("container"):
            if self.p["prune"]:
                return {"pruned": self._prune(), "actions": self.actions, "changed": bool(self.actions)}
            raise PgdockError("container: the server to back up is required")
        client = connect(self.p)
        server = Server(client, self.p)
        result = {"changed": False, "actions": self.actions}
        if not self.check_mode and self.repo.ensure_layout():
            self.actions.append(f"create repository layout in {self.repo.root}")
        if self.p.get("archive") is not None:
            result["archive"] = self._archive(client, server)
            result["changed"] = bool(self.actions)
        if self.p.get("kind"):
            result.update(self._backup(client, server))
        if self.p["prune"]:
            result["pruned"] = self._prune()
        result["changed"] = result.get("changed") or bool(result.get("pruned", {}).get("backups")) or bool(
            result.get("pruned", {}).get("wal"))
        return result

    def _archive(self, client, server: Server) -> dict:
        """Archiving as asked (archive, archive_method); the other method is turned off."""
        stream = WalArchiver(client, server, self.repo, self.actions, self.check_mode)
        command = CommandArchiver(server, self.repo, self.actions, self.check_mode, self.p["archive_timeout"],
                                  self.p["allow_restart"])
        if not self.p["archive"]:
            stream.ensure(False)
            command.disable()
            return {"enabled": False, "method": None, "container": None}
        if server.value("SELECT pg_is_in_recovery()") == "t":
            raise PgdockError(f"archive: {server.name!r} is a standby; archive from its primary (a standby made "
                              "from a primary with archive_method command archives into the same wal/ once promoted)")
        if self.p["archive_method"] == "stream":
            command.disable()
            return dict(stream.ensure(True), method="stream")
        command.enable()
        if stream.ensure(False)["removed"] and not self.check_mode:
            adopt_files(self.repo.wal_dir)
        arrived = None if self.check_mode else check_arrival(server, self.repo.wal_dir, command.failure_details)
        return {"enabled": True, "method": "command", "container": None, "checked_segment": arrived,
                "archive_command": ARCHIVE_COMMAND, "archive_timeout": self.p["archive_timeout"]}

    def _prune(self) -> dict:
        """Apply the retention policy: delete the backups it does not keep, then old WAL."""
        labels = self.repo.catalogue()
        plan = plan_retention(labels, utc_now(), RetentionPolicy(**self.p["retention"]))
        kept = [lab for lab in labels if lab["id"] in plan["keep"]]
        wal_names = sorted(os.listdir(self.repo.wal_dir)) if os.path.isdir(self.repo.wal_dir) else []
        wal = wal_to_prune(wal_names, kept)
        for label in labels:
            if label["id"] in plan["delete"]:
                self.actions.append(f"delete {label['kind']} backup {label['id']} (retention)")
                if not self.check_mode:
                    self.repo.remove_backup(label)
        if wal:
            self.actions.append(f"delete {len(wal)} WAL segment(s) older than the oldest kept backup "
                                f"({wal[0]} to {wal[-1]})")
            if not self.check_mode:
                for name in wal:
                    os.unlink(os.path.join(self.repo.wal_dir, name))
        return {"backups": plan["delete"], "wal": wal, "kept": plan["reasons"]}

    def _backup(self, client, server: Server) -> dict:
        kind = self.p["kind"]
        parent = self._parent(server) if kind == "incremental" else None
        unchanged = self._unchanged_since(server, kind)
        if unchanged is not None and not self.p["force"]:
            return {"skipped": True, "backup": unchanged,
                    "msg": f"nothing changed since backup {unchanged['id']} ({kind}); skipped"}
        backup_id = new_backup_id(kind, utc_now())
        self.actions.append(f"take a {kind} backup {backup_id} of {server.name} into {self.repo.root}/{kind}")
        if self.check_mode:
            return {"changed": True, "backup": {"id": backup_id, "kind": kind}}
        if kind in PHYSICAL_KINDS:
            allow_replication(server, self.actions)
            label = self._physical(client, server, kind, backup_id, parent)
        else:
            label = self._logical(client, server, backup_id)
        return {"changed": True, "backup": label}

    # -- change detection and chains ---------------------------------------------------------
    def _parent(self, server: Server) -> dict:
        if server.layout.major < INCREMENTAL_MIN_MAJOR:
            raise PgdockError(
                f"kind=incremental needs PostgreSQL {INCREMENTAL_MIN_MAJOR} or later (native incremental "
                f"backup); {server.name!r} runs PostgreSQL {server.layout.major}: use kind=full")
        sysid = self._system_identifier(server)
        for label in reversed(self.repo.catalogue()):
            if label["kind"] in PHYSICAL_KINDS and label.get("system_identifier") == sysid:
                return label
        raise PgdockError(f"kind=incremental needs an earlier full backup of {server.name!r} in "
                          f"{self.repo.root}; take kind=full first")

    @staticmethod
    def _system_identifier(server: Server) -> str:
        return server.value("SELECT system_identifier FROM pg_control_system()")

    def _unchanged_since(self, server: Server, kind: str) -> dict | None:
        """The last backup of this kind when the server wrote no data-changing WAL since."""
        kinds = PHYSICAL_KINDS if kind == "incremental" else (kind,)
        sysid = self._system_identifier(server)
        last = next((lab for lab in reversed(self.repo.catalogue()) if lab["kind"] in kinds
                     and lab.get("system_identifier") == sysid), None)
        if last is None or not last.get("stop_lsn"):
            return None
        since = last["start_lsn"] if kind == "logical" else last["stop_lsn"]
        if wal_changes_since(server, since):
            return None
        return last

    # -- physical --------------------------------------------------------------------------------
    def _physical(self, client, server: Server, kind: str, backup_id: str, parent: dict | None) -> dict:
        flags = ["-D", ".", "-Ft", "-Xstream", "--checkpoint=fast", "--no-password",
                 "-l", f"pgdock {backup_id}", "--compress=server-gzip"]
        if parent is not None:
            flags.append(f"--incremental={REPO_MOUNT}/{parent['kind']}/{parent['id']}/backup_manifest")
        if kind == "incremental":
            self._ensure_summaries(server)
        script = (PGPASS_SCRIPT + f'cd {REPO_MOUNT}/{kind}/{backup_id}; pg_basebackup "$@"; '
                  'gzip -1 pg_wal.tar; chmod 0640 *')
        extra = {"parent": parent["id"] if parent else None}
        return self._take(client, server, kind, backup_id, script, flags, extra, self._physical_facts)

    def _ensure_summaries(self, server: Server) -> None:
        if server.value("SHOW summarize_wal") != "on":
            self.actions.append(f"set summarize_wal = on on {server.name} (ALTER SYSTEM, reload)")
            server.sql("ALTER SYSTEM SET summarize_wal = on")
            server.sql("SELECT pg_reload_conf()")
            raise PgdockError(
                f"summarize_wal was off on {server.name!r}; it is now on, but an incremental backup needs "
                "WAL summaries from its parent on: take kind=full now, then incrementals on top of it")

    def _physical_facts(self, directory: str) -> dict:
        with open(os.path.join(directory, "backup_manifest"), encoding="utf-8") as handle:
            return manifest_wal_range(handle.read())

    # -- logical ---------------------------------------------------------------------------------
    def _logical(self, client, server: Server, backup_id: str) -> dict:
        available = [r[0] for r in server.sql(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1")]
        wanted = self.p.get("databases") or available
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise PgdockError(f"databases: {', '.join(missing)} not found on {server.name!r} "
                              f"(it has: {', '.join(available)})")
        files = {db: f"{i:03d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', db)}.dump" for i, db in enumerate(wanted)}
        args = [a for db in wanted for a in (db, files[db])]
        script = (PGPASS_SCRIPT + f'cd {REPO_MOUNT}/logical/{backup_id}; '
                  'pg_dumpall --no-password --globals-only -f globals.sql; '
                  'while [ $# -gt 0 ]; do pg_dump --no-password -Fc -d "$1" -f "$2"; shift 2; done; '
                  'chmod 0640 *')
        start_lsn = server.value("SELECT pg_current_wal_insert_lsn()")

        def facts(_directory):
            return {"start_lsn": start_lsn, "stop_lsn": server.value("SELECT pg_current_wal_insert_lsn()"),
                    "timeline": int(server.value("SELECT timeline_id FROM pg_control_checkpoint()"))}
        return self._take(client, server, "logical", backup_id, script, args,
                          {"databases": wanted, "files": files}, facts)

    # -- common ----------------------------------------------------------------------------------
    def _take(self, client, server: Server, kind: str, backup_id: str, script: str, args: list,
              extra: dict, facts) -> dict:
        """Run the helper into a fresh backup directory, then sums and label; nothing left on failure."""
        directory = self.repo.backup_dir(kind, backup_id)
        os.makedirs(directory, mode=0o750)
        start = utc_now()
        try:
            run_helper(client, server.image_id, script, server.helper_mounts(self.repo.root),
                       f"{kind} backup {backup_id} of {server.name}", network=server.network,
                       env=server.helper_env(), args=args)
            label = dict(
                kind=kind, id=backup_id, start_time=iso(start), stop_time=iso(utc_now()),
                server=server.name, image=server.image_name, superuser=server.superuser,
                server_version=server.value("SHOW server_version"), major=server.layout.major,
                system_identifier=self._system_identifier(server), parent=None, databases=None,
                compression="gzip",
            )
            label.update(extra)
            label.update(facts(directory))
            sizes = write_sums(directory)
            label["bytes"] = sum(sizes.values())
            label["file_count"] = len(sizes)
            write_label(directory, label)
        except (PgdockError, OSError) as exc:
            shutil.rmtree(directory, ignore_errors=True)
            details = getattr(exc, "details", {})
            reason = str(exc) if isinstance(exc, PgdockError) else f"{exc.strerror} ({exc.filename})"
            raise PgdockError(f"{reason}; backup {backup_id} was removed and is not catalogued",
                              logs=details.get("logs") or log_tail(server.container)) from None
        return label


def wal_changes_since(server: Server, lsn: str) -> bool:
    """Whether the server wrote WAL that changes data after `lsn` (see QUIET_RECORDS for what does
    not count). True when the WAL cannot be read any more."""
    # the flushed end: the page after a segment switch is not on disk yet, pg_waldump would fail on it
    current = server.value("SELECT pg_current_wal_flush_lsn()")
    if lsn_to_int(current) <= lsn_to_int(lsn):
        return False
    code, out = run_in(server.container, ["pg_waldump", "-p", os.path.join(server.layout.pgdata, "pg_wal"),
                                          "-s", lsn, "-e", current, "--stats=record"])
    return code != 0 or stats_show_changes(out)


def stats_show_changes(stats: str) -> bool:
    """Whether `pg_waldump --stats=record` output counts a record that changes data."""
    for line in stats.splitlines():
        words = line.split()
        if words and "/" in words[0] and len(words) > 2 and words[1].isdigit() and int(words[1]) > 0:
            if not words[0].startswith(QUIET_RECORDS):
                return True
    return False


def allow_replication(server: Server, actions: list, check_mode: bool = False) -> None:
    """Make sure pg_hba.conf lets the helper (same network) open a replication connection: a rule
    put first (before any reject rule), hostssl when the server has TLS on; checked before reload."""
    hba_file = server.value("SHOW hba_file")
    text = read_file(server.container, hba_file) or ""
    rules, _others = parse_hba(text)
    if all(allows_replication(rules, server.superuser, subnet) for subnet in container_subnets(server.container)):
        return
    kind = "hostssl" if server.value("SHOW ssl") == "on" else "host"
    line = f"{kind} replication {name_token(server.superuser)} samenet scram-sha-256 {HBA_MARKER}"
    actions.append(f"allow replication connections of {server.superuser} from the server's "
                   f"networks in {hba_file} (first rule) and reload")
    if check_mode:
        return
    write_file(server.container, hba_file, line + "\n" + text, 999, 999, 0o600)
    errors = server.sql("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")
    if int(errors[0][0]) > 0:
        write_file(server.container, hba_file, text, 999, 999, 0o600)
        raise PgdockError(f"the server rejects {hba_file} with the replication rule; the previous file was restored")
    server.sql("SELECT pg_reload_conf()")


class WalArchiver:
    """Continuous WAL archiving into the repository's wal/: a pg_receivewal sidecar container of
    the server's image on its network, streaming through a replication slot (nothing is lost while
    it is down), restarted by Docker."""

    def __init__(self, client, server: Server, repo: Repository, actions: list, check_mode: bool):
        self.client, self.server, self.repo = client, server, repo
        self.actions, self.check_mode = actions, check_mode
        self.name = server.name + ARCHIVER_SUFFIX

    def ensure(self, wanted: bool) -> dict:
        existing = get_or_none(self.client.containers, self.name, "container")
        if not wanted:
            removed = existing is not None
            if existing is not None:
                self._act(f"remove WAL archiver container {self.name}", existing.remove, force=True, v=True)
            if self.server.sql(f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{ARCHIVE_SLOT}'"):
                removed = True
                self._act(f"drop replication slot {ARCHIVE_SLOT}", self.server.sql,
                          f"SELECT pg_drop_replication_slot('{ARCHIVE_SLOT}')")
            return {"enabled": False, "container": None, "removed": removed}
        if existing is not None and (existing.attrs.get("Image") != self.server.image_id
                                     or existing.status != "running"):
            self._act(f"remove outdated or stopped WAL archiver container {self.name}", existing.remove,
                      force=True, v=True)
            existing = None
        if existing is None:
            allow_replication(self.server, self.actions, self.check_mode)
            self._act(f"create replication slot {ARCHIVE_SLOT}", self.server.sql,
                      f"SELECT pg_create_physical_replication_slot('{ARCHIVE_SLOT}') WHERE NOT EXISTS "
                      f"(SELECT 1 FROM pg_replication_slots WHERE slot_name = '{ARCHIVE_SLOT}')")
            self._act(f"start WAL archiver container {self.name} (pg_receivewal into {self.repo.wal_dir})",
                      self._create)
        arrived = None if self.check_mode else check_arrival(self.server, self.repo.wal_dir, self._failure_details)
        return {"enabled": True, "container": self.name, "checked_segment": arrived}

    def _act(self, description: str, action, *args, **kwargs):
        self.actions.append(description)
        if not self.check_mode:
            with docker_action(description):
                action(*args, **kwargs)

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
    segment = server.value("SELECT pg_walfile_name(pg_logical_emit_message(false, 'pgdock', 'archive check'))")
    server.sql("SELECT pg_switch_wal()")
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
