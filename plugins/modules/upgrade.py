#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: upgrade
short_description: Upgrade a PostgreSQL server container to a new major version in place
version_added: 0.3.0
author: pgdock.postgres developers (@pgdock)
description:
  - Upgrades the cluster of the server container O(name) to the major version of O(image) with
    C(pg_upgrade), in its own data volume, and recreates the container on O(image).
  - The new cluster is made with C(initdb) while the old server still runs, matching the old one
    where C(pg_upgrade) needs it (data checksums, WAL segment size, the bootstrap superuser) and in
    encoding and locale, at the new image's PGDATA inside the same volume. With the volume layout of
    PostgreSQL 18 and later (the volume at C(/var/lib/postgresql), PGDATA at
    C(/var/lib/postgresql/<major>/docker)) both clusters are directories of the volume. A volume of
    the older layout is the old PGDATA itself; it is mounted at C(/var/lib/postgresql) and the new
    cluster is made at C(<major>/docker) inside it, so that both share one file system and
    O(transfer_mode=link) works. The volume is in the 18+ layout afterwards.
  - Then the server is stopped cleanly, C(pg_upgrade --check) and C(pg_upgrade) run in a container of
    O(helper_image) (which holds both majors' programs), the old cluster's C(pg_hba.conf),
    C(pg_ident.conf), C(postgresql.conf) settings and C(postgresql.auto.conf) are carried over
    (settings the new major does not have are left out and named in the result), the container is
    recreated on O(image) with the O(server) options, and planner statistics are made.
  - Writes and reads stop from the server's stop until the new server accepts connections;
    RV(upgrade.downtime_seconds) gives the figure.
  - Before anything changes, everything that would block the upgrade is reported together by name
    (an extension of the old cluster that O(image) lacks, a setting in O(server) the new major does
    not have, programs missing from O(helper_image)). C(pg_upgrade --check) runs again once the
    server is stopped; when it or C(pg_upgrade) fails, the old cluster is given back (for
    O(transfer_mode=link), its C(pg_control) renamed back) and its server started again, unchanged.
  - After the new server has started with O(transfer_mode=link) or O(transfer_mode=swap) the old
    cluster's files belong to the new one; the container module then refuses to start an old-major
    image on the volume and says why.
  - Replicas of the server cannot follow a new major version; RV(upgrade.replicas_to_rebuild) names
    them. Rebuild each from the upgraded primary (P(pgdock.postgres.replica#module) with the new
    image and C(rebuild=true)); the upgrade playbook does.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
    details: Runs every check and reports the plan; nothing is changed.
  diff_mode:
    support: none
options:
  name:
    description: Name of the server container (made by P(pgdock.postgres.container#module)).
    type: str
    required: true
  image:
    description: The image of the new major version (for example V(postgres:18)).
    type: str
    required: true
  server:
    description:
      - The server's container options as P(pgdock.postgres.container#module) takes them (networks,
        published_port, settings, data_volume, secrets_dir, stop_timeout...), except C(name),
        C(image), C(state), C(restore_from) and C(remove_volume); the same as the server's own tasks
        give it, so that the new container is the one they expect.
      - C(networks) is required.
    type: dict
    default: {}
  state:
    description:
      - V(checked) runs the checks and reports what blocks the upgrade (the task fails, naming each);
        nothing is changed and the server keeps running.
      - V(upgraded) upgrades. Run again once upgraded, it only makes sure that the container runs
        O(image) (a change only when an earlier run stopped between C(pg_upgrade) and the new
        server's start).
    type: str
    choices: [checked, upgraded]
    default: upgraded
  method:
    description: How the cluster is upgraded; V(pg_upgrade) in place.
    type: str
    choices: [pg_upgrade]
    default: pg_upgrade
  helper_image:
    description:
      - An image that holds the programs of both major versions (C(postgres), C(pg_ctl),
        C(pg_controldata) of the old one; C(pg_upgrade), C(initdb) and C(postgres) of the new one) at
        O(old_bindir) and O(new_bindir), for example an image built for C(pg_upgrade) from
        C(postgres:<new major>) with the old major's server packages added.
    type: str
    required: true
  transfer_mode:
    description:
      - How C(pg_upgrade) moves the data files. V(link) (hard links; seconds whatever the size, and the
        old cluster is given to the new one), V(clone) (reflinks, where the file system has them),
        V(copy) and V(copy-file-range) (the old cluster stays as it was; the volume needs room for a
        second copy), V(swap) (PostgreSQL 18 and later; moves the directories, the old cluster is gone).
    type: str
    choices: [link, clone, copy, copy-file-range, swap]
    default: link
  old_bindir:
    description: The old major's programs in O(helper_image); C(/usr/lib/postgresql/<old major>/bin) by default.
    type: path
  new_bindir:
    description: The new major's programs in O(helper_image); C(/usr/lib/postgresql/<new major>/bin) by default.
    type: path
  jobs:
    description: Parallel jobs of C(pg_upgrade) and of C(vacuumdb).
    type: int
    default: 2
  analyze:
    description:
      - Planner statistics after the upgrade, with C(vacuumdb --all --analyze-in-stages) while the server
        already serves.
      - V(missing) makes only those C(pg_upgrade) did not carry over (from PostgreSQL 18 on it carries
        them; for an older target this is the same as V(all)). V(none) leaves it to the operator.
    type: str
    choices: [missing, all, none]
    default: missing
  upgrade_timeout:
    description: Seconds C(pg_upgrade) may take before the helper is stopped and the old cluster given back.
    type: int
    default: 86400
  progress_file:
    description: A file on the Docker host that each phase appends a line to while the module runs.
    type: path
notes:
  - Take a backup first. With O(transfer_mode=link) the way back after the new server has started is a
    restore.
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.replica
"""

EXAMPLES = r"""
- name: What would block the upgrade of orders-db to 18
  pgdock.postgres.upgrade:
    name: orders-db
    image: postgres:18
    helper_image: registry.example.com/postgres-upgrade:17-to-18
    server:
      networks: [{name: backend}]
    state: checked

- name: Upgrade orders-db from 17 to 18 in place
  pgdock.postgres.upgrade:
    name: orders-db
    image: postgres:18
    helper_image: registry.example.com/postgres-upgrade:17-to-18
    server:
      networks: [{name: backend}]
      published_port: 5432
      settings:
        shared_buffers: 2GB
  register: upgraded
"""

RETURN = r"""
upgrade:
  description: What was (or would be) done.
  returned: always
  type: dict
  contains:
    state:
      description: V(checked), or V(upgraded).
      type: str
    from_major:
      description: The old major version.
      type: int
      returned: when the upgrade ran or was checked
    to_major:
      description: The new major version.
      type: int
    transfer_mode:
      description: The transfer mode used.
      type: str
      returned: when the upgrade ran or was checked
    downtime_seconds:
      description: Seconds from the old server's stop until the new one accepted connections.
      type: float
      returned: when the upgrade ran
    dropped_settings:
      description: Settings of the old configuration files that the new major does not have (left out).
      type: list
      elements: str
      returned: when the upgrade ran
    old_cluster:
      description: What became of the old cluster.
      type: str
      returned: when the upgrade ran
    collation_changed:
      description:
        - Databases whose default collation has another version on O(image) (its C library sorts text
          differently from the old image's), each with C(database), C(from) and C(to). Their indexes
          on text columns may be out of order; reindex them, then C(ALTER DATABASE ... REFRESH
          COLLATION VERSION). A warning says so too.
      type: list
      elements: dict
      returned: when the upgrade ran
    size_bytes:
      description: The size of the old cluster's databases.
      type: int
      returned: when the upgrade ran or was checked
    replicas_to_rebuild:
      description: Replica containers of this server, which must be rebuilt on the new major.
      type: list
      elements: str
      returned: when the upgrade ran or was checked
  sample: {state: upgraded, from_major: 17, to_major: 18, transfer_mode: link, downtime_seconds: 6.2}
plan:
  description: The steps the upgrade takes (with O(state=checked) or in check mode).
  returned: when checked
  type: list
  elements: str
phases:
  description: The phases of the upgrade with C(seconds) (C(pg_upgrade) with its C(check), C(transfer) and C(config) parts).
  returned: when the upgrade ran
  type: list
  elements: dict
  sample: [{phase: initdb, seconds: 1.2}, {phase: stop, seconds: 0.4}, {phase: pg_upgrade, seconds: 4.1, check: 1.3, transfer: 2.7}]
container:
  description: The new server container, as P(pgdock.postgres.container#module) describes it.
  returned: when the upgrade ran
  type: dict
progress_file:
  description: The progress file written (see O(progress_file)).
  returned: when the upgrade ran
  type: str
actions:
  description: The changes made, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine
from ansible_collections.pgdock.postgres.plugins.module_utils.upgrade.engine import ensure_upgrade
from ansible_collections.pgdock.postgres.plugins.module_utils.upgrade.options import ARGUMENT_SPEC, MODULE_KWARGS


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_upgrade)


if __name__ == "__main__":
    main()
