"""Fixtures for integration tests: the real Docker engine, the local test images, unique names and
cleanup of everything a test created."""

from __future__ import annotations

import os
import secrets

import docker
import pytest

from pgclient import unused_port

IMAGE_REPO = "pgdock-test/postgres"
PGBOUNCER_IMAGE = "pgdock-test/pgbouncer:latest"


@pytest.fixture(scope="session")
def docker_client():
    """A client of the local engine; the suite fails (not skips) when none answers."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}): run `make testbed` first")
    return client


@pytest.fixture(scope="session")
def pg_image(docker_client):
    """pg_image(major) -> the local test image tag, failing clearly when it was not built."""
    def _image(major: int | str = 18) -> str:
        tag = f"{IMAGE_REPO}:{major}"
        try:
            docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            pytest.fail(f"test image {tag} is missing: run `make testbed`")
        return tag
    return _image


@pytest.fixture
def unique():
    """unique(prefix) -> a name no other test uses, e.g. pgdt-net-3fa2c1 (PGDOCK_TEST_PREFIX replaces
    "pgdt-", so that runs sharing an engine can tell their objects apart)."""
    token = secrets.token_hex(3)
    head = os.environ.get("PGDOCK_TEST_PREFIX", "pgdt-")
    return lambda prefix: f"{head}{prefix}-{token}"


@pytest.fixture
def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    return unused_port()


@pytest.fixture
def cleanup(docker_client):
    """Register containers, networks and volumes by name; all are removed after the test."""
    created = {"containers": [], "networks": [], "volumes": []}
    yield created
    for name in created["containers"]:
        try:
            # v=True drops anonymous volumes only; named data volumes are listed under "volumes"
            docker_client.containers.get(name).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    for name in created["networks"]:
        try:
            net = docker_client.networks.get(name)
            net.reload()
            for cont in net.containers:
                net.disconnect(cont, force=True)
            net.remove()
        except docker.errors.NotFound:
            pass
    for name in created["volumes"]:
        try:
            docker_client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass


@pytest.fixture
def pg_server(unique, cleanup, tmp_path_factory, pg_image, docker_client):
    """pg_server(major=18, **container_options) -> a running server made by the container module.

    Returns a dict: name, network, port (published on 127.0.0.1), password, superuser,
    secrets_dir (host dir mounted at /run/secrets/pgdock), module_args (to run the module again),
    result (the module's result). Everything is removed after the test.
    """
    from ansible_runner import run_module  # local import: conftest is imported before sys.path is set

    def _start(major: int = 18, **options) -> dict:
        name = unique(f"srv{major}") + f"-{secrets.token_hex(2)}"
        network = options.pop("network", None) or name + "-net"
        if not any(n.name == network for n in docker_client.networks.list(names=[network])):
            docker_client.networks.create(network)
            cleanup["networks"].append(network)
        cleanup["containers"].append(name)
        cleanup["volumes"].append(f"{name}-data")
        secrets_dir = tmp_path_factory.mktemp(name) / "secrets"
        password = options.pop("superuser_password", "Srv-pw-" + secrets.token_hex(8))
        args = dict(name=name, image=pg_image(major), pull="never", superuser_password=password,
                    networks=[{"name": network, "aliases": ["primary"]}], secrets_dir=str(secrets_dir),
                    published_port=unused_port(), stop_timeout=30, wait_timeout=120)
        args.update(options)
        result = run_module("container", args)
        assert result.changed and not result.failed, result
        return dict(name=name, network=network, port=args["published_port"], password=password,
                    superuser=args.get("superuser", "postgres"), secrets_dir=args["secrets_dir"],
                    module_args=args, result=result)
    return _start


@pytest.fixture
def server_vars(unique, cleanup, pg_image, tmp_path):
    """The server role's variables for a fresh primary with roles, a database and privileges."""
    name = unique("role-srv")
    network = name + "-net"
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    cleanup["networks"].append(network)
    return dict(
        pgdock_networks=[{"name": network}],
        pgdock_server_name=name,
        pgdock_server_image=pg_image(18),
        pgdock_server_pull="never",
        pgdock_server_superuser_password="Srv-pw-" + secrets.token_hex(8),
        pgdock_server_networks=[{"name": network, "aliases": ["primary"]}],
        pgdock_server_published_port=unused_port(),
        pgdock_server_secrets_dir=str(tmp_path / "secrets"),
        pgdock_server_tls_ca_dir=str(tmp_path / "ca"),
        pgdock_roles=[{"name": "app_owner", "login": False},
                      {"name": "app_rw", "password": "Rw-pw-" + secrets.token_hex(8), "login": True}],
        pgdock_databases=[{"name": "app", "owner": "app_owner", "extensions": [{"name": "pgcrypto"}]}],
        pgdock_grants=[{"roles": ["app_rw"], "preset": "readwrite", "login_db": "app", "target_role": "app_owner"}],
    )
