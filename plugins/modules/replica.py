#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: replica
short_description: A streaming replica of a PostgreSQL primary in Docker, and the rejoin of a former primary
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - With O(state=present), makes sure the container O(name) is a hot standby that streams from
    O(primary) (or from the standby O(cascade_from)). On the primary it ensures the replication role
    (SCRAM verifier computed client-side), the C(pg_hba.conf) rule for replication from the
    upstream's networks and a physical replication slot named after the replica. A new replica's
    data comes from C(pg_basebackup -X stream) run in a one-shot container of the same image on the
    primary's network (no host networking). The standby container is made by the container engine
    with the primary's image and settings, then the module waits until the upstream reports it
    streaming within O(max_lag_bytes).
  - An existing replica that streams from the right upstream is left as it is. A stopped or killed
    one is started again, without a rebuild. A replica that follows another upstream, or does not
    stream, is reported and rebuilt only with O(rebuild=true); data is never wiped silently.
  - With O(state=absent), stops and removes the replica (its volume too with O(remove_volume=true)),
    drops its slot and removes it from C(synchronous_standby_names).
  - With O(state=rejoined), turns the former primary O(name) into a standby of O(primary). It is
    stopped cleanly, C(pg_rewind) brings its data onto the new primary's timeline (data checksums,
    which the container module's default initdb arguments turn on, make that possible), and it is
    started as a streaming standby. C(pg_rewind) needs the old primary's WAL back to the last
    checkpoint before the timelines diverged, so keep it with C(wal_keep_size) (or a WAL archive) on
    primaries. When it is gone, the module says so and O(rebuild=true) clones the old primary afresh
    from the new one instead (its writes that never reached the new primary are discarded).
  - With O(upstream), the primary runs on another Docker host (docs/multihost.md). The module logs in
    to it at O(upstream.host) and O(upstream.port) (its port published on an address of its host)
    as its superuser, over TLS verified against O(upstream.ca_file), to ensure the replication role
    and the slot and to wait for the standby to stream; C(pg_basebackup) runs in a helper container
    on this host, on the replica's first network, and C(primary_conninfo) names the same address
    with O(upstream.sslmode) (V(verify-full) by default) and a copy of the CA in the replica's
    secrets directory. The primary's C(pg_hba.conf) must let this host in (C(hostssl) rules for
    replication by O(replication_user) and for the superuser's login, from this host's address);
    the deployment of the primary's host keeps them (the server role does, for the replicas of its
    inventory). O(image), O(replication_password) and O(networks) are required then; the replica's
    settings are O(settings) alone (no container of the primary to copy them from).
    O(cascade_from), O(synchronous) and O(state=rejoined) are not available with O(upstream).
  - The replication password is only ever in files. It is taken from O(replication_password), or
    generated once and kept in the primary's secrets directory (0600). The replica reads it from a
    C(passfile) in its own secrets directory; it never appears in C(primary_conninfo).
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
  name:
    description: Name of the replica container (with O(state=rejoined), the former primary's container).
    type: str
    required: true
  primary:
    description:
      - The current primary's container, made by P(pgdock.postgres.container#module); must publish its port on the Docker host.
      - With O(upstream), the name of the primary on its own Docker host (the replica's label C(org.pgdock.replica-of)).
    type: str
    required: true
  upstream:
    description: A primary on another Docker host, reached at an address and port of that host.
    type: dict
    suboptions:
      host:
        description: The address (or name) of the primary's host where the primary's port is published; its certificate must name it.
        type: str
        required: true
      port:
        description: The port published there.
        type: int
        default: 5432
      ca_file:
        description:
          - The CA certificate (a file on this Docker host) that issued the primary's certificate; required with
            V(verify-ca) and V(verify-full). It is copied into the replica's secrets directory as C(upstream-ca.crt).
        type: path
      sslmode:
        description: How the standby, C(pg_basebackup) and this module check the primary's certificate.
        type: str
        choices: [require, verify-ca, verify-full]
        default: verify-full
      login_user:
        description: The primary's superuser, for this module's own login.
        type: str
        default: postgres
      login_password:
        description: Its password.
        type: str
        required: true
      login_db:
        description: The database of that login.
        type: str
        default: postgres
  state:
    description: V(present), V(absent) or V(rejoined).
    type: str
    choices: [present, absent, rejoined]
    default: present
  image:
    description: Image of the replica. Defaults to the primary's; another major version is refused.
    type: str
  cascade_from:
    description: A running standby (publishing its port) to stream from instead of the primary.
    type: str
  synchronous:
    description: Make the replica synchronous. The primary's C(synchronous_standby_names) becomes C(ANY 1) of its synchronous replicas.
    type: bool
    default: false
  slot:
    description: Stream through a physical replication slot.
    type: bool
    default: true
  slot_name:
    description: Slot name; defaults to the replica's name with characters other than a-z, 0-9 and _ replaced by _.
    type: str
  replication_user:
    description: Role used for replication.
    type: str
    default: replicator
  replication_password:
    description: Its password; generated and kept in the primary's secrets directory when not given.
    type: str
  max_lag_bytes:
    description: Wait until the replica's replay lag is at most this many bytes.
    type: int
    default: 16777216
  rebuild:
    description:
      - Rebuild a replica that follows another upstream or does not stream (its volume is replaced).
      - With O(state=rejoined), clone the former primary afresh instead of rewinding it.
    type: bool
    default: false
  remove_volume:
    description: With O(state=absent), also remove the replica's data volume.
    type: bool
    default: false
  data_volume:
    description: Data volume of the replica; defaults to C(<name>-data).
    type: str
  networks:
    description: Networks of the replica ([{name, aliases}]); defaults to the primary's networks.
    type: list
    elements: dict
    suboptions:
      name:
        description: Network name.
        type: str
        required: true
      aliases:
        description: Aliases of the replica on it.
        type: list
        elements: str
        default: []
  published_port:
    description: Host port (on O(published_host_ip)) publishing the replica's 5432.
    type: int
  published_host_ip:
    description:
      - The address of the Docker host the port is published on. When not given, the primary's (a rejoined
        former primary keeps its own; with O(upstream), V(127.0.0.1)).
    type: str
  settings:
    description:
      - Server settings on top of the primary's (the replica's command line carries the primary's settings, so
        a change of the primary's settings reaches the replica on its next run).
    type: dict
    default: {}
  allow_restart:
    description:
      - Whether a change that needs a new replica container (settings, image...) may restart a running replica,
        as O(pgdock.postgres.container#module:allow_restart). V(false) reports it in RV(pending_changes) and
        changes nothing that restarts the replica.
    type: bool
    default: true
  secrets_dir:
    description: Host directory for the replica's password files; defaults to C(/var/lib/pgdock/<name>/secrets).
    type: path
  stop_timeout:
    description: Seconds for a clean shutdown.
    type: int
    default: 120
  wait_timeout:
    description: Seconds to wait for readiness and for streaming.
    type: int
    default: 300
  base_backup_timeout:
    description:
      - Seconds the pg_basebackup (or pg_rewind) helper container may run before it is stopped; the incomplete
        volume of a stopped pg_basebackup is removed and the task fails saying so.
      - The default, a day, covers several terabytes over a fast network; give more for larger clusters or
        slower links.
    type: int
    default: 86400
  progress_file:
    description:
      - File on the Docker host that gets a timestamped line when each phase starts and ends (base backup,
        container, catch-up), and one at each percent of the base backup while it copies, with the bytes copied
        and in all - C(tail -f) it to watch a long copy. The same phases, with seconds and bytes, are in RV(phases).
      - Defaults to C(/var/lib/pgdock/<name>/progress.log).
    type: path
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.info
"""

EXAMPLES = r"""
- name: A replica on this host of pg-primary, which runs on the host at 10.0.0.11
  pgdock.postgres.replica:
    name: pg-replica
    primary: pg-primary
    image: postgres:18
    networks: [{name: pgdock-db}]
    upstream:
      host: 10.0.0.11
      port: 5432
      ca_file: /var/lib/pgdock/pg-primary/trusted-ca.crt
      login_password: "{{ vault_superuser_password }}"
    replication_password: "{{ vault_replication_password }}"
    published_port: 5432
    published_host_ip: 10.0.0.12

- name: Two replicas of pg-primary, one synchronous
  pgdock.postgres.replica:
    name: "{{ item.name }}"
    primary: pg-primary
    synchronous: "{{ item.sync }}"
  loop:
    - {name: pg-replica1, sync: true}
    - {name: pg-replica2, sync: false}

- name: After a switchover, the old primary follows the new one
  pgdock.postgres.replica:
    name: pg-primary
    primary: pg-replica1
    state: rejoined
"""

RETURN = r"""
pending_restart:
  description: A change of the replica's container waits, because O(allow_restart=false).
  returned: when a change is pending
  type: bool
pending_changes:
  description: The container fields whose change waits for a new container.
  returned: when a change is pending
  type: list
  elements: str
  sample: [command]
replica:
  description: The replica as the upstream sees it.
  returned: when O(state) is not V(absent)
  type: dict
  contains:
    name:
      description: Replica container.
      type: str
    upstream:
      description: Container it streams from.
      type: str
    slot:
      description: Its replication slot, if any.
      type: str
    state:
      description: C(pg_stat_replication.state), V(streaming) once caught up.
      type: str
    sync_state:
      description: V(async), V(sync), V(potential) or V(quorum).
      type: str
    lag_bytes:
      description: Replay lag in bytes.
      type: int
    lag_seconds:
      description: Replay lag in seconds.
      type: float
    timeline:
      description: Timeline of the primary.
      type: int
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
phases:
  description: The phases of this run with C(seconds), and C(bytes) for the base backup (what pg_basebackup copied).
  returned: when the replica was built, started or waited for
  type: list
  elements: dict
  sample: [{phase: base backup, seconds: 41.2, bytes: 8589934592}, {phase: container, seconds: 1.1}, {phase: catch-up, seconds: 0.4}]
progress_file:
  description: The progress file written (see O(progress_file)).
  returned: with RV(phases)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.replication.engine import ensure_replica
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_replica)


if __name__ == "__main__":
    main()
