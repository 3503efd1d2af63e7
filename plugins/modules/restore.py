#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore
short_description: Proven restores of pgdock PostgreSQL backups
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Restores a backup taken by P(pgdock.postgres.backup#module) from its repository.
  - A physical backup (a full backup, or a full backup and its incrementals, combined with
    C(pg_combinebackup)) is restored into a B(new) container and data volume. An existing volume is
    only overwritten with O(force=true), and never while a running container uses it.
  - Before anything is written, every file of the chain is checked against its C(SHA256SUMS); a
    corrupt or missing file is refused with a message that names it. Each extracted backup is then
    checked with C(pg_verifybackup) against its manifest.
  - The server is started through the same engine as P(pgdock.postgres.container#module); the module
    waits until recovery ended (consistency reached, promoted) and runs a sanity query.
  - With O(target_time) or O(target_lsn), archived WAL from the repository's C(wal/) is copied into
    the new volume and replayed up to the target (C(recovery_target_action=promote)). Without them,
    O(target) says whether all archived WAL is replayed; a backup named by O(backup) stops at its own
    end unless O(target=latest).
  - A logical backup restores one or more databases into a running server, under a new name when
    O(into_database) is given; O(list_databases) lists the databases inside it.
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
    description: Absolute path of the repository directory on the Docker host.
    type: path
    required: true
  backup:
    description:
      - Id of the backup to restore. The newest of O(kind) by default; with O(target_time), the newest
        that finished before it; with O(target_lsn), the newest whose WAL ends before that position.
      - A physical backup that ends after O(target_time) or O(target_lsn) is refused, since recovery
        cannot stop before the backup is consistent.
    type: str
  kind:
    description: Which backups to pick from when O(backup) is not given.
    type: str
    choices: [physical, logical]
    default: physical
  target:
    description:
      - V(latest) replays all archived WAL after the backup when the repository holds some.
      - V(immediate) stops as soon as the backup is consistent, so the restored server holds the
        backup as it was.
      - "Not given: V(immediate) when O(backup) names a backup (the one asked for, as it was), V(latest)
        otherwise (the newest backup and every archived write after it). In version 0.1.0 a named backup
        replayed all archived WAL too; give O(target=latest) for that."
      - Ignored when O(target_time) or O(target_lsn) is given.
    type: str
    choices: [latest, immediate]
  target_time:
    description:
      - Point in time to recover to (ISO 8601; without a zone, UTC).
      - Needs archived WAL in the repository (the backup module's O(pgdock.postgres.backup#module:archive)).
    type: str
  target_lsn:
    description:
      - WAL position to recover to, written as PostgreSQL writes it (for example V(0/3000148), as
        returned by C(pg_current_wal_lsn()) after a commit). A malformed position is refused.
      - Recovery replays every record before the position and stops after the first record at or past
        it (C(recovery_target_inclusive)), so every transaction committed before it is restored and
        none committed after it.
      - Needs archived WAL in the repository that reaches the position.
    type: str
  name:
    description: Physical restore; name of the new container.
    type: str
  data_volume:
    description: Physical restore; the new data volume. Defaults to C(<name>-data).
    type: str
  force:
    description:
      - Physical restore; replace the content of an existing O(data_volume) that no container uses.
      - Logical restore; drop and recreate databases that already exist.
    type: bool
    default: false
  image:
    description: Physical restore; image of the new container. Defaults to the backed-up server's image.
    type: str
  networks:
    description: Physical restore; networks of the new container (see P(pgdock.postgres.container#module)).
    type: list
    elements: dict
    suboptions:
      name:
        description: Network name.
        type: str
        required: true
      aliases:
        description: DNS aliases of the container on this network.
        type: list
        elements: str
        default: []
  published_port:
    description: Physical restore; host port for the new container's 5432.
    type: int
  published_host_ip:
    description: Physical restore; host address the published port binds to.
    type: str
    default: 127.0.0.1
  superuser_password:
    description:
      - Physical restore; the superuser password of the backed-up server, for the new container's
        password file (the restored cluster keeps its passwords).
      - Read from the backed-up server's password file when that container still exists.
    type: str
  secrets_dir:
    description: Physical restore; host directory of the new container's password file.
    type: path
  container_options:
    description:
      - Physical restore; further options of P(pgdock.postgres.container#module) for the new container (memory, settings, ...).
      - Without C(wal_archive_dir) among them, the restored server starts with C(archive_mode=off), so a copy
        never archives WAL as the backed-up server did; with it, it archives there on its new timeline.
    type: dict
    default: {}
  wait_timeout:
    description: Seconds to wait for the restored server to finish recovery.
    type: int
    default: 300
  progress_file:
    description:
      - File on the Docker host that gets a timestamped line when each phase starts and ends, and, while
        a physical backup is extracted, one at each percent of its archives with the bytes extracted and
        in all - C(tail -f) it to watch a long restore. The same phases, with seconds and bytes, are in
        RV(phases).
      - Defaults to C(/var/lib/pgdock/<name>/progress.log) for a physical restore, to
        C(/var/lib/pgdock/<container>/progress.log) for a logical one.
    type: path
  container:
    description: Logical restore; the running server container to restore into.
    type: str
  databases:
    description: Logical restore; the databases of the backup to restore. All by default.
    type: list
    elements: str
  into_database:
    description: Logical restore; restore the one database of O(databases) under this name.
    type: str
  restore_globals:
    description: Logical restore; run the backup's C(pg_dumpall --globals-only) script first (roles, tablespaces).
    type: bool
    default: false
  list_databases:
    description: Return the databases inside the logical backup; restore nothing.
    type: bool
    default: false
notes:
  - Run the module on the Docker host, as root.
seealso:
  - module: pgdock.postgres.backup
  - module: pgdock.postgres.container
"""

EXAMPLES = r"""
- name: Newest physical backup into a new container
  pgdock.postgres.restore:
    repository: /srv/pgdock-backups/pg-primary
    name: pg-restored
    networks: [{name: pg-backend}]
    published_port: 15433

- name: Point in time
  pgdock.postgres.restore:
    repository: /srv/pgdock-backups/pg-primary
    name: pg-pitr
    networks: [{name: pg-backend}]
    target_time: "2025-01-31T11:58:00+00:00"

- name: Up to a WAL position (for example pg_current_wal_lsn() read just after a release's migration)
  pgdock.postgres.restore:
    repository: /srv/pgdock-backups/pg-primary
    name: pg-before-cleanup
    networks: [{name: pg-backend}]
    target_lsn: 0/5A0001C8

- name: One database of the newest logical backup, under a new name
  pgdock.postgres.restore:
    repository: /srv/pgdock-backups/pg-primary
    kind: logical
    container: pg-primary
    databases: [billing]
    into_database: billing_restored
"""

RETURN = r"""
backup:
  description: Label of the backup restored (or listed).
  returned: always
  type: dict
chain:
  description: Physical restore; ids of the backups combined, full first.
  returned: physical restore
  type: list
  elements: str
restored:
  description: Physical restore; databases, WAL position and timeline of the restored server, and the recovery target.
  returned: physical restore
  type: dict
databases:
  description: Logical restore; the databases restored, or with O(list_databases) the databases in the backup.
  returned: logical
  type: list
  elements: str
actions:
  description: What was done (or would be done in check mode), in order.
  returned: when changed
  type: list
  elements: str
phases:
  description:
    - The phases of the restore with C(seconds) and C(bytes).
    - "Physical: C(checksums) (the chain's files checked, bytes: their size), C(extract) (the archives
      extracted, verified and, for a chain, combined; bytes: the data extracted), C(container) (the server
      created and started) and C(recovery) (until it accepts writes; bytes: the WAL replayed after the
      backup's end)."
    - "Logical: one C(restore <database>) per database (bytes: the size of its dump)."
  returned: when a backup was restored (not in check mode)
  type: list
  elements: dict
  sample: [{phase: checksums, seconds: 0.8, bytes: 52428800}, {phase: extract, seconds: 6.2, bytes: 314572800},
           {phase: container, seconds: 2.1}, {phase: recovery, seconds: 1.4, bytes: 16777216}]
progress_file:
  description: The progress file written (see O(progress_file)).
  returned: with RV(phases)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.restore.engine import restore
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, restore)


if __name__ == "__main__":
    main()
