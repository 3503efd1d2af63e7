# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fill a data volume from a physical backup (or a full + incremental chain) and finish the
recovery of the server started on it. Shared by the restore engine (a restore into a new container)
and the container engine (`restore_from`: a new container whose volume holds no cluster yet).

The steps: every file of the chain checked against its SHA256SUMS (`check_chain`), the recovery
settings for archived WAL or a point in time (`recovery_settings`), the extraction in a helper
container of the server's image with `pg_verifybackup` of each backup and `pg_combinebackup` of a
chain (`fill_volume`), and, once the server runs, the end of recovery, the reset of the recovery
settings and a sanity query (`finish_recovery`)."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.extract import extract_function
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import check_backup
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import CONTAINER_LABEL, REPO_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import log_tail, run_in, run_script
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    docker_action,
    get_or_none,
    managed_labels,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import container_superuser_password
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import (
    int_to_lsn,
    wal_file_position,
    WAL_SEGMENT_SIZE,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.extract_progress import (
    archive_bytes,
    checkpoint_records,
    ExtractWatcher,
)

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

RESTORE_WAL_DIR = "pgdock-restore-wal"
SCRATCH_DIR = ".pgdock-restore-chain"
# Settings of the recovery that are not its target (left out of the reported target).
RECOVERY_MECHANICS = ("restore_command", "recovery_target_action", "recovery_target_timeline")


def chain_ids(chain: list[dict]) -> str:
    """'F1 + I1 + I2': the backups of a chain, full first."""
    return " + ".join(b["id"] for b in chain)


def check_chain(repo, chain: list[dict]) -> None:
    """Every file of every backup of the chain against its SHA256SUMS; PgdockError names bad files."""
    for each in chain:
        check_backup(repo, each)


def check_major(label: dict, layout, image: str, prefix: str = "", hint: str = "") -> None:
    """A physical backup restores only with an image of its own major version."""
    if label.get("major") != layout.major:
        raise PgdockError(f"{prefix}backup {label['id']} is of PostgreSQL {label.get('major')}, image {image!r} "
                          f"is PostgreSQL {layout.major}: give an image of the same major version{hint}")


def backed_up_password(client, label: dict) -> str | None:
    """The backed-up server's superuser password, from its password file when its container still
    exists on this host (a restored cluster keeps the passwords it had)."""
    server = label.get("server")
    source = get_or_none(client.containers, server, "container") if server else None
    return container_superuser_password(source) if source is not None else None


def archived_wal(repo) -> list[str]:
    """Names of the WAL files (segments, .partial) in the repository's archive, sorted."""
    if not os.path.isdir(repo.wal_dir):
        return []
    return sorted(n for n in os.listdir(repo.wal_dir) if len(n.split(".")[0]) == 24)


def default_target(target: str | None, backup: str | None) -> str:
    """The `target` of a restore: as given, else V(immediate) when one backup is named (that backup as
    it was), else V(latest) (the newest backup and all archived WAL after it)."""
    if target:
        return target
    return "immediate" if backup else "latest"


def recovery_settings(repo, layout, label: dict, target: str = "latest", target_time=None,
                      target_lsn: int | None = None, target_text: str | None = None,
                      actions: list | None = None) -> dict | None:
    """Recovery settings for a point in time (`target_time`, an aware datetime, or `target_lsn`),
    or for all archived WAL (`target` latest); None to stop at the backup's consistency (`target`
    immediate, or no archived WAL). `target_text` is the target as the user wrote it, for messages.
    The replay is described in `actions`."""
    settings = {}
    if target_time is not None:
        settings["recovery_target_time"] = target_time.isoformat(sep=" ")
    elif target_lsn is not None:
        settings["recovery_target_lsn"] = int_to_lsn(target_lsn)
    elif target == "immediate" or not archived_wal(repo):
        if actions is not None and target == "immediate" and archived_wal(repo):
            actions.append(f"stop at the end of backup {label['id']}, as it was (target: immediate; the "
                           f"archived WAL in {repo.wal_dir} is not replayed)")
        return None
    if settings:
        check_archive_reaches(repo, settings, target_lsn, target_text)
    wal_dir = posixpath.join(layout.volume_path, RESTORE_WAL_DIR)
    settings.update(restore_command=f"cp {wal_dir}/%f %p", recovery_target_action="promote",
                    recovery_target_timeline="current")
    if actions is not None:
        actions.append(f"replay archived WAL from {repo.wal_dir} after backup {label['id']}"
                       + (f" up to {target_text}" if len(settings) > len(RECOVERY_MECHANICS) else ""))
    return settings


def check_archive_reaches(repo, settings: dict, target_lsn: int | None, target_text: str | None) -> None:
    """A point in time needs archived WAL, and a WAL position must lie within it."""
    option = "target_time" if "recovery_target_time" in settings else "target_lsn"
    segments = [n for n in archived_wal(repo) if wal_file_position(n) is not None]
    if not segments:
        raise PgdockError(f"{option}: repository {repo.root} holds no archived WAL in {repo.wal_dir}; "
                          "recovery to a point in time needs WAL archiving (the backup module's archive: true) "
                          "from the backup on")
    if target_lsn is None:
        return
    last = max(segments, key=wal_file_position)
    end = (wal_file_position(last) + 1) * WAL_SEGMENT_SIZE
    if target_lsn >= end:
        raise PgdockError(f"target_lsn: {target_text} is past the end of the archived WAL (its last "
                          f"segment {last} ends at {int_to_lsn(end)}); recovery would end before the target")


def extract_script(layout, chain_length: int, recovery: dict | None, clear: bool, archiving: bool = False,
                   records: int | None = None) -> str:
    """The helper's shell script: backup directories in "$@", the recovery settings in
    $PGDOCK_RECOVERY. `clear` empties the volume first; without it a PGDATA that is not empty is
    refused (exit 4), so nothing is ever written over. Without `archiving` (the new container mounts
    no WAL archive), archive_mode is turned off: a copy must not archive as the backed-up server.
    With `records`, tar prints a checkpoint line every that many records (see backup.extract)."""
    vol, pgdata = layout.volume_path, layout.pgdata
    scratch, wal = posixpath.join(vol, SCRATCH_DIR), posixpath.join(vol, RESTORE_WAL_DIR)
    # the paths (PGDATA may be an option's value) as shell variables, quoted once; used as "$var"
    script = (f"vol={shlex.quote(vol)}; pgdata={shlex.quote(pgdata)}; scratch={shlex.quote(scratch)}; "
              f"wal={shlex.quote(wal)}; repo={shlex.quote(REPO_MOUNT)}; ") + extract_function(records)
    if clear:
        script += 'find "$vol" -mindepth 1 -delete; '
    else:  # what this script writes is removed again when it fails: no half cluster is left behind
        script += ('if [ -d "$pgdata" ] && [ -n "$(ls -A "$pgdata")" ]; then '
                   'echo "$pgdata is not empty; refusing to restore over it" >&2; exit 4; fi; '
                   "trap 'rm -rf \"$pgdata\" \"$scratch\" \"$wal\"' EXIT; ")
    if chain_length == 1:
        script += 'n=1; extract "$1" "$pgdata"; '
    else:
        script += ('rm -rf "$scratch"; n=0; for b in "$@"; do n=$((n+1)); extract "$b" "$scratch/$n"; '
                   f'set -- "$@" "$scratch/$n"; done; shift {int(chain_length)}; '
                   'pg_combinebackup -o "$scratch/combined" "$@"; '
                   'pg_verifybackup -q -n "$scratch/combined"; mkdir -p "$pgdata"; '
                   'find "$scratch/combined" -mindepth 1 -maxdepth 1 -exec mv -t "$pgdata" {} +; '
                   'rm -rf "$scratch"; ')
    if recovery is not None:
        script += ('mkdir -p "$wal"; cp "$repo"/wal/* "$wal"/ 2>/dev/null || true; '
                   'for f in "$wal"/*.partial; do [ -e "$f" ] || continue; '
                   '[ -e "${f%.partial}" ] || mv "$f" "${f%.partial}"; rm -f "$f"; done; '
                   'printf "%s\\n" "$PGDOCK_RECOVERY" >> "$pgdata/postgresql.auto.conf"; '
                   'touch "$pgdata/recovery.signal"; ')
    if not archiving:
        script += 'echo "archive_mode = \'off\'" >> "$pgdata/postgresql.auto.conf"; '
    script += 'chown -R postgres:postgres "$vol"; chmod 0700 "$pgdata"'
    return script if clear else script + '; trap - EXIT'


def fill_volume(client, repo, image_id: str, layout, volume_name: str, owner: str, chain: list[dict],
                recovery: dict | None, clear: bool = False, archiving: bool = False, progress=None) -> None:
    """Extract the chain into the data volume (created, labelled for container `owner`, when
    missing), with the archived WAL and recovery settings when `recovery` is given; archive_mode off
    unless `archiving` (see extract_script). A volume created here is removed again when the
    extraction fails. With `progress` (docker.progress.Progress), the extraction is its phase
    "extract", with a line at each percent of the chain's archives."""
    records = watch = None
    if progress is not None:
        sizes = [archive_bytes(repo.backup_dir(b["kind"], b["id"])) for b in chain]
        records = checkpoint_records(sum(sizes))
    with progress.phase("extract") if progress is not None else contextlib.nullcontext({}) as entry:
        if progress is not None:
            watch = ExtractWatcher(progress, entry, sizes, records)
        _extract(client, repo, image_id, layout, volume_name, owner, chain, recovery, clear, archiving, records, watch)
        if watch is not None:
            watch.finish()


def _extract(client, repo, image_id: str, layout, volume_name: str, owner: str, chain: list[dict],
             recovery: dict | None, clear: bool, archiving: bool, records: int | None, on_output) -> None:
    """fill_volume's helper run, and the clean-up when it fails."""
    volume = get_or_none(client.volumes, volume_name, "volume")
    created = volume is None
    if created:
        with docker_action(f"creating volume {volume_name}"):
            volume = client.volumes.create(volume_name, labels=managed_labels({CONTAINER_LABEL: owner}))
    env = {"PGDOCK_RECOVERY": "\n".join(f"{k} = '{v}'" for k, v in (recovery or {}).items())}
    dirs = [f"{REPO_MOUNT}/{b['kind']}/{b['id']}" for b in chain]
    mounts = [Mount(REPO_MOUNT, repo.root, type="bind", read_only=True),
              Mount(layout.volume_path, volume_name, type="volume")]
    try:
        run_script(client, image_id, extract_script(layout, len(chain), recovery, clear, archiving, records), mounts,
                   f"extracting backup {chain[-1]['id']}", environment=env, args=dirs, on_output=on_output)
    except PgdockError as exc:
        if created:
            with docker_action(f"removing volume {volume_name}"):
                volume.remove(force=True)
        if created:
            where = f"volume {volume_name} was removed"
        elif clear:
            where = f"volume {volume_name} holds a partial restore"
        else:
            where = f"what was extracted into volume {volume_name} was removed"
        raise PgdockError(f"{exc}; {where} and no container was created", **exc.details) from None


def finish_recovery(container, superuser: str, layout, recovery: dict | None, timeout: int) -> dict:
    """Wait until the server started on a restored volume ended recovery, reset the recovery
    settings and drop the copied WAL; then a sanity query. The restored server's databases, WAL
    position, timeline and the recovery target."""
    session = ContainerSession(container, user=superuser)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if session.value("SELECT pg_is_in_recovery()") == "f":
                break
        except QueryError:
            pass  # not accepting connections yet
        if time.monotonic() > deadline:
            raise PgdockError(f"restored server {container.name!r} did not finish recovery within {timeout} s",
                              logs=log_tail(container))
        time.sleep(0.5)
    try:
        if recovery is not None:
            # separate statements (psql runs each on its own): ALTER SYSTEM cannot run in a transaction block
            names = {f"n{i}": name for i, name in enumerate(recovery)}
            session.run("".join(f'ALTER SYSTEM RESET :"{key}"; ' for key in names) + "SELECT pg_reload_conf()",
                        names, what=f"resetting the recovery settings of restored server {container.name!r} failed")
            run_in(container, ["rm", "-rf", posixpath.join(layout.volume_path, RESTORE_WAL_DIR)])
        databases, lsn, timeline = session.row(
            "SELECT string_agg(datname, ',' ORDER BY datname), pg_current_wal_lsn(), "
            "(SELECT timeline_id FROM pg_control_checkpoint()) FROM pg_database WHERE NOT datistemplate",
            what=f"sanity query on restored server {container.name!r} failed")
    except QueryError as exc:
        raise PgdockError(str(exc), logs=log_tail(container)) from None
    return {"databases": databases.split(","), "lsn": lsn, "timeline": int(timeline),
            "recovery_target": {k: v for k, v in (recovery or {}).items() if k not in RECOVERY_MECHANICS}}
