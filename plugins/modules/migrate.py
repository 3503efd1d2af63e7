#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migrate
short_description: Move an existing PostgreSQL server into a new PostgreSQL container
version_added: 0.2.0
author: pgdock.postgres developers (@pgdock)
description:
  - Copies a PostgreSQL server that this collection did not make (the O(source), reached by libpq
    connection options) into a new container O(name) made by the container engine, then switches
    clients over to it.
  - O(method=dump) copies roles (their password verifiers, never cleartext) with
    C(pg_dumpall --globals-only), then each database with C(pg_dump -Fd -j) and C(pg_restore -j).
    Writes must stop for the whole copy; O(state=cutover) makes the source read-only first, and
    RV(migration.write_downtime_seconds) gives the figure.
  - O(method=physical) makes the target a streaming standby of the source (same major version;
    C(pg_basebackup) into its volume, a slot and, with a superuser login, the replication role on
    the source), and O(state=cutover) promotes it once it has replayed everything the source wrote;
    the source is fenced, its last writers are waited for, a C(CHECKPOINT) marks the end of its WAL
    and the target must have replayed past that record (the source is not shut down, it may be
    another machine's server). The comparison runs before the promotion, while neither side changes.
  - O(method=logical) copies roles and schema, then replicates each database with a publication on
    the source and a subscription on the target (the target may run a newer major version). The
    subscriptions log in as O(replication_user) with a passfile in the target's secrets directory
    (no password in C(pg_subscription)); the target refuses client writes until the cutover. Tables
    that logical replication cannot carry (no primary key and no replica identity, unlogged, large
    objects) are listed by name and refused until O(replica_identity_full) or O(skip_tables) says
    what to do. At cutover the module waits until every subscription has confirmed the source's
    last WAL position, copies the skipped tables, sets every sequence from the source and compares
    both sides as the target was at the switch.
  - O(state=synced) builds the target and brings it up to date without cutting over; run again, it
    reports the lag and changes nothing. O(state=cutover) stops writes on the source
    (C(default_transaction_read_only) for new transactions, the remaining client sessions ended),
    lets the target catch up, makes it the primary and, with O(pooler), repoints that PgBouncer to
    it between PAUSE and RESUME. O(state=aborted) removes what the migration made (the target, and
    on the source its slot, publication and replication role) and lets the source take writes again.
  - With O(method=logical) and O(reverse_replication=true), the cutover also makes the source a
    subscriber of the target (a publication and a logical slot per database on the target, made
    while writes are stopped and before the target takes any, and a subscription per database on
    the source), so that the source receives every write made on the target.
    O(state=reverted) switches back (the target fenced, every reverse subscription caught up, the
    source's sequences set from the target, the source writable, the pooler repointed to it) and
    leaves the target running and read-only. O(state=finalized) declares the migration final and
    drops the reverse replication. The source must be a container made by this collection on this
    Docker host (O(source.container)), which gets the passfile of its login to the target.
  - Before anything changes, the source is checked for what the method needs (version, C(wal_level),
    C(max_wal_senders), a replication rule in its C(pg_hba.conf) for the containers' address, a
    superuser or replication login). Every problem is reported at once with its fix; nothing is
    changed on either side.
  - After the copy the two sides are compared (roles, databases and owners, extensions, per table row
    counts, exact below O(exact_count_max_bytes)); any difference fails the task with the list.
  - Passwords reach the containers only in 0600 passfiles in the target's secrets directory.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
    details: Checks the source and reports the plan (what would be made on the source and the target).
  diff_mode:
    support: none
options:
  name:
    description: Name of the target container (new; the migration never writes into a server that holds data).
    type: str
    required: true
  method:
    description: How the data is copied (see the description).
    type: str
    choices: [physical, logical, dump]
    required: true
  state:
    description:
      - V(synced), V(cutover) or V(aborted).
      - V(reverted) (after a cutover with O(reverse_replication)) switches the clients back to the
        source; V(finalized) ends the reverse replication. Both with O(method=logical) only.
    type: str
    choices: [synced, cutover, aborted, reverted, finalized]
    default: synced
  source:
    description: The server to migrate, as the Docker host and the containers reach it.
    type: dict
    required: true
    suboptions:
      login_host:
        description:
          - Address of the source as the Docker host reaches it.
          - When this is the Docker host itself (C(127.0.0.1)), containers cannot use it; give
            O(source.container_host) or O(source.login_unix_socket).
        type: str
        aliases: [host]
      login_port:
        description: Port of the source.
        type: int
        default: 5432
        aliases: [port]
      login_user:
        description: Role to log in as; a superuser for the methods V(logical) and V(dump), a superuser or a role with REPLICATION for V(physical).
        type: str
        default: postgres
        aliases: [login]
      login_password:
        description: Password of O(source.login_user).
        type: str
      passfile:
        description: A libpq password file on the Docker host holding the password of O(source.login_user).
        type: path
      login_db:
        description: Database to connect to.
        type: str
        default: postgres
        aliases: [db]
      login_unix_socket:
        description:
          - Directory of the source's unix socket on the Docker host. Containers reach the source
            through it (mounted at C(/run/pgdock-source)) unless O(source.container_host) is given.
        type: path
        aliases: [unix_socket]
      ssl_mode:
        description: libpq sslmode towards the source.
        type: str
        default: prefer
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      ca_cert:
        description: CA certificate that signed the source's certificate.
        type: path
        aliases: [ssl_rootcert]
      connect_timeout:
        description: Seconds to wait for a connection.
        type: int
        default: 10
      network:
        description: A Docker network through which containers reach the source; the target and the helpers join it.
        type: str
      container_host:
        description: The source's name or address as containers see it (default O(source.login_host)).
        type: str
      container_port:
        description: The source's port as containers see it (default O(source.login_port)).
        type: int
      container:
        description:
          - The source's container, when it is one made by P(pgdock.postgres.container#module) on this
            Docker host. Needed by O(reverse_replication) - the source's passfile for its login to the
            target goes into this container's secrets directory, and the source reaches the target on
            a Docker network they share unless O(reverse_host) is given.
        type: str
  target:
    description:
      - The target container's options, as P(pgdock.postgres.container#module) takes them (image,
        networks, published_port, settings, data_volume, secrets_dir...), except C(name), C(state),
        C(restore_from), C(remove_volume) and C(superuser_password).
      - It must publish its port on the Docker host (C(published_port)); the module checks and
        verifies the copy through it.
    type: dict
    default: {}
  superuser_password:
    description:
      - Password of the target's superuser for the methods V(dump) and V(logical) (generated and kept
        in its secrets directory when not given). With V(physical) the target is a copy of the
        source; its superuser is the source's, with the source's password.
    type: str
  databases:
    description: Databases to migrate (default every database of the source that takes connections, templates aside).
    type: list
    elements: str
  jobs:
    description: Parallel jobs of C(pg_dump) and C(pg_restore) (method V(dump)).
    type: int
    default: 2
  pooler:
    description: A pooler made by P(pgdock.postgres.pooler#module) that the application uses; at cutover it is paused, repointed to the target and resumed.
    type: str
  replication_user:
    description: The role the target replicates as (made on the source when O(source.login_user) is a superuser).
    type: str
    default: pgdock_migrate
  replication_password:
    description: Its password (default generated once and kept in the target's secrets directory).
    type: str
  slot:
    description: Use a replication slot on the source, so that it keeps the WAL the target still needs.
    type: bool
    default: true
  replica_identity_full:
    description: With V(logical), give tables without a primary key REPLICA IDENTITY FULL on the source so that they replicate.
    type: bool
    default: false
  skip_tables:
    description:
      - With V(logical), tables left out of replication; they are copied whole at cutover, while
        writes are stopped (keep them small).
      - Written C(schema.table), a part in double quotes (C("") for a quote inside) when it holds a
        dot or a double quote, for example C(public.audit_log) or C("my.schema".orders).
    type: list
    elements: str
    default: []
  reverse_replication:
    description:
      - With V(logical), keep the source as a subscriber of the target after cutover, so that going
        back (O(state=reverted)) loses nothing.
      - Needs O(source.container); the target is made with C(wal_level=logical), and gets the role
        O(replication_user) (its password O(replication_password), or generated) with a pg_hba.conf
        rule from its networks.
      - Refused, with nothing changed, when the source is not such a container.
    type: bool
    default: false
  reverse_host:
    description:
      - With O(reverse_replication), the target's address as the source's container reaches it.
      - Default the target's container name, on a Docker network both share.
    type: str
  reverse_port:
    description: With O(reverse_host), the target's port there.
    type: int
    default: 5432
  verify:
    description: The check after the copy, V(counts) (row counts), V(checksum) (a hash of each table's rows too) or V(none).
    type: str
    choices: [counts, checksum, none]
    default: counts
  exact_count_max_bytes:
    description: Tables larger than this are compared by the planner's estimate (flagged as such), not counted.
    type: int
    default: 1073741824
  max_lag_bytes:
    description: With O(state=synced), the lag under which the target counts as in sync.
    type: int
    default: 16777216
  pause_timeout:
    description: Seconds the pooler's PAUSE may take (in-flight transactions finishing).
    type: int
    default: 30
  catchup_timeout:
    description: Seconds the target may take at cutover to apply what the source wrote last.
    type: int
    default: 60
  copy_timeout:
    description: Seconds a copy helper (pg_basebackup, pg_dump, pg_restore) may run.
    type: int
    default: 86400
  wait_timeout:
    description: Seconds to wait for the target to start and to catch up with O(state=synced).
    type: int
    default: 300
  progress_file:
    description:
      - File on the Docker host that gets a timestamped line when each phase starts and ends, and one
        per percent step of a copy - C(tail -f) it to watch a long migration. The same phases, with
        seconds and bytes, are in RV(phases).
      - Defaults to C(/var/lib/pgdock/<name>/progress.log).
    type: path
notes:
  - The migration's state (method, source, phase) is kept in C(/var/lib/pgdock/<name>/migration.json).
seealso:
  - module: pgdock.postgres.container
  - module: pgdock.postgres.pooler
  - module: pgdock.postgres.switchover
"""

EXAMPLES = r"""
- name: Copy a server with pg_dump/pg_restore into PostgreSQL 18 (writes stop during the copy)
  pgdock.postgres.migrate:
    name: orders-db
    method: dump
    state: cutover
    source:
      login_host: db1.example.com
      login_user: postgres
      login_password: "{{ vault_source_password }}"
    superuser_password: "{{ vault_target_password }}"
    target:
      image: postgres:18
      networks: [{name: app}]
      published_port: 15432

- name: Make the target a streaming standby of the source, in sync
  pgdock.postgres.migrate:
    name: orders-db
    method: physical
    source: {login_host: db1.example.com, login_password: "{{ vault_source_password }}"}
    target: {image: postgres:16, networks: [{name: app}], published_port: 15432}

- name: Replicate into PostgreSQL 18 with logical replication; a table without a key replicates with REPLICA IDENTITY FULL
  pgdock.postgres.migrate:
    name: orders-db
    method: logical
    source: {login_host: db1.example.com, login_password: "{{ vault_source_password }}"}
    superuser_password: "{{ vault_target_password }}"
    replica_identity_full: true
    skip_tables: [public.session_cache]
    target: {image: postgres:18, networks: [{name: app}], published_port: 15432}

- name: Cut over behind the application's pooler
  pgdock.postgres.migrate:
    name: orders-db
    method: physical
    state: cutover
    pooler: app-pooler
    source: {login_host: db1.example.com, login_password: "{{ vault_source_password }}"}
    target: {image: postgres:16, networks: [{name: app}], published_port: 15432}

- name: Upgrade a pgdock PostgreSQL 15 container to 18, keeping the old server up to date after the cutover
  pgdock.postgres.migrate:
    name: orders-db-18
    method: logical
    state: cutover
    reverse_replication: true
    pooler: app-pooler
    source:
      login_host: 127.0.0.1
      login_port: 5432
      login_password: "{{ vault_superuser_password }}"
      container: orders-db
      container_host: orders-db
      network: app
    superuser_password: "{{ vault_superuser_password }}"
    target: {image: postgres:18, networks: [{name: app}], published_port: 15433}

- name: Go back to the old server (nothing written on the new one is lost)
  pgdock.postgres.migrate:
    name: orders-db-18
    method: logical
    state: reverted
    reverse_replication: true
    pooler: app-pooler
    source: {login_host: 127.0.0.1, login_password: "{{ vault_superuser_password }}", container: orders-db,
             container_host: orders-db, network: app}
    target: {image: postgres:18, networks: [{name: app}], published_port: 15433}
"""

RETURN = r"""
migration:
  description: What the run did and found.
  returned: always
  type: dict
  contains:
    method:
      description: The method.
      type: str
    state:
      description: V(planned) (check mode), V(synced), V(cut_over), V(aborted), V(reverted) or V(finalized).
      type: str
    source:
      description: The source, as host (or socket directory) and port.
      type: str
    target:
      description: The target container.
      type: str
    write_downtime_seconds:
      description:
        - At cutover, the seconds during which the source took no writes and the target did not yet.
        - With O(state=reverted), the same for the way back (the target fenced until the source took writes).
      type: float
      returned: at cutover and revert
    connection:
      description: Where clients connect now (container, host and port on the Docker host), after cutover or revert.
      type: dict
      returned: at cutover and revert
    reverse_replication:
      description:
        - With V(logical) after a cutover with O(reverse_replication), the reverse subscription's name,
          its slots on the target per database, whether the source subscribes, and the target's host
          and port as the source reaches it; V(null) without reverse replication or once it is dropped.
      type: dict
      returned: with method logical, at cutover
    lag_bytes:
      description:
        - With V(physical) and O(state=synced), how far the target's replay is behind the source's WAL.
        - With V(logical) and O(state=synced), the largest lag of a subscription behind the source, in bytes of WAL.
      type: int
      returned: methods physical and logical, state synced
    final_checkpoint:
      description: With V(physical), the source's last checkpoint the target replayed before its promotion.
      type: str
      returned: method physical, at cutover
    timings:
      description:
        - At cutover, the seconds of each step (pause, fence, catch_up, repoint, resume).
        - With V(logical), C(catch_up_steps) has the seconds of each step of the catch-up.
      type: dict
      returned: at cutover
    verification:
      description: The comparison of both sides (databases, roles, tables, rows counted exactly, tables estimated).
      type: dict
      returned: after a copy or cutover
    databases:
      description:
        - With V(logical) and O(state=synced), per database its tables, tables copied, their bytes on the
          target, its lag and the errors of its subscription's workers.
      type: dict
      returned: with method logical, state synced
    sequences_set:
      description:
        - With V(logical), the sequences set on the target from the source at cutover.
        - With O(state=reverted), those set on the source from the target.
      type: int
      returned: with method logical, at cutover and revert
    materialized_views_refreshed:
      description: With V(logical), the materialized views refreshed on the target after the switch (the schema copy leaves them empty).
      type: int
      returned: with method logical, at cutover
  sample: {method: dump, state: cut_over, source: "db1.example.com:5432", target: orders-db, write_downtime_seconds: 42.1}
phases:
  description: The phases of this run with C(seconds), and C(bytes) where data was copied.
  returned: when the run did work
  type: list
  elements: dict
  sample: [{phase: globals, seconds: 0.4}, {phase: dump, seconds: 31.2, bytes: 1073741824}, {phase: restore, seconds: 40.1}]
progress_file:
  description: The progress file written (see O(progress_file)).
  returned: with RV(phases)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.engine import ensure_migration
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    run_engine(module, ensure_migration)


if __name__ == "__main__":
    main()
