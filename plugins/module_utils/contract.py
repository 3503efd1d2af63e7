# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker-side contract of the collection, in one place: the labels it puts on what it makes,
where it mounts things inside containers, where it keeps files on the Docker host, the uid of the
image's postgres user and the ports. Every engine reads these names from here."""

from __future__ import annotations

import os

# -- labels ------------------------------------------------------------------------------------------
MANAGED_LABEL = "org.pgdock.managed-by"
MANAGED_VALUE = "pgdock.postgres"
# the container a volume belongs to (on data volumes), or the container's own name (on servers)
CONTAINER_LABEL = "org.pgdock.container"
# Where a server sits in a replication topology. The replica and switchover engines set them; they
# change when a switchover swaps primary and standby, so a spec that does not ask for them ignores them
# (re-running the server role after a switchover must not recreate the server to drop them).
ROLE_LABEL = "org.pgdock.role"            # replica | pooler (a primary has none, or keeps replica once promoted)
UPSTREAM_LABEL = "org.pgdock.replica-of"  # the server a standby streams from
SYNC_LABEL = "org.pgdock.synchronous"     # "true" when the standby is synchronous
TOPOLOGY_LABELS = (ROLE_LABEL, UPSTREAM_LABEL, SYNC_LABEL)
POOLER_SPEC_LABEL = "org.pgdock.pooler-spec"       # digest of the pooler container's spec
MONITOR_SPEC_LABEL = "org.pgdock.exporter-spec"    # digest of the exporter container's spec
MONITORED_LABEL = "org.pgdock.exporter-of"         # the server a postgres_exporter container watches
ARCHIVER_LABEL = "org.pgdock.wal-archiver-of"      # the server a pg_receivewal sidecar archives
RESTORED_LABEL = "org.pgdock.restored-from"        # the backup a restored server was made from
MIGRATED_LABEL = "org.pgdock.migrated-from"        # the source a migration target copies (host:port)
HELPER_LABEL = "org.pgdock.helper"                 # what a one-shot helper container does

# -- inside the containers ---------------------------------------------------------------------------
SERVER_PORT = 5432
CONTAINER_PORT = f"{SERVER_PORT}/tcp"
POOLER_PORT = 6432
POOLER_CONTAINER_PORT = f"{POOLER_PORT}/tcp"
SECRETS_MOUNT = "/run/secrets/pgdock"             # the server's secrets directory, read-only
PASSWORD_FILE_NAME = "superuser_password"         # in the secrets directory; POSTGRES_PASSWORD_FILE
REPLICATION_PASSWORD_FILE = "replication_password"  # the cluster's replication password, in the primary's
REPLICATION_PGPASS = "replication.pgpass"         # a standby's passfile for primary_conninfo
SUPERUSER_PGPASS = "superuser.pgpass"             # a standby's passfile for pg_rewind
INITDB_SCRIPTS_MOUNT = "/docker-entrypoint-initdb.d"
WAL_ARCHIVE_MOUNT = "/pgdock-wal-archive"         # where archive_command copies WAL to (wal_archive_dir)
# tmpfs mounts a server with a read-only root filesystem gets: its socket and lock directory, and the
# entrypoint's scratch space (nss_wrapper's passwd file for a uid the image does not know)
READ_ONLY_TMPFS = ("/var/run/postgresql", "/tmp")
REPO_MOUNT = "/pgdock-repo"                       # the backup repository in helper containers
POOLER_CONFIG_MOUNT = "/etc/pgbouncer"            # the pooler's files, read-only
POOLER_ADMIN_PASSWORD_FILE = "admin_password"     # beside the pooler's etc/ on the host, never inside
EXPORTER_PORT = 9187
EXPORTER_CONTAINER_PORT = f"{EXPORTER_PORT}/tcp"
MONITOR_MOUNT = "/run/secrets/pgdock-monitor"     # the exporter's directory (its password file), read-only
MONITOR_PASSWORD_FILE = "password"                # the monitoring role's password, in that directory
EXPORTER_UID = 65534                              # nobody, as in the upstream postgres_exporter image
# the official image's entrypoint reads these; the container module sets them
ENTRYPOINT_ENV = ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD_FILE", "POSTGRES_INITDB_ARGS", "PGDATA")

# -- the image's postgres user ---------------------------------------------------------------------
POSTGRES_UID = 999  # uid and gid of postgres in the official images (the modules' postgres_uid default)

# -- on the Docker host ----------------------------------------------------------------------------
HOST_ROOT = "/var/lib/pgdock"
DEFAULT_CA_DIR = os.path.join(HOST_ROOT, "ca")
DEFAULT_LOCK_DIR = os.path.join(HOST_ROOT, "locks")


def secrets_dir_for(name: str) -> str:
    """A server's default secrets directory on the Docker host."""
    return os.path.join(HOST_ROOT, name, "secrets")


def monitor_dir_for(server_secrets_dir: str | None, server: str) -> str:
    """An exporter's default directory: `monitor` beside the server's secrets directory."""
    parent = os.path.dirname(server_secrets_dir.rstrip("/")) if server_secrets_dir else os.path.join(HOST_ROOT, server)
    return os.path.join(parent, "monitor")


def pooler_dir_for(name: str) -> str:
    """A pooler's default directory (its files under etc/, its admin password beside them)."""
    return os.path.join(HOST_ROOT, name, "pooler")


def migration_file_for(name: str) -> str:
    """Where a migration into the container `name` keeps its state (method, source, phase) on the Docker host."""
    return os.path.join(HOST_ROOT, name, "migration.json")


def progress_file_for(name: str) -> str:
    """Where long work on `name` (a base backup, a restore) reports its progress on the Docker host."""
    return os.path.join(HOST_ROOT, name, "progress.log")
