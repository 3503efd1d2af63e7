#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup
short_description: Full, incremental and logical backups of a pgdock PostgreSQL container
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Takes a backup of a running container made by P(pgdock.postgres.container#module) into a
    repository directory on the Docker host, or lists the repository's catalogue.
  - The backup runs in a one-shot helper container of the server's own image, on the server's
    network, connecting to the server by its container name. The helper reads the superuser
    password from the server's password file, mounted read-only; the password is never in an
    environment variable or on a command line.
  - The repository holds C(full/), C(incremental/), C(logical/) and C(wal/). Each backup is a
    directory with its files, C(SHA256SUMS) and C(label.json) (kind, id, start and stop LSN and
    time, timeline, server version, parent for incrementals, databases). The label is written last
    and atomically, so an interrupted backup is never catalogued; a failed backup's directory is removed.
  - V(full) runs C(pg_basebackup) in tar format with server-side gzip compression, WAL streamed
    into the backup and its C(backup_manifest).
  - V(incremental) (PostgreSQL 17 and later) runs C(pg_basebackup --incremental) on the newest
    physical backup of the same cluster. C(summarize_wal) must be on; the module turns it on when it
    is off and asks for a full backup first.
  - V(logical) runs C(pg_dump -Fc) for each database and C(pg_dumpall --globals-only).
  - A backup is skipped (not changed) when the server wrote no data-changing WAL since the last
    backup of the same kind (compared by LSN, the WAL in between read with C(pg_waldump)).
  - Physical backups need a replication connection from the server's networks; when no rule of
    C(pg_hba.conf) before a C(reject) allows it, the module puts C(host replication <superuser>
    <subnet> scram-sha-256) first for each of the server's network subnets (C(hostssl) when the
    server has TLS on), lets the server check the file, and reloads it; a file the server rejects is
    put back.
  - O(verify=true) checks the repository without restoring anything (see O(verify)); a problem
    fails the task (O(fail_on_problems)), so a scheduled verification alerts like a failed backup.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  repository:
    description: Absolute path of the repository directory on the Docker host. Created when missing.
    type: path
    required: true
  progress_file:
    description:
      - File on the Docker host that gets a timestamped line when each phase of a backup starts and ends
        (copy, checksums), and, for physical backups, one at each percent of the copy with the bytes copied and
        in all - C(tail -f) it to watch a long backup. The phases, with seconds and bytes, are in RV(phases).
      - Defaults to C(progress.log) in the repository.
    type: path
  list:
    description:
      - Return the catalogue (of O(kind) when given) instead of taking a backup; changes nothing.
      - Each backup carries C(verified), what the last O(verify) found wrong with it (V(null) when it
        found nothing or none ran); with O(verify=true), what this run found.
    type: bool
    default: false
  verify:
    description:
      - Check every catalogued backup and the archived WAL, after whatever else the task does (alone,
        with O(list), or after a backup or O(prune)). Nothing is restored and no server is needed.
      - Every file of every backup against its C(SHA256SUMS) (a missing, changed or unlisted file is
        named).
      - A full or incremental backup whose files match is checked with C(pg_verifybackup) in a helper
        container of its own image (with no network), as root, the repository mounted read-only.
        PostgreSQL 18 reads the tar format (C(pg_verifybackup --format=tar)) and the backup's own WAL
        is read with C(pg_waldump); older versions extract the backup into an anonymous scratch
        volume first (as much free space in Docker's data directory as the backup's size) and check
        the extraction. A backup whose image is not on the Docker host is reported as skipped, with a
        warning.
      - An incremental backup's parent must be in the catalogue.
      - The archived WAL must continue from the end of each full or incremental backup to the newest
        segment of C(wal/), along the newest timeline's history (its C(.history) file). Every segment
        a replay needs must be there, on the timeline that replay reads it from; a missing one is a
        gap, named with the first missing segment.
      - Logical backups are checked by their sums only.
      - The result's C(verified) has, per backup id, C(ok), C(problems) (each with C(file), relative to
        the repository, and C(problem)) and C(checks). What is wrong is also kept in the repository's
        C(PROBLEMS.json) (written only when it changes, removed once nothing is wrong), so that
        O(list=true) shows it; that is the task's only change.
      - A directory without a label (an interrupted backup, or one still running) is listed in
        C(incomplete) and is not a problem.
    type: bool
    default: false
  fail_on_problems:
    description:
      - With O(verify=true), fail the task when a problem is found (the message names each backup id and
        file; the result keys are returned too). V(false) reports them with C(ok=false) and succeeds.
    type: bool
    default: true
  kind:
    description: Kind of backup to take, or to list with O(list=true). O(kind), O(archive) or O(prune) is required unless O(list=true).
    type: str
    choices: [full, incremental, logical]
  container:
    description: The running server container to back up. Required with O(kind) and O(archive).
    type: str
  databases:
    description: With O(kind=logical), the databases to dump. All that accept connections by default.
    type: list
    elements: str
  force:
    description: Take the backup even when nothing changed since the last one of its kind.
    type: bool
    default: false
  archive:
    description:
      - V(true) archives WAL continuously into the repository's C(wal/) and checks that a switched
        WAL segment arrives there (see O(archive_method)).
      - V(false) turns archiving into the repository off (the sidecar and its slot, or the settings
        this module set). Not given, archiving is left as it is.
      - Can be combined with O(kind), or given alone.
    type: bool
  archive_method:
    description:
      - V(command) sets C(archive_mode=on), C(archive_command) and C(archive_timeout) with ALTER SYSTEM;
        the server copies each finished segment into C(/pgdock-wal-archive), where the container must
        mount the repository's C(wal/) (O(pgdock.postgres.container#module:wal_archive_dir)); the copy
        goes under a temporary name, is flushed and renamed, and an identical segment already there is
        accepted. Turning C(archive_mode) on or off takes a restart (O(allow_restart)) unless the
        container already starts with it (its O(pgdock.postgres.container#module:settings)). A standby
        made from the server copies the settings and archives once promoted.
      - V(stream) needs no mount and no restart. A sidecar container C(<container>-wal-archiver) of the
        server's image runs C(pg_receivewal) on the server's network through the replication slot
        C(pgdock_wal_archive), so no WAL is lost while it is down (the server keeps it; watch its disk).
      - Switching method turns the other one off.
    type: str
    choices: [command, stream]
    default: command
  archive_timeout:
    description:
      - With O(archive_method=command), seconds after which the server switches to a new WAL segment
        when there was activity, so that the archive is never further behind.
    type: int
    default: 60
  allow_restart:
    description: Let the module restart the server container (once, a clean shutdown) when C(archive_mode) must change.
    type: bool
    default: false
  prune:
    description:
      - Apply O(retention) after the backup, or alone. The backups it does not keep are deleted
        (label first, so a half-deleted backup is never catalogued), then WAL older than the oldest
        kept physical backup.
    type: bool
    default: false
  retention:
    description:
      - The retention policy. The default keeps every backup for 14 days, full and incremental
        backups for 42 days, full backups after that, and always the 2 newest fulls.
      - A backup that a kept incremental needs (its chain), or the newest physical backup older
        than the point-in-time window (its base), is always kept.
    type: dict
    default: {}
    suboptions:
      keep_all_days:
        description: Keep every backup this many days.
        type: int
        default: 14
      keep_bases_days:
        description: Keep full and incremental backups (bases of point-in-time recovery) this many days.
        type: int
        default: 42
      max_days:
        description: Keep full backups this many days; forever when not given.
        type: int
      min_fulls:
        description: Always keep at least this many newest full backups.
        type: int
        default: 2
      pitr_days:
        description: Days back that point-in-time recovery must reach. Defaults to O(retention.keep_all_days).
        type: int
notes:
  - Run the module on the Docker host, as root; the repository is bind-mounted into helper containers.
seealso:
  - module: pgdock.postgres.restore
  - module: pgdock.postgres.container
"""

EXAMPLES = r"""
- name: Weekly full backup
  pgdock.postgres.backup:
    container: pg-primary
    repository: /srv/pgdock-backups/pg-primary
    kind: full

- name: Daily incremental on top of the newest physical backup (PostgreSQL 17+)
  pgdock.postgres.backup:
    container: pg-primary
    repository: /srv/pgdock-backups/pg-primary
    kind: incremental

- name: Logical dump of two databases
  pgdock.postgres.backup:
    container: pg-primary
    repository: /srv/pgdock-backups/pg-primary
    kind: logical
    databases: [app, billing]

- name: The server, mounting the repository's wal/ and starting with archive_mode on
  pgdock.postgres.container:
    name: pg-primary
    networks: [{name: pgdock-net}]
    wal_archive_dir: /srv/pgdock-backups/pg-primary/wal
    settings:
      archive_mode: true

- name: Continuous WAL archiving (archive_command) for point-in-time recovery
  pgdock.postgres.backup:
    container: pg-primary
    repository: /srv/pgdock-backups/pg-primary
    archive: true

- name: Continuous WAL archiving without a mount or a restart (pg_receivewal sidecar)
  pgdock.postgres.backup:
    container: pg-legacy
    repository: /srv/pgdock-backups/pg-legacy
    archive: true
    archive_method: stream

- name: Apply the default retention (14 days of everything, 42 of fulls and incrementals, fulls after that)
  pgdock.postgres.backup:
    repository: /srv/pgdock-backups/pg-primary
    prune: true

- name: The catalogue
  pgdock.postgres.backup:
    repository: /srv/pgdock-backups/pg-primary
    list: true
  register: backups

- name: Verify every backup and the WAL archive; the task fails when something is wrong
  pgdock.postgres.backup:
    repository: /srv/pgdock-backups/pg-primary
    verify: true

- name: The catalogue, each backup verified, without failing
  pgdock.postgres.backup:
    repository: /srv/pgdock-backups/pg-primary
    list: true
    verify: true
    fail_on_problems: false
  register: checked
"""

RETURN = r"""
backup:
  description: The label of the backup taken (or of the last one, when skipped).
  returned: when a backup was asked for (O(kind))
  type: dict
  sample:
    kind: full
    id: 20250131-120000-123F
    start_lsn: 0/2000028
    stop_lsn: 0/2000120
    timeline: 1
    start_time: "2025-01-31T12:00:00.123456+00:00"
    stop_time: "2025-01-31T12:00:04.001234+00:00"
    server_version: "17.2"
    parent: null
    databases: null
phases:
  description:
    - The phases of the backup taken with C(seconds) and C(bytes) - C(copy) (for physical backups the data
      pg_basebackup read, before compression) and C(checksums) (the files in the repository).
  returned: when a backup is taken
  type: list
  elements: dict
  sample: [{phase: copy, seconds: 63.0, bytes: 10737418240}, {phase: checksums, seconds: 9.5, bytes: 2147483648}]
progress_file:
  description: The progress file written (see O(progress_file)).
  returned: when a backup is taken
  type: str
skipped:
  description: True when nothing changed since the last backup of the same kind.
  returned: when skipped
  type: bool
changes_since_last_backup:
  description:
    - Why a backup was taken although one of the same kind exists, from the server's WAL since it
      ended - the kinds of records that change data, with their counts; with O(force) it may be empty.
  returned: when a backup is taken and an earlier one of the same kind exists
  type: list
  elements: str
  sample: ["Heap/INSERT: 42", "Btree/INSERT_LEAF: 42"]
catalogue:
  description:
    - Labels of the complete backups, oldest first, each with C(verified) (see O(list)).
  returned: with O(list=true)
  type: list
  elements: dict
incomplete:
  description: Backup directories without a label (interrupted, or still running), as C(<kind>/<id>).
  returned: with O(list=true) or O(verify=true)
  type: list
  elements: str
ok:
  description: With O(verify=true), whether every backup passed every check.
  returned: with O(verify=true)
  type: bool
verified:
  description: With O(verify=true), per backup id what was checked and found.
  returned: with O(verify=true)
  type: dict
  sample:
    20250131-120000-123F:
      kind: full
      ok: false
      checks: {sha256: failed, pg_verifybackup: "skipped: the files do not match their sums",
               wal: {checked: true, from: "000000010000000000000004", to: "000000010000000000000009", segments: 6}}
      problems:
        - {file: full/20250131-120000-123F/base.tar.gz, problem: sha256 mismatch (corrupt)}
      checked_at: "2025-02-01T06:00:01.000000+00:00"
    20250201-010000-456I:
      kind: incremental
      ok: false
      checks: {sha256: ok, pg_verifybackup: ok, wal: {checked: true, segments: 3}}
      problems:
        - {file: wal/000000010000000000000007, problem: "WAL gap: 000000010000000000000007 missing from the
           archive; a replay from this backup stops before it"}
      checked_at: "2025-02-01T06:00:01.000000+00:00"
wal:
  description: With O(verify=true), the newest archived segment, the number of segments and their timelines.
  returned: with O(verify=true)
  type: dict
  sample: {newest: "000000020000000000000009", segments: 42, timelines: [1, 2]}
pruned:
  description: With O(prune), the ids of the deleted backups, the deleted WAL files and why each kept backup is kept.
  returned: with O(prune)
  type: dict
archive:
  description:
    - With O(archive), whether archiving is on, its method, the WAL segment whose arrival was checked,
      and the sidecar's name (V(stream)) or the archive_command and archive_timeout set (V(command)).
  returned: when O(archive) is given
  type: dict
  sample: {enabled: true, method: command, container: null, checked_segment: "000000010000000000000003",
           archive_command: "f=/pgdock-wal-archive/%f; ...", archive_timeout: 60}
actions:
  description: What was done (or would be done in check mode), in order.
  returned: unless O(list=true) alone
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.engine import backup
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, backup, needs_docker=module.params["verify"] or not module.params["list"])


if __name__ == "__main__":
    main()
