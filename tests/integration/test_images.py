"""The offline test images honour the contract of the official `postgres` image (and the PgBouncer
image runs a pooler), so that what passes against pgdock-test/postgres:<major> also works against
postgres:<major> for real users.

Each test starts its own containers (named with `unique("img...")`), publishes ports on 127.0.0.1
only, and removes everything it created, anonymous volumes included.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import psycopg2
import pytest
import requests

from conftest import PGBOUNCER_IMAGE

MAJORS = [15, 17, 18]
OLD_PGDATA = "/var/lib/postgresql/data"  # PGDATA and VOLUME up to 17
POSTGRES_UID = 999
READY_TIMEOUT = 90
# a password that breaks naive quoting in shell, SQL and conninfo strings
NASTY_PASSWORD = "it's \"q\" \\back\\ $HOME $(id) `id` ${X} ünï€"
PG_TOOLS = ["pg_basebackup", "pg_dump", "pg_rewind", "pg_verifybackup", "pg_isready"]


def pgdata_of(major: int) -> str:
    return f"/var/lib/postgresql/{major}/docker" if major >= 18 else OLD_PGDATA


def volume_path_of(major: int) -> str:
    return "/var/lib/postgresql" if major >= 18 else OLD_PGDATA


def write_file(path: Path, text: str | bytes, mode: int = 0o644, owner: int | None = None) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def shared_dir(path: Path) -> Path:
    """A directory the containers' unprivileged users can read (pytest makes tmp_path 0700)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


@dataclass
class Pg:
    """A PostgreSQL container started by a test, with the credentials it was given."""

    container: docker.models.containers.Container
    user: str = "postgres"
    password: str | None = None
    dbname: str | None = None
    container_port: int = 5432  # 6432 for PgBouncer

    @property
    def name(self) -> str:
        return self.container.name

    @property
    def port(self) -> int:
        """The host port (on 127.0.0.1) published for the container's port."""
        self.container.reload()
        ports = self.container.attrs["NetworkSettings"]["Ports"][f"{self.container_port}/tcp"]
        return int(ports[0]["HostPort"])

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Pg:
        """Wait until the final server accepts TCP connections (the entrypoint's temporary server
        listens on the Unix socket only, so a TCP probe cannot be fooled by it)."""
        deadline = time.monotonic() + timeout
        while True:
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                code = self.container.attrs["State"]["ExitCode"]
                raise AssertionError(f"{self.name} exited ({code}) before it was ready:\n{self.logs()}")
            try:
                code = self.container.exec_run(
                    ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.container_port)]).exit_code
            except docker.errors.APIError:  # exited between reload() and exec
                code = -1
            if code == 0:
                return self
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready after {timeout} s:\n{self.logs()}")
            time.sleep(0.3)

    def connect(self, password: str | None = None, **kwargs):
        """A psycopg2 connection over TCP through the port published on 127.0.0.1."""
        params = {"host": "127.0.0.1", "port": self.port, "user": self.user,
                  "dbname": self.dbname or self.user, "connect_timeout": 10}
        pw = self.password if password is None else password
        if pw is not None:
            params["password"] = pw
        params.update(kwargs)
        conn = psycopg2.connect(**params)
        conn.autocommit = True
        return conn

    def query(self, sql: str, params=None, **connect_kwargs) -> list[tuple]:
        conn = self.connect(**connect_kwargs)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def value(self, sql: str, params=None, **connect_kwargs):
        return self.query(sql, params, **connect_kwargs)[0][0]

    def exec(self, cmd: list[str], **kwargs) -> str:
        code, out = self.container.exec_run(cmd, **kwargs)
        text = out.decode(errors="replace")
        assert code == 0, f"{cmd} failed in {self.name} ({code}): {text}"
        return text

    def pid1(self) -> tuple[str, list[str]]:
        """PID 1's program and its real, effective, saved and filesystem uids."""
        program = self.exec(["cat", "/proc/1/cmdline"]).split("\0")[0]
        status = dict(line.split(":", 1) for line in self.exec(["cat", "/proc/1/status"]).splitlines())
        return program, status["Uid"].split()


class Lab:
    """Creates containers, networks and volumes for one test and removes them afterwards
    (containers with their anonymous volumes, which the shared `cleanup` fixture keeps)."""

    def __init__(self, client: docker.DockerClient, unique, cleanup: dict):
        self.client, self._unique, self._cleanup = client, unique, cleanup
        self._containers: list = []
        self._count = 0

    def name(self, kind: str) -> str:
        self._count += 1
        return self._unique(f"img{kind}{self._count}")

    def network(self) -> str:
        name = self.name("net")
        self._cleanup["networks"].append(name)
        self.client.networks.create(name, driver="bridge")
        return name

    def volume(self) -> str:
        name = self.name("vol")
        self._cleanup["volumes"].append(name)
        self.client.volumes.create(name)
        return name

    def run(self, image: str, *, publish: str | None = None, kind: str = "ctr", **kwargs):
        """Start a detached container; `publish` ("5432/tcp") goes to a free port of 127.0.0.1."""
        name = self.name(kind)
        self._cleanup["containers"].append(name)
        if publish:
            kwargs["ports"] = {publish: ("127.0.0.1",)}  # the engine picks a free host port
        container = self.client.containers.run(image, name=name, detach=True, **kwargs)
        self._containers.append(container)
        return container

    def run_to_exit(self, image: str, command=None, timeout: float = 60, **kwargs):
        """Run a container to completion: (exit code, logs)."""
        container = self.run(image, command=command, **kwargs)
        try:
            code = container.wait(timeout=timeout)["StatusCode"]
        except requests.exceptions.ConnectionError:  # the read timed out
            raise AssertionError(f"{container.name} still runs after {timeout} s:\n"
                                 f"{container.logs().decode(errors='replace')}") from None
        return code, container.logs().decode(errors="replace")

    def postgres(self, image: str, *, user: str = "postgres", password: str | None = "pgdock-secret",
                 db: str | None = None, env: dict | None = None, wait: bool = True,
                 publish: bool = True, **kwargs) -> Pg:
        """Start a PostgreSQL container with the official image's environment variables."""
        environment = {"POSTGRES_USER": user} if user != "postgres" else {}
        if password is not None:
            environment["POSTGRES_PASSWORD"] = password
        if db is not None:
            environment["POSTGRES_DB"] = db
        environment.update(env or {})
        container = self.run(image, kind="pg", environment=environment,
                             publish="5432/tcp" if publish else None, **kwargs)
        pg = Pg(container, user=user, password=password, dbname=db)
        return pg.wait_ready() if wait else pg

    def close(self):
        for container in self._containers:
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass


@pytest.fixture
def pgbouncer_image(docker_client):
    try:
        docker_client.images.get(PGBOUNCER_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"test image {PGBOUNCER_IMAGE} is missing: run `make testbed`")
    return PGBOUNCER_IMAGE


@pytest.fixture
def lab(docker_client, unique, cleanup):
    lab = Lab(docker_client, unique, cleanup)
    yield lab
    lab.close()


def stop(pg: Pg) -> int:
    """`docker stop` (the image's STOPSIGNAL, then SIGKILL after 30 s): the exit code."""
    pg.container.stop(timeout=30)
    pg.container.reload()
    return pg.container.attrs["State"]["ExitCode"]


def image_config(docker_client, tag: str) -> dict:
    return docker_client.images.get(tag).attrs["Config"]


# --- 1. POSTGRES_PASSWORD_FILE and SCRAM -------------------------------------------------------

@pytest.mark.parametrize("owner", [POSTGRES_UID, 0], ids=["owned-by-postgres", "owned-by-root"])
@pytest.mark.parametrize("major", MAJORS)
def test_password_file_gives_scram_login(lab, pg_image, tmp_path, major, owner):
    # the official entrypoint reads *_FILE as root before stepping down, so a root-owned 0600
    # secret (what `docker secret`/compose or an Ansible copy may produce) must work too
    secret = write_file(tmp_path / "pg-password", NASTY_PASSWORD + "\n", mode=0o600, owner=owner)
    pg = lab.postgres(pg_image(major), user="pgdock_admin", password=None,
                      env={"POSTGRES_PASSWORD_FILE": "/run/secrets/pg-password"},
                      volumes={str(secret): {"bind": "/run/secrets/pg-password", "mode": "ro"}})
    pg.password = NASTY_PASSWORD  # for the connections (the container only got the file)

    assert pg.query("SELECT current_user, current_database()", require_auth="scram-sha-256") == [
        ("pgdock_admin", "pgdock_admin")]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        pg.connect(password=NASTY_PASSWORD[:-1])
    assert pg.value("SHOW password_encryption") == "scram-sha-256"
    assert pg.value("SELECT rolpassword FROM pg_authid WHERE rolname = current_user").startswith(
        "SCRAM-SHA-256$4096:")
    assert pg.query("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' "
                    "AND address = 'all'") == [("scram-sha-256",)]
    env = pg.container.attrs["Config"]["Env"]
    assert "POSTGRES_PASSWORD_FILE=/run/secrets/pg-password" in env
    assert not [e for e in env if e.startswith("POSTGRES_PASSWORD=") or NASTY_PASSWORD in e]
    assert NASTY_PASSWORD not in pg.logs()


# --- 2. POSTGRES_USER and POSTGRES_DB -------------------------------------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_user_and_database_are_created(lab, pg_image, major):
    image = pg_image(major)
    named = lab.postgres(image, user="pgdock_owner", db="pgdock_app", wait=False)
    default = lab.postgres(image, user="pgdock_solo", wait=False)
    named.wait_ready()
    default.wait_ready()

    assert named.query("SELECT current_user, current_database(), rolsuper FROM pg_roles "
                       "WHERE rolname = current_user") == [("pgdock_owner", "pgdock_app", True)]
    # initdb made POSTGRES_USER the bootstrap superuser: there is no "postgres" role
    assert named.value("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'") == 0
    # POSTGRES_DB defaults to POSTGRES_USER
    assert default.query("SELECT current_database(), rolsuper FROM pg_roles "
                         "WHERE rolname = current_user") == [("pgdock_solo", True)]
    assert default.value("SELECT count(*) FROM pg_database WHERE datname = 'pgdock_solo'") == 1


# --- 3. POSTGRES_INITDB_ARGS ------------------------------------------------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_initdb_args_are_passed_to_initdb(lab, pg_image, major):
    # evaluated by the shell like the official image does: quotes inside the value are honoured
    args = "--data-checksums --auth-host=scram-sha-256 --locale='C' --encoding='UTF8'"
    pg = lab.postgres(pg_image(major), env={"POSTGRES_INITDB_ARGS": args})

    assert pg.value("SHOW data_checksums") == "on"  # (18 turns them on by default anyway)
    host_rules = pg.query("SELECT address, auth_method FROM pg_hba_file_rules WHERE type = 'host'")
    assert ("127.0.0.1", "scram-sha-256") in host_rules  # from --auth-host (initdb's default: trust)
    assert {rule[1] for rule in host_rules} == {"scram-sha-256"}
    assert pg.query("SELECT datcollate, pg_encoding_to_char(encoding) FROM pg_database "
                    "WHERE datname = current_database()") == [("C", "UTF8")]


# --- 4. POSTGRES_HOST_AUTH_METHOD=trust, and no password at all ----------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_host_auth_trust_needs_no_password(lab, pg_image, major):
    pg = lab.postgres(pg_image(major), password=None, env={"POSTGRES_HOST_AUTH_METHOD": "trust"})
    assert pg.value("SELECT current_user", require_auth="none") == "postgres"
    assert pg.query("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' "
                    "AND address = 'all'") == [("trust",)]


@pytest.mark.parametrize("major", MAJORS)
def test_no_password_and_no_trust_is_refused(lab, pg_image, major):
    code, logs = lab.run_to_exit(pg_image(major))
    assert code != 0
    assert "Database is uninitialized and superuser password is not specified" in logs


# --- 5. /docker-entrypoint-initdb.d ----------------------------------------------------------------

def make_initdb_dir(path: Path) -> Path:
    """One script of each kind; each creates a table and records its run in init_runs."""
    shared_dir(path)
    write_file(path / "10-schema.sql", """
        CREATE TABLE init_runs (script text NOT NULL);
        CREATE TABLE t_sql (id int);
        -- the server options given as the container's command reach the temporary server
        INSERT INTO init_runs VALUES ('sql:' || current_setting('pgdock.marker'));
    """)
    write_file(path / "20-executed.sh", """#!/usr/bin/env bash
        set -e
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
            -c "CREATE TABLE t_exec (id int)" \\
            -c "INSERT INTO init_runs VALUES ('exec:$(basename "$0")')"
    """.replace("\n        ", "\n"), mode=0o755)
    # sourced: runs inside the entrypoint (its $0, its helper functions)
    write_file(path / "30-sourced.sh", """
        docker_process_sql <<EOSQL
        CREATE TABLE t_sourced (id int);
        INSERT INTO init_runs VALUES ('sourced:$(basename "$0")');
        EOSQL
    """.replace("\n        ", "\n"), mode=0o644)
    write_file(path / "40-data.sql.gz", gzip.compress(
        b"CREATE TABLE t_gz (id int); INSERT INTO init_runs VALUES ('gz');"))
    write_file(path / "50-notes.txt", "not run: neither SQL nor shell\n")
    return path


@pytest.mark.parametrize("major", MAJORS)
def test_initdb_scripts_run_once(lab, pg_image, tmp_path, major):
    image, volume = pg_image(major), lab.volume()
    start = dict(image=image, db="pgdock_app", command=["postgres", "-c", "pgdock.marker=from-cmd"],
                 volumes={volume: {"bind": volume_path_of(major), "mode": "rw"},
                          str(make_initdb_dir(tmp_path / "initdb")):
                              {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}})
    expected_runs = [("exec:20-executed.sh",), ("gz",), ("sourced:docker-entrypoint.sh",),
                     ("sql:from-cmd",)]
    tables = ("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
              "WHERE relname LIKE 't\\_%' AND relkind = 'r'")

    first = lab.postgres(**start)
    assert first.value(tables) == "t_exec,t_gz,t_sourced,t_sql"
    assert first.query("SELECT script FROM init_runs ORDER BY script") == expected_runs
    assert "ignoring /docker-entrypoint-initdb.d/50-notes.txt" in first.logs()
    assert stop(first) == 0

    second = lab.postgres(**start)
    assert second.query("SELECT script FROM init_runs ORDER BY script") == expected_runs
    logs = second.logs()
    assert "Skipping initialization" in logs
    assert "/docker-entrypoint-initdb.d/" not in logs


# --- 6. data layout per major -------------------------------------------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_layout_of_the_image(docker_client, pg_image, major):
    config = image_config(docker_client, pg_image(major))
    assert f"PGDATA={pgdata_of(major)}" in config["Env"]
    assert f"PG_MAJOR={major}" in config["Env"]
    assert list(config["Volumes"]) == [volume_path_of(major)]


@pytest.mark.parametrize("case", ["old-cluster", "empty-mount"])
def test_18_refuses_an_old_layout_mount(lab, pg_image, case):
    volume = lab.volume()
    mount = {volume: {"bind": OLD_PGDATA, "mode": "rw"}}
    if case == "old-cluster":  # what `postgres:17 -v vol:/var/lib/postgresql/data` leaves behind
        assert stop(lab.postgres(pg_image(17), volumes=mount)) == 0
    code, logs = lab.run_to_exit(pg_image(18), environment={"POSTGRES_PASSWORD": "x"}, volumes=mount)
    assert code != 0
    assert "there appears to be PostgreSQL data in" in logs  # the official image's wording
    found = OLD_PGDATA if case == "old-cluster" else f"{OLD_PGDATA} (unused mount/volume)"
    assert re.search(rf"^\s+{re.escape(found)}$", logs, re.MULTILINE), logs


def test_18_keeps_the_old_layout_when_pgdata_says_so(lab, pg_image):
    # the documented way to run 18 on a volume mounted at the pre-18 path
    volume = lab.volume()
    pg = lab.postgres(pg_image(18), env={"PGDATA": OLD_PGDATA},
                      volumes={volume: {"bind": OLD_PGDATA, "mode": "rw"}})
    assert pg.value("SHOW data_directory") == OLD_PGDATA


# --- 7. process, stop signal, clean shutdown -------------------------------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_server_process_and_clean_shutdown(lab, docker_client, pg_image, major):
    image, volume = pg_image(major), lab.volume()
    start = dict(image=image, volumes={volume: {"bind": volume_path_of(major), "mode": "rw"}})
    assert image_config(docker_client, image)["StopSignal"] == "SIGINT"

    pg = lab.postgres(**start)
    assert pg.exec(["id", "-u", "postgres"]).strip() == str(POSTGRES_UID)
    assert pg.exec(["id", "-g", "postgres"]).strip() == str(POSTGRES_UID)
    # PID 1 is the postmaster itself (exec'd, not a shell or gosu waiting on a child)
    assert pg.pid1() == ("postgres", [str(POSTGRES_UID)] * 4)
    assert pg.value("SHOW data_directory") == pgdata_of(major)

    assert stop(pg) == 0
    logs = pg.logs()
    assert "received fast shutdown request" in logs  # SIGINT, not SIGTERM (smart) or SIGKILL
    assert logs.rstrip().endswith("database system is shut down")

    again = lab.postgres(**start)  # same volume, new container
    logs = again.logs()
    assert "Skipping initialization" in logs
    assert "database system was shut down at" in logs
    for crash_sign in ("database system was interrupted", "redo starts", "crash recovery"):
        assert crash_sign not in logs


# --- 8. reachable by name from another container --------------------------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_reachable_by_name_on_a_user_network(lab, pg_image, major):
    image, network = pg_image(major), lab.network()
    server = lab.postgres(image, user="pgdock_app", password=NASTY_PASSWORD, network=network,
                          publish=False)
    assert server.exec(["psql", "-U", "pgdock_app", "-XtAc", "SHOW listen_addresses"],
                       user="postgres").strip() == "*"

    client = lab.run(image, command=["sleep", "infinity"], network=network, kind="cli")
    client_ip = lab.client.api.inspect_container(client.id)["NetworkSettings"]["Networks"][network][
        "IPAddress"]
    code, out = client.exec_run(
        ["psql", "-h", server.name, "-U", "pgdock_app", "-d", "pgdock_app", "-XtA",
         "-c", "SELECT host(inet_client_addr()), current_user"],
        environment={"PGPASSWORD": NASTY_PASSWORD, "PGCONNECT_TIMEOUT": "10"})
    assert code == 0, out.decode()
    assert out.decode().strip() == f"{client_ip}|pgdock_app"


# --- 9. client and server binaries ----------------------------------------------------------------

@pytest.mark.parametrize("major", MAJORS)
def test_tools_on_path_match_the_major(lab, pg_image, major):
    image = pg_image(major)
    script = 'for t in "$@"; do echo "$(command -v "$t") $("$t" --version)"; done'
    code, out = lab.run_to_exit(image, ["bash", "-c", script, "-"] + PG_TOOLS)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == len(PG_TOOLS)
    for tool, line in zip(PG_TOOLS, lines):
        assert line.startswith(f"/usr/lib/postgresql/{major}/bin/{tool} {tool} (PostgreSQL) {major}.")

    # like the official image, `postgres -V` answers without initializing anything
    code, out = lab.run_to_exit(image, ["postgres", "-V"])
    assert code == 0, out
    assert out.startswith(f"postgres (PostgreSQL) {major}.")


# --- 10. PgBouncer ------------------------------------------------------------------------------

def test_pgbouncer_version(lab, pgbouncer_image):
    code, out = lab.run_to_exit(pgbouncer_image, ["pgbouncer", "--version"])
    assert code == 0, out
    assert out.startswith("PgBouncer 1.")


def test_pgbouncer_pools_scram_clients_to_postgres(lab, pg_image, pgbouncer_image, tmp_path):
    network = lab.network()
    server = lab.postgres(pg_image(18), user="pgdock_app", password=NASTY_PASSWORD,
                          network=network, publish=False)
    verifier = server.exec(["psql", "-U", "pgdock_app", "-XtAc",
                            "SELECT rolpassword FROM pg_authid WHERE rolname = 'pgdock_app'"],
                           user="postgres").strip()
    assert verifier.startswith("SCRAM-SHA-256$")

    conf = tmp_path  # the files are mounted one by one
    write_file(conf / "pgbouncer.ini", f"""\
[databases]
appdb = host={server.name} port=5432 dbname=pgdock_app

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/userlist.txt
pool_mode = transaction
""")
    write_file(conf / "userlist.txt", f'"pgdock_app" "{verifier}"\n', mode=0o600, owner=POSTGRES_UID)
    bouncer = lab.run(pgbouncer_image, kind="pgb", network=network, publish="6432/tcp", volumes={
        str(conf / "pgbouncer.ini"): {"bind": "/etc/pgbouncer/pgbouncer.ini", "mode": "ro"},
        str(conf / "userlist.txt"): {"bind": "/etc/pgbouncer/userlist.txt", "mode": "ro"}})
    proxied = Pg(bouncer, user="pgdock_app", password=NASTY_PASSWORD, dbname="appdb",
                 container_port=6432).wait_ready()

    assert proxied.query("SELECT 1, current_database()", require_auth="scram-sha-256") == [
        (1, "pgdock_app")]
    with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
        proxied.connect(password="wrong")
    assert proxied.pid1() == ("pgbouncer", [str(POSTGRES_UID)] * 4)  # not root
