#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container
short_description: One production-shaped PostgreSQL container
version_added: 0.1.0
author: pgdock.postgres developers (@pgdock)
description:
  - Creates, recreates, starts, stops or removes one PostgreSQL container built from an image of the
    official C(postgres) kind (default V(postgres:18)), with a named data volume that survives
    recreation.
  - The superuser password is written to a host file of mode 0600 owned by the container's postgres
    uid, mounted read-only and passed as E(POSTGRES_PASSWORD_FILE); it is never a container
    environment value.
  - Both data layouts are handled. Up to 17, the volume is mounted at C(/var/lib/postgresql/data)
    (PGDATA). From 18, the volume is mounted at C(/var/lib/postgresql) and PGDATA is
    C(/var/lib/postgresql/<major>/docker).
  - Before a container is created on an existing volume, the volume is inspected. A cluster of
    another major version, or of the other layout, is refused with a message that says what to do,
    instead of starting a server that would crash-loop.
  - Waits until the server accepts connections before returning.
extends_documentation_fragment:
  - pgdock.postgres.attributes
  - pgdock.postgres.attributes.actiongroup
  - pgdock.postgres.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  name:
    description: Container name; also its DNS name on its networks.
    type: str
    required: true
  state:
    description:
      - V(started) creates the container when needed and makes sure it runs and accepts connections.
      - V(stopped) creates it when needed and makes sure it does not run.
      - V(absent) stops and removes it; the data volume is kept unless O(remove_volume=true).
    type: str
    choices: [started, stopped, absent]
    default: started
  image:
    description: PostgreSQL image of the official kind (E(PG_MAJOR) and E(PGDATA) in its environment).
    type: str
    default: postgres:18
  pull:
    description:
      - V(missing) pulls the image only when it is not on the Docker host; V(always) pulls every run;
        V(never) never pulls.
    type: str
    choices: [missing, always, never]
    default: missing
  data_volume:
    description: Named volume that holds the cluster. Defaults to C(<name>-data).
    type: str
  remove_volume:
    description: With O(state=absent), also remove the data volume and the secrets directory. The data is lost.
    type: bool
    default: false
  pgdata:
    description:
      - Overrides the image's PGDATA; the data volume is then mounted at this path itself.
      - Set V(/var/lib/postgresql/data) to run an 18+ image on a volume laid out the pre-18 way.
    type: str
  superuser:
    description: Name of the superuser created at initialisation (E(POSTGRES_USER)).
    type: str
    default: postgres
  superuser_password:
    description:
      - Password of the superuser, used by initdb when the volume holds no cluster yet.
      - Required when the volume is new and no password file exists from an earlier run.
      - Changing it later updates the file only; use P(pgdock.postgres.role#module) to change the
        server's password.
    type: str
  database:
    description: Database created at initialisation (E(POSTGRES_DB)). Defaults to the superuser's name.
    type: str
  initdb_args:
    description: Arguments for initdb (E(POSTGRES_INITDB_ARGS)).
    type: str
    default: --auth-host=scram-sha-256 --data-checksums
  secrets_dir:
    description:
      - Host directory for the password file, mounted read-only at C(/run/secrets/pgdock).
      - Defaults to C(/var/lib/pgdock/<name>/secrets).
    type: path
  postgres_uid:
    description: Uid (and gid) of the postgres user inside the image; owns the secret files. 999 in the official Debian-based image.
    type: int
    default: 999
  networks:
    description:
      - User-defined networks to attach the container to, with its aliases on each. At least one.
      - Networks are attached and detached without recreating the container.
      - Networks the container is on but that are not listed (attached by P(pgdock.postgres.network#module) or
        by hand) are kept, also across a recreation, unless O(purge_networks=true).
      - Required unless O(state=absent).
    type: list
    elements: dict
    suboptions:
      name:
        description: Network name (see P(pgdock.postgres.network#module)).
        type: str
        required: true
      aliases:
        description: DNS aliases of the container on this network.
        type: list
        elements: str
        default: []
      ipv4_address:
        description:
          - Fixed IPv4 address of the container on this network, which must have a configured subnet
            that holds it (see P(pgdock.postgres.network#module)); refused when another container holds it.
          - A changed address re-attaches the container to that network (disconnect, connect with the new
            address) without recreating or restarting it; its connections over that network are cut.
            Removing the option re-attaches it the same way, with an address Docker picks.
        type: str
  purge_networks:
    description:
      - Detach the container from every network not listed in O(networks); the list is then the whole truth
        about the container's networks.
      - V(false) keeps the networks others attached it to, so that a deploy does not undo a
        P(pgdock.postgres.network#module) attachment; P(pgdock.postgres.tls#module) then puts their aliases in the
        certificate and P(pgdock.postgres.hba#module)'s default rules cover their subnets in the same run.
    type: bool
    default: false
  allow_restart:
    description:
      - Whether a change that needs a new container (settings, image, environment, mounts, ports, healthcheck,
        memory, shm size, stop timeout, logging, labels, ulimits, sysctls, memory reservation, cpuset,
        capabilities, user, read-only root) may restart a running server.
      - V(false) changes nothing that restarts it and reports the change in RV(pending_changes) with a
        warning; the task succeeds, as P(pgdock.postgres.config#module) does with a pending restart. A stopped
        container is recreated either way.
    type: bool
    default: true
  published_port:
    description: Host port that publishes the server's port 5432. Not published when not given.
    type: int
  published_host_ip:
    description: Host address the published port binds to.
    type: str
    default: 127.0.0.1
  published_ports:
    description:
      - More published ports, as V([ip:]host_port:container_port[/udp]) (as in community.docker); without
        an address a port binds to all host addresses (V(0.0.0.0)).
      - They come after O(published_port) on O(published_host_ip). The first binding of 5432 (O(published_port)
        when given, else the first entry for 5432 here) is the one the other modules connect to.
      - A change recreates the container.
    type: list
    elements: str
    default: []
  healthcheck:
    description: Docker healthcheck with C(pg_isready); times in seconds.
    type: dict
    default: {}
    suboptions:
      interval:
        description: Seconds between checks.
        type: int
        default: 10
      timeout:
        description: Seconds one check may take.
        type: int
        default: 5
      retries:
        description: Failed checks before the container is unhealthy.
        type: int
        default: 5
      start_period:
        description: Seconds of start-up during which failures do not count.
        type: int
        default: 30
  restart_policy:
    description: Docker restart policy.
    type: str
    choices: ['no', always, unless-stopped, on-failure]
    default: unless-stopped
  stop_timeout:
    description:
      - Seconds Docker waits after SIGINT (fast shutdown) before it kills the server.
      - The Docker default of 10 s can cut a shutdown checkpoint short.
    type: int
    default: 120
  memory:
    description: Memory limit, for example V(2g) or V(512m).
    type: str
  cpus:
    description: CPU limit in cores, for example V(1.5).
    type: float
  shm_size:
    description: Size of C(/dev/shm); PostgreSQL uses it for parallel query.
    type: str
    default: 256m
  log_max_size:
    description: Max size of one json-file log file (O(log_driver=json-file) only; ignored with another driver).
    type: str
    default: 10m
  log_max_file:
    description: Number of json-file log files kept (O(log_driver=json-file) only; ignored with another driver).
    type: int
    default: 5
  log_driver:
    description:
      - Docker log driver of the container (V(json-file), V(local), V(journald), V(syslog), V(none)...,
        or a plugin's C(owner/name)).
      - With a driver other than V(json-file), O(log_max_size) and O(log_max_file) are ignored; the driver
        gets O(log_options) only. The module reads the container's log when a start fails; with V(none)
        that log is empty.
    type: str
    default: json-file
  log_options:
    description: Options of the log driver; with V(json-file) they are merged over O(log_max_size) and O(log_max_file).
    type: dict
  mounts:
    description:
      - Extra mounts besides the data volume and the module's own (secrets, O(init_scripts_dir),
        O(wal_archive_dir), the tmpfs of O(read_only)); a target at or inside one of those is refused.
      - A change recreates the container.
    type: list
    elements: dict
    default: []
    suboptions:
      source:
        description: Host path (V(bind), must exist) or volume name (V(volume), created by Docker when missing). None for V(tmpfs).
        type: str
      target:
        description: Absolute path inside the container.
        type: str
        required: true
      type:
        description: Kind of mount.
        type: str
        choices: [bind, volume, tmpfs]
        default: volume
      read_only:
        description: Mount read-only (V(bind) and V(volume)).
        type: bool
        default: false
      tmpfs_size:
        description: Size of a V(tmpfs) mount, for example V(64m).
        type: str
      tmpfs_mode:
        description: Octal permission mode of a V(tmpfs) mount, for example V(1777).
        type: str
  read_only:
    description:
      - Mount the container's root filesystem read-only. The module adds tmpfs mounts at
        C(/var/run/postgresql) (socket and lock file) and C(/tmp) (the entrypoint's scratch files); the
        cluster lives in the data volume. Extra writable paths go in O(mounts).
      - A change recreates the container.
    type: bool
    default: false
  user:
    description:
      - Numeric V(uid[:gid]) the entrypoint and server run as (instead of root stepping down to postgres).
      - The uid must be O(postgres_uid), which owns the password file and the WAL archive directory. The
        official entrypoint runs as any uid when the data directory belongs to it (and initialises a new
        volume as any uid), but only as root can it give an existing PGDATA to its user. So when the
        container is created or recreated with O(user) on a volume that holds a cluster, the module first
        gives the files in the volume that belong to another uid to O(user) (a throw-away root container
        of the image), and says so in RV(actions). Without O(user) the entrypoint gives them back to the
        image's postgres user.
      - As a non-root user the entrypoint cannot chown or chmod, and needs no capabilities; as root it needs
        CHOWN, DAC_OVERRIDE, FOWNER, SETUID and SETGID (keep them when using O(cap_drop)).
      - A change recreates the container.
    type: str
  ulimits:
    description: Resource limits as V(name:soft[:hard]) (as in community.docker), for example V(nofile:65536:65536). A change recreates the container.
    type: list
    elements: str
    default: []
  sysctls:
    description: Namespaced kernel parameters (V(net.*), V(kernel.shm*), ...), for example C(net.ipv4.tcp_keepalive_time=60). A change recreates the container.
    type: dict
    default: {}
  memory_reservation:
    description: Soft memory limit, for example V(1g); at most O(memory). A change recreates the container.
    type: str
  cpuset_cpus:
    description: CPUs the container may run on, for example V(0-3) or V(0,2). A change recreates the container.
    type: str
  cap_add:
    description: Linux capabilities to add, for example V(SYS_NICE). A change recreates the container.
    type: list
    elements: str
    default: []
  cap_drop:
    description: Linux capabilities to drop, for example V(NET_RAW) or V(ALL) (see O(user)). A change recreates the container.
    type: list
    elements: str
    default: []
  settings:
    description:
      - Server settings passed as C(-c name=value) on the server's command line.
      - Booleans become V(on)/V(off). Docker cannot change a container's command line, so a change recreates
        the container (the server restarts; see O(allow_restart)). Settings that need no restart belong in
        P(pgdock.postgres.config#module) (ALTER SYSTEM, then a reload).
    type: dict
    default: {}
  init_scripts_dir:
    description: Host directory mounted read-only at C(/docker-entrypoint-initdb.d); run once at initialisation.
    type: path
  wal_archive_dir:
    description:
      - Host directory that the server's C(archive_command) copies WAL segments into, bind-mounted
        read-write at C(/pgdock-wal-archive). Give the C(wal/) directory of a
        P(pgdock.postgres.backup#module) repository; that module (O(pgdock.postgres.backup#module:archive=true)) then sets
        C(archive_mode), C(archive_command) and C(archive_timeout).
      - Created when missing; owned by O(postgres_uid) with mode 0700. Only this directory is mounted,
        not the rest of the repository.
      - Replicas made from this server (P(pgdock.postgres.replica#module)) mount the same directory, so
        the server promoted by a switchover archives into it.
      - A change recreates the container.
    type: path
  env:
    description: Extra environment of the container. E(POSTGRES_PASSWORD) is refused; passwords go in files.
    type: dict
    default: {}
  labels:
    description: Extra labels; C(org.pgdock.managed-by) is always set.
    type: dict
    default: {}
  wait:
    description: Wait until the server accepts connections.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the server to accept connections.
      - After a restore (O(restore_from)), also the seconds to wait for the end of its recovery.
    type: int
    default: 180
  restore_from:
    description:
      - Fill a new data volume from a physical backup of a P(pgdock.postgres.backup#module) repository
        before the container's first start, instead of initialising an empty cluster.
      - Only when the container is created and its data volume holds no cluster yet. A volume that
        already holds a cluster is never written over, so later runs restore nothing.
      - Without O(restore_from.backup), the newest full backup (with its incremental chain) of the
        image's major version is restored. When the repository is missing or holds no such backup, an
        empty cluster is initialised as without this option; the module warns and says so in RV(actions).
      - Without O(wal_archive_dir), the restored server starts with C(archive_mode=off); with it, it
        archives there on its new timeline as the backed-up server did.
      - The restore is the one of P(pgdock.postgres.restore#module). Every file of the chain is checked
        against its C(SHA256SUMS) and each extracted backup with C(pg_verifybackup); a chain is
        combined with C(pg_combinebackup); archived WAL in the repository is replayed unless
        O(restore_from.target) says otherwise (a named O(restore_from.backup) stops at its end by
        default). The module waits until recovery ended, resets the recovery settings and runs a
        sanity query. A failed restore leaves no cluster in the volume.
      - The restored cluster keeps the roles and passwords of the backed-up server. O(superuser_password)
        must be that server's superuser password (when it is not given and no password file exists, the
        backed-up server's password file is copied if that container still exists); the module warns when
        the password file does not open the restored cluster. O(superuser) should be the backed-up
        server's superuser; O(database) and O(initdb_args) are not used.
      - Needs O(state=started) and O(wait=true) when a backup is restored.
    type: dict
    suboptions:
      repository:
        description: Absolute path of the backup repository on the Docker host.
        type: path
        required: true
      backup:
        description:
          - Id of the backup to restore (a full or incremental backup of the image's major version).
          - The newest physical backup of the image's major version by default.
        type: str
      target:
        description:
          - V(latest) replays all archived WAL after the backup when the repository holds some.
          - V(immediate) stops as soon as the backup is consistent (the backup as it was).
          - Not given, V(immediate) when O(restore_from.backup) names a backup, V(latest) otherwise,
            as P(pgdock.postgres.restore#module) does.
        type: str
        choices: [latest, immediate]
notes:
  - A change of image, environment, mounts, ports, healthcheck, memory, shm size, stop timeout, logging, labels,
    settings, ulimits, sysctls, memory reservation, cpuset, capabilities, user or read-only root filesystem
    recreates the container (the data volume is kept), which restarts the server; O(allow_restart=false)
    refuses that. O(cpus) and O(restart_policy) are changed in place with C(docker update), and networks are
    attached and detached, without a restart.
  - A container with this name that was not created by this collection is never changed or removed.
seealso:
  - module: pgdock.postgres.network
"""

EXAMPLES = r"""
- name: A PostgreSQL 18 primary on the database network, reachable from the host on 127.0.0.1:5432
  pgdock.postgres.container:
    name: pg-main
    image: postgres:18
    superuser_password: "{{ vault_pg_superuser_password }}"
    networks:
      - name: pg-backend
        aliases: [primary]
    published_port: 5432
    memory: 2g
    settings:
      shared_buffers: 512MB
      log_min_duration_statement: 500

- name: A new server filled from the newest backup of the repository on its first start (empty otherwise)
  pgdock.postgres.container:
    name: pg-main
    image: postgres:18
    superuser_password: "{{ vault_pg_superuser_password }}"
    networks:
      - name: pg-backend
    restore_from:
      repository: /srv/pgdock-backups/pg-main
      target: latest

- name: Stop it, keep everything
  pgdock.postgres.container:
    name: pg-main
    state: stopped
    networks:
      - name: pg-backend

- name: Remove the container, keep the data volume
  pgdock.postgres.container:
    name: pg-main
    state: absent
"""

RETURN = r"""
container:
  description: The container as it is after the run (not returned for O(state=absent)).
  returned: when O(state) is not V(absent) and the container exists or was created
  type: dict
  contains:
    id:
      description: Container id.
      type: str
    status:
      description: Docker status (running, exited...).
      type: str
    started_at:
      description: When the container last started.
      type: str
    health:
      description: Health status from the healthcheck.
      type: str
    networks:
      description: Per network, the container's address and user-set aliases.
      type: dict
    settings:
      description: The server settings on the container's command line now (values as text).
      type: dict
    published_host_ip:
      description: Host address of the published port.
      type: str
    published_port:
      description: Host port publishing 5432.
      type: int
    data_volume:
      description: Name of the data volume.
      type: str
    pgdata:
      description: PGDATA inside the container.
      type: str
    major:
      description: PostgreSQL major version of the image.
      type: int
    password_file:
      description: Host path of the superuser password file.
      type: str
    server_version:
      description: Version of the server binary, for example V(18.1).
      type: str
  sample:
    id: 4b1c...
    status: running
    health: starting
    networks: {pg-backend: {ip_address: 172.20.0.2, aliases: [primary]}}
    published_host_ip: 127.0.0.1
    published_port: 5432
    data_volume: pg-main-data
    pgdata: /var/lib/postgresql/18/docker
    major: 18
    server_version: "18.1"
restart_changes:
  description:
    - The fields whose change needs a new container, which restarts the server (in check mode, would need);
      empty when the run restarts nothing. Applied unless RV(pending_restart).
  returned: when O(state) is not V(absent)
  type: list
  elements: str
  sample: [command]
pending_restart:
  description: A change was not applied because it needs a new container and O(allow_restart=false).
  returned: when a change is pending
  type: bool
  sample: true
pending_changes:
  description: The fields whose change waits for a new container (O(allow_restart=false)).
  returned: when a change is pending
  type: list
  elements: str
  sample: [command]
restored_from:
  description: Id of the backup restored into the new data volume (O(restore_from)); in check mode, the one that would be.
  returned: when a backup was restored (or would be in check mode)
  type: str
  sample: 20250131-010000-123I
restored:
  description: The restored server; chain (backup ids, full first), databases, WAL position, timeline.
  returned: when a backup was restored
  type: dict
  sample: {chain: [20250126-010000-042F, 20250131-010000-123I], databases: [app, postgres], lsn: 0/5000148, timeline: 2}
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create container pg-main", "start container pg-main"]
"""

from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgdock.postgres.plugins.module_utils.container.engine import ensure_container
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.restore_from import BackupVolumeFiller
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import ARGUMENT_SPEC, MODULE_KWARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import run_engine


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, **MODULE_KWARGS)
    # restore_from: the restore code fills an empty data volume through the engine's filler seam
    run_engine(module, partial(ensure_container, volume_filler=BackupVolumeFiller))


if __name__ == "__main__":
    main()
