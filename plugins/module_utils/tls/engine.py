# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `tls` module's engine: a CA (created in a root-only directory, or the user's), the server
certificate in the container's secrets directory, client certificates for `cert` authentication,
each reissued only when it needs to be, and a reload of the running server after a change."""

from __future__ import annotations

import os
import re
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import log_tail
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect as docker_connect,
    get_or_none,
    is_managed,
    user_aliases,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    read_secret,
    secret_needs_write,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import container_secrets_dir, resolve_target
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import utc_now
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import with_diff
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.certs import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    LeafSpec,
    ca_defects,
    cert_info,
    cert_pem,
    desired_sans,
    generate_key,
    issue_ca,
    issue_leaf,
    key_pem,
    leaf_problems,
    load_cert,
    load_key,
    normalise_san,
    serial_hex,
    validity_problem,
)

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - reported through fail_json
    pass

SERVER_CERT, SERVER_KEY, CA_CERT, CA_KEY = "server.crt", "server.key", "ca.crt", "ca.key"
SERVER_SETTINGS = {
    "ssl": "on",
    "ssl_cert_file": f"{SECRETS_MOUNT}/{SERVER_CERT}",
    "ssl_key_file": f"{SECRETS_MOUNT}/{SERVER_KEY}",
    "ssl_ca_file": f"{SECRETS_MOUNT}/{CA_CERT}",
}
KEY_MODE, CERT_MODE = 0o600, 0o644
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
RELOAD_WAIT_SECONDS = 15

ROLE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@$-]{0,62}$")


def validate_options(p: dict) -> None:
    """Reject bad input before anything is read or written; each message names the option."""
    if not p.get("dest_dir") and not p.get("container"):
        raise PgdockError("dest_dir or container is required: say where the server's files go")
    if p["validity_days"] <= p["renew_before"] or p["renew_before"] < 0:
        raise PgdockError(f"validity_days ({p['validity_days']}) must be larger than renew_before "
                          f"({p['renew_before']}, >= 0), or every run would reissue the certificates")
    if not p.get("ownca_cert") and p["ca_validity_days"] <= p["renew_before"]:
        raise PgdockError(f"ca_validity_days ({p['ca_validity_days']}) must be larger than renew_before "
                          f"({p['renew_before']})")
    for option in ("common_name", "ca_common_name"):
        value = p.get(option)
        if value is not None and not 0 < len(value) <= 64:
            raise PgdockError(f"{option}: {value!r} must be 1 to 64 characters long")
    for entry in p.get("subject_alt_names") or []:
        normalise_san(entry)
    roles = p.get("client_certs") or []
    for role in roles:
        if not ROLE_RE.match(role):
            raise PgdockError(f"client_certs: {role!r} is not a role name this module issues certificates for "
                              "(1 to 63 of letters, digits, '_', '.', '@', '$', '-'; not starting with '.', '@', "
                              "'$' or '-')")
    if len(set(roles)) != len(roles):
        raise PgdockError("client_certs: a role is listed more than once")
    if roles and not p.get("client_dir"):
        raise PgdockError("client_dir is required with client_certs: say where the client certificates go")


def check_directories(dest_dir: str, ca_dir: str | None, client_dir: str | None) -> None:
    """The CA key stays out of the container's secrets directory, and the three directories differ."""
    dest = os.path.realpath(dest_dir)
    if ca_dir:
        ca = os.path.realpath(ca_dir)
        if ca == dest or ca.startswith(dest + os.sep) or dest.startswith(ca + os.sep):
            raise PgdockError(f"ca_dir: {ca_dir} must be outside dest_dir {dest_dir} (and not contain it): "
                              "the CA key must never be mounted into the container")
    if client_dir:
        client = os.path.realpath(client_dir)
        if client == dest or (ca_dir and client == os.path.realpath(ca_dir)):
            raise PgdockError(f"client_dir: {client_dir} must differ from dest_dir and ca_dir")


def pem_option(value: str, option: str) -> bytes:
    """PEM text given inline, or read from the path `value`."""
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii", "replace")
    path = os.path.expanduser(value)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise PgdockError(f"{option}: cannot read {path}: {exc.strerror}") from None


def file_state(path: str) -> str | None:
    """'0600 999:999' for an existing file, None for a missing one."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_mode & 0o777:04o} {st.st_uid}:{st.st_gid}"


def served_certificate(host: str, port: int, timeout: float):
    """The certificate a PostgreSQL server presents after an SSLRequest; None when it does not
    offer TLS or cannot be reached."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(SSL_REQUEST)
            if sock.recv(1) != b"S":
                return None
            with context.wrap_socket(sock) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return x509.load_der_x509_certificate(der) if der else None


# ---------------------------------------------------------------- engine

class PlannedWrite(NamedTuple):
    """A file to write (atomically, with owner uid:gid and mode)."""

    path: str
    content: str
    uid: int
    mode: int


@dataclass
class Issued:
    """A certificate after the run (new or kept), with why it was (re)issued."""

    cert: object
    reasons: list = field(default_factory=list)
    key: object = None
    files: dict = field(default_factory=dict)


def ensure_tls(module) -> dict:
    """Entry point of the `tls` module."""
    if not HAS_CRYPTOGRAPHY:
        raise PgdockError("the Python 'cryptography' library is required on the Docker host: "
                          "pip install cryptography", exception=CRYPTOGRAPHY_IMPORT_ERROR)
    return TlsRun(module.params, module.check_mode, module.warn).run(module._diff)


class TlsRun:
    """One run: read and judge every file, plan what to write, then (outside check mode) write and reload.
    Nothing is written before every input has been checked."""

    def __init__(self, params: dict, check_mode: bool, warn):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.now = utc_now()
        self.actions: list[str] = []
        self.writes: list[PlannedWrite] = []
        self.files_before: dict = {}
        self.files_after: dict = {}
        self.container = None

    def run(self, want_diff: bool) -> dict:
        validate_options(self.p)
        self.container = self._find_container()
        dest_dir = self._dest_dir()
        ca_dir = None if self.p.get("ownca_cert") else self.p["ca_dir"]
        check_directories(dest_dir, ca_dir, self.p.get("client_dir"))
        before = {"ca": {}, "server": {}, "clients": {}}
        ca = self._ca(ca_dir, before)
        server = self._server(dest_dir, ca, before)
        clients = {role: self._client(role, ca, before) for role in self.p.get("client_certs") or []}
        dest_changed = any(write.path.startswith(os.path.join(dest_dir, "")) for write in self.writes)
        if not self.check_mode:
            for write in self.writes:
                write_secret(write.path, write.content, write.uid, self._gid(write.uid), write.mode)
        reloaded = self._reload(dest_dir, dest_changed, server)
        result = {"changed": bool(self.actions), "actions": self.actions, "dest_dir": dest_dir,
                  "reloaded": reloaded, "settings": dict(SERVER_SETTINGS),
                  "ca": self._info(ca, with_files=True), "server": self._info(server, with_files=True),
                  "clients": {role: self._info(item, with_files=True) for role, item in clients.items()}}
        if want_diff:
            after = {"ca": self._info(ca), "server": self._info(server),
                     "clients": {role: self._info(item) for role, item in clients.items()}}
            before["files"], after["files"] = self.files_before, self.files_after
            with_diff(result, want_diff, before, after)
        return result

    # -- where things are ------------------------------------------------------------------
    def _find_container(self):
        """The container named by `container` (any state), or None when it does not exist yet."""
        name = self.p.get("container")
        if not name:
            return None
        container = get_or_none(docker_connect(self.p).containers, name, "container")
        if container is not None and not is_managed(container.labels):
            raise PgdockError(f"container: {name!r} was not created by pgdock.postgres; give dest_dir "
                              "and subject_alt_names instead")
        if container is None and not self.p.get("dest_dir"):
            raise PgdockError(f"container: no container named {name!r} on the Docker host; before it is "
                              "created, give dest_dir (the secrets_dir the container module will mount)")
        return container

    def _dest_dir(self) -> str:
        mounted = container_secrets_dir(self.container) if self.container is not None else None
        dest_dir = self.p.get("dest_dir") or mounted
        if not dest_dir:
            raise PgdockError(f"container: {self.container.name!r} mounts no secrets directory at "
                              f"{SECRETS_MOUNT}; give dest_dir")
        if mounted and os.path.realpath(mounted) != os.path.realpath(dest_dir):
            self.warn(f"dest_dir {dest_dir} is not the directory container {self.container.name!r} mounts at "
                      f"{SECRETS_MOUNT} ({mounted}): the server does not see these files and is not reloaded")
        return dest_dir

    def _gid(self, uid: int) -> int:
        """The group of files owned by `uid`: the module's own group for its own uid, else the same number."""
        return os.getgid() if uid == os.getuid() else uid

    def _client_uid(self) -> int:
        """Owner of the client files: client_uid, or the user running the module."""
        return os.getuid() if self.p.get("client_uid") is None else self.p["client_uid"]

    # -- files -------------------------------------------------------------------------------
    def _stage(self, path: str, content: str, uid: int, mode: int) -> None:
        """Plan writing `content` to `path` with owner and mode, when the file differs."""
        gid = self._gid(uid)
        self.files_before[path] = file_state(path)
        self.files_after[path] = f"{mode:04o} {uid}:{gid}"
        if not secret_needs_write(path, content, uid, gid, mode):
            return
        if read_secret(path) == content:
            self.actions.append(f"set owner and mode of {path} to {uid}:{gid} {mode:04o}")
        else:
            self.actions.append(f"write {path} ({mode:04o}, {uid}:{gid})")
        self.writes.append(PlannedWrite(path, content, uid, mode))

    def _info(self, item: Issued, with_files: bool = False) -> dict:
        """A certificate after the run (a new one has no serial yet in check mode); with its files and
        why it was issued for the result, without them for the diff."""
        info = cert_info(item.cert, show_serial=not (self.check_mode and item.reasons))
        if with_files:
            info.update(item.files, issued=bool(item.reasons), reasons=item.reasons)
        return info

    # -- the CA --------------------------------------------------------------------------------
    def _ca(self, ca_dir: str | None, before: dict) -> Issued:
        """The user's CA, or the one in ca_dir: created when missing, replaced when it expires soon."""
        if ca_dir is None:
            return self._user_ca(before)
        cert_path, key_path = os.path.join(ca_dir, CA_CERT), os.path.join(ca_dir, CA_KEY)
        cert_text, key_text = read_secret(cert_path), read_secret(key_path)
        reasons = []
        if cert_text is None and key_text is None:
            reasons = [f"no CA in {ca_dir} yet"]
        elif cert_text is None or key_text is None:
            present, missing = (key_path, cert_path) if cert_text is None else (cert_path, key_path)
            raise PgdockError(f"ca_dir: {present} exists without {missing}; restore it, or remove both to "
                              "have a new CA created (every certificate is then reissued)")
        else:
            cert, key = load_cert(cert_text, cert_path), load_key(key_text, key_path)
            before["ca"] = cert_info(cert)
            defects = ca_defects(cert, key)
            if defects:
                raise PgdockError(f"ca_dir: the CA in {ca_dir} cannot be used: {'; '.join(defects)}; fix or "
                                  "remove ca.crt and ca.key (a new CA is then created); nothing was changed")
            problem = validity_problem(cert, self.now, self.p["renew_before"])
            if problem:
                reasons = [f"the CA certificate: {problem}"]
                self.warn(f"a new CA replaces the one in {ca_dir} ({problem}); clients must trust the new ca.crt")
        if reasons:
            key = generate_key(self.p["key_type"])
            cert = issue_ca(key, self.p["ca_common_name"], self.p["ca_validity_days"], self.now)
            self.actions.append(f"create CA CN={self.p['ca_common_name']}: {'; '.join(reasons)}")
        uid = os.getuid()
        self._stage(key_path, key_pem(key) if reasons else key_text, uid, KEY_MODE)
        self._stage(cert_path, cert_pem(cert) if reasons else cert_text, uid, CERT_MODE)
        return Issued(cert, reasons, key, {"cert_file": cert_path, "key_file": key_path, "source": "generated"})

    def _user_ca(self, before: dict) -> Issued:
        """The CA the user gave; refused (before anything is written) when it cannot sign or is not valid."""
        cert = load_cert(pem_option(self.p["ownca_cert"], "ownca_cert"), "ownca_cert", single=True)
        key = load_key(pem_option(self.p["ownca_key"], "ownca_key"), "ownca_key", self.p.get("ownca_key_passphrase"))
        before["ca"] = cert_info(cert)
        problems = ca_defects(cert, key) + list(filter(None, [validity_problem(cert, self.now)]))
        if problems:
            raise PgdockError(f"ownca_cert: the CA certificate {cert.subject.rfc4514_string()} cannot be used: "
                              f"{'; '.join(problems)}; nothing was changed")
        soon = validity_problem(cert, self.now, self.p["renew_before"])
        if soon:
            self.warn(f"ownca_cert: the CA certificate {cert.subject.rfc4514_string()}: {soon}; replace it soon")
        return Issued(cert, [], key, {"cert_file": None, "key_file": None, "source": "provided"})

    # -- server and clients --------------------------------------------------------------------
    def _server_spec(self) -> LeafSpec:
        """Subject and SANs of the server certificate, with the container's name and (unless
        container_aliases is false) the aliases it has on its networks now."""
        container_name, aliases = self.p.get("container"), []
        if self.container is not None and self.p.get("container_aliases", True):
            endpoints = (self.container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
            for endpoint in endpoints.values():
                aliases += user_aliases(endpoint.get("Aliases"), self.container.name, self.container.id)
        common_name = self.p.get("common_name") or container_name or "localhost"
        sans = desired_sans(common_name, self.p.get("subject_alt_names"), container_name, aliases)
        return LeafSpec(common_name, sans, "server", self.p["key_type"])

    def _server(self, dest_dir: str, ca: Issued, before: dict) -> Issued:
        """ca.crt, server.crt and server.key in dest_dir, owned by the container's postgres uid."""
        uid = self.p["postgres_uid"]
        self._stage(os.path.join(dest_dir, CA_CERT), cert_pem(ca.cert), uid, CERT_MODE)
        files = {"cert_file": os.path.join(dest_dir, SERVER_CERT), "key_file": os.path.join(dest_dir, SERVER_KEY),
                 "ca_file": os.path.join(dest_dir, CA_CERT)}
        return self._leaf("server", self._server_spec(), files, uid, ca, before["server"])

    def _client(self, role: str, ca: Issued, before: dict) -> Issued:
        """<role>.crt and <role>.key (CN = role) in client_dir, with ca.crt."""
        client_dir, uid = self.p["client_dir"], self._client_uid()
        ca_file = os.path.join(client_dir, CA_CERT)
        if ca_file not in self.files_after:
            self._stage(ca_file, cert_pem(ca.cert), uid, CERT_MODE)
        files = {"cert_file": os.path.join(client_dir, f"{role}.crt"),
                 "key_file": os.path.join(client_dir, f"{role}.key"), "ca_file": ca_file}
        before["clients"][role] = {}
        return self._leaf(f"client {role}", LeafSpec(role, None, "client", self.p["key_type"]), files, uid, ca,
                          before["clients"][role])

    def _leaf(self, label: str, spec: LeafSpec, files: dict, uid: int, ca: Issued, before: dict) -> Issued:
        """Keep or (re)issue one certificate and its key, and stage both files."""
        cert_text, key_text = read_secret(files["cert_file"]), read_secret(files["key_file"])
        try:
            before.update(cert_info(load_cert(cert_text, label)) if cert_text else {})
        except PgdockError:
            pass
        reasons = leaf_problems(cert_text, key_text, spec, ca.cert, self.now, self.p["renew_before"])
        if self.p["force"]:
            reasons = ["force: true"] + reasons
        if reasons:
            key = generate_key(spec.key_type)
            cert = issue_leaf(spec, key, ca.cert, ca.key, self.p["validity_days"], self.now)
            cert_text, key_text = cert_pem(cert), key_pem(key)
            self.actions.append(f"issue {label} certificate {spec.describe()}: {'; '.join(reasons)}")
        else:
            cert = load_cert(cert_text, label)
        self._stage(files["key_file"], key_text, uid, KEY_MODE)
        self._stage(files["cert_file"], cert_text, uid, CERT_MODE)
        return Issued(cert, reasons, None, files)

    # -- reload --------------------------------------------------------------------------------
    def _reload(self, dest_dir: str, dest_changed: bool, server: Issued) -> bool:
        """Reload the running server when its files changed or it serves another certificate."""
        container = self.container
        if container is None or not self.p["reload"] or container.status != "running":
            return False
        mounted = container_secrets_dir(container)
        if not mounted or os.path.realpath(mounted) != os.path.realpath(dest_dir):
            return False
        target = resolve_target(self.p)
        served = served_certificate(target.host, target.port, target.connect_timeout)
        want = serial_hex(server.cert)
        if not dest_changed and (served is None or serial_hex(served) == want):
            return False
        why = "its files changed" if dest_changed else (
            f"it serves certificate serial {serial_hex(served)}, {SERVER_CERT} holds {want}")
        self.actions.append(f"reload the configuration of container {container.name} ({why})")
        if self.check_mode:
            return True
        try:
            with Session(target) as session:
                session.run("SELECT pg_reload_conf()")
        except PgdockError as exc:
            raise PgdockError(f"{exc}; the certificate files are written but the server was not reloaded: run "
                              "again, or reload it yourself (SELECT pg_reload_conf())") from None
        if served is not None:
            self._wait_served(target, want)
        return True

    def _wait_served(self, target, want: str) -> None:
        """Wait until new connections get the certificate with serial `want`."""
        deadline = time.monotonic() + RELOAD_WAIT_SECONDS
        while True:
            served = served_certificate(target.host, target.port, target.connect_timeout)
            if served is not None and serial_hex(served) == want:
                return
            if time.monotonic() > deadline:
                raise PgdockError(
                    f"container {self.container.name!r} was reloaded but still serves certificate serial "
                    f"{serial_hex(served) if served else '(none)'} instead of {want}; PostgreSQL keeps its old "
                    "TLS files when it cannot load the new ones: see 'logs'", logs=log_tail(self.container))
            time.sleep(0.3)
