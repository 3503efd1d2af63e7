"""Sources for the migrate tests that this collection did not make: a plain container of a test
image with a hand-written postgresql.conf and pg_hba.conf (no pgdock labels), on a network of its
own, its port also published on 127.0.0.1 for the module on the Docker host."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import psycopg2

from pgclient import unused_port

BASE_CONF = """listen_addresses = '*'
port = 5432
max_connections = 100
shared_buffers = 64MB
wal_level = {wal_level}
max_wal_senders = 10
max_replication_slots = 10
hba_file = '/etc/pgsrc/pg_hba.conf'
password_encryption = scram-sha-256
"""
BASE_HBA = """local   all          all                    trust
host    all          all        127.0.0.1/32  scram-sha-256
host    all          all        0.0.0.0/0     scram-sha-256
"""


class PlainSource:
    """A running source container: name, network, port (127.0.0.1), password, sql()."""

    def __init__(self, docker_client, name: str, network: str, image: str, conf_dir: Path, password: str):
        self.client, self.name, self.network, self.image = docker_client, name, network, image
        self.conf_dir, self.password, self.port = conf_dir, password, unused_port()

    def options(self, **extra) -> dict:
        """The migrate module's `source` option for this server."""
        return dict(login_host="127.0.0.1", login_port=self.port, login_user="postgres",
                    login_password=self.password, network=self.network, container_host=self.name,
                    container_port=5432, **extra)

    def connect(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=user, dbname=dbname,
                                password=self.password if password is None else password, connect_timeout=5)
        conn.autocommit = True
        return conn

    def sql(self, statement: str, params=None, dbname: str = "postgres"):
        """Run one statement; its rows when it returns any."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def write_hba(self, text: str) -> None:
        """Replace its pg_hba.conf and reload."""
        (self.conf_dir / "pg_hba.conf").write_text(text)
        self.sql("select pg_reload_conf()")

    def container(self):
        return self.client.containers.get(self.name)


def start_plain_source(docker_client, cleanup, unique, image: str, tmp_path: Path, wal_level: str = "replica",
                       extra_conf: str = "", hba: str = BASE_HBA) -> PlainSource:
    """Start a source container of `image` configured by hand; wait until it takes logins."""
    name = unique("msrc") + "-" + secrets.token_hex(2)
    network = name + "-net"
    docker_client.networks.create(network)
    cleanup["networks"].append(network)
    conf_dir = tmp_path / f"{name}-conf"
    conf_dir.mkdir()
    (conf_dir / "postgresql.conf").write_text(BASE_CONF.format(wal_level=wal_level) + extra_conf)
    (conf_dir / "pg_hba.conf").write_text(hba)
    password = "Src-pw-" + secrets.token_hex(6)
    (conf_dir / "password").write_text(password)
    for path in conf_dir.iterdir():
        path.chmod(0o644)
    conf_dir.chmod(0o755)
    source = PlainSource(docker_client, name, network, image, conf_dir, password)
    cleanup["containers"].append(name)
    docker_client.containers.run(
        image, ["postgres", "-c", "config_file=/etc/pgsrc/postgresql.conf"], name=name, detach=True,
        network=network, ports={"5432/tcp": ("127.0.0.1", source.port)},
        environment={"POSTGRES_PASSWORD_FILE": "/etc/pgsrc/password"},
        volumes={str(conf_dir): {"bind": "/etc/pgsrc", "mode": "rw"}})
    deadline = time.monotonic() + 90
    while True:
        try:
            source.sql("select 1")
            # the entrypoint's temporary server (initdb phase) also answers: wait for the real one
            if source.sql("select current_setting('hba_file')")[0][0] == "/etc/pgsrc/pg_hba.conf":
                return source
        except psycopg2.Error:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"source {name} did not start: "
                                 + docker_client.containers.get(name).logs(tail=20).decode())
        time.sleep(0.5)


def start_pooler(source: PlainSource, cleanup, unique, secrets_dir: Path, users: list[str]):
    """A pgdock.postgres.pooler in front of `source` (a server this collection did not make): its
    name, port on 127.0.0.1, module arguments and the module's result."""
    from ansible_runner import run_module  # local imports: conftest is imported before sys.path is set
    from conftest import PGBOUNCER_IMAGE
    name = unique("pgb")
    cleanup["containers"].append(name)
    port = unused_port()
    args = dict(name=name, server_host=source.name, login_host="127.0.0.1", login_port=source.port,
                login_password=source.password, networks=[source.network], image=PGBOUNCER_IMAGE,
                pull="never", published_port=port, users=users, secrets_dir=str(secrets_dir))
    return name, port, args, run_module("pooler", args)
