"""The Docker connection options with community.docker's names, against the real engine behind a TLS
endpoint on 127.0.0.1 that asks for client certificates: certificates from the options or from
DOCKER_CERT_PATH (also when docker_host is given), the engine's name checked against tls_hostname,
and refusals that name the endpoint and create nothing."""

from __future__ import annotations

import pytest

from ansible_runner import run_module
from tls_engine import ENGINE_NAME, TlsEngine


@pytest.fixture
def engine(tmp_path):
    with TlsEngine(tmp_path / "engine-tls") as endpoint:
        yield endpoint


def network_args(engine, name: str, **over) -> dict:
    return dict(dict(name=name, docker_host=engine.url, validate_certs=True, tls_hostname=ENGINE_NAME,
                     **engine.files), **over)


def test_a_network_made_through_the_tls_endpoint(engine, unique, cleanup, docker_client):
    name = unique("tls-eng-net")
    cleanup["networks"].append(name)
    made = run_module("network", network_args(engine, name))
    assert made.changed and not made.failed, made
    assert docker_client.networks.get(name).name == name
    again = run_module("network", network_args(engine, name, docker_timeout=30, tls_verify=True))  # aliases
    assert not again.changed and not again.failed, again


@pytest.mark.parametrize("drop, expect", [
    ("tls_hostname", "certificate"),       # the certificate names ENGINE_NAME, not 127.0.0.1
    ("client_cert", "cannot reach the Docker engine"),  # the endpoint asks for a client certificate
])
def test_refused_without_the_name_or_the_client_certificate(engine, unique, docker_client, drop, expect):
    name = unique("tls-eng-refused")
    args = network_args(engine, name)
    args.pop(drop)
    if drop == "client_cert":
        args.pop("client_key")
    refused = run_module("network", args)
    assert refused.failed and f"cannot reach the Docker engine at {engine.url}" in refused["msg"], refused
    assert expect in refused["msg"] or engine.refused > 0, refused
    assert not docker_client.networks.list(names=[name])


def test_docker_cert_path_and_tls_variables_are_read_when_docker_host_is_given(
        engine, unique, cleanup, docker_client):
    name = unique("tls-eng-env")
    cleanup["networks"].append(name)
    env = dict(DOCKER_CERT_PATH=str(engine.root), DOCKER_TLS_VERIFY="1", DOCKER_TLS_HOSTNAME=ENGINE_NAME,
               DOCKER_HOST="unix:///nonexistent.sock")
    made = run_module("network", dict(name=name, docker_host=engine.url), extra_env=env)
    assert made.changed and not made.failed, made
    assert docker_client.networks.get(name).name == name
