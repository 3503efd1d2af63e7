# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `pooler` module's engine: a PgBouncer container in front of a pgdock primary, its
configuration files on the Docker host (mounted read-only), TLS towards its clients, changes
(certificates included) applied with RELOAD."""

from __future__ import annotations

import os
import secrets

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    POOLER_ADMIN_PASSWORD_FILE,
    POOLER_CONFIG_MOUNT,
    POOLER_CONTAINER_PORT,
    POOLER_PORT,
    POOLER_SPEC_LABEL,
    ROLE_LABEL,
    UPSTREAM_LABEL,
    pooler_dir_for,
)
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
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import (
    container_login,
    find_container,
    reachable_address,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.scram import (
    is_verifier,
    scram_verifier,
    verify_password,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.admin import PoolerAdmin
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.auth import (
    AUTH_QUERY,
    ensure_lookup,
    ensure_lookup_hba,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.config import (
    ADMIN_CERT_NAME,
    ADMIN_KEY_NAME,
    ADMIN_USER,
    CA_NAME,
    CERT_REQUIRED,
    CLIENT_CA_NAME,
    CLIENT_CERT_NAME,
    CLIENT_KEY_NAME,
    INI_NAME,
    LISTEN_CERT_NAME,
    LISTEN_KEY_NAME,
    USERLIST_NAME,
    admin_ssl,
    check_name,
    needs_restart,
    parse_userlist,
    pgbouncer_settings,
    render_ini,
    render_userlist,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog, with_diff

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass


def ensure_pooler(module) -> dict:
    """Entry point of the `pooler` module."""
    return PoolerRun(module.params, module.check_mode, module._diff, module.warn).run()


class PoolerRun:
    """One run of the pooler module: plan, apply (unless check mode), report."""

    def __init__(self, params: dict, check_mode: bool, want_diff: bool, warn):
        self.p = params
        self.check_mode = check_mode
        self.want_diff = want_diff
        self.warn = warn
        self.log = ActionLog(check_mode, guard=docker_action)
        root = params.get("secrets_dir") or pooler_dir_for(params["name"])
        self.root = root
        self.config_dir = os.path.join(root, "etc")
        self.client = None

    def run(self) -> dict:
        check_name(self.p["name"], "name")
        self.client = docker_connect(self.p)
        existing = get_or_none(self.client.containers, self.p["name"], "container")
        if existing is not None and (not is_managed(existing.labels) or existing.labels.get(ROLE_LABEL) != "pooler"):
            raise PgdockError(f"name: container {self.p['name']!r} exists and is not a pooler made by this "
                              "module; refusing to touch it")
        if self.p["state"] == "absent":
            return self._absent(existing)
        return self._present(existing)

    # -- present -------------------------------------------------------------------------------------
    def _present(self, existing) -> dict:
        self._validate()
        primary = find_container(dict(self.p, container=self.p["primary"])) if self.p.get("primary") else None
        server_host, server_port = (primary.name, 5432) if primary is not None else (self.p["server_host"],
                                                                                     self.p["server_port"])
        verifiers = self._user_verifiers()
        if self.p["auth"] == "auth_query":
            self._ensure_lookup(primary)
        password = self._admin_password()
        ini_path, userlist_path = (os.path.join(self.config_dir, n) for n in (INI_NAME, USERLIST_NAME))
        old_ini, old_userlist = read_secret(ini_path), read_secret(userlist_path)
        admin_verifier = parse_userlist(old_userlist).get(ADMIN_USER)
        if not verify_password(password, admin_verifier):
            admin_verifier = scram_verifier(password)
        verifiers[ADMIN_USER] = admin_verifier
        ca = self._ca_content()
        files = {
            INI_NAME: render_ini(self.p["databases"], server_host, pgbouncer_settings(
                self.p, ca is not None, AUTH_QUERY if self.p["auth"] == "auth_query" else None), server_port),
            USERLIST_NAME: render_userlist(verifiers),
        }
        if ca is not None:
            files[CA_NAME] = ca
        if self.p["auth"] == "auth_query":
            files[CLIENT_CERT_NAME] = self._pem(self.p["server_tls_cert_file"], "server_tls_cert_file", "CERTIFICATE")
            files[CLIENT_KEY_NAME] = self._pem(self.p["server_tls_key_file"], "server_tls_key_file", "PRIVATE KEY")
        files.update(self._client_tls_files())
        changed_files = [n for n, c in files.items()
                         if secret_needs_write(os.path.join(self.config_dir, n), c, self.p["uid"], self.p["uid"])]
        for name in changed_files:
            self.log.do(f"write {os.path.join(self.config_dir, name)} (0600)", write_secret,
                        os.path.join(self.config_dir, name), files[name], self.p["uid"], self.p["uid"])
        self._admin_tls_files()
        container, fresh = self._ensure_container(existing, primary)
        if not fresh and changed_files and container is not None:
            restart = needs_restart(old_ini, files[INI_NAME])
            if restart:
                self.log.do(f"restart pooler {self.p['name']} (changed: {', '.join(restart)})", container.restart)
            else:  # through the console as the running pooler is configured (its TLS may change with it)
                self.log.do(f"RELOAD pooler {self.p['name']} ({', '.join(changed_files)} changed)",
                            self._admin(password, old_ini).command, "RELOAD")
        self._remove_stale(set(files))
        if not self.check_mode and self.log.changed:
            self._admin(password, files[INI_NAME]).wait_ready(self.p["wait_timeout"])
        result = self.log.result(pooler={
            "name": self.p["name"], "primary": primary.name if primary is not None else None,
            "server": f"{server_host}:{server_port}", "port": self.p["published_port"],
            "pool_mode": self.p["pool_mode"], "users": sorted(verifiers.keys() - {ADMIN_USER}),
            "databases": [d["name"] for d in self.p["databases"]] or ["*"],
            "client_tls_sslmode": self.p["client_tls_sslmode"]})
        return with_diff(result, self.want_diff, old_ini or "", files[INI_NAME], os.path.join(self.config_dir, INI_NAME))

    def _validate(self) -> None:
        if not (self.p.get("primary") or self.p.get("server_host")):
            raise PgdockError("primary (a pgdock container) or server_host (another PostgreSQL server) is required "
                              "with state=present")
        if not self.p.get("published_port"):
            raise PgdockError("published_port is required with state=present")
        self._validate_external_server()
        if self.p["auth"] == "userlist" and not self.p["users"]:
            raise PgdockError("users: list the roles that connect through the pooler (their SCRAM verifiers "
                              "are copied from pg_authid into its auth file), or use auth: auth_query")
        if self.p["auth"] == "auth_query":
            if not (self.p.get("server_tls_cert_file") and self.p.get("server_tls_key_file")):
                raise PgdockError("auth: auth_query needs server_tls_cert_file and server_tls_key_file, a client "
                                  f"certificate with CN {self.p['auth_user']!r} from the server's CA (pgdock.postgres.tls "
                                  "client_certs)")
            if self.p["server_tls_sslmode"] not in ("require", "verify-ca", "verify-full"):
                raise PgdockError("auth: auth_query logs in with a client certificate, so server_tls_sslmode must be "
                                  "require, verify-ca or verify-full")
            check_name(self.p["auth_user"], "auth_user")
        for user in self.p["users"]:
            check_name(user, "users")
        if ADMIN_USER in self.p["users"]:
            raise PgdockError(f"users: {ADMIN_USER!r} is the pooler's own admin user")
        for name in ("max_client_conn", "default_pool_size", "query_wait_timeout", "server_connect_timeout"):
            if self.p[name] < 1:
                raise PgdockError(f"{name}: must be at least 1, not {self.p[name]}")
        if self.p["server_tls_sslmode"] in ("verify-ca", "verify-full") and not self.p.get("server_tls_ca_file"):
            raise PgdockError(f"server_tls_ca_file is required with server_tls_sslmode={self.p['server_tls_sslmode']}")
        self._validate_client_tls()

    def _validate_external_server(self) -> None:
        """server_host: a server that is not a pgdock container, reached by the pooler on `networks`
        and by this module with the login options (to read the users' verifiers)."""
        login = [k for k in ("login_host", "login_port", "login_password", "login_unix_socket") if self.p.get(k)]
        if not self.p.get("server_host"):
            if login:
                raise PgdockError(f"{', '.join(login)}: only with server_host (a pgdock primary is logged in to "
                                  "through its container)")
            return
        if not 1 <= self.p["server_port"] <= 65535:
            raise PgdockError(f"server_port: {self.p['server_port']} is not a TCP port")
        if not self.p.get("networks"):
            raise PgdockError("networks: with server_host, give the networks of the pooler (one on which it reaches "
                              f"{self.p['server_host']!r})")
        if self.p["auth"] == "auth_query":
            raise PgdockError("auth: auth_query installs a lookup function and a pg_hba.conf rule on a pgdock server; "
                              "with server_host use auth: userlist")
        if not (self.p.get("login_host") or self.p.get("login_unix_socket")):
            raise PgdockError("login_host (or login_unix_socket): where this module reaches the server from the "
                              "Docker host, to copy the users' SCRAM verifiers from its pg_authid")

    def _server_login(self) -> dict:
        """Login options of the server the pooler fronts, as a SQL session takes them; an external
        server is checked as PgBouncer checks it (server_tls_sslmode verify-ca/verify-full with its CA)."""
        if self.p.get("primary"):
            return container_login(self.p, self.p["primary"])
        verified = self.p["server_tls_sslmode"] in ("verify-ca", "verify-full")
        return dict(self.p, container=None, login_port=self.p.get("login_port") or self.p["server_port"],
                    session_role=None, ssl_mode=self.p["server_tls_sslmode"] if verified else None,
                    ssl_rootcert=self.p.get("server_tls_ca_file") if verified else None)

    def _validate_client_tls(self) -> None:
        mode = self.p["client_tls_sslmode"]
        if mode == "disable":
            return
        if not (self.p.get("client_tls_cert_file") and self.p.get("client_tls_key_file")):
            raise PgdockError(f"client_tls_sslmode={mode} needs client_tls_cert_file and client_tls_key_file: the "
                              "certificate the pooler presents to its clients (pgdock.postgres.tls, with the pooler's "
                              "name, its aliases, localhost and 127.0.0.1)")
        if mode in CERT_REQUIRED:
            if not self.p.get("client_tls_ca_file"):
                raise PgdockError(f"client_tls_ca_file is required with client_tls_sslmode={mode}: the CA whose "
                                  "client certificates the pooler accepts")
            if not (self.p.get("admin_tls_cert_file") and self.p.get("admin_tls_key_file")):
                raise PgdockError(f"client_tls_sslmode={mode} asks every client for a certificate, the module's admin "
                                  "connection too: give admin_tls_cert_file and admin_tls_key_file (a client "
                                  f"certificate from client_tls_ca_file's CA, e.g. CN {ADMIN_USER})")

    def _user_verifiers(self) -> dict:
        """SCRAM verifiers of the listed roles, read from pg_authid on the server."""
        server = self.p.get("primary") or self.p["server_host"]
        with Session(params=self._server_login()) as session:
            if session.value("select pg_is_in_recovery()"):
                raise PgdockError(f"primary: {server!r} is a standby (in recovery); point the pooler "
                                  "at the current primary")
            rows = {name: (password, login) for name, password, login in session.rows(
                "select rolname, rolpassword, rolcanlogin from pg_authid where rolname = any(%s)",
                (list(self.p["users"]),))}
        if not self.p["users"]:
            return {}
        missing = [u for u in self.p["users"] if u not in rows]
        if missing:
            raise PgdockError(f"users: no role {', '.join(missing)} on {server!r}; create it first "
                              "(pgdock.postgres.role)")
        bad = [u for u in self.p["users"] if not rows[u][1] or not is_verifier(rows[u][0])]
        if bad:
            raise PgdockError(f"users: {', '.join(bad)} cannot log in with a SCRAM-SHA-256 password (no LOGIN, no "
                              "password or an md5 hash); set one with pgdock.postgres.role")
        return {u: rows[u][0] for u in self.p["users"]}

    def _ensure_lookup(self, primary) -> None:
        """auth_query: the lookup role and function on the primary, and its cert rule in pg_hba.conf
        of the primary and of its standbys (one of them may be promoted by a switchover)."""
        with Session(params=container_login(self.p, primary.name, self.p["auth_dbname"])) as session:
            self.log.extend(ensure_lookup(session, self.p["auth_user"], self.check_mode))
            self.log.extend(ensure_lookup_hba(session, self.p["auth_dbname"], self.p["auth_user"], self.check_mode))
        # a standby needs no published port: psql in its container over the local socket
        for standby in self.client.containers.list(filters={"label": f"{UPSTREAM_LABEL}={primary.name}"}):
            session = ContainerSession(standby, check_mode=self.check_mode, dbname=self.p["auth_dbname"])
            self.log.extend(ensure_lookup_hba(session, self.p["auth_dbname"], self.p["auth_user"], self.check_mode))

    @staticmethod
    def _pem(path: str, option: str, kind: str) -> str:
        content = read_secret(path)
        if content is None or f"BEGIN {kind}" not in content and f"{kind.split()[-1]}-----" not in content:
            raise PgdockError(f"{option}: {path} does not exist or holds no PEM {kind.lower()}")
        return content

    def _client_tls_files(self) -> dict:
        """The certificate, key and client CA the pooler's clients meet, by their names in etc/."""
        if self.p["client_tls_sslmode"] == "disable":
            return {}
        files = {LISTEN_CERT_NAME: self._pem(self.p["client_tls_cert_file"], "client_tls_cert_file", "CERTIFICATE"),
                 LISTEN_KEY_NAME: self._pem(self.p["client_tls_key_file"], "client_tls_key_file", "PRIVATE KEY")}
        if self.p.get("client_tls_ca_file"):
            files[CLIENT_CA_NAME] = self._pem(self.p["client_tls_ca_file"], "client_tls_ca_file", "CERTIFICATE")
        return files

    def _admin_tls_files(self) -> None:
        """The admin connection's client certificate, beside the admin password (root, 0600)."""
        if self.p["client_tls_sslmode"] not in CERT_REQUIRED:
            return
        for name, option, kind in ((ADMIN_CERT_NAME, "admin_tls_cert_file", "CERTIFICATE"),
                                   (ADMIN_KEY_NAME, "admin_tls_key_file", "PRIVATE KEY")):
            path, content = os.path.join(self.root, name), self._pem(self.p[option], option, kind)
            if secret_needs_write(path, content, 0, 0):
                self.log.do(f"write {path} (0600)", write_secret, path, content, 0, 0)

    def _remove_stale(self, wanted: set) -> None:
        """TLS files a former configuration needed and this one does not."""
        stale = [os.path.join(self.config_dir, n) for n in (LISTEN_CERT_NAME, LISTEN_KEY_NAME, CLIENT_CA_NAME)
                 if n not in wanted]
        if self.p["client_tls_sslmode"] not in CERT_REQUIRED:
            stale += [os.path.join(self.root, n) for n in (ADMIN_CERT_NAME, ADMIN_KEY_NAME)]
        for path in stale:
            if os.path.exists(path):
                self.log.do(f"remove {path} (no longer used)", os.unlink, path)

    def _admin_password(self) -> str:
        path = os.path.join(self.root, POOLER_ADMIN_PASSWORD_FILE)
        stored = read_secret(path)
        if stored:
            return stored
        password = secrets.token_urlsafe(24)
        self.log.do(f"generate the pooler's admin password in {path} (0600)", write_secret, path, password, 0, 0)
        return password

    def _ca_content(self) -> str | None:
        path = self.p.get("server_tls_ca_file")
        return self._pem(path, "server_tls_ca_file", "CERTIFICATE") if path else None

    def _admin(self, password: str, ini_text: str | None) -> PoolerAdmin:
        """The console of the pooler configured by `ini_text` (its TLS towards clients decides ours)."""
        return PoolerAdmin(reachable_address(self.p["published_host_ip"]), self.p["published_port"], password,
                           ssl=admin_ssl(ini_text, self.root))

    # -- the container -------------------------------------------------------------------------------
    def _spec(self, networks: list[str]) -> dict:
        return {"image": self.p["image"], "networks": networks, "port": self.p["published_port"],
                "host_ip": self.p["published_host_ip"], "uid": self.p["uid"], "config_dir": self.config_dir}

    def _ensure_container(self, existing, primary):
        """(container, fresh): fresh when created, recreated or started by this run."""
        networks = sidecar_networks(self.client, primary, self.p.get("networks"), "pooler")
        spec = self._spec(networks)
        digest = spec_digest(spec)
        ensure_image(self.client, self.p["image"], self.p["pull"], self.log, self.warn)
        if existing is not None and existing.labels.get(POOLER_SPEC_LABEL) == digest:
            existing.reload()
            if existing.status != "running":
                self.log.do(f"start pooler {self.p['name']}", existing.start)
                return existing, True
            return existing, False
        if existing is not None:
            self.log.do(f"recreate pooler {self.p['name']} (image, port or networks changed)", self._remove, existing)
        container = self.log.do(f"create pooler {self.p['name']} on {', '.join(networks)}, "
                                f"{spec['host_ip']}:{spec['port']} -> {POOLER_PORT}", self._create, spec, digest)
        return container, True

    def _create(self, spec: dict, digest: str):
        first, *others = spec["networks"]
        container = self.client.containers.create(
            spec["image"], name=self.p["name"], command=["pgbouncer", f"{POOLER_CONFIG_MOUNT}/{INI_NAME}"],
            user=f"{spec['uid']}:{spec['uid']}", network=first,
            ports={POOLER_CONTAINER_PORT: (spec["host_ip"], spec["port"])},
            mounts=[Mount(POOLER_CONFIG_MOUNT, spec["config_dir"], type="bind", read_only=True)],
            labels=managed_labels({ROLE_LABEL: "pooler", POOLER_SPEC_LABEL: digest}),
            restart_policy={"Name": "unless-stopped"}, stop_signal="SIGINT")
        for name in others:
            self.client.networks.get(name).connect(container)
        container.start()
        container.reload()
        return container

    @staticmethod
    def _remove(container) -> None:
        container.remove(force=True)

    # -- absent --------------------------------------------------------------------------------------
    def _absent(self, existing) -> dict:
        if existing is not None:
            self.log.do(f"remove pooler {self.p['name']}", self._remove, existing)
        if self.p["remove_config"] and os.path.isdir(self.root):
            self.log.do(f"remove {self.root}", self._remove_dirs)
        return self.log.result()

    def _remove_dirs(self) -> None:
        if os.path.isdir(self.config_dir):
            remove_secret_dir(self.config_dir)
        remove_secret_dir(self.root)
