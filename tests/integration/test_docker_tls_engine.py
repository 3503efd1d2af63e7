"""Long work through dockerd's own TLS listener (`dockerd --tlsverify -H tcp://127.0.0.1:2376`, which
testbed/ensure-docker.sh starts with the certificates of testbed/docker-tls.sh): a server, a replica
built with pg_basebackup in a helper container, a write that reaches it, and second runs that change
nothing, every module call given only the connection options.

PGDOCK_TEST_TLS_DOCKER_HOST, PGDOCK_TEST_TLS_CERT_PATH (a directory with ca.pem, cert.pem, key.pem)
and PGDOCK_TEST_TLS_HOSTNAME (a name in its certificate) name another TLS endpoint."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import connect, DockerAccessError
from ansible_runner import run_module
from pgclient import sql, unused_port, wait_until

TLS_HOST = os.environ.get("PGDOCK_TEST_TLS_DOCKER_HOST", "tcp://127.0.0.1:2376")
CERT_PATH = Path(os.environ.get("PGDOCK_TEST_TLS_CERT_PATH", "/var/lib/pgdock-testbed/docker-tls"))
TLS_HOSTNAME = os.environ.get("PGDOCK_TEST_TLS_HOSTNAME", "localhost")


@pytest.fixture(scope="module")
def tls_engine():
    """(connection options of the modules, a Docker client) of the TLS endpoint."""
    if not (CERT_PATH / "ca.pem").exists():
        pytest.skip(f"no TLS endpoint certificates in {CERT_PATH}: this engine was started before the test bed "
                    "had a TLS listener (testbed/ensure-docker.sh starts dockerd with one)")
    # tls_hostname: the engine's name checked as the certificate's DNS name, not as the URL's address
    options = dict(docker_host=TLS_HOST, validate_certs=True, tls_hostname=TLS_HOSTNAME, ca_path=str(CERT_PATH / "ca.pem"),
                   client_cert=str(CERT_PATH / "cert.pem"), client_key=str(CERT_PATH / "key.pem"))
    try:  # the modules' own client: the options' CA (not REQUESTS_CA_BUNDLE) and tls_hostname
        client = connect(dict(options, tls=True, api_version="auto", timeout=60, use_ssh_client=False, debug=False))
    except DockerAccessError as exc:
        pytest.fail(f"the TLS endpoint {TLS_HOST} (certificates in {CERT_PATH}) does not answer: {exc}")
    yield options, client
    client.close()


@pytest.fixture
def through_tls(tls_engine, unique, tmp_path):
    """Names, module arguments and the clean-up of what a test made through the TLS endpoint."""
    options, client = tls_engine
    made = {"containers": [], "volumes": [], "networks": []}
    yield dict(options=options, client=client, made=made, name=unique("tls-dockerd"), tmp=tmp_path)
    for name in made["containers"]:
        for found in client.containers.list(all=True, filters={"name": f"^{name}$"}):
            found.remove(force=True, v=True)
    for name in made["volumes"]:
        for found in client.volumes.list(filters={"name": name}):
            found.remove(force=True)
    for name in made["networks"]:
        for found in client.networks.list(names=[name]):
            found.remove()


def test_a_replica_built_through_the_tls_listener_streams_and_is_idempotent(through_tls, pg_image):
    options, client, made, name = (through_tls[k] for k in ("options", "client", "made", "name"))
    image = pg_image(18)
    network, replica = f"{name}-net", f"{name}-r1"
    made["networks"].append(network)
    made["containers"] += [name, replica]
    made["volumes"] += [f"{name}-data", f"{replica}-data"]
    net = run_module("network", dict(options, name=network))
    assert net.changed and not net.failed, net
    password = "Tls-pw-" + secrets.token_hex(8)
    server_args = dict(options, name=name, image=image, pull="never", superuser_password=password,
                       networks=[{"name": network}], secrets_dir=str(through_tls["tmp"] / "primary"),
                       published_port=unused_port(), stop_timeout=30, wait_timeout=120)
    server = run_module("container", server_args)
    assert server.changed and not server.failed, server
    replica_args = dict(options, name=replica, primary=name, published_port=unused_port(),
                        secrets_dir=str(through_tls["tmp"] / "replica"), stop_timeout=30, wait_timeout=180,
                        progress_file=str(through_tls["tmp"] / "progress.log"))
    built = run_module("replica", replica_args)
    assert built.changed and not built.failed, built
    assert built["replica"]["state"] == "streaming" and built["phases"][0]["phase"] == "base backup", built
    assert client.containers.get(replica).status == "running"

    sql(server_args["published_port"], password, "create table t as select generate_series(1, 1000) as i")
    wait_until(lambda: sql(replica_args["published_port"], password, "select to_regclass('t') is not null")[0][0],
               what="the table replayed on the replica")
    assert sql(replica_args["published_port"], password, "select count(*) from t") == [(1000,)]

    for module, args in (("replica", replica_args), ("container", server_args), ("network", dict(options, name=network))):
        again = run_module(module, args)
        assert not again.changed and not again.failed, (module, again)
