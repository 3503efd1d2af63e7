"""A source for the migrate tests that runs on the Docker host itself: Debian's PostgreSQL
binaries, a cluster initdb'd in a temporary directory and started as a plain process of the
postgres user (no systemd), listening on 127.0.0.1 and on a unix socket in a directory of its own
that the migration mounts into its containers."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from pgclient import sql, unused_port

BIN = Path("/usr/lib/postgresql/15/bin")
# what a server that takes connections from other machines has; the copy keeps it
EXTRA_HBA = "host    all          all        0.0.0.0/0     scram-sha-256\n"


class HostSource:
    """A running host cluster: its directory, socket directory, port and password."""

    def __init__(self, root: Path, port: int, password: str):
        self.root, self.port, self.password = root, port, password
        self.data, self.socket_dir = root / "data", root / "socket"

    def options(self, **extra) -> dict:
        """The migrate module's `source` option: the socket directory only (containers get it mounted)."""
        return dict(login_unix_socket=str(self.socket_dir), login_port=self.port, login_user="postgres",
                    login_password=self.password, **extra)

    def sql(self, statement: str, params=None, dbname: str = "postgres"):
        return sql(self.port, self.password, statement, params, dbname=dbname)

    def stop(self) -> None:
        as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def as_postgres(argv: list[str], check: bool = True):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + argv, capture_output=True, text=True, timeout=120,
                          check=check)


def start_host_source() -> HostSource:
    """initdb (SCRAM for every login) and start a cluster of the host's PostgreSQL 15."""
    if not (BIN / "initdb").exists():
        raise AssertionError(f"{BIN} is missing: install Debian's postgresql-15 on the Docker host")
    root = Path(tempfile.mkdtemp(prefix="pgdock-mp-host-"))
    source = HostSource(root, unused_port(), "Host-pw-" + secrets.token_hex(6))
    source.socket_dir.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(source.password)
    for path in (root, source.socket_dir, pwfile):
        shutil.chown(path, "postgres", "postgres")
    os.chmod(root, 0o755)
    os.chmod(source.socket_dir, 0o755)  # the containers' postgres user (another uid) reaches the socket
    as_postgres([str(BIN / "initdb"), "-D", str(source.data), "--auth=scram-sha-256", f"--pwfile={pwfile}",
                 "-U", "postgres"])
    with open(source.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
        hba.write(EXTRA_HBA)
    settings = f"-c listen_addresses=127.0.0.1 -c port={source.port} -c unix_socket_directories={source.socket_dir}"
    as_postgres([str(BIN / "pg_ctl"), "-D", str(source.data), "-l", str(root / "log"), "-o", settings, "-w", "start"])
    deadline = time.monotonic() + 30
    while True:
        try:
            source.sql("select 1")
            return source
        except psycopg2.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
