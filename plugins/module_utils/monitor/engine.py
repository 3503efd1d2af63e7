# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `monitor` module's engine: Prometheus' postgres_exporter in a container beside a pgdock
server, logging in as a LOGIN role that is only a member of pg_monitor, its generated password in a
0600 file on the Docker host mounted read-only (never in the environment or on a command line)."""

from __future__ import annotations

import os
import secrets

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    EXPORTER_CONTAINER_PORT,
    EXPORTER_PORT,
    MONITOR_MOUNT,
    MONITOR_PASSWORD_FILE,
    MONITOR_SPEC_LABEL,
    MONITORED_LABEL,
    ROLE_LABEL,
    monitor_dir_for,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import log_tail
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect as docker_connect,
    docker_action,
    ensure_image,
    get_or_none,
    is_managed,
    managed_labels,
    sidecar_networks,
    spec_digest,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    read_secret,
    remove_secret_dir,
    secret_needs_write,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.server_file import ensure_first_rules, hba_file_and_ssl
from ansible_collections.pgdock.postgres.plugins.module_utils.monitor.exporter import (
    exporter_name,
    exporter_spec,
    monitor_rule,
    resolved_sslmode,
    rule_lets_in,
    validate,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import (
    container_login,
    container_secrets_dir,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.role.engine import ensure_login_role
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog, with_diff

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

EXPORTER_ROLE = "exporter"
# the monitoring role: a LOGIN role with no other attribute, a member of pg_monitor only
ROLE_ATTRIBUTES = dict(login=True, superuser=False, createdb=False, createrole=False, replication=False,
                       bypassrls=False, inherit=True, member_of=["pg_monitor"], member_of_mode="exact")


def ensure_monitor(module) -> dict:
    """Entry point of the `monitor` module."""
    return MonitorRun(module.params, module.check_mode, module._diff, module.warn).run()


class MonitorRun:
    """One run of the monitor module: the role, its pg_hba.conf rule, the exporter container."""

    def __init__(self, params: dict, check_mode: bool, want_diff: bool, warn):
        self.p, self.check_mode, self.want_diff, self.warn = params, check_mode, want_diff, warn
        self.log = ActionLog(check_mode, guard=docker_action)
        self.name = exporter_name(params)
        self.client = None

    def run(self) -> dict:
        validate(self.p)
        self.client = docker_connect(self.p)
        existing = get_or_none(self.client.containers, self.name, "container")
        if existing is not None and (not is_managed(existing.labels) or existing.labels.get(ROLE_LABEL) != EXPORTER_ROLE):
            raise PgdockError(f"name: container {self.name!r} exists and is not an exporter made by this module; "
                              "refusing to touch it")
        server = self._server() if self.p.get("server") else None
        if self.p["state"] == "absent":
            return self._absent(existing, server)
        return self._present(existing, server)

    def _server(self):
        """The running pgdock server container named by `server`."""
        server = get_or_none(self.client.containers, self.p["server"], "container")
        if server is None:
            raise PgdockError(f"server: no container named {self.p['server']!r} on the Docker host")
        if not is_managed(server.labels) or server.labels.get(ROLE_LABEL) in (EXPORTER_ROLE, "pooler"):
            raise PgdockError(f"server: {self.p['server']!r} is not a PostgreSQL server made by "
                              "pgdock.postgres.container; the exporter watches only those")
        if server.status != "running":
            raise PgdockError(f"server: {self.p['server']!r} is not running (status {server.status})")
        return server

    def _directory(self, server) -> str:
        return self.p.get("secrets_dir") or monitor_dir_for(container_secrets_dir(server), server.name)

    # -- present -------------------------------------------------------------------------------------
    def _present(self, existing, server) -> dict:
        directory = self._directory(server)
        password = self._password(directory)
        login = container_login(self.p, server.name, self.p["dbname"])
        with Session(params=login) as session:
            if session.value("SELECT pg_is_in_recovery()"):
                raise PgdockError(f"server: {server.name!r} is a standby (in recovery); the monitoring role is "
                                  "made on the primary: monitor the primary first")
            statements = ensure_login_role(login, dict(ROLE_ATTRIBUTES, name=self.p["role"], password=password),
                                           self.check_mode, self.warn)
            self.log.extend(statements, prefix="monitoring role: ")
            sslmode = self._ensure_hba(session)
        networks = sidecar_networks(self.client, server, self.p.get("networks"), "exporter")
        spec = exporter_spec(self.p, server.name, networks, directory, sslmode)
        digest = spec_digest(spec)
        before = {"spec_digest": existing.labels.get(MONITOR_SPEC_LABEL)} if existing is not None else {}
        self._ensure_container(existing, spec, digest, server.name)
        result = self.log.result(monitor={
            "name": self.name, "server": server.name, "role": self.p["role"],
            "password_file": os.path.join(directory, MONITOR_PASSWORD_FILE),
            "url": f"http://{self.p['published_host_ip']}:{self.p['published_port']}/metrics"})
        return with_diff(result, self.want_diff, before, {"spec_digest": digest})

    def _password(self, directory: str) -> str:
        """The monitoring role's password, kept in `<directory>/password` (0600, owned by uid); made
        once and kept."""
        path = os.path.join(directory, MONITOR_PASSWORD_FILE)
        password = (read_secret(path) or "").strip() or secrets.token_urlsafe(32)
        if secret_needs_write(path, password, self.p["uid"], self.p["uid"]):
            self.log.do(f"write the monitoring role's password to {path} (0600, uid {self.p['uid']})",
                        write_secret, path, password, self.p["uid"], self.p["uid"])
        return password

    def _ensure_hba(self, session) -> str:
        """A scram-sha-256 rule for the role first in pg_hba.conf, where no rule lets it in yet; the
        exporter's sslmode."""
        sslmode = resolved_sslmode(self.p["sslmode"], hba_file_and_ssl(session)[1])
        tls = sslmode == "require"
        dbname, user = self.p["dbname"], self.p["role"]
        actions = ensure_first_rules(
            session, lambda kind, subnet: monitor_rule(kind if tls else "host", subnet, dbname, user),
            lambda rules, subnet: rule_lets_in(rules, subnet, dbname, user, tls), self.check_mode)
        self.log.extend(actions)
        return sslmode

    # -- the container -------------------------------------------------------------------------------

    def _ensure_container(self, existing, spec: dict, digest: str, server: str) -> None:
        ensure_image(self.client, self.p["image"], self.p["pull"], self.log, self.warn)
        if existing is not None and existing.labels.get(MONITOR_SPEC_LABEL) == digest:
            if existing.status != "running":
                self.log.do(f"start exporter {self.name}", self._start, existing)
            return
        if existing is not None:
            self.log.do(f"recreate exporter {self.name} (its options changed)", existing.remove, force=True)
        self.log.do(f"create exporter {self.name} for {server} on {', '.join(spec['networks'])}, "
                    f"{spec['host_ip']}:{spec['port']} -> {EXPORTER_PORT}", self._create, spec, digest, server)

    def _create(self, spec: dict, digest: str, server: str):
        first, *others = spec["networks"]
        container = self.client.containers.create(
            spec["image"], name=self.name, user=f"{spec['uid']}:{spec['uid']}", network=first,
            environment=spec["env"], ports={EXPORTER_CONTAINER_PORT: (spec["host_ip"], spec["port"])},
            mounts=[Mount(MONITOR_MOUNT, spec["secrets_dir"], type="bind", read_only=True)],
            labels=managed_labels({ROLE_LABEL: EXPORTER_ROLE, MONITORED_LABEL: server, MONITOR_SPEC_LABEL: digest}),
            restart_policy={"Name": "unless-stopped"})
        for name in others:
            self.client.networks.get(name).connect(container)
        return self._start(container)

    @staticmethod
    def _start(container):
        """Start the exporter; one that exits at once fails the task with its last log lines."""
        container.start()
        container.reload()
        if container.status not in ("running", "created"):
            raise PgdockError(f"exporter {container.name!r} exited at start ({container.status})",
                              logs=log_tail(container))
        return container

    # -- absent --------------------------------------------------------------------------------------
    def _absent(self, existing, server) -> dict:
        if existing is not None:
            self.log.do(f"remove exporter {self.name}", existing.remove, force=True)
        if self.p["remove_role"]:
            login = container_login(self.p, server.name, self.p["dbname"])
            statements = ensure_login_role(login, dict(name=self.p["role"]), self.check_mode, self.warn, state="absent")
            self.log.extend(statements, prefix="monitoring role: ")
            directory = self._directory(server)
            if os.path.isdir(directory):
                self.log.do(f"remove {directory}", remove_secret_dir, directory)
        return self.log.result()
