"""docker.endpoint: the connection options, the DOCKER_* environment, and the client arguments they make."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.endpoint import (
    CONNECTION_ARGS,
    DEFAULT_DOCKER_HOST,
    client_arguments,
    connection_options,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError


def params(**given) -> dict:
    """The options as AnsibleModule hands them over: defaults for what is not given."""
    return {name: given.get(name, spec.get("default")) for name, spec in CONNECTION_ARGS.items()}


@pytest.fixture
def cert_dir(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text(name)
    return tmp_path


def test_defaults_reach_the_local_socket_without_tls():
    args = client_arguments(params(), environ={})
    assert args == dict(base_url=DEFAULT_DOCKER_HOST, version="auto", timeout=60, use_ssh_client=False,
                        tls=None, tls_hostname=None)


def test_docker_host_from_the_environment_when_not_given():
    assert client_arguments(params(), environ={"DOCKER_HOST": "tcp://127.0.0.1:2375"})["base_url"] == \
        "tcp://127.0.0.1:2375"
    assert client_arguments(params(docker_host="unix:///run/other.sock"),
                            environ={"DOCKER_HOST": "tcp://127.0.0.1:2375"})["base_url"] == "unix:///run/other.sock"


def test_verified_tls_with_the_files_of_docker_cert_path_also_when_docker_host_is_given(cert_dir):
    args = client_arguments(params(docker_host="tcp://127.0.0.1:2376", validate_certs=True, tls_hostname="engine"),
                            environ={"DOCKER_CERT_PATH": str(cert_dir)})
    assert args["tls"] == dict(client_cert=(str(cert_dir / "cert.pem"), str(cert_dir / "key.pem")),
                               ca_cert=str(cert_dir / "ca.pem"), verify=True)
    assert args["tls_hostname"] == "engine" and args["base_url"] == "tcp://127.0.0.1:2376"


def test_options_win_over_docker_cert_path(cert_dir, tmp_path_factory):
    other = tmp_path_factory.mktemp("other") / "ca.crt"
    other.write_text("ca")
    args = client_arguments(params(validate_certs=True, ca_path=str(other)), environ={"DOCKER_CERT_PATH": str(cert_dir)})
    assert args["tls"]["ca_cert"] == str(other)


def test_tls_without_verification_sends_the_client_certificate_and_checks_nothing(cert_dir):
    args = client_arguments(params(tls=True, client_cert=str(cert_dir / "cert.pem"),
                                   client_key=str(cert_dir / "key.pem"), tls_hostname="ignored"), environ={})
    assert args["tls"] == dict(client_cert=(str(cert_dir / "cert.pem"), str(cert_dir / "key.pem")), ca_cert=None,
                               verify=False)
    assert args["tls_hostname"] is None


@pytest.mark.parametrize("given, message", [
    (dict(tls=True, client_cert="cert.pem"), "client_cert is given without client_key"),
    (dict(tls=True, client_key="key.pem"), "client_key is given without client_cert"),
    (dict(validate_certs=True), "validate_certs: give ca_path"),
    (dict(validate_certs=True, ca_path="/nonexistent/ca.pem"), "ca_path: no file '/nonexistent/ca.pem'"),
    (dict(docker_host="ssh://me@host", tls=True), "do not apply to an ssh:// docker_host"),
])
def test_impossible_mixes_are_refused(given, message, cert_dir):
    for key in ("client_cert", "client_key"):
        if key in given and given[key] and not given[key].startswith("/"):
            given[key] = str(cert_dir / given[key])
    with pytest.raises(PgdockError, match=message):
        client_arguments(params(**given), environ={})


def test_connection_options_hand_on_every_option_and_nothing_else():
    handed = connection_options(dict(params(timeout=5, tls=True), name="pg1", docker_url="tcp://x"))
    assert set(handed) == set(CONNECTION_ARGS) and handed["timeout"] == 5 and handed["tls"] is True


def test_community_docker_aliases():
    aliases = {name: set(spec.get("aliases", [])) for name, spec in CONNECTION_ARGS.items()}
    assert aliases["timeout"] == {"docker_timeout"} and aliases["docker_host"] == {"docker_url"}
    assert aliases["validate_certs"] == {"tls_verify"} and aliases["api_version"] == {"docker_api_version"}
    assert {"tls_ca_cert", "cacert_path"} == aliases["ca_path"]  # ca_cert is the tls module's own option
